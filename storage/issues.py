"""Issues (laporan): field reports with photos and an append-only event history."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Row, Tx, from_db, to_db
from storage.records import Issue
from storage.watch import Recipient, recipient_language


@dataclass(frozen=True, slots=True)
class NewIssue:
    post_id: int
    post_code: str
    reporter_id: int
    category: str
    severity: str
    text: str
    photos: Sequence[str]
    latitude: float | None
    longitude: float | None
    kinds: Sequence[str] = ()
    """What each photo is (photo, image, video); missing entries are photos."""


async def _add_photos(tx: Tx, issue_id: int, issue: NewIssue) -> None:
    await tx.executemany(
        "INSERT INTO issue_photos (issue_id, position, file_id, kind) VALUES (?, ?, ?, ?)",
        [
            (
                issue_id,
                position,
                file_id,
                issue.kinds[position] if position < len(issue.kinds) else "photo",
            )
            for position, file_id in enumerate(issue.photos)
        ],
    )


async def create(tx: Tx, issue: NewIssue, now: datetime) -> Issue:
    """Store the issue with the post's next reference number, its photos and a 'created' event."""
    stamp = to_db(now)
    facts = (
        issue.post_id,
        issue.reporter_id,
        issue.category,
        issue.severity,
        issue.text,
        issue.latitude,
        issue.longitude,
        stamp,
        stamp,
    )
    if tx.dialect == "postgresql":  # one round trip instead of three (SQLite has no DML in WITH)
        row = await tx.one(
            "WITH seq AS (UPDATE posts SET issue_seq = issue_seq + 1 WHERE id = ?"
            " RETURNING issue_seq),"
            " new AS (INSERT INTO issues (ref, post_id, reporter_id, category, severity, text,"
            " latitude, longitude, created_at, updated_at)"
            " VALUES ((SELECT CAST(? AS TEXT) || '/' || lpad(CAST(issue_seq AS TEXT),"
            " greatest(4, length(CAST(issue_seq AS TEXT))), '0') FROM seq),"
            " ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, ref),"
            " event AS (INSERT INTO issue_events (issue_id, at, actor_id, kind, to_status)"
            " SELECT id, ?, ?, 'created', 'baru' FROM new)"
            " SELECT id, ref FROM new",
            (issue.post_id, issue.post_code, *facts, stamp, issue.reporter_id),
        )
        assert row is not None  # VALUES always inserts (or raises)
        issue_id, ref = int(row[0]), str(row[1])
        await _add_photos(tx, issue_id, issue)
    else:
        seq = int(
            await tx.scalar(
                "UPDATE posts SET issue_seq = issue_seq + 1 WHERE id = ? RETURNING issue_seq",
                (issue.post_id,),
            )
        )
        ref = f"{issue.post_code}/{seq:04d}"
        issue_id = await tx.insert(
            "INSERT INTO issues (ref, post_id, reporter_id, category, severity, text, latitude,"
            " longitude, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ref, *facts),
        )
        await _add_photos(tx, issue_id, issue)
        await tx.execute(
            "INSERT INTO issue_events (issue_id, at, actor_id, kind, to_status)"
            " VALUES (?, ?, ?, 'created', 'baru')",
            (issue_id, stamp, issue.reporter_id),
        )
    return Issue(
        id=issue_id,
        ref=ref,
        post_id=issue.post_id,
        reporter_id=issue.reporter_id,
        category=issue.category,
        severity=issue.severity,
        text=issue.text,
        status="baru",
        created_at=now,
        photo_count=len(issue.photos),
        latitude=issue.latitude,
        longitude=issue.longitude,
    )


async def by_reporter(tx: Tx, reporter_id: int, limit: int = 10) -> list[Issue]:
    rows = await tx.all(
        "SELECT i.*, (SELECT count(*) FROM issue_photos p WHERE p.issue_id = i.id) AS photo_count"
        " FROM issues i WHERE reporter_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        (reporter_id, limit),
    )
    return [Issue.from_row(row) for row in rows]


async def by_ref(tx: Tx, ref: str) -> Issue | None:
    row = await tx.one(
        "SELECT i.*, (SELECT count(*) FROM issue_photos p WHERE p.issue_id = i.id) AS photo_count"
        " FROM issues i WHERE upper(ref) = upper(?)",
        (ref,),
    )
    return None if row is None else Issue.from_row(row)


