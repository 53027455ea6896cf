"""Circulars (siaran), their recipients and read receipts, and scheduled announcements.

A circular is a draft until its author confirms it; the confirm (or a scheduled
announcement firing) writes one outbox row per reachable recipient in the same
transaction, linked from ``circular_recipients.outbox_id``. Every state move is a
compare-and-swap, so a replayed confirm or a second read press changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from storage.db import Row, Tx, from_db, to_db
from storage.outbox import Priority, unpaid

KIND = "circular"
GROUP_KIND = "circular_group"
"""The copy for a posko bersama group of the circular's area (no read button)."""
REPORT_KIND = "circular_report"
BROADCAST_KINDS = frozenset({KIND, GROUP_KIND})
"""The copies of a circular: what ``[delivery] paid_broadcast`` sends as a paid broadcast."""


@dataclass(frozen=True, slots=True)
class Recipient:
    member_id: int
    chat_id: int
    language: str | None
    """The member's own setting, else what their Telegram app reported."""
    unreachable: bool


@dataclass(frozen=True, slots=True)
class Circular:
    id: int
    author_id: int
    scope: str
    text: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None
    report_chat_id: int | None
    report_message_id: int | None
    report_updated_at: datetime | None
    report_digest: str | None
    report_dirty: bool
    report_outbox_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> Circular:
        created = from_db(row["created_at"])
        assert created is not None
        return cls(
            id=row["id"],
            author_id=row["author_id"],
            scope=row["scope"],
            text=row["text"],
            status=row["status"],
            created_at=created,
            confirmed_at=from_db(row["confirmed_at"]),
            report_chat_id=row["report_chat_id"],
            report_message_id=row["report_message_id"],
            report_updated_at=from_db(row["report_updated_at"]),
            report_digest=row["report_digest"],
            report_dirty=bool(row["report_dirty"]),
            report_outbox_id=row["report_outbox_id"],
        )


@dataclass(frozen=True, slots=True)
class Figures:
    total: int
    sent: int
    pending: int
    failed: int
    blocked: int
    read: int
    unpaid: int = 0
    """Of the failed, those Telegram refused because the bot's Stars ran out (paid broadcast)."""

    def digest(self, status: str) -> str:
        figures = (self.total, self.sent, self.pending, self.failed, self.blocked, self.read)
        return "|".join([*map(str, figures), str(self.unpaid), status])


@dataclass(frozen=True, slots=True)
class Unread:
    name: str
    area_id: int | None
    unreachable: bool


@dataclass(frozen=True, slots=True)
class Announcement:
    id: int
    author_id: int
    fire_at: datetime
    scope: str
    text: str
    fired_at: datetime | None
    circular_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> Announcement:
        fire_at = from_db(row["fire_at"])
        assert fire_at is not None
        return cls(
            id=row["id"],
            author_id=row["author_id"],
            fire_at=fire_at,
            scope=row["scope"],
            text=row["text"],
            fired_at=from_db(row["fired_at"]),
            circular_id=row["circular_id"],
        )


class ReadOutcome(Enum):
    READ = "read"
    ALREADY = "already"
    NOT_RECIPIENT = "not_recipient"


# --------------------------------------------------------------------------------------------
# Recipients by scope (registered members only: they have a Telegram chat)
# --------------------------------------------------------------------------------------------

_RECIPIENTS = (
    "SELECT m.id, m.telegram_id, COALESCE(m.language, m.client_language) AS language,"
    " m.unreachable_at IS NOT NULL AS unreachable FROM members m"
    " WHERE m.telegram_id IS NOT NULL"
)


def _recipients(rows: list[Row]) -> list[Recipient]:
    return [Recipient(row[0], row[1], row[2], bool(row[3])) for row in rows]


async def everyone(tx: Tx) -> list[Recipient]:
    return _recipients(await tx.all(f"{_RECIPIENTS} ORDER BY m.id"))


async def with_role(tx: Tx, role: str) -> list[Recipient]:
    rows = await tx.all(
        f"{_RECIPIENTS} AND EXISTS (SELECT 1 FROM member_roles r"
        " WHERE r.member_id = m.id AND r.role = ?) ORDER BY m.id",
        (role,),
    )
    return _recipients(rows)


async def of_agency(tx: Tx, agency_id: int) -> list[Recipient]:
    """The liaisons of a partner agency (SPEC §8: ``/siaran <agency code>``)."""
    rows = await tx.all(
        f"{_RECIPIENTS} AND m.agency_id = ? AND EXISTS (SELECT 1 FROM member_roles r"
        " WHERE r.member_id = m.id AND r.role = 'liaison') ORDER BY m.id",
        (agency_id,),
    )
    return _recipients(rows)


