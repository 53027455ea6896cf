"""Shifts: an officer checked in at a post, from start to end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, from_db, to_db
from storage.records import Shift


@dataclass(frozen=True, slots=True)
class Position:
    latitude: float
    longitude: float
    accuracy_m: float | None
    distance_m: float | None
    inside_geofence: bool | None
    verified: bool


async def open_for_member(tx: Tx, member_id: int) -> Shift | None:
    row = await tx.one(
        "SELECT * FROM shifts WHERE member_id = ? AND ended_at IS NULL", (member_id,)
    )
    return None if row is None else Shift.from_row(row)


async def open_locking_post(tx: Tx, member_id: int, post_id: int) -> Shift | None:
    """:func:`open_for_member`, with the row of post ``post_id`` locked in the same round
    trip on PostgreSQL: the writers that overlap (``Database.concurrently``) meet there,
    and every later statement of the transaction sees what the writer before it on that
    post committed. SQLite writers never overlap."""
    if tx.dialect != "postgresql":
        return await open_for_member(tx, member_id)
    row = await tx.one(
        "SELECT s.* FROM posts p LEFT JOIN shifts s ON s.member_id = ? AND s.ended_at IS NULL"
        " WHERE p.id = ? FOR NO KEY UPDATE OF p",
        (member_id, post_id),
    )
    if row is None:
        raise LookupError(f"post {post_id} does not exist")
    # The shift as the statement's snapshot saw it, from before any wait for the lock: only
    # the member's own updates change it, and one member's run one at a time.
    return None if row["id"] is None else Shift.from_row(row)


async def start(
    tx: Tx,
    member_id: int,
    post_id: int,
    at: datetime,
    position: Position,
    live_message_id: int | None,
) -> int:
    return await tx.insert(
        "INSERT INTO shifts (member_id, post_id, started_at, latitude, longitude, accuracy_m,"
        " distance_m, inside_geofence, verified, live_message_id, last_location_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            member_id,
            post_id,
            to_db(at),
            position.latitude,
            position.longitude,
            position.accuracy_m,
            position.distance_m,
            None if position.inside_geofence is None else int(position.inside_geofence),
            int(position.verified),
            live_message_id,
            to_db(at),
        ),
    )


async def update_position(
    tx: Tx, shift_id: int, at: datetime, position: Position, live_message_id: int | None
) -> None:
    """A newer location for an open shift: the latest position decides whether the officer
    is inside the geofence now (a live location that leaves it is no longer verified)."""
    await tx.execute(
        "UPDATE shifts SET latitude = ?, longitude = ?, accuracy_m = ?, distance_m = ?,"
        " inside_geofence = ?, verified = ?,"
        " live_message_id = COALESCE(?, live_message_id), last_location_at = ?"
        " WHERE id = ? AND ended_at IS NULL",
        (
            position.latitude,
            position.longitude,
            position.accuracy_m,
            position.distance_m,
            None if position.inside_geofence is None else int(position.inside_geofence),
            int(position.verified),
            live_message_id,
            to_db(at),
            shift_id,
        ),
    )


async def end(tx: Tx, shift_id: int, at: datetime, reason: str) -> bool:
    changed = await tx.execute(
        "UPDATE shifts SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
        (to_db(at), reason, shift_id),
    )
    return changed > 0


async def on_duty(tx: Tx, post_id: int) -> list[tuple[str, datetime, bool]]:
    """(officer name, since, verified) of everyone checked in at the post, earliest first."""
    rows = await tx.all(
        "SELECT m.name, s.started_at, s.verified FROM shifts s JOIN members m ON m.id = s.member_id"
        " WHERE s.post_id = ? AND s.ended_at IS NULL ORDER BY s.started_at",
        (post_id,),
    )
    result: list[tuple[str, datetime, bool]] = []
    for row in rows:
        since = from_db(row["started_at"])
        assert since is not None
        result.append((row["name"], since, bool(row["verified"])))
    return result


async def count_on_duty(tx: Tx, post_id: int) -> int:
    return int(
        await tx.scalar(
            "SELECT count(*) FROM shifts WHERE post_id = ? AND ended_at IS NULL", (post_id,)
        )
    )
