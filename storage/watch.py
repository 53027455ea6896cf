"""SQL for the watcher: due posts, their facts in bulk, and the writes of one pass.

Everything here works on batches so that a pass costs a handful of statements whatever
the number of due posts, and nothing when none is due (one probe of a partial index).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from storage import roster, swaps
from storage.db import Tx, from_db, to_db
from storage.records import POST_COLUMNS, Area, Post


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    post_id: int
    kind: str
    opened_at: datetime
    step: int
    step_area_id: int | None
    next_due_at: datetime | None
    acked_by: int | None
    resolved_at: datetime | None = None
    acked_at: datetime | None = None
    taken_stage: int = 0
    called_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    chat_id: int
    member_id: int | None
    language: str | None
    topic_id: int | None = None


@dataclass(frozen=True, slots=True)
class PostUpdate:
    post_id: int
    version: int
    state: str
    next_due_at: datetime | None
    due_kind: str | None
    window_opened_at: datetime | None
    window_closes_at: datetime | None
    short_since: datetime | None
    silence_reminded_at: datetime | None
    open_reminded_for: datetime | None
    state_changed: bool


def recipient_language(member_language: str | None, client_language: str | None) -> str | None:
    """The member's own setting, else English when their Telegram app is English; None
    leaves the choice to the bot's default (the rule of bot.core.access.language_of)."""
    if member_language:
        return member_language
    return "en" if (client_language or "").lower().startswith("en") else None


def _marks(count: int) -> str:
    return ",".join("?" * count)


# The columns a Post is made of, not ``*``: a pass reads thousands of rows, and every
# column read is a Python object made and dropped.
_POSTS = f"SELECT {', '.join(POST_COLUMNS)} FROM posts"


async def due_posts(tx: Tx, now: datetime, limit: int) -> list[Post]:
    rows = await tx.all(
        f"{_POSTS} WHERE next_due_at IS NOT NULL AND next_due_at <= ? ORDER BY next_due_at LIMIT ?",
        (to_db(now), limit),
    )
    return Post.from_rows(rows)


async def posts_by_id(tx: Tx, post_ids: Sequence[int]) -> list[Post]:
    rows = await tx.all(f"{_POSTS} WHERE id IN ({_marks(len(post_ids))})", post_ids)
    return Post.from_rows(rows)


_ALERT_FIELDS = (
    "id",
    "post_id",
    "kind",
    "opened_at",
    "step",
    "step_area_id",
    "next_due_at",
    "acked_by",
    "resolved_at",
    "acked_at",
    "taken_stage",
    "called_at",
)


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    """What deciding a post needs beside the post itself, per post id."""

    counts: dict[int, int]
    """Officers on duty (posts with none left out)."""
    alerts: dict[int, AlertRow]
    """The open alert."""
    running: dict[int, list[roster.Slot]]
    """The roster slots running now (piket: the officers required)."""


async def decision_facts(tx: Tx, post_ids: Sequence[int], now: datetime) -> DecisionFacts:
    return DecisionFacts(
        await on_duty_counts(tx, post_ids),
        await open_alerts(tx, post_ids),
        await roster.active(tx, post_ids, now),
    )


