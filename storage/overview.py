"""SQL for the post overview (/pantau): the posts of a subtree by watch state.

``area_ids`` is the set of areas to look at (a supervisor's subtree); None means the whole
tree (admins). Problem posts come first: silent, then unstaffed, each oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage import issues
from storage.db import Tx, from_db

# Order of the list: what needs attention first, what is quiet last.
_RANK = (
    "CASE state WHEN 'silent' THEN 0 WHEN 'unstaffed' THEN 1 WHEN 'opening' THEN 2"
    " WHEN 'reminded' THEN 3 WHEN 'staffed' THEN 3 WHEN 'paused' THEN 4 ELSE 5 END"
)


@dataclass(frozen=True, slots=True)
class PostLine:
    id: int
    code: str
    name: str
    area_id: int
    state: str
    state_since: datetime | None


def _where(area_ids: Collection[int] | None) -> tuple[str, list[Any]]:
    if area_ids is None:
        return "1 = 1", []
    return "area_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))", [
        json.dumps(sorted(area_ids))
    ]


async def state_counts(tx: Tx, area_ids: Collection[int] | None) -> dict[str, int]:
    """Number of posts per ``posts.state`` (states without posts are absent)."""
    where, params = _where(area_ids)
    rows = await tx.all(f"SELECT state, count(*) FROM posts WHERE {where} GROUP BY state", params)
    return {str(row[0]): int(row[1]) for row in rows}


async def post_lines(
    tx: Tx, area_ids: Collection[int] | None, limit: int, offset: int = 0
) -> list[PostLine]:
    where, params = _where(area_ids)
    rows = await tx.all(
        f"SELECT id, code, name, area_id, state, state_since FROM posts WHERE {where}"
        f" ORDER BY {_RANK},"
        " CASE WHEN state IN ('silent', 'unstaffed') THEN state_since END, code"
        " LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [
        PostLine(
            id=row["id"],
            code=row["code"],
            name=row["name"],
            area_id=row["area_id"],
            state=row["state"],
            state_since=from_db(row["state_since"]),
        )
        for row in rows
    ]


async def area_names(tx: Tx, area_ids: Collection[int]) -> list[str]:
    """Names of the given areas, higher levels first (for a scope's title)."""
    if not area_ids:
        return []
    rows = await tx.all(
        "SELECT name FROM areas WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))"
        " ORDER BY CASE level WHEN 'provinsi' THEN 0 WHEN 'kota' THEN 1"
        " WHEN 'kecamatan' THEN 2 ELSE 3 END, name",
        (json.dumps(sorted(area_ids)),),
    )
    return [str(row[0]) for row in rows]


@dataclass(frozen=True, slots=True)
class AlertLine:
    """An open alert as /pantau lists it: what, since when, who took it."""

    id: int
    post_id: int
    post_code: str
    post_name: str
    kind: str
    opened_at: datetime
    taken_by: str | None
    taken_at: datetime | None
    taker_id: int | None = None
    climbed_past_taker: bool = False
    """Taken, not recovered after the taker's reminder, and gone up a level (take-over)."""
    step_area_id: int | None = None


async def open_alerts(
    tx: Tx, area_ids: Collection[int] | None, limit: int
) -> tuple[list[AlertLine], int]:
    """Open alerts in the areas, untaken first, oldest first; and how many there are."""
    where, params = _where(area_ids)
    where = where.replace("area_id", "p.area_id")
    total = int(
        await tx.scalar(
            "SELECT count(*) FROM alerts a JOIN posts p ON p.id = a.post_id"
            f" WHERE a.resolved_at IS NULL AND {where}",
            params,
        )
    )
    rows = await tx.all(
        f"{_ALERT_LINE} WHERE a.resolved_at IS NULL AND {where}"
        " ORDER BY a.acked_by IS NOT NULL, a.opened_at, a.id LIMIT ?",
        [*params, limit],
    )
    return [_alert_line(row) for row in rows], total


_ALERT_LINE = (
    "SELECT a.id, a.post_id, p.code, p.name, a.kind, a.opened_at, m.name AS taker, a.acked_at,"
    " a.acked_by, a.taken_stage, a.step_area_id"
    " FROM alerts a JOIN posts p ON p.id = a.post_id"
    " LEFT JOIN members m ON m.id = a.acked_by"
)


def _alert_line(row: Any) -> AlertLine:
    opened = from_db(row["opened_at"])
    assert opened is not None
    return AlertLine(
        row["id"],
        row["post_id"],
        row["code"],
        row["name"],
        row["kind"],
        opened,
        row["taker"],
        from_db(row["acked_at"]),
        row["acked_by"],
        row["acked_by"] is not None and row["taken_stage"] >= 2,
        row["step_area_id"],
    )


@dataclass(frozen=True, slots=True)
class OnDuty:
    name: str
    since: datetime
    inside: bool | None
    """Inside the geofence at the latest position; None when the post has no geofence."""
    distance_m: float | None
    located_at: datetime


@dataclass(frozen=True, slots=True)
class Assigned:
    name: str
    phone: str | None
    registered: bool


@dataclass(frozen=True, slots=True)
class LastSignal:
    kind: str
    at: datetime
    who: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class IssueLine:
    ref: str
    status: str
    severity: str
    category: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PostDetail:
    """One post whole, for the supervisor's /pantau KODE."""

    on_duty: list[OnDuty]
    assigned: list[Assigned]
    last_signal: LastSignal | None
    alert: AlertLine | None
    issues: list[IssueLine]
    open_issues: int


async def post_detail(tx: Tx, post_id: int, max_issues: int) -> PostDetail:
    duty_rows = await tx.all(
        "SELECT m.name, s.started_at, s.inside_geofence, s.distance_m,"
        " COALESCE(s.last_location_at, s.started_at) AS located_at"
        " FROM shifts s JOIN members m ON m.id = s.member_id"
        " WHERE s.post_id = ? AND s.ended_at IS NULL ORDER BY s.started_at",
        (post_id,),
    )
    on_duty = []
    for row in duty_rows:
        since, located = from_db(row["started_at"]), from_db(row["located_at"])
        assert since is not None and located is not None
        inside = row["inside_geofence"]
        on_duty.append(
            OnDuty(
                row["name"],
                since,
                None if inside is None else bool(inside),
                row["distance_m"],
                located,
            )
        )
    assigned = [
        Assigned(row["name"], row["phone"], row["telegram_id"] is not None)
        for row in await tx.all(
            "SELECT m.name, m.phone, m.telegram_id FROM assignments a"
            " JOIN members m ON m.id = a.member_id WHERE a.post_id = ? ORDER BY m.name",
            (post_id,),
        )
    ]
    signal = await tx.one(
        "SELECT s.kind, s.at, s.note, m.name FROM signals s"
        " LEFT JOIN members m ON m.id = s.member_id"
        " WHERE s.post_id = ? ORDER BY s.at DESC, s.id DESC LIMIT 1",
        (post_id,),
    )
    last = None
    if signal is not None:
        at = from_db(signal["at"])
        assert at is not None
        last = LastSignal(signal["kind"], at, signal["name"], signal["note"])
    alert_row = await tx.one(
        f"{_ALERT_LINE} WHERE a.post_id = ? AND a.resolved_at IS NULL", (post_id,)
    )
    alert = None if alert_row is None else _alert_line(alert_row)
    open_issues = await issues.open_count_for_post(tx, post_id)
    issue_rows = await tx.all(
        "SELECT i.ref, i.status, i.severity, i.category, i.created_at FROM issues i"
        " WHERE i.post_id = ? AND i.status IN ('baru', 'diterima', 'ditangani')"
        f" ORDER BY {issues.SEVERITY_FIRST}, i.created_at LIMIT ?",
        (post_id, max_issues),
    )
    issue_lines = []
    for issue in issue_rows:
        created = from_db(issue["created_at"])
        assert created is not None
        issue_lines.append(
            IssueLine(issue["ref"], issue["status"], issue["severity"], issue["category"], created)
        )
    return PostDetail(on_duty, assigned, last, alert, issue_lines, open_issues)
