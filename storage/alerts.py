"""Alerts: an unstaffed or silent incident on a post, its escalation and its end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, from_db, to_db
from storage.watch import recipient_language


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    post_id: int
    kind: str
    opened_at: datetime
    step: int
    acked_by_name: str | None


async def open_for_post(tx: Tx, post_id: int) -> OpenAlert | None:
    row = await tx.one(
        "SELECT a.id, a.post_id, a.kind, a.opened_at, a.step, m.name AS acked_by_name"
        " FROM alerts a LEFT JOIN members m ON m.id = a.acked_by"
        " WHERE a.post_id = ? AND a.resolved_at IS NULL",
        (post_id,),
    )
    if row is None:
        return None
    opened = from_db(row["opened_at"])
    assert opened is not None
    return OpenAlert(
        row["id"], row["post_id"], row["kind"], opened, row["step"], row["acked_by_name"]
    )


@dataclass(frozen=True, slots=True)
class Person:
    """Someone to call about a post: assigned or on duty there."""

    member_id: int
    name: str
    phone: str | None
    on_duty: bool
    rostered: bool = False
    """A slot of theirs at the post runs now (piket): they are expected there."""
    left_at: datetime | None = None
    """Rostered, came, and checked out before the slot's end (pulang awal)."""


def _marks(count: int) -> str:
    return ",".join("?" * count)


async def people(tx: Tx, post_ids: Sequence[int]) -> dict[int, list[Person]]:
    """The officers of each post (assigned, or checked in there now), those on duty first."""
    if not post_ids:
        return {}
    marks = _marks(len(post_ids))
    # On duty = the pair came from an open shift. Said by the union itself rather than an
    # EXISTS per row: PostgreSQL ran that EXISTS as a hash of every open shift in the city
    # (bench/watch.py --storage, 1,000 posts due of 100,000).
    rows = await tx.all(
        "SELECT p.post_id, m.id, m.name, m.phone, p.on_duty"
        " FROM (SELECT post_id, member_id, max(on_duty) AS on_duty FROM"
        f"  (SELECT post_id, member_id, 0 AS on_duty FROM assignments WHERE post_id IN ({marks})"
        "   UNION ALL SELECT post_id, member_id, 1 AS on_duty FROM shifts"
        f"   WHERE ended_at IS NULL AND post_id IN ({marks})) AS pairs"
        "  GROUP BY post_id, member_id) AS p"
        " JOIN members m ON m.id = p.member_id ORDER BY p.on_duty DESC, m.name",
        (*post_ids, *post_ids),
    )
    result: dict[int, list[Person]] = {}
    for row in rows:
        result.setdefault(row[0], []).append(Person(row[1], row[2], row[3], bool(row[4])))
    return result


async def follow_taken(
    tx: Tx,
    rows: Sequence[tuple[int, int, int, int, int | None, datetime | None]],
    now: datetime,
) -> int:
    """(alert_id, stage_was, stage, step, step_area_id, next_due_at) for taken alerts whose
    post has not recovered: compare-and-swap on ``taken_stage``; returns how many moved."""
    if not rows:
        return 0
    stamp = to_db(now)
    return await tx.executemany(
        "UPDATE alerts SET taken_stage = ?, step = ?, step_area_id = ?, next_due_at = ?,"
        " last_notified_at = ? WHERE id = ? AND taken_stage = ? AND acked_by IS NOT NULL"
        " AND resolved_at IS NULL",
        [
            (stage, step, area, to_db(due), stamp, alert_id, was)
            for alert_id, was, stage, step, area, due in rows
        ],
    )


async def retake(
    tx: Tx, alert_id: int, member_id: int, previous_id: int, now: datetime, follow_up_at: datetime
) -> bool:
    """A supervisor above takes over an alert that climbed because its taker's post did not
    recover (taken_stage >= 2); compare-and-swap on the previous owner."""
    changed = await tx.execute(
        "UPDATE alerts SET acked_by = ?, acked_at = ?, next_due_at = ?, taken_stage = 0"
        " WHERE id = ? AND acked_by = ? AND taken_stage >= 2 AND resolved_at IS NULL",
        (member_id, to_db(now), to_db(follow_up_at), alert_id, previous_id),
    )
    return changed > 0


async def mark_called(tx: Tx, alert_id: int, now: datetime, again_after: datetime) -> bool:
    """Record a "📣 Panggil petugas" unless one was sent after ``again_after``."""
    changed = await tx.execute(
        "UPDATE alerts SET called_at = ? WHERE id = ? AND resolved_at IS NULL"
        " AND (called_at IS NULL OR called_at <= ?)",
        (to_db(now), alert_id, to_db(again_after)),
    )
    return changed > 0


@dataclass(frozen=True, slots=True)
class Taker:
    member_id: int
    name: str
    telegram_id: int | None
    language: str | None


async def takers(tx: Tx, alert_ids: Sequence[int]) -> dict[int, Taker]:
    """alert id → who took it (with the language their messages go out in)."""
    if not alert_ids:
        return {}
    rows = await tx.all(
        "SELECT a.id, m.id, m.name, m.telegram_id, m.language, m.client_language"
        " FROM alerts a JOIN members m ON m.id = a.acked_by"
        f" WHERE a.id IN ({_marks(len(alert_ids))})",
        alert_ids,
    )
    result: dict[int, Taker] = {}
    for row in rows:
        result[row[0]] = Taker(row[1], row[2], row[3], recipient_language(row[4], row[5]))
    return result
