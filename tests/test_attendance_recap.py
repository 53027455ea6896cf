"""Piket attendance in the recap (SPEC §9): per kecamatan in the viewer's scope, the slots
started so far and how they went, the worst posts; in /rekap, the daily recap and the group
room's recap. A real database with slots in every state, and an injected clock.

The day (Tuesday 24/11/2026, WIB; the recap is read at 19:00 unless said otherwise):

=========  =======  ===========  ========================================================
post       member   slot (WIB)   what happened
=========  =======  ===========  ========================================================
KBJ-01     budi     07:00-11:00  in at 06:55, closed by the watcher as hadir
KBJ-01     sari     11:00-15:00  in at 11:12, left 14:00, closed as terlambat 12
KBJ-01     budi     15:00-19:00  never came; ended at 19:00, not closed yet → tidak hadir
KBJ-01     sari     18:00-22:00  running, in at 18:05 → terlambat
KBJ-01     budi     18:30-23:00  running, nobody yet → belum hadir
KBJ-01     budi     20:00-23:00  not started: not counted
KBJ-02     sari     08:00-12:00  closed as tidak_hadir
KBJ-02     sari     12:00-16:00  closed as tidak_hadir, though a check-in was written
                                 after it ended: the stored outcome stands
KBG-01     rudi     09:00-17:00  in at 08:50, closed as hadir (kecamatan Kembangan)
KBJ-01     budi     23/11 08-16  closed as tidak_hadir (yesterday)
=========  =======  ===========  ========================================================

KEC-KBJ has no roster at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.clock import WIB, FakeClock
from bot.core.config import load_settings
from bot.insight.attendance_recap import Tally
from bot.insight.group_recap import GROUP_RECAP_KIND, queue_daily_groups
from bot.insight.recap import load, queue_daily, render_text
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from bot.roster.attendance import Mark
from bot.roster.standing import standing
from storage import areas, members, posts
from storage import roster as store
from storage.areas import AreaRow
from storage.db import Database, Tx
from storage.members import MemberRow
from storage.posts import PostRow
from tests.agencies_seed import LIAISON_IN, seed_agencies
from tests.conftest import CAMAT, LURAH, T0, AppFactory, Phone
from tests.test_evidence_e2e import bind_group

CAMAT_KBG = FakeUser(2011, "Camat Kembangan")
KBG_ROOM = -100_811
SUKABUMI_ROOM = -100_812


def at(hour: int, minute: int = 0, day: int = 24) -> datetime:
    """A WIB wall-clock time as UTC (how storage keeps it)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB).astimezone(UTC)


async def _id(tx: Tx, table: str, column: str, value: str) -> int:
    return int(await tx.scalar(f"SELECT id FROM {table} WHERE {column} = ?", (value,)))


async def add_slot(
    tx: Tx,
    post: str,
    member: str,
    start: datetime,
    end: datetime,
    *,
    arrived: datetime | None = None,
    left: datetime | None = None,
    outcome: str | None = None,
    late: int | None = None,
) -> int:
    """A slot through the roster's own functions: inserted, arrival and departure recorded
    as check-in/out do, and the watcher's closing step saved (compare-and-swap)."""
    post_id = await _id(tx, "posts", "code", post)
    member_id = await _id(tx, "members", "ref", member)
    await store.insert_slots(tx, [(post_id, member_id, start, end, None, None, None)])
    slot_id = int(await tx.scalar("SELECT max(id) FROM slots"))
    if arrived is not None:
        assert await store.record_arrival(tx, slot_id, arrived)
    if left is not None:
        await store.record_departure(tx, slot_id, left)
    if outcome is not None:
        slot = await store.by_id(tx, slot_id)
        assert slot is not None
        step = store.SlotStep(
            slot_id, slot.version, None, None, None, None, slot.arrived_at, outcome, late
        )
        assert await store.save_steps_batch(tx, [step]) == 1
    return slot_id


