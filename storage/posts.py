"""Posts (posko), their signals, and their officers on duty."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from storage import shifts
from storage.db import Tx, to_db
from storage.records import Post, Shift


@dataclass(frozen=True, slots=True)
class PostRow:
    code: str
    name: str
    area_code: str
    latitude: float | None
    longitude: float | None
    radius_m: float | None
    min_staff: int
    hours: str
    watch_policy: dict[str, str] = field(default_factory=dict)


async def by_code(tx: Tx, code: str) -> Post | None:
    row = await tx.one("SELECT * FROM posts WHERE upper(code) = upper(?)", (code,))
    return None if row is None else Post.from_row(row)


async def by_id(tx: Tx, post_id: int) -> Post | None:
    row = await tx.one("SELECT * FROM posts WHERE id = ?", (post_id,))
    return None if row is None else Post.from_row(row)


async def lock(tx: Tx, post_ids: Sequence[int]) -> None:
    """Lock the posts' rows, in id order, until the transaction ends (PostgreSQL; SQLite
    writers never overlap): see :func:`storage.shifts.open_locking_post`."""
    if tx.dialect == "postgresql" and post_ids:
        marks = ", ".join("?" for _ in post_ids)
        await tx.all(
            f"SELECT id FROM posts WHERE id IN ({marks}) ORDER BY id FOR NO KEY UPDATE",
            sorted(post_ids),
        )


async def of_open_shift(tx: Tx, member_id: int) -> Post | None:
    """The post of the member's open shift, if any."""
    row = await tx.one(
        "SELECT p.* FROM shifts s JOIN posts p ON p.id = s.post_id"
        " WHERE s.member_id = ? AND s.ended_at IS NULL",
        (member_id,),
    )
    return None if row is None else Post.from_row(row)


async def codes(tx: Tx) -> set[str]:
    return {row[0] for row in await tx.all("SELECT code FROM posts")}


async def in_areas(tx: Tx, area_ids: Sequence[int]) -> list[Post]:
    """Every post in the given areas, by code."""
    if not area_ids:
        return []
    marks = ",".join("?" * len(area_ids))
    rows = await tx.all(
        f"SELECT * FROM posts WHERE area_id IN ({marks}) ORDER BY code", tuple(area_ids)
    )
    return [Post.from_row(row) for row in rows]


async def all_ids(tx: Tx) -> list[int]:
    return [row[0] for row in await tx.all("SELECT id FROM posts ORDER BY id")]


async def set_hours(tx: Tx, post_ids: Sequence[int], hours: str, now: datetime) -> None:
    """New weekly hours; the posts become due at once so the watcher re-decides them."""
    if post_ids:
        marks = ",".join("?" * len(post_ids))
        await tx.execute(
            f"UPDATE posts SET hours = ?, updated_at = ?, next_due_at = ? WHERE id IN ({marks})",
            (hours, to_db(now), to_db(now), *post_ids),
        )


async def assigned_to(tx: Tx, member_id: int) -> list[Post]:
    rows = await tx.all(
        "SELECT p.* FROM posts p JOIN assignments a ON a.post_id = p.id"
        " WHERE a.member_id = ? ORDER BY p.code",
        (member_id,),
    )
    return [Post.from_row(row) for row in rows]


async def upsert(tx: Tx, rows: Sequence[PostRow], now: datetime) -> int:
    stamp = to_db(now)
    for row in rows:
        await tx.execute(
            "INSERT INTO posts (code, name, area_id, latitude, longitude, radius_m, min_staff,"
            " hours, watch_policy, created_at, updated_at, next_due_at)"
            " SELECT ?, ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM areas WHERE code = ?"
            " ON CONFLICT(code) DO UPDATE SET name = excluded.name, area_id = excluded.area_id,"
            " latitude = excluded.latitude, longitude = excluded.longitude,"
            " radius_m = excluded.radius_m, min_staff = excluded.min_staff,"
            " hours = excluded.hours, watch_policy = excluded.watch_policy,"
            " updated_at = excluded.updated_at, next_due_at = excluded.next_due_at",
            (
                row.code,
                row.name,
                row.latitude,
                row.longitude,
                row.radius_m,
                row.min_staff,
                row.hours,
                json.dumps(row.watch_policy) if row.watch_policy else None,
                stamp,
                stamp,
                stamp,  # the watcher re-decides a new or changed post at once
                row.area_code,
            ),
        )
    return len(rows)


