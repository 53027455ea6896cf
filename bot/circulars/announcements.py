"""Scheduled announcements (``/jadwal``): each fires once, as a circular without a
confirm step, across restarts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.circulars.circular import Scope, check_length, queue_copies, recipients, resolve_scope
from bot.circulars.receipts import queue_report, refresh_reports
from bot.core.access import language_of
from bot.core.clock import WIB, day_hhmm
from storage import audit, members
from storage import circulars as store
from storage.circulars import Announcement
from storage.db import Database
from storage.records import Member

log = logging.getLogger(__name__)

FIRE_BATCH = 20


# --------------------------------------------------------------------------------------------
# Scheduled announcements
# --------------------------------------------------------------------------------------------


class ScheduleStatus(Enum):
    ADDED = "added"
    USAGE = "usage"
    BAD_TIME = "bad_time"
    PAST = "past"
    UNKNOWN_SCOPE = "unknown_scope"
    TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class Scheduled:
    status: ScheduleStatus
    announcement_id: int = 0
    fire_at: datetime | None = None
    scope: Scope | None = None
    scope_word: str = ""
    when: str = ""
    count: int = 0
    length: int = 0
    limit: int = 0


def parse_when(day: str, clock_time: str) -> datetime | None:
    """'2026-11-27' '07:00' in WIB → an aware datetime; None when unreadable."""
    try:
        local = datetime.strptime(f"{day} {clock_time}", "%Y-%m-%d %H:%M")
    except ValueError:
        return None
    # Years far off cannot be converted to UTC at the edges (year 1, 9999); none is meant.
    if not 2000 <= local.year <= 2100:
        return None
    return local.replace(tzinfo=WIB)


async def schedule(db: Database, author: Member, args: str, now: datetime) -> Scheduled:
    parts = args.split(maxsplit=3)
    if len(parts) < 4 or not parts[3].strip():
        return Scheduled(ScheduleStatus.USAGE)
    day, clock_time, word, text = parts[0], parts[1], parts[2], parts[3].strip()
    fire_at = parse_when(day, clock_time)
    when = f"{day} {clock_time}"[:32]
    if fire_at is None:
        return Scheduled(ScheduleStatus.BAD_TIME, when=when)
    if fire_at <= now:
        return Scheduled(ScheduleStatus.PAST, fire_at=fire_at, when=day_hhmm(fire_at))
    too_long = check_length(text)
    if too_long is not None:
        return Scheduled(ScheduleStatus.TOO_LONG, length=too_long[0], limit=too_long[1])
    async with db.transaction() as tx:
        scope = await resolve_scope(tx, word)
        if scope is None:
            return Scheduled(ScheduleStatus.UNKNOWN_SCOPE, scope_word=word[:32])
        count = len(await recipients(tx, scope))
        announcement_id = await store.schedule(tx, author.id, fire_at, scope.key, text, now)
        await audit.record(
            tx,
            now,
            author.id,
            "schedule",
            "announcement",
            announcement_id,
            fire_at=fire_at,
            scope=scope.key,
        )
    return Scheduled(
        ScheduleStatus.ADDED, announcement_id, fire_at, scope, word, day_hhmm(fire_at), count
    )


async def pending(db: Database, limit: int) -> tuple[list[Announcement], int]:
    async with db.read() as tx:
        return await store.pending_announcements(tx, limit)


class RemoveStatus(Enum):
    REMOVED = "removed"
    FIRED = "fired"
    UNKNOWN = "unknown"


async def unschedule(
    db: Database, author: Member, announcement_id: int, now: datetime
) -> tuple[RemoveStatus, Announcement | None]:
    async with db.transaction() as tx:
        found = await store.announcement(tx, announcement_id)
        if found is None:
            return RemoveStatus.UNKNOWN, None
        if not await store.remove_announcement(tx, announcement_id):
            return RemoveStatus.FIRED, found
        await audit.record(tx, now, author.id, "unschedule", "announcement", announcement_id)
    return RemoveStatus.REMOVED, found


async def fire_due(db: Database, now: datetime, default_language: str) -> list[int]:
    """Send every announcement that is due as a circular; each fires exactly once."""
    async with db.read() as tx:
        due = await store.due_announcements(tx, now, FIRE_BATCH)
    fired: list[int] = []
    for item in due:
        async with db.transaction() as tx:
            if not await store.claim_announcement(tx, item.id, now):
                continue  # fired by an earlier pass
            scope = await resolve_scope(tx, item.scope)
            circular_id = await store.create(
                tx, item.author_id, item.scope, item.text, now, status="sending"
            )
            await store.link_announcement(tx, item.id, circular_id)
            await queue_copies(tx, circular_id, item.text, scope, now, default_language)
            figures = await store.figures(tx, circular_id)
            circular = await store.by_id(tx, circular_id)
            assert circular is not None
            author = await members.by_id(tx, item.author_id)
            if author is not None and author.telegram_id is not None:
                language = language_of(author, None, default_language)
                await queue_report(tx, circular, figures, author.telegram_id, language, now)
            await store.note_report(tx, circular_id, figures.digest(circular.status), now)
            await audit.record(
                tx,
                now,
                item.author_id,
                "fire",
                "announcement",
                item.id,
                circular=circular_id,
                recipients=figures.total,
            )
        fired.append(item.id)
        log.info("announcement %d fired as circular %d", item.id, circular_id)
    return fired


async def tick(db: Database, now: datetime, default_language: str) -> None:
    """One pass of the circulars job: fire due announcements, then refresh reports."""
    await fire_due(db, now, default_language)
    await refresh_reports(db, now, default_language)


async def next_fire_at(db: Database) -> datetime | None:
    async with db.read() as tx:
        return await store.next_fire_at(tx)