async def in_areas(tx: Tx, area_ids: Collection[int]) -> list[Recipient]:
    """Officers of posts in ``area_ids`` and supervisors scoped to one of them."""
    ids = json.dumps(sorted(area_ids))
    rows = await tx.all(
        f"{_RECIPIENTS} AND (EXISTS (SELECT 1 FROM assignments a JOIN posts p ON p.id = a.post_id"
        " WHERE a.member_id = m.id"
        " AND p.area_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?)))"
        " OR (EXISTS (SELECT 1 FROM scopes s WHERE s.member_id = m.id"
        " AND s.area_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?)))"
        " AND EXISTS (SELECT 1 FROM member_roles r WHERE r.member_id = m.id"
        " AND r.role = 'supervisor'))) ORDER BY m.id",
        (ids, ids),
    )
    return _recipients(rows)


async def of_post(tx: Tx, post_id: int) -> list[Recipient]:
    rows = await tx.all(
        f"{_RECIPIENTS} AND EXISTS (SELECT 1 FROM assignments a"
        " WHERE a.member_id = m.id AND a.post_id = ?) ORDER BY m.id",
        (post_id,),
    )
    return _recipients(rows)


# --------------------------------------------------------------------------------------------
# Circulars
# --------------------------------------------------------------------------------------------


async def create(
    tx: Tx, author_id: int, scope: str, text: str, now: datetime, *, status: str = "draft"
) -> int:
    stamp = to_db(now)
    return await tx.insert(
        "INSERT INTO circulars (author_id, scope, text, status, created_at, confirmed_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (author_id, scope, text, status, stamp, None if status == "draft" else stamp),
    )


async def by_id(tx: Tx, circular_id: int) -> Circular | None:
    row = await tx.one("SELECT * FROM circulars WHERE id = ?", (circular_id,))
    return None if row is None else Circular.from_row(row)


async def latest_sent(tx: Tx, author_id: int | None = None) -> Circular | None:
    """The newest circular sent (by ``author_id`` when given)."""
    if author_id is None:
        row = await tx.one(
            "SELECT * FROM circulars WHERE status IN ('sending', 'done') ORDER BY id DESC LIMIT 1"
        )
    else:
        row = await tx.one(
            "SELECT * FROM circulars WHERE status IN ('sending', 'done') AND author_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (author_id,),
        )
    return None if row is None else Circular.from_row(row)


async def confirm(
    tx: Tx,
    circular_id: int,
    author_id: int,
    now: datetime,
    report_chat_id: int | None,
    report_message_id: int | None,
) -> bool:
    """draft → sending, by its author only; False when it was not a draft any more."""
    changed = await tx.execute(
        "UPDATE circulars SET status = 'sending', confirmed_at = ?, report_chat_id = ?,"
        " report_message_id = ?, report_updated_at = ?"
        " WHERE id = ? AND author_id = ? AND status = 'draft'",
        (to_db(now), report_chat_id, report_message_id, to_db(now), circular_id, author_id),
    )
    return changed == 1


async def cancel(tx: Tx, circular_id: int, author_id: int) -> bool:
    changed = await tx.execute(
        "UPDATE circulars SET status = 'cancelled'"
        " WHERE id = ? AND author_id = ? AND status = 'draft'",
        (circular_id, author_id),
    )
    return changed == 1


async def add_recipients(
    tx: Tx,
    circular_id: int,
    copies: Sequence[tuple[int, str]],
    unreachable_member_ids: Sequence[int],
    now: datetime,
) -> None:
    """One BULK outbox row per ``(chat_id, payload JSON)`` and a recipient row linked to it;
    members already known unreachable get a recipient row without an outbox row."""
    stamp = to_db(now)
    if copies:
        await tx.executemany(
            "INSERT INTO outbox (chat_id, priority, kind, method, payload, ref_type, ref_id,"
            " not_before, created_at) VALUES (?, ?, ?, 'sendMessage', ?, ?, ?, ?, ?)",
            [
                (chat_id, int(Priority.BULK), KIND, payload, KIND, circular_id, stamp, stamp)
                for chat_id, payload in copies
            ],
        )
        await tx.execute(
            "INSERT INTO circular_recipients (circular_id, member_id, outbox_id)"
            " SELECT ?, m.id, o.id FROM outbox o JOIN members m ON m.telegram_id = o.chat_id"
            " WHERE o.ref_type = ? AND o.ref_id = ?",
            (circular_id, KIND, circular_id),
        )
        tx.touched_outbox = True
    if unreachable_member_ids:
        await tx.executemany(
            "INSERT INTO circular_recipients (circular_id, member_id) VALUES (?, ?)",
            [(circular_id, member_id) for member_id in unreachable_member_ids],
        )


