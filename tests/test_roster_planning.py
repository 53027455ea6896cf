"""Writing the roster into slots on a real database: import replaces coming slots only,
keeps unchanged ones (nobody reminded twice), and the daily extension follows the week."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from bot.core.config import RosterSettings
from bot.roster.planning import RosterPlan, extend, extend_in_steps, write
from bot.roster.slots import Pattern, PlannedSlot, span
from storage import roster
from storage.db import Database, Tx
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


SlotKey = tuple[int, int, str, str, int | None, str | None]


async def _keys_in(tx: Tx) -> list[SlotKey]:
    rows = await tx.all(
        "SELECT post_id, member_id, start_at, end_at, pattern_id, next_due_at FROM slots"
        " ORDER BY post_id, member_id, start_at"
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def _slot_keys(db: Database) -> list[SlotKey]:
    async with db.read() as tx:
        return await _keys_in(tx)


class _RolledBack(Exception):
    """Ends a transaction whose writes were only looked at."""


async def _two_posts(db: Database) -> tuple[RosterPlan, int, int]:
    post, member = await _ids(db)
    async with db.read() as tx:
        other = int(await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-02'"))
        sari = int(await tx.scalar("SELECT id FROM members WHERE ref = 'sari'"))
    plan = RosterPlan(
        post_ids=[post, other],
        patterns=[
            Pattern(post, member, 0b1111111, 8 * 60, 16 * 60),
            Pattern(other, sari, 0b0011111, 22 * 60, 6 * 60),
        ],
        dated=[],
        dated_days=set(),
    )
    return plan, post, member


async def test_extension_in_steps_adds_what_one_transaction_adds(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        plan, _, _ = await _two_posts(db)
        async with db.transaction() as tx:
            await write(tx, plan, T0, SETTINGS)
        three_days_later = T0 + timedelta(days=3)
        # What one transaction would add, looked at and rolled back.
        try:
            async with db.transaction() as tx:
                at_once = await extend(tx, three_days_later, SETTINGS)
                expected = await _keys_in(tx)
                raise _RolledBack
        except _RolledBack:
            pass
        added = await extend_in_steps(db, three_days_later, SETTINGS, rows_per_step=1)
        assert added == at_once > 0
        assert await _slot_keys(db) == expected
        async with db.read() as tx:
            assert await roster.expanded_through(tx) == TUESDAY + timedelta(days=10)
        assert await extend_in_steps(db, three_days_later, SETTINGS, rows_per_step=1) == 0
    finally:
        await db.close()


async def test_extension_in_steps_resumed_after_a_crash_adds_no_duplicate(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        plan, _, _ = await _two_posts(db)
        async with db.transaction() as tx:
            await write(tx, plan, T0, SETTINGS)
        later = T0 + timedelta(days=3)
        # A run that died after its first steps: some slots in, the horizon not moved.
        added = await extend_in_steps(db, later, SETTINGS, rows_per_step=2)
        async with db.transaction() as tx:
            await roster.set_expanded_through(tx, TUESDAY + timedelta(days=7))
            await tx.execute(
                "DELETE FROM slots WHERE id IN"
                " (SELECT id FROM slots ORDER BY start_at DESC LIMIT 2)"
            )
        resumed = await extend_in_steps(db, later, SETTINGS, rows_per_step=2)
        assert resumed == 2 < added
        keys = await _slot_keys(db)
        assert len(keys) == len(set(keys))
    finally:
        await db.close()


async def test_roster_imported_between_steps_is_expanded_by_the_last_one(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        plan, post, member = await _two_posts(db)
        async with db.transaction() as tx:
            await write(tx, plan, T0, SETTINGS)
        later = T0 + timedelta(days=3)
        original = db.transaction
        steps = 0

        def transaction_with_an_import(**kwargs: bool):  # type: ignore[no-untyped-def]
            nonlocal steps
            steps += 1
            if steps == 2:  # between the first and the second step: 8-16 becomes 07-15
                replaced = RosterPlan(
                    [post], [Pattern(post, member, 0b1111111, 7 * 60, 15 * 60)], [], set()
                )

                async def run() -> None:
                    async with original() as tx:
                        await write(tx, replaced, later, SETTINGS)

                return _Then(run, original(**kwargs))
            return original(**kwargs)

        db.transaction = transaction_with_an_import  # type: ignore[method-assign]
        await extend_in_steps(db, later, SETTINGS, rows_per_step=1)
        db.transaction = original  # type: ignore[method-assign]
        async with db.read() as tx:
            ends = await roster.of_post(tx, post, later, later + timedelta(days=30))
            patterns = {p for _, p in await roster.all_patterns(tx)}
            through = await roster.expanded_through(tx)
        assert through == TUESDAY + timedelta(days=10)
        # Every coming slot of the re-imported post follows the new row, through the horizon.
        assert ends and {(s.start_at.hour, s.end_at.hour) for s in ends} == {(0, 8)}
        assert max(s.start_at for s in ends).date() == through
        assert all(s.pattern_id is not None for s in ends)
        assert len(patterns) == 2
    finally:
        await db.close()


class _Then:
    """An async context manager that first runs ``before`` (an import racing the step)."""

    def __init__(self, before, inner) -> None:  # type: ignore[no-untyped-def]
        self.before, self.inner = before, inner

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        await self.before()
        return await self.inner.__aenter__()

    async def __aexit__(self, *exc):  # type: ignore[no-untyped-def]
        return await self.inner.__aexit__(*exc)


async def test_the_first_extension_runs_without_a_horizon_yet(db_path: Path) -> None:
    """No roster written yet (slots put in directly): the stepwise extension starts the
    horizon in its own transaction, never inside its read (the lock is not reentrant)."""
    db = await Database.open(db_path)
    try:
        added = await asyncio.wait_for(extend_in_steps(db, T0, SETTINGS), timeout=10)
        async with db.read() as tx:
            assert await roster.expanded_through(tx) == TUESDAY + timedelta(days=7)
        assert added == 0
    finally:
        await db.close()