async def seed_kembangan(tx: Tx) -> None:
    await areas.upsert(
        tx,
        [
            AreaRow("31.73.02", "Kembangan", "kecamatan", "31.73"),
            AreaRow("31.73.02.1001", "Kembangan Utara", "kelurahan", "31.73.02"),
        ],
        T0,
    )
    await posts.upsert(
        tx,
        [PostRow("KBG-01", "Posko Kembangan Utara", "31.73.02.1001", None, None, None, 1, "24h")],
        T0,
    )
    await members.upsert(
        tx,
        [
            MemberRow(
                "rudi", "Rudi Hartono", None, None, ("officer",), ("KBG-01",), (), 1010, None
            ),
            MemberRow(
                "camat_kbg", "Camat Kembangan", None, None, ("supervisor",), (), ("31.73.02",),
                CAMAT_KBG.id, None,
            ),
        ],
        T0,
    )  # fmt: skip


async def seed_slots(tx: Tx) -> None:
    await add_slot(tx, "KBJ-01", "budi", at(7), at(11), arrived=at(6, 55), outcome="hadir")
    await add_slot(
        tx, "KBJ-01", "sari", at(11), at(15), arrived=at(11, 12), left=at(14),
        outcome="terlambat", late=12,
    )  # fmt: skip
    await add_slot(tx, "KBJ-01", "budi", at(15), at(19))
    await add_slot(tx, "KBJ-01", "sari", at(18), at(22), arrived=at(18, 5))
    await add_slot(tx, "KBJ-01", "budi", at(18, 30), at(23))
    await add_slot(tx, "KBJ-01", "budi", at(20), at(23))
    await add_slot(tx, "KBJ-02", "sari", at(8), at(12), outcome="tidak_hadir")
    late_write = await add_slot(tx, "KBJ-02", "sari", at(12), at(16), outcome="tidak_hadir")
    assert not await store.record_arrival(tx, late_write, at(16, 30))  # ended: history
    await add_slot(tx, "KBG-01", "rudi", at(9), at(17), arrived=at(8, 50), outcome="hadir")
    await add_slot(tx, "KBJ-01", "budi", at(8, day=23), at(16, day=23), outcome="tidak_hadir")


async def seed_all(path: Path) -> None:
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            await seed_kembangan(tx)
            await seed_slots(tx)
    finally:
        await db.close()


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    await seed_all(db_path)
    database = await Database.open(db_path)
    yield database
    await database.close()


SETTINGS = load_settings(None)


async def scope_of(db: Database, *codes: str) -> set[int]:
    from bot.insight.recap import subtree
    from storage.recap import area_tree

    async with db.read() as tx:
        tree = await area_tree(tx)
        roots = [await _id(tx, "areas", "code", code) for code in codes]
    return subtree(tree, roots)


# --- the rule --------------------------------------------------------------------------------


def test_a_closed_slot_keeps_its_stored_outcome_and_a_running_one_is_classified() -> None:
    start, end = at(8), at(12)
    # closed as absent; a check-in written afterwards does not turn it into hadir
    closed = standing(start, end, at(12, 30), None, "tidak_hadir", None, at(13))
    assert closed.mark is Mark.ABSENT
    late = standing(start, end, at(8, 20), at(11), "terlambat", 20, at(13))
    assert (late.mark, late.late_minutes, late.left_early) == (Mark.LATE, 20, True)
    # running: classify decides (in → hadir/terlambat; nobody → belum hadir, not absent)
    assert standing(start, end, at(7, 50), None, None, None, at(9)).mark is Mark.PRESENT
    assert standing(start, end, None, None, None, None, at(9)).mark is Mark.WAITING
    assert standing(start, end, None, None, None, None, at(7)).mark is Mark.NOT_STARTED
    # ended but not closed yet by the watcher: classify at now says absent
    assert standing(start, end, None, None, None, None, at(12)).mark is Mark.ABSENT
    # a stored outcome before the end (cannot happen; would be a bug) is not trusted
    assert standing(start, end, None, None, "hadir", None, at(9)).mark is Mark.WAITING


# --- the figures -----------------------------------------------------------------------------