async def figures(tx: Tx, circular_id: int) -> Figures:
    """Delivery figures; a failed copy to a member now marked unreachable counts as
    blocked, as does a member who was unreachable already (no copy was queued)."""
    row = await tx.one(
        "SELECT COUNT(*),"
        " COUNT(*) FILTER (WHERE o.status = 'sent'),"
        " COUNT(*) FILTER (WHERE o.status IN ('pending', 'sending')),"
        " COUNT(*) FILTER (WHERE o.status = 'failed' AND m.unreachable_at IS NULL),"
        " COUNT(*) FILTER"
        "  (WHERE o.id IS NULL OR (o.status = 'failed' AND m.unreachable_at IS NOT NULL)),"
        " COUNT(*) FILTER (WHERE r.read_at IS NOT NULL),"
        " COUNT(*) FILTER (WHERE o.status = 'failed' AND m.unreachable_at IS NULL"
        f"  AND {unpaid('o.error')})"
        " FROM circular_recipients r JOIN members m ON m.id = r.member_id"
        " LEFT JOIN outbox o ON o.id = r.outbox_id WHERE r.circular_id = ?",
        (circular_id,),
    )
    assert row is not None
    return Figures(*(int(value) for value in row))


async def retry_unpaid(tx: Tx, circular_id: int, now: datetime) -> int:
    """Queue again the copies Telegram refused for want of Stars (the balance was topped
    up); the circular is sending again until they are through. Returns how many."""
    again = await tx.execute(
        "UPDATE outbox SET status = 'pending', error = NULL, not_before = ?"
        f" WHERE status = 'failed' AND {unpaid('error')} AND id IN"
        " (SELECT r.outbox_id FROM circular_recipients r JOIN members m ON m.id = r.member_id"
        "  WHERE r.circular_id = ? AND m.unreachable_at IS NULL)",
        (to_db(now), circular_id),
    )
    if again:
        tx.touched_outbox = True
        await tx.execute(
            "UPDATE circulars SET status = 'sending' WHERE id = ? AND status = 'done'",
            (circular_id,),
        )
    return again


async def unread(tx: Tx, circular_id: int) -> list[Unread]:
    """Recipients who have not pressed "read", each with the area they work in (their
    first post's area, else their first scope area)."""
    rows = await tx.all(
        "SELECT m.name, COALESCE("
        " (SELECT p.area_id FROM assignments a JOIN posts p ON p.id = a.post_id"
        "  WHERE a.member_id = m.id ORDER BY p.id LIMIT 1),"
        " (SELECT s.area_id FROM scopes s WHERE s.member_id = m.id ORDER BY s.area_id LIMIT 1)),"
        " m.unreachable_at IS NOT NULL"
        " FROM circular_recipients r JOIN members m ON m.id = r.member_id"
        " WHERE r.circular_id = ? AND r.read_at IS NULL ORDER BY m.name",
        (circular_id,),
    )
    return [Unread(row[0], row[1], bool(row[2])) for row in rows]


async def mark_read(tx: Tx, circular_id: int, member_id: int, now: datetime) -> ReadOutcome:
    found = await tx.one(
        "SELECT read_at FROM circular_recipients WHERE circular_id = ? AND member_id = ?",
        (circular_id, member_id),
    )
    if found is None:
        return ReadOutcome.NOT_RECIPIENT
    changed = await tx.execute(
        "UPDATE circular_recipients SET read_at = ?"
        " WHERE circular_id = ? AND member_id = ? AND read_at IS NULL",
        (to_db(now), circular_id, member_id),
    )
    if changed != 1:
        return ReadOutcome.ALREADY
    await tx.execute("UPDATE circulars SET report_dirty = 1 WHERE id = ?", (circular_id,))
    return ReadOutcome.READ


# --------------------------------------------------------------------------------------------
# The delivery report, edited in place
# --------------------------------------------------------------------------------------------


async def live(tx: Tx) -> list[Circular]:
    """Circulars whose report may need an edit: still sending, or a read came in."""
    rows = await tx.all(
        "SELECT * FROM circulars WHERE status = 'sending' OR report_dirty = 1 ORDER BY id"
    )
    return [Circular.from_row(row) for row in rows]


async def finish(tx: Tx, circular_id: int) -> bool:
    changed = await tx.execute(
        "UPDATE circulars SET status = 'done' WHERE id = ? AND status = 'sending'",
        (circular_id,),
    )
    return changed == 1


async def set_dirty(tx: Tx, circular_id: int, dirty: bool) -> None:
    await tx.execute(
        "UPDATE circulars SET report_dirty = ? WHERE id = ?", (int(dirty), circular_id)
    )