async def photos(tx: Tx, issue_id: int) -> list[str]:
    rows = await tx.all(
        "SELECT file_id FROM issue_photos WHERE issue_id = ? ORDER BY position", (issue_id,)
    )
    return [row[0] for row in rows]


async def media(tx: Tx, issue_id: int) -> list[tuple[str, str]]:
    """(file_id, kind) of every attachment in order; kind is photo, image or video."""
    rows = await tx.all(
        "SELECT file_id, kind FROM issue_photos WHERE issue_id = ? ORDER BY position",
        (issue_id,),
    )
    return [(str(row[0]), str(row[1])) for row in rows]


async def open_count_for_post(tx: Tx, post_id: int) -> int:
    return int(
        await tx.scalar(
            "SELECT count(*) FROM issues WHERE post_id = ? AND status IN"
            " ('baru', 'diterima', 'ditangani')",
            (post_id,),
        )
    )


# --------------------------------------------------------------------------------------------
# The supervisor's desk: issues with what is needed to show them, scoped lists, and status
# changes as compare-and-swap on ``status`` with their event row.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueCard:
    """An issue with the names needed to show it and to tell its reporter."""

    issue: Issue
    post_code: str
    post_name: str
    area_id: int
    reporter_name: str
    reporter_telegram_id: int | None
    reporter_language: str | None
    reporter_client_language: str | None
    assignee_name: str | None
    last_actor_name: str | None


_CARD_SELECT = (
    "SELECT i.*,"
    " (SELECT count(*) FROM issue_photos ph WHERE ph.issue_id = i.id) AS photo_count,"
    " p.code AS post_code, p.name AS post_name, p.area_id AS area_id,"
    " r.name AS reporter_name, r.telegram_id AS reporter_telegram_id,"
    " r.language AS reporter_language, r.client_language AS reporter_client_language,"
    " a.name AS assignee_name,"
    " (SELECT m.name FROM issue_events e JOIN members m ON m.id = e.actor_id"
    "  WHERE e.issue_id = i.id AND e.kind IN ('status', 'withdrawn')"
    "  ORDER BY e.id DESC LIMIT 1)"
    " AS last_actor_name"
    " FROM issues i JOIN posts p ON p.id = i.post_id JOIN members r ON r.id = i.reporter_id"
    " LEFT JOIN members a ON a.id = i.assignee_id"
)


def _card(row: Row) -> IssueCard:
    return IssueCard(
        issue=Issue.from_row(row),
        post_code=row["post_code"],
        post_name=row["post_name"],
        area_id=row["area_id"],
        reporter_name=row["reporter_name"],
        reporter_telegram_id=row["reporter_telegram_id"],
        reporter_language=row["reporter_language"],
        reporter_client_language=row["reporter_client_language"],
        assignee_name=row["assignee_name"],
        last_actor_name=row["last_actor_name"],
    )


async def card(tx: Tx, issue_id: int) -> IssueCard | None:
    row = await tx.one(f"{_CARD_SELECT} WHERE i.id = ?", (issue_id,))
    return None if row is None else _card(row)


async def card_by_ref(tx: Tx, ref: str) -> IssueCard | None:
    row = await tx.one(f"{_CARD_SELECT} WHERE upper(i.ref) = upper(?)", (ref,))
    return None if row is None else _card(row)


@dataclass(frozen=True, slots=True)
class Where:
    """Issues of posts in ``area_ids`` (None: everywhere) with one of ``statuses``, and
    optionally of one severity or one post."""

    area_ids: Collection[int] | None
    statuses: Sequence[str]
    severity: str | None = None
    post_id: int | None = None


def _where(where: Where) -> tuple[str, list[Any]]:
    clauses = ["i.status IN (SELECT value FROM json_each(?))"]
    params: list[Any] = [json.dumps(list(where.statuses))]
    if where.area_ids is not None:
        clauses.append("p.area_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))")
        params.append(json.dumps(sorted(where.area_ids)))
    if where.severity is not None:
        clauses.append("i.severity = ?")
        params.append(where.severity)
    if where.post_id is not None:
        clauses.append("i.post_id = ?")
        params.append(where.post_id)
    return " AND ".join(clauses), params


