"""SQL for the command room (SPEC §10): login and wall links, sessions, and the reads
the dashboard makes in one query each (the post board, recent circulars).

Tokens arrive here already hashed (bot.web.auth): this module never sees a secret.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Tx, from_db, to_db
from storage.records import Post

# --- links ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    member_id: int
    kind: str
    created_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    revoked_at: datetime | None


def _link(row: Any) -> Link:
    created = from_db(row["created_at"])
    assert created is not None
    return Link(
        row["id"],
        row["member_id"],
        row["kind"],
        created,
        from_db(row["expires_at"]),
        from_db(row["used_at"]),
        from_db(row["revoked_at"]),
    )


async def create_link(
    tx: Tx, token_hash: str, member_id: int, kind: str, now: datetime, expires_at: datetime | None
) -> int:
    return await tx.insert(
        "INSERT INTO web_links (token_hash, member_id, kind, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (token_hash, member_id, kind, to_db(now), to_db(expires_at)),
    )


async def link_by_hash(tx: Tx, token_hash: str) -> Link | None:
    row = await tx.one("SELECT * FROM web_links WHERE token_hash = ?", (token_hash,))
    return None if row is None else _link(row)


async def use_login_link(tx: Tx, link_id: int, now: datetime) -> bool:
    """Compare-and-swap: only the first of two racing clicks gets the session."""
    changed = await tx.execute(
        "UPDATE web_links SET used_at = ? WHERE id = ? AND kind = 'login'"
        " AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
        (to_db(now), link_id, to_db(now)),
    )
    return changed == 1


async def revoke_wall_links(tx: Tx, member_id: int | None, now: datetime) -> int:
    """Revoke the wall links a member made (None: every member's); returns how many."""
    where, params = ("member_id = ? AND ", [member_id]) if member_id is not None else ("", [])
    # The screens open on these links: their event streams end at once (after COMMIT).
    rows = await tx.all(
        "SELECT s.id FROM web_sessions s JOIN web_links l ON l.id = s.link_id"
        f" WHERE s.revoked_at IS NULL AND {'l.' + where if where else ''}l.kind = 'wall'"
        " AND l.revoked_at IS NULL",
        params,
    )
    if rows:
        tx.publish("session", ended=[row[0] for row in rows])
    return await tx.execute(
        f"UPDATE web_links SET revoked_at = ? WHERE {where}kind = 'wall' AND revoked_at IS NULL",
        [to_db(now), *params],
    )


# --- sessions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    member_id: int
    kind: str
    csrf_token: str
    expires_at: datetime | None


async def create_session(
    tx: Tx,
    token_hash: str,
    member_id: int,
    kind: str,
    csrf_token: str,
    now: datetime,
    expires_at: datetime | None,
    link_id: int | None = None,
) -> int:
    return await tx.insert(
        "INSERT INTO web_sessions (token_hash, member_id, kind, csrf_token, link_id,"
        " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (token_hash, member_id, kind, csrf_token, link_id, to_db(now), to_db(expires_at)),
    )


async def live_session(tx: Tx, token_hash: str, now: datetime) -> Session | None:
    """The session of a cookie, unless it expired, was revoked, or hangs on a revoked
    wall link."""
    row = await tx.one(
        "SELECT s.id, s.member_id, s.kind, s.csrf_token, s.expires_at FROM web_sessions s"
        " LEFT JOIN web_links l ON l.id = s.link_id"
        " WHERE s.token_hash = ? AND s.revoked_at IS NULL"
        " AND (s.expires_at IS NULL OR s.expires_at > ?)"
        " AND (s.link_id IS NULL OR l.revoked_at IS NULL)",
        (token_hash, to_db(now)),
    )
    if row is None:
        return None
    return Session(
        row["id"], row["member_id"], row["kind"], row["csrf_token"], from_db(row["expires_at"])
    )


async def end_session(tx: Tx, session_id: int, now: datetime) -> None:
    await tx.execute(
        "UPDATE web_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (to_db(now), session_id),
    )
    tx.publish("session", ended=[session_id])  # its open event streams end at once


async def forget_expired(tx: Tx, now: datetime) -> int:
    """Drop sessions and login links that can no longer be used."""
    stamp = to_db(now)
    gone = await tx.execute(
        "DELETE FROM web_sessions WHERE expires_at IS NOT NULL AND expires_at <= ?", (stamp,)
    )
    gone += await tx.execute(
        "DELETE FROM web_links WHERE kind = 'login' AND expires_at <= ?"
        " AND id NOT IN (SELECT link_id FROM web_sessions WHERE link_id IS NOT NULL)",
        (stamp,),
    )
    return gone


# --- the post board -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardPost:
    """One post as the map shows it."""

    id: int
    code: str
    name: str
    area_id: int
    latitude: float | None
    longitude: float | None
    state: str
    state_since: datetime | None
    paused_until: datetime | None
    min_staff: int
    last_signal_at: datetime | None
    on_duty: int
    open_issues: int
    alert_id: int | None
    alert_kind: str | None
    alert_opened_at: datetime | None
    alert_step: int | None
    alert_step_area_id: int | None
    alert_taken_by: str | None
    alert_taker_id: int | None
    alert_taken_at: datetime | None
    alert_taken_stage: int | None


def _in(column: str, ids: Collection[int] | None) -> tuple[str, list[Any]]:
    if ids is None:
        return "1 = 1", []
    return f"{column} IN (SELECT CAST(value AS BIGINT) FROM json_each(?))", [
        json.dumps(sorted(ids))
    ]


_BOARD = (
    "SELECT p.id, p.code, p.name, p.area_id, p.latitude, p.longitude, p.state, p.state_since,"
    " p.paused_until, p.min_staff, p.last_signal_at,"
    " COALESCE(d.n, 0) AS on_duty, COALESCE(i.n, 0) AS open_issues,"
    " a.id AS alert_id, a.kind AS alert_kind, a.opened_at AS alert_opened_at,"
    " a.step AS alert_step, a.step_area_id AS alert_step_area_id, m.name AS alert_taken_by,"
    " a.acked_by AS alert_taker_id, a.acked_at AS alert_taken_at,"
    " a.taken_stage AS alert_taken_stage"
    " FROM posts p"
    " LEFT JOIN (SELECT post_id, count(*) AS n FROM shifts WHERE ended_at IS NULL"
    "   GROUP BY post_id) d ON d.post_id = p.id"
    " LEFT JOIN (SELECT post_id, count(*) AS n FROM issues"
    "   WHERE status IN ('baru', 'diterima', 'ditangani') GROUP BY post_id) i"
    "   ON i.post_id = p.id"
    " LEFT JOIN alerts a ON a.post_id = p.id AND a.resolved_at IS NULL"
    " LEFT JOIN members m ON m.id = a.acked_by"
)


def _board_post(row: Any) -> BoardPost:
    return BoardPost(
        id=row[0],
        code=row[1],
        name=row[2],
        area_id=row[3],
        latitude=row[4],
        longitude=row[5],
        state=row[6],
        state_since=from_db(row[7]),
        paused_until=from_db(row[8]),
        min_staff=row[9],
        last_signal_at=from_db(row[10]),
        on_duty=row[11],
        open_issues=row[12],
        alert_id=row[13],
        alert_kind=row[14],
        alert_opened_at=from_db(row[15]),
        alert_step=row[16],
        alert_step_area_id=row[17],
        alert_taken_by=row[18],
        alert_taker_id=row[19],
        alert_taken_at=from_db(row[20]),
        alert_taken_stage=row[21],
    )


async def board(
    tx: Tx, area_ids: Collection[int] | None, code: str | None = None
) -> list[BoardPost]:
    """Every post in the areas (None: all) with its duty count, open reports and open
    alert, in one query; or the one post ``code``."""
    where, params = _in("p.area_id", area_ids)
    if code is not None:
        where += " AND p.code = ?"
        params.append(code)
    rows = await tx.all(f"{_BOARD} WHERE {where} ORDER BY p.code", params)
    return [_board_post(row) for row in rows]


async def areas_by_id(tx: Tx) -> dict[int, tuple[str, str, str, int | None]]:
    """area id → (code, name, level, parent id): the whole tree, to name each post's path."""
    rows = await tx.all("SELECT id, code, name, level, parent_id FROM areas")
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


# --- circulars ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CircularLine:
    id: int
    author_id: int
    author_name: str | None
    scope: str
    text: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None


async def recent_circulars(tx: Tx, author_id: int | None, limit: int) -> list[CircularLine]:
    """Circulars that went out (sending or done), newest first; only ``author_id``'s when
    given (a supervisor sees their own, as /siaran_status shows them)."""
    where, params = ("c.author_id = ? AND ", [author_id]) if author_id is not None else ("", [])
    rows = await tx.all(
        "SELECT c.id, c.author_id, m.name, c.scope, c.text, c.status, c.created_at,"
        " c.confirmed_at FROM circulars c LEFT JOIN members m ON m.id = c.author_id"
        f" WHERE {where}c.status IN ('sending', 'done') ORDER BY c.id DESC LIMIT ?",
        [*params, limit],
    )
    return [_circular_line(row) for row in rows]


async def circulars_to(tx: Tx, member_id: int, limit: int) -> list[tuple[CircularLine, bool]]:
    """Circulars addressed to a member (a liaison's view), newest first, with whether
    they read it."""
    rows = await tx.all(
        "SELECT c.id, c.author_id, m.name, c.scope, c.text, c.status, c.created_at,"
        " c.confirmed_at, r.read_at FROM circular_recipients r"
        " JOIN circulars c ON c.id = r.circular_id LEFT JOIN members m ON m.id = c.author_id"
        " WHERE r.member_id = ? ORDER BY c.id DESC LIMIT ?",
        (member_id, limit),
    )
    return [(_circular_line(row), row[8] is not None) for row in rows]


def _circular_line(row: Any) -> CircularLine:
    created = from_db(row[6])
    assert created is not None
    return CircularLine(row[0], row[1], row[2], row[3], row[4], row[5], created, from_db(row[7]))


# --- change events (what a live view hears) --------------------------------------------------


async def publish_posts(tx: Tx, post_ids: Collection[int], reason: str) -> None:
    """Announce the posts' current state to the command room after this transaction
    commits (ids, codes and states only)."""
    if not post_ids:
        return
    rows = await tx.all(
        "SELECT id, code, area_id, state, last_signal_at FROM posts"
        " WHERE id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
        (json.dumps(sorted(set(post_ids))),),
    )
    for row in rows:
        tx.publish(
            "post",
            id=row[0],
            post=row[1],
            area_id=row[2],
            state=row[3],
            last_signal_at=row[4],
            reason=reason,
        )


def publish_post(tx: Tx, post: Post, reason: str) -> None:
    """As :func:`publish_posts`, for a post as the caller has just written it."""
    tx.publish(
        "post",
        id=post.id,
        post=post.code,
        area_id=post.area_id,
        state=post.state,
        last_signal_at=to_db(post.last_signal_at),
        reason=reason,
    )


async def issue_area(tx: Tx, issue_id: int) -> tuple[str, int, str] | None:
    """(ref, area id, status) of an issue, for its change event."""
    row = await tx.one(
        "SELECT i.ref, p.area_id, i.status FROM issues i JOIN posts p ON p.id = i.post_id"
        " WHERE i.id = ?",
        (issue_id,),
    )
    return None if row is None else (row[0], row[1], row[2])


async def publish_issue(tx: Tx, issue_id: int, action: str) -> None:
    found = await issue_area(tx, issue_id)
    if found is not None:
        ref, area_id, status = found
        tx.publish("issue", id=issue_id, ref=ref, area_id=area_id, status=status, action=action)
