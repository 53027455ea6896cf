"""SQL for the recap (/rekap, the daily recap) and the map (/peta).

Everything a day's figures need is read in a handful of statements over the whole tree
(or one supervisor's subtree): the posts, the shifts, the pauses (from the audit log), the
alerts opened and the issues opened and resolved. The arithmetic lives in bot/insight/recap.py.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from storage.attendance import SlotFact, day_slots
from storage.db import Tx, from_db, to_db
from storage.records import Area, Post
from storage.watch import recipient_language

# A pause lasts at most 7 days (handlers/admin.py), so one that covers a day began at most
# this long before it.
PAUSE_LOOKBACK = timedelta(days=8)


@dataclass(frozen=True, slots=True)
class AlertFact:
    post_id: int
    kind: str
    opened_at: datetime
    acked_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None


@dataclass(frozen=True, slots=True)
class PauseMark:
    """One /jeda: a pause from ``at`` until ``until``, or a resume (``until`` None)."""

    post_id: int
    at: datetime
    until: datetime | None


@dataclass(frozen=True, slots=True)
class ForwardFact:
    """A report forwarded to a partner agency during the day (SPEC §8)."""

    post_id: int
    agency: str
    forwarded_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    state: str


@dataclass(frozen=True, slots=True)
class DayFacts:
    """The raw facts of one day (``start``..``end``, UTC) for a set of posts."""

    start: datetime
    end: datetime
    tree: dict[int, Area]
    posts: list[Post]
    shifts: dict[int, list[tuple[datetime, datetime | None]]] = field(default_factory=dict)
    pauses: dict[int, list[PauseMark]] = field(default_factory=dict)
    alerts: list[AlertFact] = field(default_factory=list)
    issues_opened: list[tuple[int, str]] = field(default_factory=list)  # (post_id, category)
    issues_resolved: list[tuple[int, str]] = field(default_factory=list)
    forwards: list[ForwardFact] = field(default_factory=list)
    slots: list[SlotFact] = field(default_factory=list)  # roster slots started that day


@dataclass(frozen=True, slots=True)
class RecapRecipient:
    member_id: int
    chat_id: int
    language: str | None
    admin: bool
    scope_area_ids: tuple[int, ...]


def _in_areas(column: str, area_ids: Collection[int] | None) -> tuple[str, list[Any]]:
    if area_ids is None:
        return "1 = 1", []
    return f"{column} IN (SELECT CAST(value AS BIGINT) FROM json_each(?))", [
        json.dumps(sorted(area_ids))
    ]


async def area_tree(tx: Tx) -> dict[int, Area]:
    return {row["id"]: Area.from_row(row) for row in await tx.all("SELECT * FROM areas")}


async def posts_in(tx: Tx, area_ids: Collection[int] | None) -> list[Post]:
    where, params = _in_areas("area_id", area_ids)
    rows = await tx.all(f"SELECT * FROM posts WHERE {where} ORDER BY code", params)
    return [Post.from_row(row) for row in rows]


async def open_alert_post_ids(tx: Tx, area_ids: Collection[int] | None) -> set[int]:
    """Posts with an alert still open (they are labelled on /peta whatever their state)."""
    where, params = _in_areas("p.area_id", area_ids)
    rows = await tx.all(
        "SELECT a.post_id FROM alerts a JOIN posts p ON p.id = a.post_id"
        f" WHERE a.resolved_at IS NULL AND {where}",
        params,
    )
    return {int(row[0]) for row in rows}


async def day_facts(
    tx: Tx, area_ids: Collection[int] | None, start: datetime, end: datetime
) -> DayFacts:
    """Facts of ``[start, end)`` for the posts in ``area_ids`` (None: every post)."""
    tree = await area_tree(tx)
    posts = await posts_in(tx, area_ids)
    wanted = {post.id for post in posts}
    where, params = _in_areas("p.area_id", area_ids)
    lo, hi = to_db(start), to_db(end)
    shifts: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for row in await tx.all(
        "SELECT s.post_id, s.started_at, s.ended_at FROM shifts s JOIN posts p ON p.id = s.post_id"
        f" WHERE {where} AND s.started_at < ? AND (s.ended_at IS NULL OR s.ended_at > ?)"
        " ORDER BY s.started_at",
        [*params, hi, lo],
    ):
        began = from_db(row[1])
        assert began is not None
        shifts.setdefault(row[0], []).append((began, from_db(row[2])))
    pauses: dict[int, list[PauseMark]] = {}
    for row in await tx.all(
        "SELECT entity_id, at, action, detail FROM audit_log"
        " WHERE entity = 'post' AND action IN ('pause', 'resume') AND at < ? AND at >= ?"
        " ORDER BY at, id",
        (hi, to_db(start - PAUSE_LOOKBACK)),
    ):
        post_id = int(row[0]) if row[0] is not None and str(row[0]).isdigit() else None
        if post_id not in wanted or post_id is None:
            continue
        at = from_db(row[1])
        assert at is not None
        until = None
        if row[2] == "pause" and row[3]:
            raw = json.loads(row[3]).get("until")
            until = datetime.fromisoformat(raw) if raw else None
        pauses.setdefault(post_id, []).append(PauseMark(post_id, at, until))
    alerts = [
        AlertFact(
            post_id=row[0],
            kind=row[1],
            opened_at=from_db(row[2]),  # type: ignore[arg-type]
            acked_at=from_db(row[3]),
            resolved_at=from_db(row[4]),
            resolution=row[5],
        )
        for row in await tx.all(
            "SELECT post_id, kind, opened_at, acked_at, resolved_at, resolution FROM alerts"
            " WHERE opened_at >= ? AND opened_at < ? ORDER BY opened_at",
            (lo, hi),
        )
        if row[0] in wanted
    ]
    opened = [
        (int(row[0]), str(row[1]))
        for row in await tx.all(
            "SELECT post_id, category FROM issues WHERE created_at >= ? AND created_at < ?",
            (lo, hi),
        )
        if row[0] in wanted
    ]
    resolved = [
        (int(row[0]), str(row[1]))
        for row in await tx.all(
            "SELECT i.post_id, i.category FROM issues i WHERE i.id IN ("
            " SELECT e.issue_id FROM issue_events e"
            " WHERE e.to_status = 'selesai' AND e.at >= ? AND e.at < ?)",
            (lo, hi),
        )
        if row[0] in wanted
    ]
    forwarded = [
        ForwardFact(
            post_id=int(row[0]),
            agency=str(row[1]),
            forwarded_at=from_db(row[2]),  # type: ignore[arg-type]
            accepted_at=from_db(row[3]),
            closed_at=from_db(row[4]),
            state=str(row[5]),
        )
        for row in await tx.all(
            "SELECT i.post_id, ag.name, f.forwarded_at, f.accepted_at, f.closed_at, f.state"
            " FROM forwards f JOIN issues i ON i.id = f.issue_id"
            " JOIN agencies ag ON ag.id = f.agency_id"
            " WHERE f.forwarded_at >= ? AND f.forwarded_at < ? ORDER BY f.id",
            (lo, hi),
        )
        if row[0] in wanted
    ]
    slots = await day_slots(tx, sorted(wanted), start, end)
    return DayFacts(
        start, end, tree, posts, shifts, pauses, alerts, opened, resolved, forwarded, slots
    )


# --- the daily recap: who gets it, and once per day per person ----------------------------


async def recipients_due(tx: Tx, day: str) -> list[RecapRecipient]:
    """Registered, reachable supervisors and admins who have not had ``day``'s recap."""
    rows = await tx.all(
        "SELECT m.id, m.telegram_id, m.language, m.client_language,"
        " EXISTS (SELECT 1 FROM member_roles r WHERE r.member_id = m.id AND r.role = 'admin')"
        " FROM members m"
        " WHERE m.telegram_id IS NOT NULL AND m.unreachable_at IS NULL"
        " AND (EXISTS (SELECT 1 FROM member_roles r WHERE r.member_id = m.id"
        "              AND r.role = 'admin')"
        "      OR (EXISTS (SELECT 1 FROM member_roles r WHERE r.member_id = m.id"
        "                  AND r.role = 'supervisor')"
        "          AND EXISTS (SELECT 1 FROM scopes s WHERE s.member_id = m.id)))"
        " AND NOT EXISTS (SELECT 1 FROM recap_deliveries d WHERE d.member_id = m.id"
        "                 AND d.day = ?)"
        " ORDER BY m.id",
        (day,),
    )
    if not rows:
        return []
    scopes: dict[int, list[int]] = {}
    for scope in await tx.all("SELECT member_id, area_id FROM scopes ORDER BY area_id"):
        scopes.setdefault(scope[0], []).append(scope[1])
    result = []
    for row in rows:
        language = recipient_language(row[2], row[3])
        result.append(
            RecapRecipient(row[0], row[1], language, bool(row[4]), tuple(scopes.get(row[0], [])))
        )
    return result