SEVERITY_FIRST = (
    "CASE i.severity WHEN 'darurat' THEN 0 WHEN 'tinggi' THEN 1 WHEN 'sedang' THEN 2 ELSE 3 END"
)


async def count_in_areas(tx: Tx, where: Where) -> int:
    clause, params = _where(where)
    return int(
        await tx.scalar(
            f"SELECT count(*) FROM issues i JOIN posts p ON p.id = i.post_id WHERE {clause}",
            params,
        )
    )


async def cards_in_areas(tx: Tx, where: Where, limit: int, offset: int = 0) -> list[IssueCard]:
    """The most severe first, then the newest."""
    clause, params = _where(where)
    rows = await tx.all(
        f"{_CARD_SELECT} WHERE {clause}"
        f" ORDER BY {SEVERITY_FIRST}, i.created_at DESC, i.id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [_card(row) for row in rows]


async def change_status(
    tx: Tx,
    issue_id: int,
    from_status: str,
    to_status: str,
    actor_id: int,
    note: str | None,
    now: datetime,
    *,
    assign: bool,
) -> bool:
    """Compare-and-swap ``from_status`` → ``to_status`` with its event; False if the issue
    was no longer in ``from_status``. ``assign`` makes the actor the assignee; otherwise
    the actor becomes it only when nobody is. Any move ends the wait for acceptance."""
    stamp = to_db(now)
    changed = await tx.execute(
        "UPDATE issues SET status = ?, updated_at = ?, next_due_at = NULL,"
        " assignee_id = CASE WHEN ? THEN ? ELSE COALESCE(assignee_id, ?) END"
        " WHERE id = ? AND status = ?",
        (to_status, stamp, int(assign), actor_id, actor_id, issue_id, from_status),
    )
    if changed != 1:
        return False
    await tx.execute(
        "INSERT INTO issue_events (issue_id, at, actor_id, kind, from_status, to_status, note)"
        " VALUES (?, ?, ?, 'status', ?, ?, ?)",
        (issue_id, stamp, actor_id, from_status, to_status, note),
    )
    return True


async def announced_to(tx: Tx, issue_id: int, kind: str) -> list[Recipient]:
    """Chats that were sent the issue's announcement (outbox rows of ``kind``), with the
    language of the member behind each chat where there is one."""
    rows = await tx.all(
        "SELECT o.chat_id, o.topic_id, m.id, m.language, m.client_language"
        " FROM (SELECT chat_id, topic_id, min(id) AS first FROM outbox"
        "       WHERE ref_type = 'issue' AND ref_id = ? AND kind = ?"
        "       GROUP BY chat_id, topic_id) AS o"
        " LEFT JOIN members m ON m.telegram_id = o.chat_id ORDER BY o.first",
        (issue_id, kind),
    )
    return [
        Recipient(
            row[0],
            row[2],
            recipient_language(row[3], row[4]),
            row[1],
        )
        for row in rows
    ]


# --- follow-up of accepted reports (issue 9) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class DueFollowUp:
    id: int
    stage: int


async def set_follow_up(tx: Tx, issue_id: int, due: datetime | None) -> None:
    """Start (or stop, with None) the follow-up clock of an issue; back to stage 0."""
    await tx.execute(
        "UPDATE issues SET follow_up_due_at = ?, follow_up_stage = 0 WHERE id = ?",
        (to_db(due), issue_id),
    )


async def due_follow_ups(tx: Tx, now: datetime, limit: int) -> list[DueFollowUp]:
    rows = await tx.all(
        "SELECT id, follow_up_stage FROM issues WHERE follow_up_due_at IS NOT NULL"
        " AND follow_up_due_at <= ? ORDER BY follow_up_due_at LIMIT ?",
        (to_db(now), limit),
    )
    return [DueFollowUp(row[0], row[1]) for row in rows]


async def advance_follow_up(
    tx: Tx, issue_id: int, stage_was: int, stage: int, due: datetime | None
) -> bool:
    """Compare-and-swap on the stage, only while the issue is still diterima/ditangani."""
    changed = await tx.execute(
        "UPDATE issues SET follow_up_stage = ?, follow_up_due_at = ? WHERE id = ?"
        " AND follow_up_stage = ? AND follow_up_due_at IS NOT NULL"
        " AND status IN ('diterima', 'ditangani')",
        (stage, to_db(due), issue_id, stage_was),
    )
    return changed == 1


async def updated_at(tx: Tx, issue_id: int) -> datetime | None:
    return from_db(await tx.scalar("SELECT updated_at FROM issues WHERE id = ?", (issue_id,)))


# --------------------------------------------------------------------------------------------
# The reporter's corrections while the issue is still new, and the event history.
# --------------------------------------------------------------------------------------------

CORRECTABLE = ("category", "severity")


@dataclass(frozen=True, slots=True)
class IssueEvent:
    at: datetime
    actor_name: str | None
    kind: str
    """created, status, withdrawn, corrected (note 'field:old:new'), note."""
    from_status: str | None
    to_status: str | None
    note: str | None


async def withdraw(tx: Tx, issue_id: int, reporter_id: int, now: datetime) -> bool:
    """The reporter takes back a still-new issue: closed, no longer climbing. False if it
    is not theirs or no longer new."""
    stamp = to_db(now)
    changed = await tx.execute(
        "UPDATE issues SET status = 'ditolak', withdrawn_at = ?, updated_at = ?,"
        " next_due_at = NULL WHERE id = ? AND reporter_id = ? AND status = 'baru'",
        (stamp, stamp, issue_id, reporter_id),
    )
    if changed != 1:
        return False
    await tx.execute(
        "INSERT INTO issue_events (issue_id, at, actor_id, kind, from_status, to_status)"
        " VALUES (?, ?, ?, 'withdrawn', 'baru', 'ditolak')",
        (issue_id, stamp, reporter_id),
    )
    return True


async def correct(
    tx: Tx, issue_id: int, reporter_id: int, field: str, value: str, now: datetime
) -> str | None:
    """Set the category or severity of the reporter's still-new issue; the old value, or
    None when nothing changed (not theirs, no longer new, or the same value)."""
    if field not in CORRECTABLE:
        raise ValueError(field)
    old = await tx.scalar(
        f"SELECT {field} FROM issues WHERE id = ? AND reporter_id = ? AND status = 'baru'"
        " AND withdrawn_at IS NULL",
        (issue_id, reporter_id),
    )
    if old is None or old == value:
        return None
    stamp = to_db(now)
    changed = await tx.execute(
        f"UPDATE issues SET {field} = ?, updated_at = ? WHERE id = ? AND status = 'baru'"
        f" AND {field} = ?",
        (value, stamp, issue_id, old),
    )
    if changed != 1:
        return None
    await tx.execute(
        "INSERT INTO issue_events (issue_id, at, actor_id, kind, note)"
        " VALUES (?, ?, ?, 'corrected', ?)",
        (issue_id, stamp, reporter_id, f"{field}:{old}:{value}"),
    )
    return str(old)


async def add_note(tx: Tx, issue_id: int, actor_id: int, note: str, now: datetime) -> None:
    await tx.execute(
        "INSERT INTO issue_events (issue_id, at, actor_id, kind, note) VALUES (?, ?, ?, 'note', ?)",
        (issue_id, to_db(now), actor_id, note),
    )


async def events(tx: Tx, issue_id: int) -> list[IssueEvent]:
    """Every event of the issue, oldest first."""
    rows = await tx.all(
        "SELECT e.at, m.name, e.kind, e.from_status, e.to_status, e.note FROM issue_events e"
        " LEFT JOIN members m ON m.id = e.actor_id WHERE e.issue_id = ? ORDER BY e.at, e.id",
        (issue_id,),
    )
    result = []
    for row in rows:
        at = from_db(row[0])
        assert at is not None
        result.append(IssueEvent(at, row[1], row[2], row[3], row[4], row[5]))
    return result


async def append_media(tx: Tx, issue_id: int, file_id: str, kind: str, limit: int) -> int | None:
    """One more photo or video on an existing report, after the others; its new count, or
    None when the report already holds ``limit``."""
    count = int(
        await tx.scalar("SELECT count(*) FROM issue_photos WHERE issue_id = ?", (issue_id,))
    )
    if count >= limit:
        return None
    await tx.execute(
        "INSERT INTO issue_photos (issue_id, position, file_id, kind) VALUES (?, ?, ?, ?)",
        (issue_id, count + 1, file_id, kind),
    )
    return count + 1
