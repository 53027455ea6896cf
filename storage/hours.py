"""Dated opening hours set from chat (/jam_khusus), kept beside the config's
``[[schedule.override]]``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from storage.db import Row, Tx, to_db


@dataclass(frozen=True, slots=True)
class HoursOverride:
    id: int
    day: date
    hours: str
    area_code: str | None
    post_code: str | None


def _override(row: Row) -> HoursOverride:
    return HoursOverride(
        id=row["id"],
        day=date.fromisoformat(row["day"]),
        hours=row["hours"],
        area_code=row["area_code"],
        post_code=row["post_code"],
    )


async def add(
    tx: Tx,
    day: date,
    hours: str,
    area_code: str | None,
    post_code: str | None,
    actor_id: int | None,
    now: datetime,
) -> int:
    return await tx.insert(
        "INSERT INTO hours_overrides (day, hours, area_code, post_code, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (day.isoformat(), hours, area_code, post_code, actor_id, to_db(now)),
    )


async def active(tx: Tx, since: date | None = None) -> list[HoursOverride]:
    """Overrides not removed, from ``since`` on (all when None), by day then id."""
    rows = await tx.all(
        "SELECT id, day, hours, area_code, post_code FROM hours_overrides"
        " WHERE removed_at IS NULL AND day >= ? ORDER BY day, id",
        ((since or date.min).isoformat(),),
    )
    return [_override(row) for row in rows]


async def by_id(tx: Tx, override_id: int) -> HoursOverride | None:
    row = await tx.one(
        "SELECT id, day, hours, area_code, post_code FROM hours_overrides"
        " WHERE id = ? AND removed_at IS NULL",
        (override_id,),
    )
    return None if row is None else _override(row)


async def remove(tx: Tx, override_id: int, now: datetime) -> bool:
    """Remove once (compare-and-swap on removed_at)."""
    changed = await tx.execute(
        "UPDATE hours_overrides SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
        (to_db(now), override_id),
    )
    return changed > 0