async def posts_for_decision(
    tx: Tx, post_ids: Sequence[int], now: datetime
) -> tuple[list[Post], DecisionFacts]:
    """:func:`posts_by_id` and :func:`decision_facts` in one statement (a post has at most
    one open alert: ``alerts_one_open``), for a re-decision inside a handler's transaction:
    three round trips fewer on a networked database (SQLite reads the slots apart)."""
    alert_columns = ", ".join(f"a.{name} AS alert_{name}" for name in _ALERT_FIELDS)
    networked = tx.dialect == "postgresql"
    slots = f", {roster.RUNNING_JSON} AS posko_slots" if networked else ""
    rows = await tx.all(
        f"SELECT {', '.join(f'p.{name}' for name in POST_COLUMNS)}, {alert_columns},"
        " (SELECT count(*) FROM shifts s WHERE s.ended_at IS NULL AND s.post_id = p.id)"
        f" AS posko_on_duty{slots} FROM posts p"
        " LEFT JOIN alerts a ON a.post_id = p.id AND a.resolved_at IS NULL"
        f" WHERE p.id IN ({_marks(len(post_ids))})",
        (*(roster.running_window(now) if networked else ()), *post_ids),
    )
    counts = {row["id"]: row["posko_on_duty"] for row in rows if row["posko_on_duty"]}
    alerts = {
        row["id"]: _alert_of({name: row[f"alert_{name}"] for name in _ALERT_FIELDS})
        for row in rows
        if row["alert_id"] is not None
    }
    if networked:
        found = {row["id"]: roster.slots_of_json(row["posko_slots"]) for row in rows}
        running = {post_id: slots for post_id, slots in found.items() if slots}
    else:
        running = await roster.active(tx, post_ids, now)
    return Post.from_rows(rows), DecisionFacts(counts, alerts, running)


async def next_deadline(tx: Tx) -> datetime | None:
    """The soonest deadline of any post, unaccepted issue, report to follow up,
    unaccepted forward, roster slot or open swap (six partial-index probes)."""
    posts_due = await tx.scalar("SELECT min(next_due_at) FROM posts WHERE next_due_at IS NOT NULL")
    issues_due = await tx.scalar(
        "SELECT min(next_due_at) FROM issues WHERE next_due_at IS NOT NULL"
    )
    follow_ups_due = await tx.scalar(
        "SELECT min(follow_up_due_at) FROM issues WHERE follow_up_due_at IS NOT NULL"
    )
    forwards_due = await tx.scalar(
        "SELECT min(next_due_at) FROM forwards WHERE next_due_at IS NOT NULL"
    )
    found = [
        from_db(value)
        for value in (posts_due, issues_due, follow_ups_due, forwards_due)
        if value is not None
    ]
    found += [await roster.next_due(tx), await swaps.next_swap_expiry(tx)]
    return min((moment for moment in found if moment is not None), default=None)


@dataclass(frozen=True, slots=True)
class DueIssue:
    id: int
    post_id: int
    step: int


async def due_issues(tx: Tx, now: datetime, limit: int) -> list[DueIssue]:
    rows = await tx.all(
        "SELECT id, post_id, escalation_step FROM issues"
        " WHERE next_due_at IS NOT NULL AND next_due_at <= ? ORDER BY next_due_at LIMIT ?",
        (to_db(now), limit),
    )
    return [DueIssue(row[0], row[1], row[2]) for row in rows]


async def set_issue_due(tx: Tx, issue_id: int, step: int, due: datetime | None) -> None:
    """Only an issue still 'baru' keeps climbing; accepting it clears the deadline."""
    await tx.execute(
        "UPDATE issues SET escalation_step = ?, next_due_at = ? WHERE id = ? AND status = 'baru'",
        (step, to_db(due), issue_id),
    )


async def on_duty_counts(tx: Tx, post_ids: Sequence[int]) -> dict[int, int]:
    rows = await tx.all(
        "SELECT post_id, count(*) FROM shifts WHERE ended_at IS NULL"
        f" AND post_id IN ({_marks(len(post_ids))}) GROUP BY post_id",
        post_ids,
    )
    return {row[0]: row[1] for row in rows}


async def on_duty_names(tx: Tx, post_ids: Sequence[int]) -> dict[int, list[str]]:
    if not post_ids:
        return {}
    rows = await tx.all(
        "SELECT s.post_id, m.name FROM shifts s JOIN members m ON m.id = s.member_id"
        f" WHERE s.ended_at IS NULL AND s.post_id IN ({_marks(len(post_ids))})"
        " ORDER BY s.started_at",
        post_ids,
    )
    names: dict[int, list[str]] = {}
    for row in rows:
        names.setdefault(row[0], []).append(row[1])
    return names


