"""The outbox sender against the fake Bot API over real HTTP (SPEC §5).

Tests that are about order, failures and limits drive ``Sender.drain_once()`` with a fake
clock, so that limits, pauses and backoff are crossed by advancing the clock rather than by
waiting; tests about the running loop (start, wake, stop, restart) use the system clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import telegram

from bot.core.clock import Clock, FakeClock, SystemClock
from bot.core.config import DeliverySettings
from bot.core.transport import AiohttpRequest
from bot.delivery.sender import Sender
from bot.rehearsal.emulator import FakeBotApi
from storage import outbox
from storage.db import Database, to_db
from storage.outbox import Priority

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FAST = DeliverySettings(
    global_per_s=1000,
    per_chat_per_s=100,
    per_group_per_min=6000,
    max_attempts=5,
    request_timeout=timedelta(seconds=5),
)


def limits(**changes: Any) -> DeliverySettings:
    return FAST.model_copy(update=changes)


@pytest.fixture
async def db(migrated_db: Path | str) -> AsyncIterator[Database]:
    database = await Database.open(migrated_db)
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
async def tg(emu: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    # A short read timeout so that a delayed answer times out quickly.
    bot = telegram.Bot(emu.token, base_url=emu.base_url, request=AiohttpRequest(read_timeout=0.3))
    async with bot:
        yield bot


async def queue(
    db: Database,
    clock: Clock,
    chat_id: int,
    *texts: str,
    priority: Priority = Priority.NOTICE,
    **kwargs: Any,
) -> list[int]:
    async with db.transaction() as tx:
        return [
            await outbox.enqueue(
                tx, chat_id, text, clock.now(), kind="test", priority=priority, **kwargs
            )
            for text in texts
        ]


async def row(db: Database, outbox_id: int) -> dict[str, Any]:
    async with db.read() as tx:
        found = await tx.one("SELECT * FROM outbox WHERE id = ?", (outbox_id,))
    assert found is not None
    return dict(found)


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as tx:
        return await outbox.status_counts(tx)


async def add_member(db: Database, telegram_id: int) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO members (ref, name, telegram_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (f"m{telegram_id}", f"Member {telegram_id}", telegram_id, to_db(T0), to_db(T0)),
        )


async def member(db: Database, telegram_id: int) -> dict[str, Any]:
    async with db.read() as tx:
        found = await tx.one("SELECT * FROM members WHERE telegram_id = ?", (telegram_id,))
    assert found is not None
    return dict(found)


def texts_to(emu: FakeBotApi, chat_id: int) -> list[str | None]:
    return [r.text for r in emu.sent_to(chat_id, "sendMessage")]


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def all_sent(db: Database, total: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await counts(db)).get("sent", 0) == total

    return check


# --------------------------------------------------------------------------------------------
# The running loop
# --------------------------------------------------------------------------------------------


async def test_every_message_once_in_order_per_chat(
    db: Database, tg: telegram.Bot, emu: FakeBotApi
) -> None:
    emu.enforce_rate_limits(global_per_s=1000, per_chat_per_s=100, per_group_per_min=6000)
    clock = SystemClock()
    chats = [101, 102, 103, 104, -500]
    for n in range(5):
        for chat in chats:
            await queue(db, clock, chat, f"{chat}:{n}")
    sender = Sender(db, tg, FAST, clock)
    await sender.start()
    try:
        # Rows queued while it runs, picked up on wake().
        for n in range(5, 10):
            for chat in chats:
                await queue(db, clock, chat, f"{chat}:{n}")
            sender.wake()
        button = {"inline_keyboard": [[{"text": "OK", "callback_data": "ack:1"}]]}
        [special] = await queue(
            db,
            clock,
            -500,
            "<b>Siaga</b>",
            reply_markup=button,
            topic_id=7,
            extra={"parse_mode": "HTML"},
        )
        sender.wake()
        await eventually(all_sent(db, 51))
    finally:
        await sender.stop()

    for chat in chats:
        assert texts_to(emu, chat)[:10] == [f"{chat}:{n}" for n in range(10)]
    last = emu.sent_to(-500)[-1]
    assert last.text == "Siaga"
    assert last.params["message_thread_id"] == 7
    assert emu.inline_buttons(last) == [("OK", "ack:1")]
    assert (await row(db, special))["message_id"] == last.message_id
    assert len(emu.sent) == 51
    assert sender.sent == 51 and sender.n_429 == 0 and emu.n_429 == 0
    assert await counts(db) == {"sent": 51}


async def test_restart_resends_in_flight_rows_and_loses_nothing(
    db: Database, tg: telegram.Bot, emu: FakeBotApi
) -> None:
    clock = SystemClock()
    ids = await queue(db, clock, 201, *[f"m{n}" for n in range(6)])
    # A crash left two rows claimed but unanswered.
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE outbox SET status = 'sending' WHERE id IN (?, ?)", (ids[0], ids[1])
        )
    first = Sender(db, tg, limits(global_per_s=5), clock)  # one per 0.2 s
    await first.start()
    await eventually(lambda: len(emu.sent) >= 2)
    await first.stop()  # mid-way: nothing may stay in flight
    state = await counts(db)
    assert "sending" not in state
    assert state.get("sent", 0) + state.get("pending", 0) == 6
    assert state.get("pending", 0) > 0

    second = Sender(db, tg, FAST, clock)
    await second.start()
    try:
        await eventually(all_sent(db, 6))
    finally:
        await second.stop()
    assert texts_to(emu, 201) == [f"m{n}" for n in range(6)]


async def test_errors_never_stop_the_loop(db: Database, tg: telegram.Bot, emu: FakeBotApi) -> None:
    clock = SystemClock()
    [bad_markup] = await queue(db, clock, 301, "<b>unclosed", extra={"parse_mode": "HTML"})
    async with db.transaction() as tx:
        no_text = await tx.insert(
            "INSERT INTO outbox (chat_id, kind, payload, not_before, created_at)"
            " VALUES (302, 'test', '{}', ?, ?)",
            (to_db(clock.now()), to_db(clock.now())),
        )
        unknown = await outbox.enqueue(
            tx, 303, "x", clock.now(), kind="test", method="sendTelepathy"
        )
    [fine] = await queue(db, clock, 304, "still here")
    sender = Sender(db, tg, FAST, clock)
    await sender.start()
    try:
        await eventually(lambda: sender.sent + sender.failed == 4)
    finally:
        await sender.stop()
    assert (await row(db, fine))["status"] == "sent"
    for outbox_id in (bad_markup, no_text, unknown):
        failed = await row(db, outbox_id)
        assert failed["status"] == "failed" and failed["error"]
    assert "parse" in (await row(db, bad_markup))["error"]
    assert sender.failures == {"bad_request": 1, "invalid": 1, "unsupported": 1}


# --------------------------------------------------------------------------------------------
# Failures, step by step on a fake clock
# --------------------------------------------------------------------------------------------


async def test_retry_after_is_honoured_without_holding_up_other_chats(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    first, second = await queue(db, clock, 401, "a1", "a2")
    emu.fail_next("sendMessage", 429, retry_after=3)
    sender = Sender(db, tg, FAST, clock)

    assert await sender.drain_once() == 0
    assert sender.n_429 == 1 and emu.n_429 == 1
    held = await row(db, first)
    assert held["status"] == "pending" and held["attempts"] == 0

    await queue(db, clock, 402, "b1")
    assert await sender.drain_once() == 1  # another chat goes while 401 waits
    clock.advance(timedelta(seconds=2))
    assert await sender.drain_once() == 0  # still inside retry_after
    clock.advance(timedelta(seconds=1.1))
    assert await sender.drain_once() == 2

    assert texts_to(emu, 401) == ["a1", "a2"]
    assert texts_to(emu, 402) == ["b1"]
    assert (await row(db, second))["status"] == "sent"
    assert sender.failed == 0 and sender.retried == 1


async def test_server_errors_and_timeouts_are_retried_with_backoff(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    [outbox_id] = await queue(db, clock, 501, "sabar")
    sender = Sender(db, tg, FAST, clock)
    emu.fail_next("sendMessage", 500, count=2)

    assert await sender.drain_once() == 0
    retry = await row(db, outbox_id)
    assert retry["status"] == "pending" and retry["attempts"] == 1
    assert retry["not_before"] > to_db(clock.now())  # backoff
    assert "Internal Server Error" in retry["error"]
    assert await sender.drain_once() == 0  # not before the backoff
    clock.advance(timedelta(minutes=10))
    assert await sender.drain_once() == 0
    assert (await row(db, outbox_id))["attempts"] == 2

    emu.delay_next("sendMessage", 1.0)  # beyond the 0.3 s read timeout
    clock.advance(timedelta(minutes=10))
    assert await sender.drain_once() == 0
    timed_out = await row(db, outbox_id)
    assert timed_out["attempts"] == 3 and "TimedOut" in timed_out["error"]

    clock.advance(timedelta(minutes=10))
    assert await sender.drain_once() == 1
    done = await row(db, outbox_id)
    assert done["status"] == "sent" and done["message_id"] is not None
    # The timed-out call may still land late: the one duplicate SPEC §5 allows.
    assert "sabar" in texts_to(emu, 501)
    assert sender.retried == 3 and sender.failed == 0


async def test_gives_up_after_max_attempts_and_keeps_the_error(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    [outbox_id] = await queue(db, clock, 601, "never")
    sender = Sender(db, tg, limits(max_attempts=2), clock)
    emu.fail_next("sendMessage", 502, count=2)
    assert await sender.drain_once() == 0
    clock.advance(timedelta(minutes=10))
    assert await sender.drain_once() == 0
    failed = await row(db, outbox_id)
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert "Bad Gateway" in failed["error"]
    assert sender.failures == {"gave_up": 1}


async def test_blocked_user_is_marked_unreachable_and_others_still_get_theirs(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    await add_member(db, 1001)
    await add_member(db, 1002)
    emu.block_chat(1001)
    [blocked] = await queue(db, clock, 1001, "to blocked")
    await queue(db, clock, 1002, "to friend")
    await queue(db, clock, 1003, "to other")
    sender = Sender(db, tg, FAST, clock)

    assert await sender.drain_once() == 2
    failed = await row(db, blocked)
    assert failed["status"] == "failed" and "blocked" in failed["error"]
    who = await member(db, 1001)
    assert who["unreachable_at"] == to_db(clock.now())
    assert who["unreachable_reason"] == "blocked"
    assert (await member(db, 1002))["unreachable_at"] is None
    assert texts_to(emu, 1002) == ["to friend"] and texts_to(emu, 1003) == ["to other"]
    assert sender.failures == {"blocked": 1}


async def test_chat_not_found_fails_and_marks_unreachable(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    await add_member(db, 1004)
    emu.unknown_chat(1004)
    [lost] = await queue(db, clock, 1004, "anyone?")
    sender = Sender(db, tg, FAST, clock)
    assert await sender.drain_once() == 0
    failed = await row(db, lost)
    assert failed["status"] == "failed" and "chat not found" in failed["error"].lower()
    assert (await member(db, 1004))["unreachable_reason"] == "chat_not_found"
    assert sender.failures == {"chat_not_found": 1}


async def test_migrated_group_is_repointed_and_the_message_resent(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    old, new = -700, -1_009_999_999_999
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO areas (code, name, level, group_chat_id, created_at, updated_at)"
            " VALUES ('31', 'DKI Jakarta', 'provinsi', ?, ?, ?)",
            (old, to_db(T0), to_db(T0)),
        )
    emu.migrate_chat(old, new)
    ids = await queue(db, clock, old, "g1", "g2", priority=Priority.ALERT)
    sender = Sender(db, tg, FAST, clock)

    assert await sender.drain_once() == 2
    assert texts_to(emu, new) == ["g1", "g2"]
    assert texts_to(emu, old) == []
    for outbox_id in ids:
        moved = await row(db, outbox_id)
        assert moved["chat_id"] == new and moved["status"] == "sent"
    async with db.read() as tx:
        assert await tx.scalar("SELECT group_chat_id FROM areas WHERE code = '31'") == new
    assert sender.migrated == 1 and sender.failed == 0


# --------------------------------------------------------------------------------------------
# Priorities and limits
# --------------------------------------------------------------------------------------------


async def test_alert_overtakes_queued_bulk(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    bulk = []
    for chat in range(2000, 2200):
        bulk += await queue(db, clock, chat, f"bulk {chat}", priority=Priority.BULK)
    sender = Sender(db, tg, limits(global_per_s=10), clock)  # one per 0.1 s, no burst
    assert await sender.drain_once() == 1
    [alert] = await queue(db, clock, 9000, "ALERT", priority=Priority.ALERT)
    assert alert > max(bulk)
    clock.advance(timedelta(seconds=0.1))
    assert await sender.drain_once() == 1
    assert [r.text for r in emu.sent] == ["bulk 2000", "ALERT"]
    clock.advance(timedelta(seconds=0.1))
    assert await sender.drain_once() == 1
    assert emu.sent[-1].text == "bulk 2001"


async def test_throttled_chat_does_not_block_others(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    # The emulator's limits run on real time, so they are checked in the first test and
    # in bench/delivery.py; here the fake clock shows which message goes when.
    sender = Sender(db, tg, limits(per_chat_per_s=1, per_group_per_min=2), clock)
    await queue(db, clock, 801, "a1", "a2", "a3")
    await queue(db, clock, -802, "g1", "g2", "g3")
    await queue(db, clock, 803, "b1")
    await queue(db, clock, 804, "c1")

    assert await sender.drain_once() == 4
    assert sorted(r.text or "" for r in emu.sent) == ["a1", "b1", "c1", "g1"]
    clock.advance(timedelta(seconds=1.01))
    assert await sender.drain_once() == 2  # a2, g2 (the group's 2nd of 2 per minute)
    clock.advance(timedelta(seconds=1.01))
    assert await sender.drain_once() == 1  # a3; the group waits for its minute
    clock.advance(timedelta(seconds=60))
    assert await sender.drain_once() == 1

    assert texts_to(emu, 801) == ["a1", "a2", "a3"]
    assert texts_to(emu, -802) == ["g1", "g2", "g3"]


async def test_direct_replies_are_counted_against_the_outbox_budget() -> None:
    """Replies bypass the outbox but spend the same Telegram budget: the counter tells the
    sender about each, and never about the sender's own (marked) requests."""
    from bot.delivery.direct import OUTBOX_SEND, DirectSendCounter

    noted: list[int] = []

    class Sender:
        def note_direct_send(self, chat_id: int) -> None:
            noted.append(chat_id)

    async def call() -> bool:
        return True

    counter = DirectSendCounter()
    counter.sender = Sender()  # type: ignore[assignment]
    assert await counter.process_request(call, (), {}, "sendMessage", {"chat_id": 7}, None)
    await counter.process_request(call, (), {}, "sendMessage", {"chat_id": 8}, OUTBOX_SEND)
    await counter.process_request(call, (), {}, "answerCallbackQuery", {"chat_id": 9}, None)
    await counter.process_request(call, (), {}, "sendPhoto", {"chat_id": -100}, None)
    assert noted == [7, -100]


