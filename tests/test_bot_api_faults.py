"""The Bot API misbehaving while alerts and replies are due (SPEC §5), end to end.

The real bot runs in-process against the fake Bot API with the real clock and a
second-scale watch policy: Budi checks in at KBJ-01 and then stays silent, so a reminder
(+2 s), a silent alert to the lurah (+3 s) and its escalation to the camat (+5 s) come
due. Meanwhile the emulator answers 429 (retry_after 1), 5xx, answers too late for
``[delivery] request_timeout`` (1 s here), drops connections (before and after the call
took effect) or is down altogether for about five seconds. Afterwards everything
deliverable has been delivered, each outbox row at most twice (only a row whose call may
have landed unanswered is sent again), updates sent during an outage are answered after
it, and the application is still running and polling.

``scripts/outage-drill`` runs the outage scenario with a ten-minute outage.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.app import PoskoApp
from bot.core.runtime import Runtime
from bot.delivery.sender import Sender
from bot.rehearsal.emulator import FakeBotApi, Sent
from storage import outbox
from tests.conftest import ADMIN, BUDI, CAMAT, JOHN, LURAH, MONAS, SARI, AppFactory, Phone

FAST = {
    "staff_grace": "1s",
    "silence_after": "3s",
    "remind_before": "1s",
    "escalate_after": "2s",
    "repeat_every": "30s",
    "remind_before_open": "0s",
    "max_sleep": "1s",
}
DELIVERY = {"request_timeout": "1s"}


def runtime_of(app: PoskoApp) -> Runtime:
    runtime = app.bot_data["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


def sender_of(app: PoskoApp) -> Sender:
    sender = runtime_of(app).sender
    assert isinstance(sender, Sender)
    return sender


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, step: float = 0.05
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within:g}s: {what}")
        await asyncio.sleep(step)


async def outbox_rows(app: PoskoApp) -> list[dict[str, Any]]:
    async with runtime_of(app).database.read() as tx:
        return [dict(row) for row in await tx.all("SELECT * FROM outbox ORDER BY id")]


async def drained(app: PoskoApp, within: float = 15.0) -> list[dict[str, Any]]:
    """Wait until no outbox row is pending or in flight; returns all rows."""

    async def idle() -> bool:
        async with runtime_of(app).database.read() as tx:
            counts = await outbox.status_counts(tx)
        return not counts.get("pending") and not counts.get("sending")

    await eventually(idle, within, "outbox drained")
    return await outbox_rows(app)


def deliveries(emu: FakeBotApi, rows: list[dict[str, Any]]) -> Counter[int]:
    """How many sendMessage records each outbox row produced (matched by chat and text)."""
    wanted: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        text = json.loads(row["payload"])["text"].strip()
        wanted.setdefault((row["chat_id"], text), []).append(row["id"])
    seen: Counter[tuple[int, str]] = Counter(
        (rec.chat_id, rec.text or "")
        for rec in emu.sent
        if rec.method == "sendMessage" and rec.chat_id is not None
    )
    result: Counter[int] = Counter()
    for key, ids in wanted.items():
        # Same text to the same chat twice (rare): spread the records over the rows.
        total = seen[key]
        for i, outbox_id in enumerate(ids):
            result[outbox_id] = total // len(ids) + (1 if i < total % len(ids) else 0)
    return result


async def quiet_city(emu: FakeBotApi, budi: Phone) -> None:
    """Only KBJ-01 is watched; Budi is on duty there, and nothing is waiting to be sent."""
    admin = Phone(emu, ADMIN)
    for code in ("KBJ-02", "KEC-KBJ"):
        paused = await admin.send(f"/jeda {code} 2h")
        assert "dijeda" in (paused.text or "")
    checked_in = await budi.location(*MONAS)
    assert "Hadir tercatat" in (checked_in.text or "")


async def still_polling(app: PoskoApp, emu: FakeBotApi) -> None:
    assert app.running
    assert app.updater is not None and app.updater.running
    polls = emu.n_requests["getUpdates"]

    async def polled() -> bool:
        return emu.n_requests["getUpdates"] > polls + 1

    await eventually(polled, 5, "getUpdates called again")


async def the_silent_story(emu: FakeBotApi, within: float) -> tuple[Sent, Sent, Sent]:
    """The reminder to Budi, the alert to the lurah and its escalation to the camat."""
    reminder = await emu.wait_reply(BUDI.id, contains="⏰ Mohon kirim /aman", timeout=within)
    to_lurah = await emu.wait_reply(LURAH.id, contains="senyap", timeout=within)
    to_camat = await emu.wait_reply(CAMAT.id, contains="diteruskan", timeout=within)
    for sent in (reminder, to_lurah, to_camat):
        assert "KBJ-01" in (sent.text or "")
    return reminder, to_lurah, to_camat


async def test_429_retry_after_is_honoured(emu: FakeBotApi, start_bot: AppFactory) -> None:
    budi = Phone(emu, BUDI)
    async with start_bot(real_time=True, watch=FAST, delivery=DELIVERY) as app:
        await quiet_city(emu, budi)
        before = await drained(app)
        emu.fail_next("sendMessage", 429, count=3, retry_after=1)
        await the_silent_story(emu, within=12)
        rows = await drained(app)
        assert all(row["status"] == "sent" for row in rows), rows
        counts = deliveries(emu, rows)
        assert all(counts[row["id"]] == 1 for row in rows[len(before) :]), counts
        assert emu.n_429 == 3 and sender_of(app).n_429 == 3
        # Nothing went to a chat inside the second it had been told to wait.
        for refused in (r for r in emu.rejected if r.error_code == 429):
            later = [
                rec.at
                for rec in emu.sent_to(refused.chat_id or 0, "sendMessage")
                if rec.at > refused.at
            ]
            assert later and min(later) - refused.at >= 0.95, (refused, later)
        await still_polling(app, emu)


async def test_5xx_timeouts_and_dropped_connections_are_retried(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    budi = Phone(emu, BUDI)
    async with start_bot(real_time=True, watch=FAST, delivery=DELIVERY) as app:
        await quiet_city(emu, budi)
        before = await drained(app)
        emu.fail_next("sendMessage", 500)
        emu.fail_next("sendMessage", 503)
        emu.delay_next("sendMessage", 2.5)  # beyond request_timeout: lands unanswered
        emu.drop_next("sendMessage")  # reset before the call took effect
        emu.drop_next("sendMessage", after_processing=True)  # reset after it did
        await the_silent_story(emu, within=20)
        rows = await drained(app, within=20)
        assert all(row["status"] == "sent" for row in rows), rows
        counts = deliveries(emu, rows)
        new = rows[len(before) :]
        assert all(1 <= counts[row["id"]] <= 2 for row in new), counts
        # Only the two calls that took effect without an answer may have been repeated.
        assert sum(counts[row["id"]] - 1 for row in new) <= 2
        sender = sender_of(app)
        assert sender.retried >= 5 and sender.failed == 0
        await still_polling(app, emu)


async def test_a_reply_telegram_could_not_take_is_sent_by_the_outbox(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    budi = Phone(emu, BUDI)
    async with start_bot(real_time=True, watch=FAST, delivery=DELIVERY) as app:
        await quiet_city(emu, budi)
        await drained(app)
        emu.fail_next("sendMessage", 502)  # the direct reply to /aman
        answered = await budi.send("/aman")
        assert "Situasi aman" in (answered.text or "")
        queued = [row for row in await drained(app) if row["kind"] == "reply"]
        assert [(row["chat_id"], row["status"]) for row in queued] == [(BUDI.id, "sent")]
        assert deliveries(emu, queued)[queued[0]["id"]] == 1
        emu.fail_next("sendMessage", 400, description="Bad Request: message is too long")
        refused = await budi.send("/aman")  # Telegram refused it: said so, not queued again
        assert "Situasi aman" not in (refused.text or "")
        assert [row["kind"] for row in await drained(app)].count("reply") == 1


async def test_outage_delays_alerts_and_replies_but_loses_nothing(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    budi = Phone(emu, BUDI)
    async with start_bot(real_time=True, watch=FAST, delivery=DELIVERY) as app:
        await quiet_city(emu, budi)
        await drained(app)
        loop = asyncio.get_running_loop()
        emu.set_down(True)
        down_at = loop.time()
        mark = emu.mark()
        # Updates sent while Telegram is unreachable wait on its side.
        sent_during = {
            emu.send_location(JOHN, *MONAS)["update_id"],
            emu.send_text(SARI, "/aman")["update_id"],
        }
        await asyncio.sleep(5.0)
        assert emu.mark() == mark, "nothing can be sent during the outage"
        waiting = {update["update_id"] for update in emu.pending_updates}
        assert sent_during <= waiting, "fetched although Telegram was down"
        emu.set_down(False)
        up_at = loop.time()
        checked_in = await emu.wait_reply(JOHN.id, after=mark, timeout=10)
        assert "Checked in at KEC-KBJ" in (checked_in.text or "")
        not_on_duty = await emu.wait_reply(SARI.id, after=mark, timeout=10)
        assert "belum tercatat hadir" in (not_on_duty.text or "")
        # The reminder, the alert and the escalation all came due during the outage.
        story = await the_silent_story(emu, within=15)
        assert all(sent.index >= mark for sent in story), (mark, story)
        rows = await drained(app, within=20)
        assert all(row["status"] == "sent" for row in rows), rows
        assert all(n <= 1 for n in deliveries(emu, rows).values())
        assert sender_of(app).failed == 0
        await still_polling(app, emu)
        # John and Sari were answered once each, after the outage.
        assert len([r for r in emu.sent_to(JOHN.id, "sendMessage") if r.index >= mark]) == 1
        assert min(checked_in.at, not_on_duty.at) > up_at
        print(
            json.dumps(
                {
                    "test": "outage",
                    "outage_s": round(up_at - down_at, 1),
                    "replies_after_s": round(max(checked_in.at, not_on_duty.at) - up_at, 2),
                    "alerts_after_s": round(max(sent.at for sent in story) - up_at, 2),
                    "outbox_rows": len(rows),
                }
            )
        )


async def test_outage_longer_than_the_retry_budget_gives_up_nothing(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    """``max_attempts`` is for messages the Bot API keeps refusing, not for an outage.

    With two attempts, a message first tried during a five-second outage has used them up
    before Telegram is back; it must still be sent once it is.
    """
    budi = Phone(emu, BUDI)
    delivery = {**DELIVERY, "max_attempts": 2}
    async with start_bot(real_time=True, watch=FAST, delivery=delivery) as app:
        await quiet_city(emu, budi)
        await drained(app)
        emu.outage(6.0)
        story = await the_silent_story(emu, within=25)
        assert story
        rows = await drained(app, within=20)
        assert all(row["status"] == "sent" for row in rows), rows
        sender = sender_of(app)
        assert sender.failed == 0 and sender.outage_retries >= 1
        await still_polling(app, emu)
