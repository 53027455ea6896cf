"""Paid broadcast (SPEC §11, ``[delivery] paid_broadcast``): the emulator's rule and
billing, the sender's own lane for circular copies, the Stars running out, and a circular
end to end with the cost shown before it is confirmed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import telegram
from telegram.error import BadRequest, RetryAfter

from bot.circulars.texts import number, paid_estimate
from bot.core.app import PoskoApp, build_application, running
from bot.core.clock import FakeClock, SystemClock
from bot.delivery.sender import Sender
from bot.rehearsal.emulator import FakeBotApi, Sent
from handlers import circulars
from storage import members, outbox
from storage.circulars import GROUP_KIND, KIND
from storage.db import Database
from storage.members import MemberRow
from storage.outbox import Priority
from tests.conftest import ADMIN, LURAH, T0, Phone, make_settings
from tests.test_delivery import FAST, limits, queue, row

QUIET = {"staff_grace": "12h", "silence_after": "12h", "escalate_after": "12h"}
PAID = {"allow_paid_broadcast": True}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "outbox.db")
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
async def tg(emu: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(emu.token, base_url=emu.base_url) as bot:
        yield bot


async def copy(db: Database, clock: FakeClock, chat_id: int, kind: str = KIND) -> int:
    """A circular's copy as bot.circulars queues it: BULK, of a broadcast kind."""
    async with db.transaction() as tx:
        return await outbox.enqueue(
            tx, chat_id, f"copy {chat_id}", clock.now(), kind=kind, priority=Priority.BULK
        )


def paid(sent: Sent) -> bool:
    return sent.params.get("allow_paid_broadcast") is True


# --------------------------------------------------------------------------------------------
# The emulator: Telegram's rule and the bill
# --------------------------------------------------------------------------------------------


async def test_emulator_lets_paid_messages_past_the_global_limit_and_bills_them(
    emu: FakeBotApi, tg: telegram.Bot
) -> None:
    emu.enforce_rate_limits(global_per_s=2, per_chat_per_s=100, paid_per_s=6)
    await tg.send_message(1, "free 1")
    await tg.send_message(2, "free 2")
    with pytest.raises(RetryAfter):
        await tg.send_message(3, "free 3")
    for chat in (4, 5, 6, 7):  # past the 2/s, within the 6/s every message counts against
        await tg.send_message(chat, "paid", api_kwargs=PAID)
    with pytest.raises(RetryAfter):
        await tg.send_message(8, "paid 5", api_kwargs=PAID)
    assert emu.n_429 == 2
    assert emu.paid_messages == 4
    assert emu.stars_charged == pytest.approx(0.4)
    assert [paid(s) for s in emu.sent] == [False, False, True, True, True, True]

    emu.enforce_rate_limits(per_chat_per_s=1, paid_per_s=1000)
    await tg.send_message(9, "paid", api_kwargs=PAID)
    with pytest.raises(RetryAfter):  # one a second per chat still holds
        await tg.send_message(9, "paid again", api_kwargs=PAID)


async def test_emulator_refuses_a_paid_message_the_stars_cannot_pay_for(
    emu: FakeBotApi, tg: telegram.Bot
) -> None:
    emu.star_balance = 0.2
    await tg.send_message(1, "paid 1", api_kwargs=PAID)
    await tg.send_message(2, "paid 2", api_kwargs=PAID)
    with pytest.raises(BadRequest, match=r"(?i)balance_too_low"):
        await tg.send_message(3, "paid 3", api_kwargs=PAID)
    await tg.send_message(3, "free is still free")
    assert emu.star_balance == 0
    assert emu.stars_charged == pytest.approx(0.2)
    assert [r.description for r in emu.rejected] == ["Bad Request: BALANCE_TOO_LOW"]


# --------------------------------------------------------------------------------------------
# The sender's paid lane (fake clock: which message goes when)
# --------------------------------------------------------------------------------------------