async def record_signal(
    tx: Tx, post_id: int, member_id: int | None, kind: str, at: datetime, note: str | None = None
) -> None:
    """A proof of life: stored, and the post's newest-signal time moved forward."""
    stamp = to_db(at)
    if tx.dialect == "postgresql":  # one round trip instead of two (SQLite has no DML in WITH)
        await tx.execute(
            "WITH signal AS (INSERT INTO signals (post_id, member_id, kind, at, note)"
            " VALUES (?, ?, ?, ?, ?)) UPDATE posts SET last_signal_at = ? WHERE id = ?"
            " AND (last_signal_at IS NULL OR last_signal_at < ?)",
            (post_id, member_id, kind, stamp, note, stamp, post_id, stamp),
        )
        return
    await tx.execute(
        "INSERT INTO signals (post_id, member_id, kind, at, note) VALUES (?, ?, ?, ?, ?)",
        (post_id, member_id, kind, stamp, note),
    )
    await tx.execute(
        "UPDATE posts SET last_signal_at = ? WHERE id = ?"
        " AND (last_signal_at IS NULL OR last_signal_at < ?)",
        (stamp, post_id, stamp),
    )


async def signal_from_open_shift(
    tx: Tx, member_id: int, kind: str, at: datetime, note: str | None = None
) -> Shift | None:
    """The member's open shift (None: not on duty) with its post's row locked (as
    storage.shifts.open_locking_post locks a post) and a signal recorded there: one round
    trip on PostgreSQL where there were two."""
    if tx.dialect != "postgresql":
        current = await shifts.open_for_member(tx, member_id)
        if current is not None:
            await record_signal(tx, current.post_id, member_id, kind, at, note)
        return current
    stamp = to_db(at)
    row = await tx.one(
        "WITH shift AS (SELECT s.* FROM shifts s JOIN posts p ON p.id = s.post_id"
        " WHERE s.member_id = ? AND s.ended_at IS NULL FOR NO KEY UPDATE OF p),"
        " signal AS (INSERT INTO signals (post_id, member_id, kind, at, note)"
        " SELECT post_id, member_id, ?, ?, ? FROM shift),"
        " newest AS (UPDATE posts SET last_signal_at = ? FROM shift WHERE posts.id = shift.post_id"
        " AND (posts.last_signal_at IS NULL OR posts.last_signal_at < ?))"
        " SELECT * FROM shift",
        (member_id, kind, stamp, note, stamp, stamp),
    )
    return None if row is None else Shift.from_row(row)


async def last_signal(tx: Tx, post_id: int) -> tuple[str, datetime, str | None] | None:
    """(kind, at, member name) of the newest signal."""
    row = await tx.one(
        "SELECT s.kind, s.at, m.name FROM signals s LEFT JOIN members m ON m.id = s.member_id"
        " WHERE s.post_id = ? ORDER BY s.at DESC, s.id DESC LIMIT 1",
        (post_id,),
    )
    if row is None:
        return None
    return row["kind"], datetime.fromisoformat(row["at"]), row["name"]


async def mark_short(tx: Tx, post_id: int, now: datetime, required: int | None = None) -> None:
    """An officer left: if the post is now short of staff (``min_staff``, or ``required``
    while a roster asks for more), the grace period starts now."""
    await tx.execute(
        "UPDATE posts SET short_since = ? WHERE id = ? AND short_since IS NULL"
        " AND coalesce(CAST(? AS BIGINT), min_staff) >"
        " (SELECT count(*) FROM shifts WHERE post_id = ? AND ended_at IS NULL)",
        (to_db(now), post_id, required, post_id),
    )
