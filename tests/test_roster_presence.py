"""Arrivals belong to whoever is there: leaving after an early check-in undoes it, and a
slot that changes hands starts fresh for its new holder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage import roster
from storage.db import Database
from tests.conftest import T0
from tests.roster_seed import WEDNESDAY, add_slot, ids


async def test_an_early_arrival_is_undone_by_leaving_before_the_start(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            later = await add_slot(
                tx, "KBJ-01", "budi", WEDNESDAY - timedelta(days=1), "20:00", "23:00"
            )
            post, budi = await ids(tx, "KBJ-01", "budi")
            early = T0 + timedelta(minutes=40)  # 19:40 WIB, 20 minutes before the slot
            assert await roster.record_arrival(tx, later, early)
            await roster.record_departures(tx, [(budi, post)], early + timedelta(minutes=5))
            slot = await roster.by_id(tx, later)
        assert slot is not None and slot.arrived_at is None and slot.left_at is None
    finally:
        await db.close()


async def test_a_slot_changing_hands_forgets_the_old_holders_arrival(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            slot_id = await add_slot(tx, "KBJ-01", "budi", WEDNESDAY, "08:00", "16:00")
            _, sari = await ids(tx, "KBJ-01", "sari")
            assert await roster.record_arrival(tx, slot_id, T0)
            before = await roster.by_id(tx, slot_id)
            assert before is not None and before.arrived_at == T0
            assert await roster.set_holder(tx, slot_id, before.version, sari)
            after = await roster.by_id(tx, slot_id)
        assert after is not None
        assert (after.member_id, after.arrived_at, after.reminded_at) == (sari, None, None)
    finally:
        await db.close()