async def test_outbox_sends_are_not_counted_twice(emu: FakeBotApi, db: Database) -> None:
    """With the counter installed on the real ExtBot, only replies sent past the outbox
    reach note_direct_send; the outbox's own sends are already in its windows."""
    from telegram.ext import ExtBot

    from bot.delivery.direct import DirectSendCounter

    counter = DirectSendCounter()
    bot = ExtBot(emu.token, base_url=emu.base_url, request=AiohttpRequest(), rate_limiter=counter)
    clock = SystemClock()
    async with bot:
        sender = Sender(db, bot, limits(), clock)
        counter.sender = sender
        noted: list[int] = []
        original = sender.note_direct_send

        def spy(chat_id: int) -> None:
            noted.append(chat_id)
            original(chat_id)

        sender.note_direct_send = spy  # type: ignore[method-assign]
        await queue(db, clock, 501, "satu", "dua")
        await queue(db, clock, 502, "tiga")
        while await sender.drain_once():
            pass
        assert [s.text for s in emu.sent_to(501)] == ["satu", "dua"]
        assert noted == []
        await bot.send_message(503, "balasan langsung")
        assert noted == [503]


async def test_an_outcome_that_cannot_be_recorded_is_retried(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message went out but the database refused its 'sent' mark once (another process
    held the lock): the row must not stay 'sending', which would hold back the chat's
    queue and resend the message after a restart."""
    import sqlite3

    real_mark_sent = outbox.mark_sent
    failures = {"left": 1}

    async def flaky_mark_sent(*args: Any, **kwargs: Any) -> bool:
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database is locked")
        return await real_mark_sent(*args, **kwargs)

    monkeypatch.setattr("storage.outbox.mark_sent", flaky_mark_sent)
    clock = SystemClock()
    await queue(db, clock, 701, "pertama", "kedua")
    sender = Sender(db, tg, FAST, clock)
    await sender.start()
    try:
        await eventually(all_sent(db, 2))
    finally:
        await sender.stop()
    assert texts_to(emu, 701) == ["pertama", "kedua"]  # each once, in order
    assert await counts(db) == {"sent": 2}
    assert failures["left"] == 0
