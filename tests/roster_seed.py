"""Slots for the piket tests, written the way planning writes them (storage.roster)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from bot.core.config import RosterSettings
from bot.roster.slots import first_step, span
from storage import roster
from storage.db import Database, Tx, to_db
from tests.conftest import T0

TUESDAY = date(2026, 11, 24)  # T0 is Tuesday 19:00 WIB
WEDNESDAY = TUESDAY + timedelta(days=1)
SETTINGS = RosterSettings()


async def ids(tx: Tx, post_code: str, member_ref: str) -> tuple[int, int]:
    post = await tx.scalar("SELECT id FROM posts WHERE code = ?", (post_code,))
    member = await tx.scalar("SELECT id FROM members WHERE ref = ?", (member_ref,))
    return int(post), int(member)


async def add_slot(
    tx: Tx,
    post_code: str,
    member_ref: str,
    day: date,
    start: str,
    end: str,
    now: datetime = T0,
) -> int:
    """One slot on ``day`` (WIB) from ``start`` to ``end`` ('HH:MM'); returns its id."""
    post, member = await ids(tx, post_code, member_ref)
    start_minute = int(start[:2]) * 60 + int(start[3:])
    end_minute = int(end[:2]) * 60 + int(end[3:])
    start_at, end_at = span(day, start_minute, end_minute)
    step = first_step(start_at, end_at, now, SETTINGS.remind_before)
    await roster.insert_slots(
        tx,
        [
            (
                post, member, start_at, end_at, None,
                None if step is None else step.at, None if step is None else step.kind,
            )
        ],
    )  # fmt: skip
    return int(
        await tx.scalar(
            "SELECT id FROM slots WHERE post_id = ? AND member_id = ? AND start_at = ?",
            (post, member, to_db(start_at)),
        )
    )


async def seed_slots(path: Path, *rows: tuple[str, str, date, str, str]) -> list[int]:
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            return [await add_slot(tx, *row) for row in rows]
    finally:
        await db.close()
