"""A taken alert whose post does not recover (SPEC §4, issue 9): the taker is reminded at
``taken_timeout``, the alert climbs one level at twice that, a supervisor above may take it
over, and recovery ends it. Real SQLite, fake clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bot.core.clock import FakeClock
from bot.presence import checkin
from bot.presence.checkin import Fix
from bot.watch import alerts
from bot.watch.alerts import CallStatus, TakeStatus
from bot.watch.watcher import Watcher
from storage import members
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import MONAS
from tests.test_watcher import CITY_MEMBERS, OPEN, M, db, member, settings_for

__all__ = ["db"]

PHONE = "+6281234567890"


async def sent(db: Database) -> list[tuple[int, str, str, list[str]]]:
    """(chat, kind, text, button callback data) of everything queued."""
    async with db.read() as tx:
        rows = await tx.all("SELECT chat_id, kind, payload FROM outbox ORDER BY id")
    result = []
    for row in rows:
        payload: dict[str, Any] = json.loads(row[2])
        keyboard = payload.get("reply_markup", {}).get("inline_keyboard", [])
        data = [button["callback_data"] for line in keyboard for button in line]
        result.append((row[0], row[1], payload["text"], data))
    return result


async def with_phone(db: Database) -> None:
    budi = CITY_MEMBERS[0]
    async with db.transaction() as tx:
        await members.upsert(
            tx,
            [
                MemberRow(budi.ref, "Budi", None, PHONE, budi.roles, budi.posts, (), 1001, None),
                MemberRow(
                    "sari",
                    "Sari",
                    None,
                    "+6289876543210",
                    ("officer",),
                    ("DAY-01",),
                    (),
                    None,
                    None,
                ),
            ],
            OPEN,
        )


async def unstaffed_alert(db: Database, tmp_path: Path) -> tuple[FakeClock, Watcher, int]:
    """DAY-01 opens at 08:00 WIB with nobody; the lurah is alerted at 08:15."""
    await with_phone(db)
    clock = FakeClock(OPEN)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await watcher.sweep()
    clock.set(OPEN + 15 * M)
    await watcher.sweep()
    async with db.read() as tx:
        alert_id = int(await tx.scalar("SELECT id FROM alerts"))
    return clock, watcher, alert_id


async def test_unstaffed_alert_names_people_and_phones_to_supervisors(
    db: Database, tmp_path: Path
) -> None:
    await unstaffed_alert(db, tmp_path)
    ((chat, kind, text, data),) = await sent(db)
    assert (chat, kind) == (2001, "alert")
    assert "Tidak ada petugas yang hadir sejak 08:00" in text
    assert "kurang dari" not in text
    assert "Budi" in text and PHONE in text and "Sari" in text
    assert data[0].startswith("al:")


async def test_taken_alert_reminds_then_climbs_then_is_taken_over(
    db: Database, tmp_path: Path
) -> None:
    clock, watcher, alert_id = await unstaffed_alert(db, tmp_path)
    lurah, camat = await member(db, "lurah"), await member(db, "camat")
    clock.set(OPEN + 16 * M)  # 08:16 WIB
    taken = await alerts.take(db, lurah, alert_id, clock.now(), watcher, 2001, 30 * M)
    assert taken.status is TakeStatus.TAKEN
    assert [person.phone for person in taken.people] == [PHONE, "+6289876543210"]
    before = len(await sent(db))
    clock.set(OPEN + 45 * M)
    await watcher.sweep()
    assert len(await sent(db)) == before  # not yet: 29 minutes after the take
    clock.set(OPEN + 46 * M)
    await watcher.sweep()
    chat, kind, text, data = (await sent(db))[-1]
    assert (chat, kind) == (2001, "alert_followup")
    assert "belum pulih sejak Bapak/Ibu ambil alih pukul 08:16" in text
    assert PHONE in text
    assert data == [f"pc:{alert_id}"]
    clock.set(OPEN + 75 * M)
    await watcher.sweep()
    assert (await sent(db))[-1][1] == "alert_followup"  # still only the reminder
    clock.set(OPEN + 76 * M)
    await watcher.sweep()
    climbed = [row for row in await sent(db) if row[1] == "alert"]
    assert [row[0] for row in climbed] == [2001, 2002]
    to_camat = climbed[-1]
    assert "Taken by Lurah at 08:16, not recovered; passed on to Kebon Jeruk" in to_camat[2]
    assert to_camat[3] == [f"al:{alert_id}"]
    told_taker = (await sent(db))[-1]
    assert (told_taker[0], told_taker[1]) == (2001, "alert_followup")
    assert "diteruskan ke Kebon Jeruk" in told_taker[2]
    # the lurah cannot grab it back; the camat above takes it over and the lurah is told
    again = await alerts.take(db, lurah, alert_id, clock.now(), watcher, 2001, 30 * M)
    assert again.status is TakeStatus.ALREADY_TAKEN
    over = await alerts.take(db, camat, alert_id, clock.now(), watcher, 2002, 30 * M)
    assert over.status is TakeStatus.TAKEN
    told = (await sent(db))[-1]
    assert (told[0], told[1]) == (2001, "alert_taken")
    assert "kini diambil alih oleh Camat" in told[2]
    async with db.read() as tx:
        row = await tx.one("SELECT acked_by, taken_stage FROM alerts")
    assert row is not None and (row[0], row[1]) == (camat.id, 0)
    # recovery ends it and tells everyone alerted
    budi = await member(db, "budi")
    clock.set(OPEN + 80 * M)
    await checkin.check_in(db, budi, Fix(*MONAS, 10, None), clock.now(), watcher)
    recovered = sorted(row[0] for row in await sent(db) if row[1] == "recovered")
    assert recovered == [2001, 2002]
    count = len(await sent(db))
    clock.set(OPEN + 150 * M)  # past every taken deadline, before the post goes silent
    await watcher.sweep()
    assert not [row for row in (await sent(db))[count:] if row[1].startswith("alert")]


async def test_recovery_before_the_timeout_ends_the_ladder(db: Database, tmp_path: Path) -> None:
    clock, watcher, alert_id = await unstaffed_alert(db, tmp_path)
    lurah, budi = await member(db, "lurah"), await member(db, "budi")
    clock.set(OPEN + 16 * M)
    await alerts.take(db, lurah, alert_id, clock.now(), watcher, 2001, 30 * M)
    clock.set(OPEN + 20 * M)
    await checkin.check_in(db, budi, Fix(*MONAS, 10, None), clock.now(), watcher)
    clock.set(OPEN + 100 * M)  # past both taken deadlines, before the post goes silent
    await watcher.sweep()
    kinds = [row[1] for row in await sent(db)]
    assert "alert_followup" not in kinds and kinds.count("alert") == 1
    async with db.read() as tx:
        assert await tx.scalar("SELECT next_due_at FROM alerts") is None


async def test_two_watchers_remind_the_taker_once(
    db: Database, migrated_db: Path | str, tmp_path: Path
) -> None:
    clock, watcher, alert_id = await unstaffed_alert(db, tmp_path)
    lurah = await member(db, "lurah")
    clock.set(OPEN + 16 * M)
    await alerts.take(db, lurah, alert_id, clock.now(), watcher, 2001, 30 * M)
    second_db = await Database.open(migrated_db)  # the same database, as a second process
    try:
        second = Watcher(second_db, settings_for(tmp_path / "w.db"), clock)
        clock.set(OPEN + 46 * M)
        await asyncio.gather(watcher.sweep(), second.sweep(), watcher.sweep(), second.sweep())
        assert [row[1] for row in await sent(db)].count("alert_followup") == 1
        clock.set(OPEN + 76 * M)
        await asyncio.gather(watcher.sweep(), second.sweep(), watcher.sweep(), second.sweep())
        assert [row[0] for row in await sent(db) if row[1] == "alert"] == [2001, 2002]
    finally:
        await second_db.close()


async def test_call_officers_once_a_minute_in_scope_until_recovered(
    db: Database, tmp_path: Path
) -> None:
    clock, watcher, alert_id = await unstaffed_alert(db, tmp_path)
    lurah, budi = await member(db, "lurah"), await member(db, "budi")
    async with db.transaction() as tx:
        await members.upsert(
            tx,
            [
                MemberRow(
                    "other",
                    "Lurah Lain",
                    None,
                    None,
                    ("supervisor",),
                    (),
                    ("31.73.01.1002",),
                    2009,
                    None,
                )
            ],
            clock.now(),
        )
    other = await member(db, "other")
    clock.set(OPEN + 16 * M)
    await alerts.take(db, lurah, alert_id, clock.now(), watcher, 2001, 30 * M)
    assert (await alerts.call_officers(db, other, alert_id, clock.now())).status is (
        CallStatus.NOT_YOURS
    )
    assert (await alerts.call_officers(db, budi, alert_id, clock.now())).status is (
        CallStatus.NOT_YOURS
    )
    first = await alerts.call_officers(db, lurah, alert_id, clock.now())
    assert (first.status, first.count) == (CallStatus.SENT, 1)  # Sari has no Telegram
    calls = [row for row in await sent(db) if row[1] == "alert_call"]
    assert [row[0] for row in calls] == [1001]
    assert calls[0][2] == (
        "📣 Pengawas Lurah meminta Bapak/Ibu segera mengirim kabar dari DAY-01: /hadir atau /aman."
    )
    clock.advance(30 * 1000 * M / 60_000)  # 30 seconds later
    again = await alerts.call_officers(db, lurah, alert_id, clock.now())
    assert again.status is CallStatus.AGAIN_LATER
    clock.advance(M)
    assert (await alerts.call_officers(db, lurah, alert_id, clock.now())).status is (
        CallStatus.SENT
    )
    await checkin.check_in(db, budi, Fix(*MONAS, 10, None), clock.now(), watcher)
    clock.advance(2 * M)
    late = await alerts.call_officers(db, lurah, alert_id, clock.now())
    assert late.status is CallStatus.RECOVERED
    assert len([row for row in await sent(db) if row[1] == "alert_call"]) == 2