def _alert(row: Any) -> AlertRow:
    # One dict per row (the first column of a name wins, as with ``row[name]``).
    keys = row.keys()
    return _alert_of(dict(zip(keys[::-1], tuple(row)[::-1], strict=True)))


def _alert_of(values: dict[str, Any]) -> AlertRow:
    opened = from_db(values["opened_at"])
    assert opened is not None
    return AlertRow(
        id=values["id"],
        post_id=values["post_id"],
        kind=values["kind"],
        opened_at=opened,
        step=values["step"],
        step_area_id=values["step_area_id"],
        next_due_at=from_db(values["next_due_at"]),
        acked_by=values["acked_by"],
        resolved_at=from_db(values["resolved_at"]),
        acked_at=from_db(values["acked_at"]),
        taken_stage=values["taken_stage"],
        called_at=from_db(values["called_at"]),
    )


async def open_alerts(tx: Tx, post_ids: Sequence[int]) -> dict[int, AlertRow]:
    rows = await tx.all(
        f"SELECT * FROM alerts WHERE resolved_at IS NULL AND post_id IN ({_marks(len(post_ids))})",
        post_ids,
    )
    return {row["post_id"]: _alert(row) for row in rows}


async def alert_by_id(tx: Tx, alert_id: int) -> AlertRow | None:
    row = await tx.one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
    return None if row is None else _alert(row)


def saved(post: Post, update: PostUpdate, now: datetime) -> Post:
    """``post`` as :func:`save_posts` leaves it with ``update`` (what reading it back gives)."""
    return replace(
        post,
        state=update.state,
        state_since=now if update.state_changed else post.state_since,
        next_due_at=update.next_due_at,
        due_kind=update.due_kind,
        window_opened_at=update.window_opened_at,
        window_closes_at=update.window_closes_at,
        short_since=update.short_since,
        silence_reminded_at=update.silence_reminded_at,
        open_reminded_for=update.open_reminded_for,
        version=post.version + 1,
    )


async def save_posts(tx: Tx, updates: Sequence[PostUpdate], now: datetime) -> int:
    """Compare-and-swap on ``version``: returns how many rows really changed."""
    stamp = to_db(now)
    return await tx.executemany(
        "UPDATE posts SET state = ?, state_since = CASE WHEN ? THEN ? ELSE state_since END,"
        " next_due_at = ?, due_kind = ?, window_opened_at = ?, window_closes_at = ?,"
        " short_since = ?, silence_reminded_at = ?, open_reminded_for = ?,"
        " version = version + 1 WHERE id = ? AND version = ?",
        [
            (
                update.state,
                int(update.state_changed),
                stamp,
                to_db(update.next_due_at),
                update.due_kind,
                to_db(update.window_opened_at),
                to_db(update.window_closes_at),
                to_db(update.short_since),
                to_db(update.silence_reminded_at),
                to_db(update.open_reminded_for),
                update.post_id,
                update.version,
            )
            for update in updates
        ],
    )


async def insert_alerts(
    tx: Tx, rows: Sequence[tuple[int, str, int | None, datetime]], now: datetime
) -> dict[int, int]:
    """Open alerts (post_id, kind, step_area_id, next_due_at); returns post_id → alert id."""
    if not rows:
        return {}
    stamp = to_db(now)
    await tx.executemany(
        "INSERT INTO alerts (post_id, kind, opened_at, step, step_area_id, next_due_at,"
        " last_notified_at) VALUES (?, ?, ?, 0, ?, ?, ?)",
        [(post_id, kind, stamp, area, to_db(due), stamp) for post_id, kind, area, due in rows],
    )
    post_ids = [row[0] for row in rows]
    found = await tx.all(
        "SELECT post_id, id FROM alerts WHERE resolved_at IS NULL"
        f" AND post_id IN ({_marks(len(post_ids))})",
        post_ids,
    )
    return {row[0]: row[1] for row in found}