async def claim_delivery(tx: Tx, member_id: int, day: str, now: datetime) -> bool:
    """Compare-and-swap: True only for the first caller for (member, day)."""
    changed = await tx.execute(
        "INSERT OR IGNORE INTO recap_deliveries (member_id, day, created_at) VALUES (?, ?, ?)",
        (member_id, day, to_db(now)),
    )
    return changed == 1


async def note_outbox(tx: Tx, member_id: int, day: str, outbox_id: int) -> None:
    await tx.execute(
        "UPDATE recap_deliveries SET outbox_id = ? WHERE member_id = ? AND day = ?",
        (outbox_id, member_id, day),
    )


# --- the group room (issue 10) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecapGroup:
    """A bound group due its daily recap: its chat, topic and the areas bound to it."""

    chat_id: int
    topic_id: int | None
    area_ids: tuple[int, ...]


async def groups_due(tx: Tx, day: str) -> list[RecapGroup]:
    """Group chats bound to areas (/grup) that have not had ``day``'s recap."""
    rows = await tx.all(
        "SELECT group_chat_id, MIN(group_topic_id), json_group_array(id) FROM areas"
        " WHERE group_chat_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM recap_group_deliveries d"
        "   WHERE d.chat_id = areas.group_chat_id AND d.day = ?)"
        " GROUP BY group_chat_id ORDER BY group_chat_id",
        (day,),
    )
    return [RecapGroup(int(row[0]), row[1], tuple(sorted(json.loads(row[2])))) for row in rows]


async def claim_group_delivery(tx: Tx, chat_id: int, day: str, now: datetime) -> bool:
    """Compare-and-swap: True only for the first caller for (group, day)."""
    changed = await tx.execute(
        "INSERT OR IGNORE INTO recap_group_deliveries (chat_id, day, created_at) VALUES (?, ?, ?)",
        (chat_id, day, to_db(now)),
    )
    return changed == 1


async def note_group_outbox(tx: Tx, chat_id: int, day: str, outbox_id: int) -> None:
    await tx.execute(
        "UPDATE recap_group_deliveries SET outbox_id = ? WHERE chat_id = ? AND day = ?",
        (outbox_id, chat_id, day),
    )