async def test_the_camat_sees_the_kecamatan_counts_and_the_worst_posts(db: Database) -> None:
    scope = await scope_of(db, "31.73.01")
    recap = await load(db, SETTINGS, scope, "Kebon Jeruk", date(2026, 11, 24), at(19))
    found = recap.attendance
    assert found is not None
    assert found.total == Tally(slots=7, present=1, late=2, absent=3, waiting=1, left_early=1)
    assert [(area.name, area.is_kecamatan) for area in found.areas] == [("Kebon Jeruk", True)]
    assert [post.code for post in found.posts] == ["KBJ-01", "KBJ-02"]  # KEC-KBJ: no roster
    worst = found.worst()
    assert [(p.code, p.tally.absent, p.tally.late) for p in worst] == [
        ("KBJ-01", 1, 2),
        ("KBJ-02", 2, 0),
    ]
    text = render_text("id", recap)
    assert "🗓️ Piket: 7 slot sudah dimulai" in text
    assert (
        "• Kec. Kebon Jeruk: 7 slot · hadir 1 · terlambat 2 · tidak hadir 3 · belum hadir 1"
        " · pulang awal 1"
    ) in text
    assert "🔻 Piket perlu perhatian:" in text
    assert "1. KBJ-01: tidak hadir 1 · terlambat 2 (dari 5 slot)" in text
    assert "2. KBJ-02: tidak hadir 2 · terlambat 0 (dari 2 slot)" in text
    assert "KBG-01" not in text and "Kembangan" not in text
    english = render_text("en", recap)
    assert "present 1 · late 2 · absent 3 · not in yet 1 · left early 1" in english


async def test_scope_narrows_to_the_viewer(db: Database) -> None:
    lurah = await load(
        db, SETTINGS, await scope_of(db, "31.73.01.1001"), "Kebon Jeruk", date(2026, 11, 24), at(19)
    )
    assert lurah.attendance is not None
    assert lurah.attendance.total == Tally(5, 1, 2, 1, 1, 1)  # KBJ-01 only
    assert [a.name for a in lurah.attendance.areas] == ["Kebon Jeruk"]
    kembangan = await load(
        db, SETTINGS, await scope_of(db, "31.73.02"), "Kembangan", date(2026, 11, 24), at(19)
    )
    assert kembangan.attendance is not None
    assert kembangan.attendance.total == Tally(1, 1, 0, 0, 0, 0)
    assert kembangan.attendance.worst() == []
    assert "Piket perlu perhatian" not in render_text("id", kembangan)
    # the admin: both kecamatan, the one with absences and late arrivals first
    everything = await load(db, SETTINGS, None, "semua wilayah", date(2026, 11, 24), at(19))
    assert everything.attendance is not None
    assert [(a.name, a.tally.slots) for a in everything.attendance.areas] == [
        ("Kebon Jeruk", 7),
        ("Kembangan", 1),
    ]
    assert everything.attendance.total.slots == 8


async def test_slots_move_on_with_the_clock_and_other_days_are_their_own(db: Database) -> None:
    scope = await scope_of(db, "31.73.01")
    # 23:30: the running slots have ended (not closed yet): the one nobody came to is
    # absent, the late one stays late, and the 20:00 slot now counts as absent too
    late = await load(db, SETTINGS, scope, "Kebon Jeruk", date(2026, 11, 24), at(23, 30))
    assert late.attendance is not None
    assert late.attendance.total == Tally(8, 1, 2, 5, 0, 1)
    # early morning: nothing has started yet, so no section at all
    early = await load(db, SETTINGS, scope, "Kebon Jeruk", date(2026, 11, 24), at(6))
    assert early.attendance is None
    assert "Piket" not in render_text("id", early)
    # yesterday (read today): only yesterday's slot
    yesterday = await load(db, SETTINGS, scope, "Kebon Jeruk", date(2026, 11, 23), at(19))
    assert yesterday.attendance is not None
    assert yesterday.attendance.total == Tally(1, 0, 0, 1, 0, 0)
    # a day with no roster: nothing said about piket
    quiet = await load(db, SETTINGS, scope, "Kebon Jeruk", date(2026, 11, 20), at(19))
    assert quiet.attendance is None and "Piket" not in render_text("id", quiet)