async def note_report(tx: Tx, circular_id: int, digest: str, now: datetime) -> None:
    """The figures ``digest`` were (or are queued to be) shown to the author at ``now``."""
    await tx.execute(
        "UPDATE circulars SET report_digest = ?, report_updated_at = ?, report_dirty = 0"
        " WHERE id = ?",
        (digest, to_db(now), circular_id),
    )


async def set_report_message(
    tx: Tx, circular_id: int, chat_id: int | None, message_id: int | None
) -> None:
    await tx.execute(
        "UPDATE circulars SET report_chat_id = ?, report_message_id = ? WHERE id = ?",
        (chat_id, message_id, circular_id),
    )


async def set_report_outbox(tx: Tx, circular_id: int, chat_id: int, outbox_id: int) -> None:
    await tx.execute(
        "UPDATE circulars SET report_chat_id = ?, report_outbox_id = ? WHERE id = ?",
        (chat_id, outbox_id, circular_id),
    )


async def outbox_state(tx: Tx, outbox_id: int) -> tuple[str, int | None] | None:
    """(status, message_id) of one outbox row."""
    row = await tx.one("SELECT status, message_id FROM outbox WHERE id = ?", (outbox_id,))
    return None if row is None else (str(row[0]), row[1])


async def edit_queued(tx: Tx, circular_id: int) -> bool:
    """Is an edit of this circular's report still waiting to be sent?"""
    found = await tx.scalar(
        "SELECT 1 FROM outbox WHERE ref_type = ? AND ref_id = ?"
        " AND status IN ('pending', 'sending') LIMIT 1",
        (REPORT_KIND, circular_id),
    )
    return found is not None


# --------------------------------------------------------------------------------------------
# Scheduled announcements
# --------------------------------------------------------------------------------------------


async def schedule(
    tx: Tx, author_id: int, fire_at: datetime, scope: str, text: str, now: datetime
) -> int:
    return await tx.insert(
        "INSERT INTO announcements (author_id, fire_at, scope, text, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (author_id, to_db(fire_at), scope, text, to_db(now)),
    )


async def announcement(tx: Tx, announcement_id: int) -> Announcement | None:
    row = await tx.one("SELECT * FROM announcements WHERE id = ?", (announcement_id,))
    return None if row is None else Announcement.from_row(row)


async def pending_announcements(tx: Tx, limit: int) -> tuple[list[Announcement], int]:
    """The next ``limit`` unfired announcements, soonest first, and how many there are."""
    rows = await tx.all(
        "SELECT * FROM announcements WHERE fired_at IS NULL ORDER BY fire_at, id LIMIT ?",
        (limit,),
    )
    total = await tx.scalar("SELECT COUNT(*) FROM announcements WHERE fired_at IS NULL")
    return [Announcement.from_row(row) for row in rows], int(total or 0)


async def remove_announcement(tx: Tx, announcement_id: int) -> bool:
    """Delete an announcement that has not fired; False when it fired or does not exist."""
    changed = await tx.execute(
        "DELETE FROM announcements WHERE id = ? AND fired_at IS NULL", (announcement_id,)
    )
    return changed == 1


async def due_announcements(tx: Tx, now: datetime, limit: int) -> list[Announcement]:
    rows = await tx.all(
        "SELECT * FROM announcements WHERE fired_at IS NULL AND fire_at <= ?"
        " ORDER BY fire_at, id LIMIT ?",
        (to_db(now), limit),
    )
    return [Announcement.from_row(row) for row in rows]


async def next_fire_at(tx: Tx) -> datetime | None:
    return from_db(await tx.scalar("SELECT MIN(fire_at) FROM announcements WHERE fired_at IS NULL"))


async def claim_announcement(tx: Tx, announcement_id: int, now: datetime) -> bool:
    """Fire once: the compare-and-swap on ``fired_at``."""
    changed = await tx.execute(
        "UPDATE announcements SET fired_at = ? WHERE id = ? AND fired_at IS NULL",
        (to_db(now), announcement_id),
    )
    return changed == 1


async def link_announcement(tx: Tx, announcement_id: int, circular_id: int) -> None:
    await tx.execute(
        "UPDATE announcements SET circular_id = ? WHERE id = ?", (circular_id, announcement_id)
    )


async def area_labels(tx: Tx, area_ids: Collection[int]) -> dict[int, tuple[str, str]]:
    """area id → (level, name), for naming where the unread recipients work."""
    rows = await tx.all(
        "SELECT id, level, name FROM areas"
        " WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
        (json.dumps(sorted(area_ids)),),
    )
    return {row[0]: (row[1], row[2]) for row in rows}