async def escalate_alerts(
    tx: Tx, rows: Sequence[tuple[int, int, int | None, datetime | None]], now: datetime
) -> None:
    """(alert_id, step, step_area_id, next_due_at) for alerts that climbed or repeated."""
    stamp = to_db(now)
    await tx.executemany(
        "UPDATE alerts SET step = ?, step_area_id = ?, next_due_at = ?, last_notified_at = ?"
        " WHERE id = ? AND resolved_at IS NULL AND acked_by IS NULL",
        [(step, area, to_db(due), stamp, alert_id) for alert_id, step, area, due in rows],
    )


async def resolve_alerts(tx: Tx, rows: Sequence[tuple[int, str]], now: datetime) -> None:
    stamp = to_db(now)
    await tx.executemany(
        "UPDATE alerts SET resolved_at = ?, resolution = ?, next_due_at = NULL"
        " WHERE id = ? AND resolved_at IS NULL",
        [(stamp, reason, alert_id) for alert_id, reason in rows],
    )


async def acknowledge(
    tx: Tx, alert_id: int, member_id: int, now: datetime, follow_up_at: datetime | None = None
) -> bool:
    """The first supervisor to press wins; everyone after sees it taken. A taken alert
    keeps a deadline (``follow_up_at``): the taker is reminded if the post has not
    recovered by then (bot.watch.taken)."""
    changed = await tx.execute(
        "UPDATE alerts SET acked_by = ?, acked_at = ?, next_due_at = ?, taken_stage = 0"
        " WHERE id = ? AND acked_by IS NULL AND resolved_at IS NULL",
        (member_id, to_db(now), to_db(follow_up_at), alert_id),
    )
    return changed > 0


async def record_notifications(
    tx: Tx, rows: Iterable[tuple[int, int, Recipient]], now: datetime
) -> None:
    """(alert_id, step, recipient): who was told, and where, so that all hear the end."""
    stamp = to_db(now)
    await tx.executemany(
        "INSERT INTO alert_notifications (alert_id, step, chat_id, member_id, topic_id, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (alert_id, step, to.chat_id, to.member_id, to.topic_id, stamp)
            for alert_id, step, to in rows
        ],
    )


async def notified(tx: Tx, alert_ids: Sequence[int]) -> dict[int, list[Recipient]]:
    """Everyone an alert reached (one entry per chat and forum topic), with their language."""
    if not alert_ids:
        return {}
    rows = await tx.all(
        "SELECT n.alert_id, n.chat_id, n.member_id, m.language, m.client_language, n.topic_id"
        " FROM alert_notifications n LEFT JOIN members m ON m.id = n.member_id"
        f" WHERE n.alert_id IN ({_marks(len(alert_ids))}) ORDER BY n.id",
        alert_ids,
    )
    result: dict[int, list[Recipient]] = {}
    seen: set[tuple[int, int, int | None]] = set()
    for row in rows:
        key = (row[0], row[1], row[5])
        if key in seen:
            continue
        seen.add(key)
        language = recipient_language(row[3], row[4])
        result.setdefault(row[0], []).append(Recipient(row[1], row[2], language, row[5]))
    return result


async def area_tree(tx: Tx) -> dict[int, Area]:
    return {row["id"]: Area.from_row(row) for row in await tx.all("SELECT * FROM areas")}


async def supervisors_by_area(tx: Tx) -> dict[int, list[Recipient]]:
    """Registered supervisors per scope area (the members that alerts go to)."""
    rows = await tx.all(
        "SELECT s.area_id, m.telegram_id, m.id, m.language, m.client_language"
        " FROM scopes s JOIN members m ON m.id = s.member_id"
        " JOIN member_roles r ON r.member_id = m.id AND r.role = 'supervisor'"
        " WHERE m.telegram_id IS NOT NULL ORDER BY m.id"
    )
    result: dict[int, list[Recipient]] = {}
    for row in rows:
        language = recipient_language(row[3], row[4])
        result.setdefault(row[0], []).append(Recipient(row[1], row[2], language))
    return result


