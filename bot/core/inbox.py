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
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from telegram import Bot, Update
from telegram.error import NetworkError
from telegram.ext import ExtBot

from bot.core.clock import Clock
from storage import inbox as inbox_store
from storage.db import Database, HandledUpdate, Tx, handled_update

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
"""How often done updates older than storage.inbox.KEEP_DONE_HOURS are deleted."""


def received(update: Update) -> inbox_store.Received:
    chat = update.effective_chat
    return inbox_store.Received(
        update.update_id,
        chat.id if chat is not None else None,
        json.dumps(update.to_dict(recursive=True), ensure_ascii=False, separators=(",", ":")),
    )


class Inbox:
    """Stores, filters, replays and marks the updates of one process."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.db: Database | None = None
        # Whether each update of the last stored batch was new, until the queue asks.
        self._verdicts: dict[int, bool] = {}
        self.redelivered = 0
        self.replayed = 0

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the inbox has no database yet (post_init has not run)")
        return self.db

    async def store(self, updates: Sequence[Update]) -> None:
        """Store a batch in one transaction, remembering which updates were new."""
        if not updates:
            return
        rows = [received(update) for update in updates]
        # An update handled in this context must not be marked done by storing others.
        token = handled_update.set(None)
        try:
            async with self.database.transaction() as tx:
                new = await inbox_store.store(tx, rows, self.clock.now())
        finally:
            handled_update.reset(token)
        for row in rows:
            self._verdicts[row.update_id] = row.update_id in new

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
        """Queue every pending update, oldest first; return how many."""
        after = 0
        count = 0
        while True:
            async with self.database.read() as tx:
                pending = await inbox_store.claim_pending(tx, after)
            if not pending:
                break
            for row in pending:
                after = row.update_id
                try:
                    update = Update.de_json(json.loads(row.payload), bot)
                except (ValueError, TypeError, KeyError):
                    log.exception("stored update %s cannot be read; skipped", row.update_id)
                    async with self.database.transaction() as tx:
                        await inbox_store.mark_done(tx, row.update_id, self.clock.now())
                    continue
                queue.put_nowait(update)
                count += 1
        self.replayed += count
        if count:
            log.info("replaying %s updates stored before the last stop", count)
        return count

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
        async with self.database.transaction():
            pass  # the transaction records the update in the context as done

    async def _mark(self, tx: Tx, update_id: int) -> None:
        await inbox_store.mark_done(tx, update_id, self.clock.now())

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

    async def put(self, item: object) -> None:
        inbox = self.inbox
        if inbox is not None and isinstance(item, Update) and not await inbox.admit(item):
            return
        await super().put(item)


class InboxBot(ExtBot[Any]):
    """An ExtBot that stores each getUpdates batch in the inbox before returning it."""

    __slots__ = ("_inbox",)

    def __init__(self, *args: Any, inbox: Inbox | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = inbox

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
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