async def test_many_kecamatan_are_capped_with_a_count_of_the_rest(db_path: Path) -> None:
    database = await Database.open(db_path)
    try:
        async with database.transaction() as tx:
            rows = [AreaRow(f"31.74.{n:02d}", f"Kec Uji {n}", "kecamatan", "31") for n in range(7)]
            await areas.upsert(tx, rows, T0)
            await posts.upsert(
                tx,
                [
                    PostRow(f"UJI-{n}", f"Uji {n}", f"31.74.{n:02d}", None, None, None, 1, "24h")
                    for n in range(7)
                ],
                T0,
            )
            for n in range(7):
                await add_slot(tx, f"UJI-{n}", "budi", at(8), at(9))  # absent, each
        recap = await load(database, SETTINGS, None, "semua", date(2026, 11, 24), at(19))
    finally:
        await database.close()
    text = render_text("id", recap)
    assert text.count("• Kec. ") == 5
    assert "• +2 kecamatan lain" in text
    assert recap.attendance is not None and len(recap.attendance.worst()) == 5


# --- the daily recap and the group's -------------------------------------------------------


async def test_the_daily_recap_and_the_groups_carry_the_section(db: Database) -> None:
    async with db.transaction() as tx:
        kbg = await areas.by_code(tx, "31.73.02")
        assert kbg is not None
        await areas.set_group_chat(tx, kbg.id, KBG_ROOM, None, T0)
    assert await queue_daily(db, SETTINGS, at(21)) >= 2
    assert await queue_daily_groups(db, SETTINGS, at(21)) == 1
    async with db.read() as tx:
        people = {
            row[0]: row[1]
            for row in await tx.all("SELECT chat_id, payload FROM outbox WHERE kind = 'recap'")
        }
        group = await tx.scalar(
            "SELECT payload FROM outbox WHERE kind = ? AND chat_id = ?",
            (GROUP_RECAP_KIND, KBG_ROOM),
        )
    camat = people[CAMAT.id]
    # at 21:00 the 15:00 slot has ended absent and the 20:00 slot is running, nobody yet
    assert "🗓️ Piket: 8 slot sudah dimulai" in camat
    assert "tidak hadir 3 · belum hadir 2" in camat
    assert "KBJ-01: tidak hadir 1 · terlambat 2" in camat
    assert "Kec. Kembangan" not in camat
    kembangan = people[CAMAT_KBG.id]
    assert "• Kec. Kembangan: 1 slot · hadir 1" in kembangan and "KBJ-01" not in kembangan
    assert "• Kec. Kembangan: 1 slot · hadir 1" in str(group)
    assert "Kebon Jeruk" not in str(group)


# --- end to end ------------------------------------------------------------------------------


async def test_rekap_shows_piket_to_the_camat_and_nothing_to_a_liaison(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path, clock: FakeClock
) -> None:
    await seed_all(db_path)
    await seed_agencies(db_path)
    await bind_group(db_path, "31.73.01.1002", SUKABUMI_ROOM)
    async with start_bot():
        camat = await Phone(emu, CAMAT).send("/rekap")
        body = camat.text or ""
        assert "Rekap 24/11/2026" in body
        assert "🗓️ Piket: 7 slot sudah dimulai" in body
        assert "1. KBJ-01: tidak hadir 1 · terlambat 2 (dari 5 slot)" in body
        lurah = await Phone(emu, LURAH).send("/rekap")
        assert "🗓️ Piket: 5 slot sudah dimulai" in (lurah.text or "")
        assert "KBJ-02" not in (lurah.text or "")
        liaison = await Phone(emu, LIAISON_IN).send("/rekap")
        said = liaison.text or ""
        assert "Piket" not in said and "KBJ-01" not in said and "slot" not in said
        assert "Maaf" in said
        # a kelurahan's group room: the same section, scoped to the room's areas
        mark = emu.mark()
        emu.send_text(CAMAT, "/rekap", chat_id=SUKABUMI_ROOM, chat_type="supergroup")
        room = await emu.wait_reply(SUKABUMI_ROOM, after=mark, contains="Rekap")
        assert "🗓️ Piket: 2 slot sudah dimulai" in (room.text or "")
        assert "KBJ-02: tidak hadir 2" in (room.text or "") and "KBJ-01" not in (room.text or "")
        # later the same evening the picture has moved on with the clock
        clock.advance(timedelta(hours=4, minutes=30))
        after = await Phone(emu, CAMAT).send("/rekap")
        assert "🗓️ Piket: 8 slot sudah dimulai" in (after.text or "")
