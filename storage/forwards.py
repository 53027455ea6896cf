"""Disposisi: reports forwarded to partner agencies, one row per forward (SPEC §8)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from storage.db import Row, Tx, from_db, to_db

OPEN_STATES = ("dikirim", "diterima")


@dataclass(frozen=True, slots=True)
class Forward:
    id: int
    issue_id: int
    agency_id: int
    agency_code: str
    agency_name: str
    forwarded_by: int | None
    forwarder_name: str | None
    forwarder_telegram_id: int | None
    forwarder_language: str | None
    forwarded_at: datetime
    note: str | None
    state: str
    area_id: int
    step: int
    accepted_name: str | None
    accepted_at: datetime | None = None


_SELECT = (
    "SELECT f.*, ag.code AS agency_code, ag.name AS agency_name,"
    " fb.name AS forwarder_name, fb.telegram_id AS forwarder_telegram_id,"
    " fb.language AS forwarder_language, ac.name AS accepted_name"
    " FROM forwards f JOIN agencies ag ON ag.id = f.agency_id"
    " LEFT JOIN members fb ON fb.id = f.forwarded_by"
    " LEFT JOIN members ac ON ac.id = f.accepted_by"
)


def _forward(row: Row) -> Forward:
    at = from_db(row["forwarded_at"])
    assert at is not None
    return Forward(
        id=row["id"],
        issue_id=row["issue_id"],
        agency_id=row["agency_id"],
        agency_code=row["agency_code"],
        agency_name=row["agency_name"],
        forwarded_by=row["forwarded_by"],
        forwarder_name=row["forwarder_name"],
        forwarder_telegram_id=row["forwarder_telegram_id"],
        forwarder_language=row["forwarder_language"],
        forwarded_at=at,
        note=row["note"],
        state=row["state"],
        area_id=row["area_id"],
        step=row["step"],
        accepted_name=row["accepted_name"],
        accepted_at=from_db(row["accepted_at"]),
    )


async def create(
    tx: Tx,
    issue_id: int,
    agency_id: int,
    member_id: int,
    note: str | None,
    area_id: int,
    due: datetime | None,
    now: datetime,
) -> int | None:
    """A new forward; None when an open one to the same agency exists already."""
    forward_id = await tx.scalar(
        "INSERT INTO forwards (issue_id, agency_id, forwarded_by, forwarded_at, note,"
        " area_id, next_due_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (issue_id, agency_id) WHERE state IN ('dikirim', 'diterima')"
        " DO NOTHING RETURNING id",
        (issue_id, agency_id, member_id, to_db(now), note, area_id, to_db(due)),
    )
    if forward_id is None:
        return None
    await add_event(tx, int(forward_id), member_id, "sent", note, now)
    return int(forward_id)


async def by_id(tx: Tx, forward_id: int) -> Forward | None:
    row = await tx.one(f"{_SELECT} WHERE f.id = ?", (forward_id,))
    return None if row is None else _forward(row)


async def of_issue(tx: Tx, issue_id: int) -> list[Forward]:
    rows = await tx.all(f"{_SELECT} WHERE f.issue_id = ? ORDER BY f.id", (issue_id,))
    return [_forward(row) for row in rows]


async def open_to(tx: Tx, issue_id: int, agency_id: int) -> Forward | None:
    row = await tx.one(
        f"{_SELECT} WHERE f.issue_id = ? AND f.agency_id = ?"
        " AND f.state IN ('dikirim', 'diterima')",
        (issue_id, agency_id),
    )
    return None if row is None else _forward(row)


async def add_event(
    tx: Tx, forward_id: int, actor_id: int | None, kind: str, note: str | None, now: datetime
) -> None:
    await tx.execute(
        "INSERT INTO forward_events (forward_id, at, actor_id, kind, note) VALUES (?, ?, ?, ?, ?)",
        (forward_id, to_db(now), actor_id, kind, note),
    )


async def accept(tx: Tx, forward_id: int, member_id: int, now: datetime) -> bool:
    """Compare-and-swap dikirim → diterima; the climb stops."""
    changed = await tx.execute(
        "UPDATE forwards SET state = 'diterima', accepted_by = ?, accepted_at = ?,"
        " next_due_at = NULL WHERE id = ? AND state = 'dikirim'",
        (member_id, to_db(now), forward_id),
    )
    if changed:
        await add_event(tx, forward_id, member_id, "accepted", None, now)
    return changed == 1


async def close(
    tx: Tx, forward_id: int, sources: tuple[str, ...], state: str, member_id: int, note: str,
    now: datetime,
) -> bool:  # fmt: skip
    """Compare-and-swap from one of ``sources`` to selesai or dikembalikan."""
    marks = ",".join("?" * len(sources))
    changed = await tx.execute(
        "UPDATE forwards SET state = ?, closed_by = ?, closed_at = ?, outcome_note = ?,"
        f" next_due_at = NULL WHERE id = ? AND state IN ({marks})",
        (state, member_id, to_db(now), note, forward_id, *sources),
    )
    if changed:
        kind = "done" if state == "selesai" else "returned"
        await add_event(tx, forward_id, member_id, kind, note, now)
    return changed == 1


@dataclass(frozen=True, slots=True)
class DueForward:
    id: int
    area_id: int
    step: int
    due: datetime


async def due(tx: Tx, now: datetime, limit: int) -> list[DueForward]:
    rows = await tx.all(
        "SELECT id, area_id, step, next_due_at FROM forwards WHERE next_due_at IS NOT NULL"
        " AND next_due_at <= ? ORDER BY next_due_at LIMIT ?",
        (to_db(now), limit),
    )
    out: list[DueForward] = []
    for row in rows:
        moment = from_db(row[3])
        assert moment is not None
        out.append(DueForward(row[0], row[1], row[2], moment))
    return out


async def climb(
    tx: Tx, item: DueForward, area_id: int, due_at: datetime | None, now: datetime
) -> bool:
    """Compare-and-swap on (step, due): hand the forward to ``area_id``'s liaisons, or
    stop its clock (``due_at`` None) when there is nobody higher. Two watchers: one wins."""
    moved = area_id != item.area_id
    changed = await tx.execute(
        "UPDATE forwards SET area_id = ?, step = ?, next_due_at = ? WHERE id = ?"
        " AND step = ? AND next_due_at = ? AND state = 'dikirim'",
        (area_id, item.step + (1 if moved else 0), to_db(due_at), item.id, item.step,
         to_db(item.due)),
    )  # fmt: skip
    if changed and moved:
        await add_event(tx, item.id, None, "climbed", None, now)
    return changed == 1


async def for_liaison(
    tx: Tx, agency_id: int, area_ids: Collection[int], limit: int
) -> list[Forward]:
    """The agency's forwards of reports on posts in ``area_ids``: open ones first (sent,
    then accepted), then the latest closed, newest first within each."""
    rows = await tx.all(
        f"{_SELECT} JOIN issues i ON i.id = f.issue_id JOIN posts p ON p.id = i.post_id"
        " WHERE f.agency_id = ? AND p.area_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))"
        " ORDER BY CASE f.state WHEN 'dikirim' THEN 0 WHEN 'diterima' THEN 1 ELSE 2 END,"
        " f.id DESC LIMIT ?",
        (agency_id, json.dumps(sorted(area_ids)), limit),
    )
    return [_forward(row) for row in rows]


async def close_open(
    tx: Tx, issue_id: int, member_id: int | None, why: str, now: datetime
) -> list[int]:
    """Every open forward of a report becomes 'ditutup' (its report was withdrawn,
    rejected or resolved): the climb stops, its buttons no longer apply. The ids closed."""
    rows = await tx.all(
        "UPDATE forwards SET state = 'ditutup', closed_by = ?, closed_at = ?,"
        " outcome_note = ?, next_due_at = NULL"
        " WHERE issue_id = ? AND state IN ('dikirim', 'diterima') RETURNING id",
        (member_id, to_db(now), why, issue_id),
    )
    closed = sorted(int(row[0]) for row in rows)
    for forward_id in closed:
        await add_event(tx, forward_id, member_id, "closed", why, now)
    return closed


async def accepted_by(tx: Tx, forward_id: int) -> int | None:
    found = await tx.scalar("SELECT accepted_by FROM forwards WHERE id = ?", (forward_id,))
    return None if found is None else int(found)


@dataclass(frozen=True, slots=True)
class ForwardEvent:
    at: datetime
    actor_name: str | None
    kind: str
    """sent, climbed, accepted, progress, done, returned, closed."""
    agency_name: str
    note: str | None


async def events_of_issue(tx: Tx, issue_id: int) -> list[ForwardEvent]:
    """Every event of every forward of the report, oldest first."""
    rows = await tx.all(
        "SELECT e.at, m.name, e.kind, ag.name, e.note FROM forward_events e"
        " JOIN forwards f ON f.id = e.forward_id JOIN agencies ag ON ag.id = f.agency_id"
        " LEFT JOIN members m ON m.id = e.actor_id WHERE f.issue_id = ? ORDER BY e.at, e.id",
        (issue_id,),
    )
    out: list[ForwardEvent] = []
    for row in rows:
        at = from_db(row[0])
        assert at is not None
        out.append(ForwardEvent(at, row[1], row[2], row[3], row[4]))
    return out
