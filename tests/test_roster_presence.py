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


async def test_an_officer_taken_off_a_post_leaves_its_coming_roster(
    db_path: Path, tmp_path: Path
) -> None:
    from bot.exchange.importer import import_csv

    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            running = await add_slot(
                tx, "KBJ-01", "sari", WEDNESDAY - timedelta(days=1), "18:00", "23:00"
            )
            coming = await add_slot(tx, "KBJ-01", "sari", WEDNESDAY, "08:00", "16:00")
            elsewhere = await add_slot(tx, "KBJ-02", "sari", WEDNESDAY, "18:00", "22:00")
        members_csv = tmp_path / "members.csv"
        members_csv.write_text(
            "ref,name,nip,phone,roles,posts,areas,telegram_id,language\n"
            "sari,Sari Dewi,,,officer,KBJ-02,,1002,\n",
            encoding="utf-8",
        )
        await import_csv(db, "members", members_csv, T0)
        async with db.read() as tx:
            left = {
                slot_id: await roster.by_id(tx, slot_id) for slot_id in (running, coming, elsewhere)
            }
        assert left[coming] is None  # KBJ-01's coming slot went with the assignment
        assert left[running] is not None  # the running one is history
        assert left[elsewhere] is not None  # still her post
    finally:
        await db.close()
