"""Writing the roster into slots on a real database: import replaces coming slots only,
keeps unchanged ones (nobody reminded twice), and the daily extension follows the week."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from bot.core.config import RosterSettings
from bot.roster.planning import RosterPlan, extend, write
from bot.roster.slots import Pattern, PlannedSlot, span
from storage import roster
from storage.db import Database
from tests.conftest import T0

SETTINGS = RosterSettings(horizon_days=7)
TUESDAY = date(2026, 11, 24)  # T0 is Tuesday 19:00 WIB


async def _ids(db: Database) -> tuple[int, int]:
    async with db.read() as tx:
        post = await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'")
        member = await tx.scalar("SELECT id FROM members WHERE ref = 'budi'")
    return int(post), int(member)


def _plan(post: int, member: int, *dated: PlannedSlot, days: int = 0b1111111) -> RosterPlan:
    return RosterPlan(
        post_ids=[post],
        patterns=[Pattern(post, member, days, 8 * 60, 16 * 60)],
        dated=list(dated),
        dated_days={(slot.post_id, TUESDAY + timedelta(days=2)) for slot in dated},
    )


async def test_write_expands_the_horizon_and_reimport_keeps_unchanged_slots(
    db_path: Path,
) -> None:
    db = await Database.open(db_path)
    try:
        post, member = await _ids(db)
        voting_day = span(TUESDAY + timedelta(days=2), 6 * 60, 24 * 60)
        dated = PlannedSlot(post, member, *voting_day)
        async with db.transaction() as tx:
            first = await write(tx, _plan(post, member, dated), T0, SETTINGS)
        # Tuesday 08:00 has passed at 19:00; Wednesday..Tuesday next week are 7 days,
        # Thursday (voting day) replaced by its dated row: 6 weekday slots + 1 dated.
        assert (first.added, first.kept, first.past) == (7, 0, 2)
        async with db.read() as tx:
            slots = await roster.of_member(tx, member, T0, T0 + timedelta(days=9))
            assert voting_day[0] in [slot.start_at for slot in slots]
            assert all(slot.due_kind == "remind" for slot in slots)
            stored = {slot.id for slot in slots}
        async with db.transaction() as tx:
            again = await write(tx, _plan(post, member, dated), T0, SETTINGS)
        assert (again.added, again.kept, again.dropped) == (0, 7, 0)
        async with db.read() as tx:
            same = {s.id for s in await roster.of_member(tx, member, T0, T0 + timedelta(days=9))}
        assert same == stored
        # Weekends off now: the coming Saturday and Sunday slots are dropped.
        async with db.transaction() as tx:
            fewer = await write(tx, _plan(post, member, dated, days=0b0011111), T0, SETTINGS)
        assert fewer.dropped == 2
    finally:
        await db.close()


async def test_extension_adds_the_next_days_once(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        post, member = await _ids(db)
        async with db.transaction() as tx:
            await write(tx, _plan(post, member), T0, SETTINGS)
        async with db.transaction() as tx:
            assert await extend(tx, T0, SETTINGS) == 0  # already through the horizon
        two_days_later = T0 + timedelta(days=2)
        async with db.transaction() as tx:
            assert await extend(tx, two_days_later, SETTINGS) == 2
            assert await extend(tx, two_days_later, SETTINGS) == 0
    finally:
        await db.close()
