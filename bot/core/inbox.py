"""The durable inbox in the update path (SPEC §11): stored before acknowledged, done once.

Three hooks into python-telegram-bot, each on a public seam:

* ``InboxBot.get_updates``: the batch a getUpdates returned is stored in one transaction
  before the Updater sees it. The Updater acknowledges a batch only by asking for the
  next one, which it does after this returns, so nothing is acknowledged unstored.
* ``InboxQueue.put``: the Updater (polling) and the webhook handler hand every update to
  the Application through this queue. An update the inbox already held (a redelivery)
  stops here. A webhook update is stored here, and the webhook answers 200 only after
  ``put`` returns.
* ``PerChatUpdateProcessor.inbox``: around each update's handling, ``begin`` puts a
  ``HandledUpdate`` in the context, so the handler's first write transaction also marks
  the update done; ``finish`` marks an update whose handler wrote nothing.

At start, before polling or the webhook begins, ``replay`` queues the pending updates in
id order: each chat's updates then run first and in order, as before the crash.

With a standby (SPEC §11, bot/core/leader.py) an update may be stored by one process and
processed by another: a leader that took over replays what the last one left pending, a
redelivered update still pending is processed unless this process has it queued, and a
webhook leader adopts what the replicas standing by stored (``adopt``). Whoever marks an
update done first wins: a transaction finding it done already is rolled back
(:class:`AlreadyHandled`), so an update's effects never commit twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from telegram import Bot, Update
from telegram._utils.types import JSONDict
from telegram.error import NetworkError
from telegram.ext import ExtBot

from bot.core.clock import Clock
from bot.core.transport import AiohttpRequest
from storage import inbox as inbox_store
from storage.db import Database, HandledUpdate, Tx, handled_update

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
"""How often done updates older than storage.inbox.KEEP_DONE_HOURS are deleted."""
ADOPT_AFTER = timedelta(seconds=1)
"""A webhook leader adopts updates another replica stored at least this long ago (the
replica that stored one a moment ago may be handing it to this very process)."""
REMEMBER_QUEUED = 20_000
"""Update ids this process queued, kept to tell a redelivery it is handling from one a
process since gone left pending."""


class AlreadyHandled(Exception):
    """Another process marked the update done first: this transaction's effects are
    rolled back rather than committed a second time."""


def received(update: Update, payload: str | None = None) -> inbox_store.Received:
    """The update as the inbox stores it: ``payload`` is the JSON Telegram sent, when known
    (else written again from the parsed update, which costs ten times as much)."""
    chat = update.effective_chat
    if payload is None:
        payload = _json(update.to_dict(recursive=True))
    return inbox_store.Received(update.update_id, chat.id if chat is not None else None, payload)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Inbox:
    """Stores, filters, replays and marks the updates of one process."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.db: Database | None = None
        # Whether each update of the last stored batch was new, until the queue asks.
        self._verdicts: dict[int, bool] = {}
        # Updates this process queued for handling (bounded; oldest forgotten first).
        self._queued: OrderedDict[int, None] = OrderedDict()
        # The JSON of the last getUpdates batch as Telegram sent it, by update id.
        self._payloads: dict[int, str] = {}
        self.redelivered = 0
        self.replayed = 0
        self.adopted = 0

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the inbox has no database yet (post_init has not run)")
        return self.db

    def note_batch(self, result: object) -> None:
        """Keep the JSON of a getUpdates answer (:class:`UpdatesRequest`) for ``store``."""
        self._payloads = {}
        if isinstance(result, list):
            for item in result:
                if isinstance(item, dict) and isinstance(item.get("update_id"), int):
                    self._payloads[item["update_id"]] = _json(item)

    async def store(self, updates: Sequence[Update]) -> None:
        """Store a batch in one transaction, remembering which updates this process should
        handle: those new to the inbox, and those left pending by another process."""
        if not updates:
            return
        payloads, self._payloads = self._payloads, {}
        rows = [received(update, payloads.get(update.update_id)) for update in updates]
        ids = [row.update_id for row in rows]
        ours = {update_id for update_id in ids if update_id in self._queued}
        # Claimed before the write, so an ``adopt`` running meanwhile leaves them alone.
        self._remember(ids)
        # An update handled in this context must not be marked done by storing others.
        token = handled_update.set(None)
        try:
            # Telegram is told they arrived once this returns: durable before that.
            # Inserts that skip what is stored: no turn among the handlers' writers.
            async with self.database.standalone(durable=True) as tx:
                new = await inbox_store.store(tx, rows, self.clock.now())
                seen = [update_id for update_id in ids if update_id not in new]
                orphans = await inbox_store.still_pending(tx, seen) - ours if seen else set()
        except BaseException:
            self._forget(set(ids) - ours)
            raise
        finally:
            handled_update.reset(token)
        take = new | orphans
        self._forget(set(ids) - take - ours)
        for update_id in ids:
            self._verdicts[update_id] = update_id in take

    async def keep(self, updates: Sequence[Update]) -> None:
        """Store only, for the leader to handle: a webhook replica standing by."""
        token = handled_update.set(None)
        try:
            async with self.database.standalone(durable=True) as tx:
                await inbox_store.store(tx, [received(u) for u in updates], self.clock.now())
        finally:
            handled_update.reset(token)

    def _remember(self, ids: Iterable[int]) -> None:
        for update_id in ids:
            self._queued[update_id] = None
            self._queued.move_to_end(update_id)
        while len(self._queued) > REMEMBER_QUEUED:
            self._queued.popitem(last=False)

    def _forget(self, ids: Iterable[int]) -> None:
        for update_id in ids:
            self._queued.pop(update_id, None)

    async def admit(self, update: Update) -> bool:
        """True if ``update`` should be processed: stored now (or in its batch) for the
        first time. False for an update the inbox already held."""
        verdict = self._verdicts.pop(update.update_id, None)
        if verdict is None:
            await self.store([update])
            verdict = self._verdicts.pop(update.update_id)
        if not verdict:
            self.redelivered += 1
            log.info("update %s was delivered again; it is not processed twice", update.update_id)
        return verdict

    async def replay(self, queue: asyncio.Queue[object], bot: Bot) -> int:
        """Queue every pending update not queued here already, oldest first; return how
        many. Run when this process starts leading."""
        after = 0
        count = 0
        while True:
            async with self.database.read() as tx:
                pending = await inbox_store.claim_pending(tx, after)
            if not pending:
                break
            after = pending[-1].update_id
            count += await self._queue(pending, queue, bot)
        self.replayed += count
        if count:
            log.info("replaying %s updates stored before the last stop", count)
        return count

    async def adopt(self, queue: asyncio.Queue[object], bot: Bot) -> int:
        """A webhook leader: queue what the replicas standing by stored and nobody has
        processed (they answer Telegram's webhook too, but only the leader handles)."""
        before = self.clock.now() - ADOPT_AFTER
        async with self.database.read() as tx:
            pending = await inbox_store.pending_since(tx, before)
        count = await self._queue(pending, queue, bot)
        self.adopted += count
        if count:
            log.info("adopted %s updates another replica stored", count)
        return count

    async def _queue(
        self, pending: Sequence[inbox_store.Pending], queue: asyncio.Queue[object], bot: Bot
    ) -> int:
        count = 0
        for row in pending:
            if row.update_id in self._queued:
                continue
            try:
                update = Update.de_json(json.loads(row.payload), bot)
            except (ValueError, TypeError, KeyError):
                log.exception("stored update %s cannot be read; skipped", row.update_id)
                async with self.database.transaction() as tx:
                    await inbox_store.mark_done(tx, row.update_id, self.clock.now())
                continue
            self._remember((row.update_id,))
            queue.put_nowait(update)
            count += 1
        return count

    def standing_down(self) -> None:
        """This process stops leading: what it queued may be taken by the next leader
        (whatever it still finishes is refused there or here, see AlreadyHandled)."""
        self._queued.clear()
        self._verdicts.clear()

    def begin(self, update: object) -> HandledUpdate | None:
        """Put the update in the context of its handling (see storage.db.HandledUpdate)."""
        if not isinstance(update, Update) or self.db is None:
            return None
        handled = HandledUpdate(update.update_id, self._mark)
        handled_update.set(handled)
        return handled

    async def finish(self, handled: HandledUpdate) -> None:
        """Mark done an update whose handler wrote nothing (else its first write did)."""
        if handled.done:
            return
        try:
            async with self.database.transaction():
                pass  # the transaction records the update in the context as done
        except AlreadyHandled:
            handled.done = True  # another process took it over and finished it

    async def _mark(self, tx: Tx, update_id: int) -> None:
        if await inbox_store.mark_done(tx, update_id, self.clock.now()):
            return
        if await inbox_store.state_of(tx, update_id) == "done":
            raise AlreadyHandled(f"update {update_id} was processed by another process")

    async def prune(self) -> int:
        """Delete done updates kept past KEEP_DONE_HOURS, a batch per transaction."""
        before = self.clock.now() - timedelta(hours=inbox_store.KEEP_DONE_HOURS)
        total = 0
        while True:
            async with self.database.transaction() as tx:
                deleted = await inbox_store.prune(tx, before)
            total += deleted
            if deleted == 0:
                return total
            await asyncio.sleep(0)