async def admins(tx: Tx) -> list[Recipient]:
    rows = await tx.all(
        "SELECT m.telegram_id, m.id, m.language, m.client_language FROM members m"
        " JOIN member_roles r ON r.member_id = m.id AND r.role = 'admin'"
        " WHERE m.telegram_id IS NOT NULL ORDER BY m.id"
    )
    return [Recipient(row[0], row[1], recipient_language(row[2], row[3])) for row in rows]


async def officers(tx: Tx, post_ids: Sequence[int], on_duty: bool) -> dict[int, list[Recipient]]:
    """Registered officers of the posts: those on duty now, or all assigned."""
    if not post_ids:
        return {}
    if on_duty:
        sql = (
            "SELECT s.post_id, m.telegram_id, m.id, m.language, m.client_language"
            " FROM shifts s JOIN members m ON m.id = s.member_id"
            f" WHERE s.ended_at IS NULL AND s.post_id IN ({_marks(len(post_ids))})"
        )
    else:
        sql = (
            "SELECT a.post_id, m.telegram_id, m.id, m.language, m.client_language"
            " FROM assignments a JOIN members m ON m.id = a.member_id"
            f" WHERE a.post_id IN ({_marks(len(post_ids))})"
        )
    result: dict[int, list[Recipient]] = {}
    for row in await tx.all(sql + " AND m.telegram_id IS NOT NULL ORDER BY m.id", post_ids):
        language = recipient_language(row[3], row[4])
        result.setdefault(row[0], []).append(Recipient(row[1], row[2], language))
    return result


async def close_shifts(tx: Tx, post_ids: Sequence[int], now: datetime) -> None:
    await tx.execute(
        "UPDATE shifts SET ended_at = ?, end_reason = 'auto_closed'"
        f" WHERE ended_at IS NULL AND post_id IN ({_marks(len(post_ids))})",
        (to_db(now), *post_ids),
    )


async def outbox_many(
    tx: Tx,
    rows: Sequence[tuple[int, int | None, int, str, str, str | None, int | None]],
    now: datetime,
) -> None:
    """Queue many messages at once: (chat_id, topic_id, priority, kind, payload, ref_type,
    ref_id)."""
    stamp = to_db(now)
    await tx.executemany(
        "INSERT INTO outbox (chat_id, topic_id, priority, kind, method, payload, ref_type,"
        " ref_id, not_before, created_at) VALUES (?, ?, ?, ?, 'sendMessage', ?, ?, ?, ?, ?)",
        [(*row[:5], row[5], row[6], stamp, stamp) for row in rows],
    )


async def set_pause(tx: Tx, post_id: int, until: datetime | None, now: datetime) -> None:
    """Pause (or resume with None) and make the post due now, so the watcher re-decides."""
    await tx.execute(
        "UPDATE posts SET paused_until = ?, next_due_at = ?, due_kind = 'pause',"
        " version = version + 1 WHERE id = ?",
        (to_db(until), to_db(now), post_id),
    )


async def make_due(tx: Tx, post_ids: Sequence[int], now: datetime) -> None:
    """New or changed posts: let the watcher look at them at once."""
    if post_ids:
        await tx.execute(
            f"UPDATE posts SET next_due_at = ? WHERE id IN ({_marks(len(post_ids))})",
            (to_db(now), *post_ids),
        )


async def make_all_due_without_deadline(tx: Tx, now: datetime) -> int:
    return await tx.execute(
        "UPDATE posts SET next_due_at = ? WHERE next_due_at IS NULL", (to_db(now),)
    )