async def test_circular_copies_take_the_paid_lane_and_alerts_keep_theirs(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    for chat in range(5000, 5020):
        await copy(db, clock, chat)
    await copy(db, clock, -77, GROUP_KIND)
    await queue(db, clock, 9001, "notice")
    [alert] = await queue(db, clock, 9000, "ALERT", priority=Priority.ALERT)
    # 10/s overall (one per 0.1 s), 50/s paid (five per 0.1 s)
    settings = limits(global_per_s=10, paid_broadcast=True, paid_per_s=50)
    sender = Sender(db, tg, settings, clock)

    assert await sender.drain_once() == 6
    first = list(emu.sent)
    assert first[0].text == "ALERT" and not paid(first[0])
    assert [r.text for r in first[1:]] == [f"copy {chat}" for chat in range(5000, 5005)]
    assert all(paid(r) for r in first[1:])

    clock.advance(timedelta(seconds=0.1))
    assert await sender.drain_once() == 6
    later = emu.sent[6:]
    assert [r.text for r in later if not paid(r)] == ["notice"]
    for _ in range(3):
        clock.advance(timedelta(seconds=0.1))
        await sender.drain_once()
    assert sender.stats()["paid_sent"] == 21 and sender.n_429 == 0
    assert paid(emu.sent_to(-77)[0])
    assert (await row(db, alert))["status"] == "sent"


async def test_without_paid_broadcast_circulars_share_the_global_limit(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    for chat in range(5000, 5005):
        await copy(db, clock, chat)
    sender = Sender(db, tg, limits(global_per_s=10), clock)
    assert await sender.drain_once() == 1
    assert not any(paid(r) for r in emu.sent)
    assert emu.paid_messages == 0


async def test_copies_the_stars_cannot_pay_for_fail_and_are_counted(
    db: Database, tg: telegram.Bot, emu: FakeBotApi, clock: FakeClock
) -> None:
    emu.star_balance = 0.2
    ids = [await copy(db, clock, chat) for chat in (5001, 5002, 5003)]
    sender = Sender(db, tg, FAST.model_copy(update={"paid_broadcast": True}), clock)
    assert await sender.drain_once() == 2
    rows = [await row(db, i) for i in ids]
    assert [r["status"] for r in rows] == ["sent", "sent", "failed"]
    assert "balance_too_low" in rows[2]["error"].lower()
    assert sender.failures == {"stars_balance": 1}
    assert sender.stats()["failed_stars_balance"] == 1
    # nothing was wrong with the chat: it is not marked unreachable, and not retried
    clock.advance(timedelta(minutes=5))
    assert await sender.drain_once() == 0
    assert len(emu.rejected) == 1


# --------------------------------------------------------------------------------------------
# End to end: /siaran with the cost shown, the copies paid, an alert in the middle
# --------------------------------------------------------------------------------------------

Starter = Callable[..., AbstractAsyncContextManager[PoskoApp]]
EXTRA = 200
FIRST_EXTRA = 710_000


@pytest.fixture
def start_paid(emu: FakeBotApi, db_path: Path) -> Starter:
    @asynccontextmanager
    async def _start(**delivery: Any) -> AsyncIterator[PoskoApp]:
        settings = make_settings(
            emu, db_path, watch=QUIET, delivery={"paid_broadcast": True, **delivery}
        )
        app = build_application(settings, SystemClock())
        circulars.register(app)
        async with running(app, poll_timeout=timedelta(seconds=1)):
            await circulars.start_jobs(app)
            yield app

    return _start


async def add_officers(db_path: Path, count: int) -> None:
    db = await Database.open(db_path)
    async with db.transaction() as tx:
        await members.upsert(
            tx,
            [
                MemberRow(
                    f"x{i}",
                    f"Petugas {i:03d}",
                    None,
                    None,
                    ("officer",),
                    ("KBJ-02",),
                    (),
                    FIRST_EXTRA + i,
                    None,
                )
                for i in range(count)
            ],
            T0,
        )
    await db.close()


def is_copy(sent: Sent) -> bool:
    return sent.method == "sendMessage" and (sent.text or "").startswith(
        ("📢 Edaran #", "📢 Circular #")
    )


async def test_paid_circular_end_to_end_with_cost_and_an_alert_in_the_middle(
    emu: FakeBotApi, start_paid: Starter, db_path: Path
) -> None:
    await add_officers(db_path, EXTRA)
    officers = EXTRA + 3  # Budi, Sari, John
    # Telegram's limits; paid_per_s low enough that the circular takes a few seconds.
    emu.enforce_rate_limits(global_per_s=30, per_chat_per_s=1, paid_per_s=1000)
    admin = Phone(emu, ADMIN)
    async with start_paid(paid_per_s=60) as app:
        preview = await admin.send("/siaran petugas Apel pagi pukul 06.30.")
        text = preview.text or ""
        assert f"{officers} penerima" in text
        assert f"Siaran berbayar: {officers} pesan × 0,1 ⭐ = 20,3 ⭐" in text
        assert not emu.paid_messages  # nothing is spent before ✅ Kirim

        await admin.press(preview, admin.buttons(preview)[0][1])
        await emu.wait_for(lambda s: is_copy(s) and paid(s))
        runtime = app.bot_data["runtime"]
        async with runtime.database.transaction() as tx:
            await outbox.enqueue(
                tx,
                LURAH.id,
                "🚨 Posko KBJ-02 belum ada kabar",
                runtime.clock.now(),
                kind="alert",
                priority=Priority.ALERT,
            )
        alert = await emu.wait_for(lambda s: "belum ada kabar" in (s.text or ""), timeout=10)
        assert preview.message_id is not None
        await emu.wait_for(
            lambda s: (
                s.method == "editMessageText"
                and s.message_id == preview.message_id
                and f"Terkirim: {officers} (100%)" in (s.text or "")
            ),
            timeout=30,
        )
    copies = [s for s in emu.sent if is_copy(s)]
    assert len(copies) == officers and all(paid(s) for s in copies)
    assert len({s.chat_id for s in copies}) == officers
    # the alert went on its own lane, unpaid, while copies were still waiting behind it
    assert not paid(alert)
    assert sum(1 for s in copies if s.index > alert.index) > 0
    assert emu.n_429 == 0 and not emu.rejected
    assert emu.paid_messages == officers
    assert emu.stars_charged == pytest.approx(officers * 0.1)
    # everything else (the preview, the report, the alert) was sent unpaid
    assert not any(paid(s) for s in emu.sent if not is_copy(s))


async def test_paid_circular_when_the_stars_run_out_reports_the_failures(
    emu: FakeBotApi, start_paid: Starter
) -> None:
    emu.star_balance = 0.2
    admin = Phone(emu, ADMIN)
    async with start_paid():
        preview = await admin.send("/siaran 31.73.01.1001 Mohon jaga netralitas ASN.")
        assert "3 pesan × 0,1 ⭐ = 0,3 ⭐" in (preview.text or "")
        await admin.press(preview, admin.buttons(preview)[0][1])
        assert preview.message_id is not None
        final = await emu.wait_for(
            lambda s: (
                s.method == "editMessageText"
                and s.message_id == preview.message_id
                and "selesai" in (s.text or "")
            ),
            timeout=15,
        )
        assert "Terkirim: 2 (67%)" in (final.text or "") and "Gagal: 1" in (final.text or "")
        assert [r.description for r in emu.rejected] == ["Bad Request: BALANCE_TOO_LOW"]
        assert emu.star_balance == 0
        # the report says why and what to do, with the button that does it
        assert "1 salinan gagal karena saldo Bintang bot habis" in (final.text or "")
        ((label, again),) = admin.buttons(final)
        assert label == "🔁 Kirim ulang 1 salinan"
        emu.star_balance = 1.0  # topped up
        mark = emu.mark()
        answered = await admin.press(final, again)
        assert "1 salinan dikirim ulang" in (answered.text or "")
        through = await emu.wait_for(
            lambda s: (
                s.method == "editMessageText"
                and s.message_id == preview.message_id
                and "Terkirim: 3 (100%)" in (s.text or "")
                and "selesai" in (s.text or "")
            ),
            timeout=15,
            after=mark,
        )
        assert "saldo Bintang" not in (through.text or "") and not admin.buttons(through)
        assert emu.paid_messages == 3
        again_again = await admin.press(final, again, forge=True)  # a stale tap: nothing waits
        assert "Tidak ada salinan" in (again_again.text or "")


async def test_preview_shows_no_cost_without_paid_broadcast(
    emu: FakeBotApi, start_paid: Starter
) -> None:
    admin = Phone(emu, ADMIN)
    async with start_paid(paid_broadcast=False):
        preview = await admin.send("/siaran petugas Apel pagi.")
    assert "3 penerima" in (preview.text or "")
    assert "berbayar" not in (preview.text or "") and "⭐" not in (preview.text or "")


@pytest.mark.parametrize(
    ("language", "copies", "line"),
    [
        ("id", 3, "Siaran berbayar: 3 pesan × 0,1 ⭐ = 0,3 ⭐"),
        ("id", 10_000, "Siaran berbayar: 10.000 pesan × 0,1 ⭐ = 1.000 ⭐"),
        ("en", 12_345, "Paid broadcast: 12,345 messages × 0.1 ⭐ = 1,234.5 ⭐"),
    ],
)
def test_cost_line(language: str, copies: int, line: str) -> None:
    assert paid_estimate(language, copies) == "\n" + line
    assert number("id", 1234.5) == "1.234,5"


async def test_a_scheduled_paid_circular_shows_its_cost_when_scheduled(
    emu: FakeBotApi, start_paid: Starter
) -> None:
    admin = Phone(emu, ADMIN)
    async with start_paid():
        added = await admin.send("/jadwal_tambah 2026-12-31 07:00 31.73.01.1001 Apel pagi.")
    assert "Jadwal #1 tersimpan" in (added.text or "")
    assert "Siaran berbayar: 3 pesan × 0,1 ⭐ = 0,3 ⭐" in (added.text or "")
