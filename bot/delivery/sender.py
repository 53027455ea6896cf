"""The outbox sender: drains ``storage/outbox`` to the Bot API (SPEC §5).

One task claims due rows and starts one small task per message, never more at once than
the limits allow right now, so nothing waits in memory and an alert queued behind any
number of bulk rows is picked by the very next claim:

* A claim selects the head of each (chat, priority) queue among the due rows, best first
  by (priority, not_before, id), leaving out chats that may not be sent to right now, and
  moves each chosen row pending → sending with a compare-and-swap before any HTTP call.
  After the answer the row becomes ``sent`` (with ``message_id``), ``failed`` (with the
  error) or ``pending`` again with a later ``not_before``. At startup rows left in
  ``sending`` by a crash go back to ``pending``: only a message in flight at the instant
  of a crash (or of a stop that had to give up waiting) can be sent twice.
* Limits (clock-driven): ``global_per_s`` overall, ``per_chat_per_s`` per chat and
  ``per_group_per_min`` per group (chat_id < 0). Each is a sliding window counted the way
  Telegram counts it; a send occupies its slot from the moment the request leaves until
  ``span`` after the answer came back, because the server stamped it somewhere in between.
  The overall limit is also paced by a small token bucket so that a backlog leaves evenly
  rather than in bursts.
* Paid broadcast (``paid_broadcast``, SPEC §11): a circular's copies go in a lane of their
  own, sent with ``allow_paid_broadcast`` and paced at ``paid_per_s`` by their own window
  and bucket instead of ``global_per_s``, which is left whole for alerts and everything
  else; every send, paid or not, also counts against ``paid_per_s``, the most Telegram
  takes from a bot in a second. Each pass claims for the normal lane first, so alerts still
  go ahead of the bulk. A copy Telegram refuses because the bot's Stars cannot pay for it
  fails like any other permanent error (reason ``stars_balance``).
* Errors: ``RetryAfter`` pauses the chat (everything when several chats are told to wait
  at once) and retries without spending an attempt; timeouts, network errors and 5xx
  retry with exponential backoff and jitter until ``max_attempts``; blocked / deactivated
  / chat not found fail the row and mark the member unreachable; a migrated group is
  repointed (outbox and areas) and the message resent; other bad requests fail the row.
* Outages: ``max_attempts`` is for messages the Bot API keeps refusing, not for the API
  being unreachable. Before a network error would make a row wait long or give up, one
  ``getMe`` (shared) asks whether the API answers at all. If not, it is an outage: the
  attempt is not counted and the row is tried again within ``OUTAGE_RETRY``; the first
  answer after it makes every row still backing off from a network error due at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import telegram
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ExtBot

from bot.core.clock import Clock
from bot.core.config import DeliverySettings
from bot.delivery.budget import Budget
from bot.delivery.direct import OUTBOX_SEND, input_media
from bot.delivery.limits import Slot
from bot.delivery.outcomes import (
    Delivered,
    Failed,
    Migrated,
    Outcome,
    Retry,
    forbidden_reason,
    retry_after_seconds,
)
from storage import members, outbox
from storage.circulars import BROADCAST_KINDS
from storage.db import Database
from storage.outbox import OutboxItem

log = logging.getLogger(__name__)

BATCH = 8
"""Rows claimed per pass at most; the next pass re-selects, so priorities apply at once."""
MAX_IN_FLIGHT = 64
PAID_BATCH = 128
"""Paid broadcast rows claimed per pass at most: at 1000/s a pass every ~0.1 s suffices."""
PAID_IN_FLIGHT = 256
"""Paid sends awaiting an answer at most (rate × round trip, with room to spare)."""
RAW_SEND_MESSAGE = "sendmessage"
IDLE_CAP = 1.0
"""Longest sleep when nothing is due: the outbox is re-read at least this often."""
MIN_PAUSE = 0.001
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
JITTER = 0.2
OUTAGE_RETRY = 10.0
"""Longest wait between tries of a row while the Bot API answers nothing (an outage)."""
PROBE_FRESH = 1.0
"""Seconds a getMe verdict on whether the Bot API is down is reused by other rows."""

# Bot API method → (PTB coroutine, parameters it takes positionally). The rest of the
# payload travels as ``api_kwargs``, exactly as written to the outbox.
_TYPED: dict[str, tuple[str, tuple[str, ...]]] = {
    "sendMessage": ("send_message", ("chat_id", "text")),
    "editMessageText": ("edit_message_text", ("text",)),
    "editMessageReplyMarkup": ("edit_message_reply_markup", ()),
    "editMessageCaption": ("edit_message_caption", ()),
    "deleteMessage": ("delete_message", ("chat_id", "message_id")),
    "pinChatMessage": ("pin_chat_message", ("chat_id", "message_id")),
    "sendPhoto": ("send_photo", ("chat_id", "photo")),
    "sendDocument": ("send_document", ("chat_id", "document")),
    "sendLocation": ("send_location", ("chat_id", "latitude", "longitude")),
    "sendVideo": ("send_video", ("chat_id", "video")),
    "sendMediaGroup": ("send_media_group", ("chat_id", "media")),
}


SETTLE_RETRY_FIRST = 0.05
SETTLE_RETRY_MAX = 5.0


@dataclass(slots=True)
class _Claimed:
    item: OutboxItem
    paid: bool
    """Sent as a paid broadcast, in the paid lane."""
    slots: list[Slot]


@dataclass(slots=True)
class _SentBatch:
    """Deliveries recorded together: one transaction for every answer that came in while
    the previous one was being written, instead of one each (a thousand a second)."""

    rows: dict[int, tuple[datetime, int | None]]
    """outbox id → (answered at, message_id)"""
    done: asyncio.Future[set[int] | None]
    """The ids marked sent; None if the sender stopped before they could be recorded."""


@dataclass(slots=True)
class _Pass:
    claimed: list[_Claimed]
    soonest: float
    """Timestamp at which something held back by a limit or pause may go."""
    limited: bool
    """The overall limit (or a global pause) stopped the pass, not a lack of due rows."""


# --------------------------------------------------------------------------------------------
# The sender
# --------------------------------------------------------------------------------------------


class Sender:
    """Drains the outbox; one per process. ``wake()`` after committing new rows."""

    def __init__(
        self,
        db: Database,
        bot: telegram.Bot,
        settings: DeliverySettings,
        clock: Clock,
        *,
        stop_grace: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._bot = bot
        self._settings = settings
        self._clock = clock
        self._stop_grace = stop_grace
        self._rng = rng or random.Random()
        self._timeout = settings.request_timeout.total_seconds()
        # Limits run on seconds since this instant: small floats keep their precision.
        self._epoch = clock.now()

        self._budget = Budget(settings)
        self._paid_kinds: frozenset[str] = (
            BROADCAST_KINDS if settings.paid_broadcast else frozenset()
        )
        self._paid_flying: set[int] = set()
        self._down = False
        """A getMe found the Bot API unreachable and nothing has been answered since."""
        self._probe: asyncio.Task[bool] | None = None
        self._probe_at = -math.inf

        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._sent_batch: _SentBatch | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._recovered = False

        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.n_429 = 0
        self.migrated = 0
        self.outage_retries = 0
        self.paid_sent = 0
        """Messages delivered as paid broadcasts (0.1 Star each)."""
        self.failures: Counter[str] = Counter()
        """Failed rows by reason: blocked, deactivated, kicked, forbidden, chat_not_found,
        stars_balance, bad_request, gave_up, unsupported, invalid."""

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Return crash leftovers to pending, then run the sender loop as one task."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        await self._recover_once()
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def take_over(self) -> None:
        """Start as the (new) leader (SPEC §11): rows another process left in 'sending'
        go back to pending first, even if this process recovered once already."""
        if self._task is not None and not self._task.done():
            return
        self._recovered = False
        await self.start()

    async def stop(self) -> None:
        """Stop claiming; give in-flight sends ``stop_grace`` seconds, release the rest."""
        self._stopping = True
        self._wakeup.set()
        task, self._task = self._task, None
        if task is not None:
            # The loop notices _stopping between passes; a pass is one short transaction.
            done, _ = await asyncio.wait({task}, timeout=max(self._stop_grace, 1.0))
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        probe, self._probe = self._probe, None
        if probe is not None and not probe.done():
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        flying = dict(self._in_flight)
        if flying:
            _, pending = await asyncio.wait(flying.values(), timeout=self._stop_grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*flying.values(), return_exceptions=True)
            flusher = self._flusher
            if flusher is not None and not flusher.done():
                await asyncio.wait({flusher}, timeout=self._stop_grace)
            try:
                async with self._db.transaction() as tx:
                    released = await outbox.release(tx, flying)
            except Exception:
                log.exception("outbox: could not release %d in-flight rows", len(flying))
            else:
                if released:
                    log.info("outbox: %d unanswered rows returned to pending", released)

    def wake(self) -> None:
        """New rows were committed: look now instead of at the next poll."""
        self._wakeup.set()

    async def drain_once(self) -> int:
        """Send whatever may be sent right now and wait for the answers; for tests.

        Returns the number of messages delivered. Never waits for a limit to free up or a
        ``not_before`` to come: with a fake clock, advance it and call again.
        """
        if self._task is not None and not self._task.done():
            raise RuntimeError("drain_once() while the sender loop runs")
        await self._recover_once()
        before = self.sent
        while True:
            step = await self._claim()
            for claimed in step.claimed:
                self._spawn(claimed)
            if step.claimed:
                continue
            if not self._in_flight:
                return self.sent - before
            await asyncio.wait(set(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def stats(self) -> dict[str, int]:
        """Counters for metrics: totals and failures by reason (``failed_<reason>``)."""
        figures = {
            "sent": self.sent,
            "failed": self.failed,
            "retried": self.retried,
            "n_429": self.n_429,
            "migrated": self.migrated,
            "outage_retries": self.outage_retries,
            "paid_sent": self.paid_sent,
            "in_flight": self.in_flight,
        }
        figures.update({f"failed_{reason}": n for reason, n in sorted(self.failures.items())})
        return figures

    # ---------------------------------------------------------------- the loop

    async def _recover_once(self) -> None:
        if self._recovered:
            return
        async with self._db.transaction() as tx:
            released = await outbox.release_stale(tx)
        self._recovered = True
        if released:
            log.warning("outbox: %d rows left in flight by a crash returned to pending", released)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                pause = await self._pump()
            except Exception:
                log.exception("outbox: sender pass failed; retrying")
                pause = IDLE_CAP
            if pause > 0 and not self._stopping:
                await self._sleep(pause)

    async def _pump(self) -> float:
        """One claim pass; returns how long to sleep before the next one (0: at once)."""
        self._wakeup.clear()
        step = await self._claim()
        for claimed in step.claimed:
            self._spawn(claimed)
        if step.claimed:
            await asyncio.sleep(0)
            return 0.0
        now_dt = self._clock.now()
        now = self._seconds(now_dt)
        soonest = step.soonest
        if not step.limited:
            async with self._db.read() as tx:
                due = await outbox.next_not_before(tx, now_dt)
            if due is not None:
                soonest = min(soonest, self._seconds(due))
        return min(IDLE_CAP, max(MIN_PAUSE, soonest - now))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()

    def _seconds(self, moment: datetime) -> float:
        return (moment - self._epoch).total_seconds()

    def _now(self) -> float:
        return self._seconds(self._clock.now())

    async def _claim(self) -> _Pass:
        now_dt = self._clock.now()
        now = self._seconds(now_dt)
        paid_flying = len(self._paid_flying)
        room, when = self._budget.room(now, MAX_IN_FLIGHT - (len(self._in_flight) - paid_flying))
        paid_room, paid_when = self._budget.paid_room(now, PAID_IN_FLIGHT - paid_flying)
        if room <= 0 and paid_room <= 0:
            return _Pass([], min(when, paid_when), limited=True)
        held, soonest = self._budget.held_chats(now)
        # A lane without room now is due again when it frees up.
        if room <= 0:
            soonest = min(soonest, when)
        if paid_room <= 0 and self._budget.paid:
            soonest = min(soonest, paid_when)
        room = min(room, BATCH)
        paid_room = min(paid_room, PAID_BATCH)
        # Ordered best first, so the normal lane's rows (alerts first) come ahead of the
        # bulk; with the normal lane full, only paid rows are worth reading.
        only = self._paid_kinds if room <= 0 else None
        picked: list[tuple[OutboxItem, bool]] = []
        async with self._db.transaction() as tx:
            for item in await outbox.ready(tx, now_dt, max(room, 0) + paid_room, held, only):
                # One row per chat per pass: the chat's window is re-checked next pass.
                if item.chat_id in held:
                    continue
                paid = item.kind in self._paid_kinds
                if paid:
                    if paid_room <= 0:
                        continue
                    paid_room -= 1
                else:
                    if room <= 0:
                        continue
                    room -= 1
                picked.append((item, paid))
                held.add(item.chat_id)
            moved = await outbox.claim_many(tx, (item.id for item, _ in picked))
        # Slots are taken only once the claims are committed, so a failed transaction
        # cannot leak them.
        claimed = [
            _Claimed(item, paid, self._budget.reserve(item.chat_id, now, paid))
            for item, paid in picked
            if item.id in moved
        ]
        return _Pass(claimed, soonest, limited=False)

    def note_direct_send(self, chat_id: int) -> None:
        """A reply sent straight to a person (not through the outbox) uses the same
        Telegram budget: count it in the windows so that the outbox leaves room for it."""
        self._budget.note_direct_send(chat_id, self._now())

    def _spawn(self, claimed: _Claimed) -> None:
        item = claimed.item
        task = asyncio.create_task(
            self._deliver(item, claimed.slots, claimed.paid), name=f"outbox-{item.id}"
        )
        self._in_flight[item.id] = task
        if claimed.paid:
            self._paid_flying.add(item.id)
        task.add_done_callback(functools.partial(self._done, item.id))

    def _done(self, outbox_id: int, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(outbox_id, None)
        self._paid_flying.discard(outbox_id)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox %d: delivery task died: %r", outbox_id, task.exception())
        self._wakeup.set()

    # ---------------------------------------------------------------- one message

    async def _deliver(self, item: OutboxItem, slots: list[Slot], paid: bool = False) -> None:
        outcome: Outcome
        try:
            try:
                message_id = await self._call(item, paid)
            finally:
                self._budget.release(item.chat_id, slots, self._now())
        except Exception as exc:
            outcome = self._classify(item, exc)
            if isinstance(exc, NetworkError) and isinstance(outcome, Retry):
                outcome, recovered = await self._outage_aware(item, outcome)
            else:
                recovered = isinstance(exc, TelegramError) and self._answered()
        else:
            outcome = Delivered(message_id, paid)
            recovered = self._answered()
        await self._settle(item, outcome, recovered)

    def _answered(self) -> bool:
        """The Bot API answered a call; True if that ends an outage."""
        recovered, self._down = self._down, False
        return recovered

    async def _outage_aware(self, item: OutboxItem, outcome: Retry) -> tuple[Retry, bool]:
        """A network error: during an outage the attempt is free and the wait is short.

        Also returns whether a probe found the API back after an outage.
        """
        last = item.attempts + 1 >= self._settings.max_attempts
        if not self._down and not last and outcome.delay <= OUTAGE_RETRY:
            return outcome, False
        was_down = self._down
        if not await self._api_down():
            return outcome, was_down
        self.outage_retries += 1
        cap = OUTAGE_RETRY * self._rng.uniform(1 - JITTER, 1)
        return Retry(min(outcome.delay, cap), outcome.error, count_attempt=False), False

    async def _api_down(self) -> bool:
        """Whether the Bot API answers nothing at all: one getMe, shared by every row."""
        probe = self._probe
        if probe is None or (probe.done() and self._now() - self._probe_at > PROBE_FRESH):
            self._probe_at = self._now()
            probe = self._probe = asyncio.create_task(self._get_me(), name="outbox-probe")
        down = await asyncio.shield(probe)
        if down and not self._down:
            log.warning("outbox: the Bot API is unreachable; waiting it out without giving up")
        self._down = down
        return down

    async def _get_me(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                await self._bot.get_me()
        except (NetworkError, TimeoutError):
            return True
        except TelegramError:
            return False  # an answer, even a refusal, means the API is there
        return False

    async def _call(self, item: OutboxItem, paid: bool = False) -> int | None:
        params: dict[str, Any] = dict(item.payload)
        params["chat_id"] = item.chat_id
        if paid:
            params["allow_paid_broadcast"] = True
        if item.topic_id is not None:
            params["message_thread_id"] = item.topic_id
        try:
            async with asyncio.timeout(self._timeout):
                typed = _TYPED.get(item.method)
                # Marked so that DirectSendCounter does not count the outbox's own sends.
                marker: dict[str, Any] = {}
                if isinstance(self._bot, ExtBot) and self._bot.rate_limiter is not None:
                    marker["rate_limit_args"] = OUTBOX_SEND
                if typed is None:
                    result: Any = await self._bot.do_api_request(
                        item.method, api_kwargs=params, **marker
                    )
                elif paid and item.method == "sendMessage":
                    # At a thousand a second, building a telegram.Message per answer to read
                    # its message_id is a sixth of the sender's time: take the raw answer.
                    # PTB warns about do_api_request("sendMessage") as it has a typed method;
                    # Bot API method names are case-insensitive, and the lower-case spelling
                    # is not an attribute of the Bot.
                    result = await self._bot.do_api_request(
                        RAW_SEND_MESSAGE, api_kwargs=params, **marker
                    )
                else:
                    name, positional = typed
                    args = {key: params.pop(key) for key in positional}
                    if item.method == "sendMediaGroup":
                        args["media"] = [input_media(m) for m in args["media"]]
                    result = await getattr(self._bot, name)(**args, api_kwargs=params, **marker)
        except TimeoutError:
            raise TimedOut(f"no answer within request_timeout ({self._timeout:g}s)") from None
        if isinstance(result, telegram.Message):
            return result.message_id
        if isinstance(result, tuple | list) and result and isinstance(result[0], telegram.Message):
            return result[0].message_id  # an album: its first message
        if isinstance(result, dict) and isinstance(result.get("message_id"), int):
            return int(result["message_id"])
        return None

    def _redact(self, text: str) -> str:
        token = self._bot.token
        return text.replace(token, "<token>") if token else text

    def _classify(self, item: OutboxItem, exc: Exception) -> Outcome:
        error = self._redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, RetryAfter):
            self.n_429 += 1
            seconds = retry_after_seconds(exc)
            self._budget.flood_wait(item.chat_id, self._now(), seconds)
            log.warning("outbox %d: chat %d told to wait %gs", item.id, item.chat_id, seconds)
            return Retry(seconds, error, count_attempt=False)
        if isinstance(exc, ChatMigrated):
            new_chat_id = int(exc.new_chat_id)
            if new_chat_id == item.chat_id:
                return Failed("bad_request", error)
            return Migrated(new_chat_id, error)
        if isinstance(exc, Forbidden):
            return Failed(forbidden_reason(str(exc)), error, unreachable=True)
        if isinstance(exc, BadRequest):
            lowered = str(exc).lower()
            if "chat not found" in lowered or "peer_id_invalid" in lowered:
                return Failed("chat_not_found", error, unreachable=True)
            if outbox.BALANCE_TOO_LOW in lowered:
                # The bot's Stars ran out: this copy is lost, like any refused message; the
                # circular's report counts it failed and the log says why.
                return Failed("stars_balance", error)
            return Failed("bad_request", error)
        if isinstance(exc, EndPointNotFound):
            return Failed("unsupported", error)
        if isinstance(exc, TelegramError):
            # TimedOut, connection errors and 5xx are NetworkError; anything else Telegram
            # says (401, 409, ...) is not the message's fault either.
            return Retry(self._backoff(item.attempts), error, count_attempt=True)
        log.error("outbox %d: cannot be sent: %s", item.id, error, exc_info=exc)
        return Failed("invalid", error)

    def _backoff(self, attempts: int) -> float:
        base = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempts, 30))
        return base * self._rng.uniform(1 - JITTER, 1 + JITTER)

    async def _record_delivered(
        self, outbox_id: int, now: datetime, message_id: int | None
    ) -> bool | None:
        """Mark one row sent in the next batch; whether it was still in flight (None: the
        sender stopped before it could be recorded)."""
        batch = self._sent_batch
        if batch is None:
            batch = self._sent_batch = _SentBatch({}, asyncio.get_running_loop().create_future())
            self._flusher = asyncio.create_task(self._flush_sent(batch), name="outbox-sent")
        batch.rows[outbox_id] = (now, message_id)
        done = await asyncio.shield(batch.done)
        return None if done is None else outbox_id in done

    async def _flush_sent(self, batch: _SentBatch) -> None:
        pause = SETTLE_RETRY_FIRST
        done: set[int] | None = None
        try:
            await asyncio.sleep(0)  # answers that arrived together join this batch
            while True:
                try:
                    async with self._db.transaction() as tx:
                        if self._sent_batch is batch:
                            self._sent_batch = None  # later answers start the next batch
                        done = await outbox.mark_sent_many(
                            tx, [(i, at, mid) for i, (at, mid) in batch.rows.items()]
                        )
                    break
                except Exception:
                    # As in _settle: the messages are out; keep trying to record them.
                    log.exception("outbox: could not record %d deliveries", len(batch.rows))
                    if self._stopping:
                        break
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, SETTLE_RETRY_MAX)
        finally:
            if self._sent_batch is batch:
                self._sent_batch = None
            if not batch.done.done():
                batch.done.set_result(done)

    async def _settle(self, item: OutboxItem, outcome: Outcome, recovered: bool = False) -> None:
        now = self._clock.now()
        if isinstance(outcome, Delivered) and not recovered:
            sent = await self._record_delivered(item.id, now, outcome.message_id)
            if sent is not None:
                self._tally(item, outcome, sent)
            return
        released = 0
        pause = SETTLE_RETRY_FIRST
        while True:
            try:
                async with self._db.transaction() as tx:
                    if recovered:
                        released = await outbox.retry_now(tx, now)
                    if isinstance(outcome, Delivered):
                        done = await outbox.mark_sent(tx, item.id, now, outcome.message_id)
                    elif isinstance(outcome, Migrated):
                        await outbox.repoint_chat(tx, item.chat_id, outcome.new_chat_id)
                        done = await outbox.reschedule(
                            tx, item.id, now, outcome.error, count_attempt=False
                        )
                    elif isinstance(outcome, Retry):
                        if (
                            outcome.count_attempt
                            and item.attempts + 1 >= self._settings.max_attempts
                        ):
                            outcome = Failed("gave_up", outcome.error)
                            done = await outbox.mark_failed(tx, item.id, outcome.error)
                        else:
                            done = await outbox.reschedule(
                                tx,
                                item.id,
                                now + timedelta(seconds=outcome.delay),
                                outcome.error,
                                count_attempt=outcome.count_attempt,
                            )
                    else:
                        done = await outbox.mark_failed(tx, item.id, outcome.error)
                        if done and outcome.unreachable and item.chat_id > 0:
                            await members.mark_unreachable(tx, item.chat_id, outcome.reason, now)
                break
            except Exception:
                # The message is out; its row must not stay 'sending' (that holds back the
                # chat's queue and resends it after a restart): keep trying to record it.
                log.exception("outbox %d: could not record the outcome; retrying", item.id)
                if self._stopping:
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, SETTLE_RETRY_MAX)
        if recovered:
            log.warning("outbox: the Bot API answers again; %d waiting rows are due now", released)
            if released:
                self._wakeup.set()
        self._tally(item, outcome, done)

    def _tally(self, item: OutboxItem, outcome: Outcome, done: bool) -> None:
        if not done:
            log.warning("outbox %d: row was no longer in flight; outcome dropped", item.id)
            return
        if isinstance(outcome, Delivered):
            self.sent += 1
            self.paid_sent += outcome.paid
        elif isinstance(outcome, Migrated):
            self.migrated += 1
            log.info(
                "outbox %d: chat %d migrated to %d", item.id, item.chat_id, outcome.new_chat_id
            )
        elif isinstance(outcome, Retry):
            self.retried += 1
            log.info("outbox %d: retry in %.1fs after %s", item.id, outcome.delay, outcome.error)
        else:
            self.failed += 1
            self.failures[outcome.reason] += 1
            log.warning("outbox %d: failed (%s): %s", item.id, outcome.reason, outcome.error)
