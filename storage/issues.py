"""Issues (laporan): field reports with photos and an append-only event history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, to_db
from storage.records import Issue


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


async def create(tx: Tx, issue: NewIssue, now: datetime) -> Issue:
    """Store the issue with the post's next reference number, its photos and a 'created' event."""
    seq = int(
        await tx.scalar(
            "UPDATE posts SET issue_seq = issue_seq + 1 WHERE id = ? RETURNING issue_seq",
            (issue.post_id,),
        )
    )
    ref = f"{issue.post_code}/{seq:04d}"
    stamp = to_db(now)
    issue_id = await tx.insert(
        "INSERT INTO issues (ref, post_id, reporter_id, category, severity, text, latitude,"
        " longitude, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ref,
            issue.post_id,
            issue.reporter_id,
            issue.category,
            issue.severity,
            issue.text,
            issue.latitude,
            issue.longitude,
            stamp,
            stamp,
        ),
    )
    await tx.executemany(
        "INSERT INTO issue_photos (issue_id, position, file_id) VALUES (?, ?, ?)",
        [(issue_id, position, file_id) for position, file_id in enumerate(issue.photos)],
    )
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
        " FROM issues i WHERE ref = ? COLLATE NOCASE",
        (ref,),
    )
    return None if row is None else Issue.from_row(row)


async def photos(tx: Tx, issue_id: int) -> list[str]:
    rows = await tx.all(
        "SELECT file_id FROM issue_photos WHERE issue_id = ? ORDER BY position", (issue_id,)
    )
    return [row[0] for row in rows]


async def open_count_for_post(tx: Tx, post_id: int) -> int:
    return int(
        await tx.scalar(
            "SELECT count(*) FROM issues WHERE post_id = ? AND status IN"
            " ('baru', 'diterima', 'ditangani')",
            (post_id,),
        )
    )