class InboxQueue(asyncio.Queue[object]):
    """The Application's update queue: lets through only updates the inbox admits.

    Only ``put`` is filtered; ``Inbox.replay`` and PTB's stop signal use ``put_nowait``
    or carry no update.
    """

    def __init__(self) -> None:
        super().__init__()
        self.inbox: Inbox | None = None
        self.processing = True
        """False on a webhook replica standing by: updates are stored, not handled."""

    async def put(self, item: object) -> None:
        inbox = self.inbox
        if inbox is not None and isinstance(item, Update):
            if not self.processing:
                await inbox.keep([item])
                return
            if not await inbox.admit(item):
                return
        await super().put(item)


class UpdatesRequest(AiohttpRequest):
    """The getUpdates connection: hands each answer's JSON to the inbox, which stores it as
    Telegram sent it (PTB parses it into Updates; writing them back to JSON cost more than
    the rest of the inbox, bench/updates.py --inbox-overhead)."""

    def __init__(self, *args: Any, inbox: Inbox | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox = inbox

    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]
        # PTB parses every answer of this connection (getUpdates only) here, once.
        answer = super().parse_json_payload(payload)
        if self.inbox is not None and answer.get("ok") is True:
            self.inbox.note_batch(answer.get("result"))
        return answer


class InboxBot(ExtBot[Any]):
    """An ExtBot that stores each getUpdates batch in the inbox before returning it."""

    __slots__ = ("_gate", "_inbox", "_polling")

    def __init__(self, *args: Any, inbox: Inbox | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = inbox
        # False while this process stands by: no getUpdates reaches Telegram (not even
        # PTB's last one when polling stops), so only the leader ever takes updates.
        self._polling = True
        self._gate: Callable[[], Awaitable[bool]] | None = None

    def allow_polling(
        self, allowed: bool, gate: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        """``gate``: asked before each poll (a leader confirming its lock is fresh)."""
        self._polling = allowed
        self._gate = gate

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        if not self._polling or (self._gate is not None and not await self._gate()):
            return ()
        updates = await super().get_updates(*args, **kwargs)
        inbox = self._inbox
        if inbox is not None and updates:
            try:
                await inbox.store(updates)
            except Exception as exc:
                # A TelegramError makes the Updater back off and ask again with the same
                # offset: the batch is fetched again, not acknowledged unstored.
                raise NetworkError(f"could not store updates in the inbox: {exc!r}") from exc
        return updates
