"""Reads for data exports: one row per shift, issue or alert, oldest first, streamed.

Exports run in a worker thread (the CLI, or ``asyncio.to_thread`` from the bot) on their own
connection, so a large export never holds the bot's connection or its lock: a plain
``sqlite3`` one, or on PostgreSQL a :class:`storage.postgres.SyncSnapshot`. Everything is
read inside one transaction: a consistent snapshot while the bot keeps writing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asyncpg import PostgresError

from storage.db import Row, is_postgres, to_db
from storage.postgres import SyncSnapshot

FETCH = 500  # rows fetched from SQLite at a time


class NoDatabase(Exception):
    """The database file is missing or has no Posko schema."""


@dataclass(frozen=True, slots=True)
class AreaNode:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


# What the exporters hold while they stream; they name these, never the driver.
Snapshot = sqlite3.Connection | SyncSnapshot
ReadError = (sqlite3.Error, PostgresError)


@contextmanager
def snapshot(path: str | Path) -> Iterator[Snapshot]:
    """A read-only connection holding one read transaction for the whole export."""
    if is_postgres(path):
        with SyncSnapshot.open(str(path)) as pg:
            if pg.version() < 1:
                raise NoDatabase(f"database {pg} has no Posko schema yet (run: posko db migrate)")
            yield pg
        return
    target = Path(path)
    if str(path) == ":memory:" or not target.is_file():
        raise NoDatabase(f"database not found: {path}")
    conn = sqlite3.connect(target, isolation_level=None, check_same_thread=True)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA query_only=ON")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version < 1:
            raise NoDatabase(f"database {path} has no Posko schema yet (run: posko db migrate)")
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def area_tree(conn: Snapshot) -> dict[int, AreaNode]:
    """Every area by id (a city has hundreds, not millions): walked in memory per row."""
    return {
        row["id"]: AreaNode(row["id"], row["code"], row["name"], row["level"], row["parent_id"])
        for row in _stream(conn, "SELECT id, code, name, level, parent_id FROM areas", [])
    }


def _between(column: str, since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """``since <= column < until`` (either end open); times compare as ISO UTC text."""
    clauses: list[str] = []
    params: list[Any] = []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(to_db(since))
    if until is not None:
        clauses.append(f"{column} < ?")
        params.append(to_db(until))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _within(
    where: str, params: list[Any], area_ids: Collection[int] | None
) -> tuple[str, list[Any]]:
    """Narrow to posts in ``area_ids`` (None: every post)."""
    if area_ids is None:
        return where, params
    ids = sorted(area_ids)
    clause = f"p.area_id IN ({','.join('?' * len(ids))})" if ids else "0"
    where = f"{where} AND {clause}" if where else f" WHERE {clause}"
    return where, [*params, *ids]


def _stream(conn: Snapshot, sql: str, params: list[Any]) -> Iterator[Row]:
    if isinstance(conn, SyncSnapshot):
        yield from conn.stream(sql, params, FETCH)
        return
    cursor = conn.execute(sql, params)
    try:
        while rows := cursor.fetchmany(FETCH):
            yield from rows
    finally:
        cursor.close()


def shifts(
    conn: Snapshot,
    since: datetime | None,
    until: datetime | None,
    area_ids: Collection[int] | None = None,
) -> Iterator[Row]:
    where, params = _within(*_between("s.started_at", since, until), area_ids)
    return _stream(
        conn,
        "SELECT s.id, s.started_at, s.ended_at, s.end_reason, s.distance_m,"
        " s.inside_geofence, s.verified,"
        " p.code AS post_code, p.name AS post_name, p.area_id,"
        " m.ref AS member_ref, m.name AS member_name"
        " FROM shifts s JOIN posts p ON p.id = s.post_id JOIN members m ON m.id = s.member_id"
        f"{where} ORDER BY s.started_at, s.id",
        params,
    )


def issues(
    conn: Snapshot,
    since: datetime | None,
    until: datetime | None,
    area_ids: Collection[int] | None = None,
) -> Iterator[Row]:
    where, params = _within(*_between("i.created_at", since, until), area_ids)
    return _stream(
        conn,
        "SELECT i.id, i.ref, i.category, i.severity, i.status, i.text, i.latitude, i.longitude,"
        " i.created_at, i.updated_at,"
        " (SELECT count(*) FROM issue_photos ph WHERE ph.issue_id = i.id) AS photo_count,"
        " p.code AS post_code, p.name AS post_name, p.area_id,"
        " r.ref AS reporter_ref, r.name AS reporter_name, a.name AS assignee_name,"
        " CASE WHEN i.status IN ('selesai', 'ditolak') THEN"
        "  (SELECT e.note FROM issue_events e WHERE e.issue_id = i.id"
        "   AND e.to_status = i.status ORDER BY e.at DESC, e.id DESC LIMIT 1)"
        " END AS resolution_note,"
        # its forwards (issue 10), oldest first, as one JSON array of
        # [agency, forwarded_at, accepted_at, closed_at, state, outcome_note]
        " (SELECT json_group_array(json_array(x.name, x.forwarded_at, x.accepted_at,"
        "  x.closed_at, x.state, x.outcome_note)) FROM (SELECT ag.name, f.forwarded_at,"
        "  f.accepted_at, f.closed_at, f.state, f.outcome_note FROM forwards f"
        "  JOIN agencies ag ON ag.id = f.agency_id WHERE f.issue_id = i.id ORDER BY f.id) x)"
        " AS forwards_json"
        " FROM issues i JOIN posts p ON p.id = i.post_id JOIN members r ON r.id = i.reporter_id"
        " LEFT JOIN members a ON a.id = i.assignee_id"
        f"{where} ORDER BY i.created_at, i.id",
        params,
    )


def issue_media(
    conn: Snapshot,
    since: datetime | None,
    until: datetime | None,
    area_ids: Collection[int] | None = None,
) -> Iterator[tuple[str, int, str, str]]:
    """Every attachment of the issues :func:`issues` lists: (ref, number within the
    report from 1, file_id, kind), in the reports' order."""
    where, params = _within(*_between("i.created_at", since, until), area_ids)
    rows = _stream(
        conn,
        "SELECT i.ref, ROW_NUMBER() OVER (PARTITION BY i.id ORDER BY ph.position) AS number,"
        " ph.file_id, ph.kind"
        " FROM issue_photos ph JOIN issues i ON i.id = ph.issue_id"
        " JOIN posts p ON p.id = i.post_id"
        f"{where} ORDER BY i.created_at, i.id, ph.position",
        params,
    )
    return ((str(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows)


def alerts(
    conn: Snapshot,
    since: datetime | None,
    until: datetime | None,
    area_ids: Collection[int] | None = None,
) -> Iterator[Row]:
    where, params = _within(*_between("al.opened_at", since, until), area_ids)
    return _stream(
        conn,
        "SELECT al.id, al.kind, al.opened_at, al.step, al.acked_at, al.resolved_at,"
        " al.resolution, p.code AS post_code, p.name AS post_name, p.area_id,"
        " m.name AS acked_by_name, sa.name AS step_area_name"
        " FROM alerts al JOIN posts p ON p.id = al.post_id"
        " LEFT JOIN members m ON m.id = al.acked_by"
        " LEFT JOIN areas sa ON sa.id = al.step_area_id"
        f"{where} ORDER BY al.opened_at, al.id",
        params,
    )


# --- piket (SPEC §9): the roster and its attendance, one row per slot ----------------------


def slots(
    conn: Snapshot,
    since: datetime | None,
    until: datetime | None,
    area_ids: Collection[int] | None = None,
) -> Iterator[Row]:
    """Slots starting in the period, with their post, member and weekday row (if any)."""
    where, params = _within(*_between("sl.start_at", since, until), area_ids)
    return _stream(
        conn,
        "SELECT sl.id, sl.start_at, sl.end_at, sl.arrived_at, sl.left_at, sl.outcome,"
        " sl.late_minutes, sl.pattern_id, rp.days AS pattern_days,"
        " p.code AS post_code, p.name AS post_name, p.area_id,"
        " m.ref AS member_ref, m.name AS member_name"
        " FROM slots sl JOIN posts p ON p.id = sl.post_id JOIN members m ON m.id = sl.member_id"
        " LEFT JOIN roster_patterns rp ON rp.id = sl.pattern_id"
        f"{where} ORDER BY sl.start_at, p.code, sl.id",
        params,
    )
