"""Who is looking at the command room: Mini App ``initData``, one-time login links, wall
links, and the server-side sessions they start (SPEC §10).

* ``initData`` is accepted only with a valid hash — HMAC-SHA-256 of the sorted
  ``key=value`` lines, keyed with HMAC-SHA-256("WebAppData", bot token), compared in
  constant time — and an ``auth_date`` under an hour old; its user must be a member.
* A login link is valid 10 minutes and works once; a wall link is read-only and works
  until ``/dasbor cabut``. Both are random tokens stored only as SHA-256 hashes.
* A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure under
  https), or in ``Authorization: Bearer`` for a Mini App whose webview keeps no cookie;
  each has its own CSRF token that every POST must echo in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import parse_qsl

from bot.core.access import Role, has_role
from storage import members
from storage import web as store
from storage.db import Database
from storage.records import Member
from storage.web import Session

INIT_DATA_MAX_AGE = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=1)
LOGIN_LINK_TTL = timedelta(minutes=10)
COOKIE = "posko_session"
MAX_INIT_DATA = 4096
MAX_TOKEN = 128


class InitDataError(Enum):
    MALFORMED = "malformed"
    BAD_HASH = "bad_hash"
    STALE = "stale"


def _secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """The hash Telegram puts in ``initData`` for these fields (for tests and the demo)."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hmac.new(_secret_key(bot_token), check.encode(), hashlib.sha256).hexdigest()


def check_init_data(init_data: str, bot_token: str, now: datetime) -> int | InitDataError:
    """The Telegram user id of a genuine, fresh ``initData``; else why not."""
    if not init_data or len(init_data) > MAX_INIT_DATA:
        return InitDataError.MALFORMED
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return InitDataError.MALFORMED
    fields = dict(pairs)
    if len(fields) != len(pairs):
        return InitDataError.MALFORMED  # a repeated key: ambiguous, refuse
    given = fields.pop("hash", "")
    expected = sign_init_data(fields, bot_token)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return InitDataError.BAD_HASH
    try:
        signed_at = int(fields.get("auth_date", ""))
        user = json.loads(fields.get("user", ""))
        user_id = int(user["id"])
    except (ValueError, TypeError, KeyError):
        return InitDataError.MALFORMED
    age = now.timestamp() - signed_at
    if age > INIT_DATA_MAX_AGE.total_seconds() or age < -CLOCK_SKEW.total_seconds():
        return InitDataError.STALE
    return user_id


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_use(member: Member | None) -> bool:
    """The command room is for supervisors, admins and liaisons (officers have /status)."""
    return has_role(member, Role.SUPERVISOR) or has_role(member, Role.LIAISON)


def may_show_wall(member: Member | None) -> bool:
    return has_role(member, Role.SUPERVISOR)


@dataclass(frozen=True, slots=True)
class Started:
    """A new session: the token goes into the cookie, never into a log."""

    token: str
    csrf_token: str
    member: Member
    kind: str


async def start_session(
    db: Database,
    member: Member,
    kind: str,
    now: datetime,
    ttl: timedelta | None,
    link_id: int | None = None,
) -> Started:
    token, csrf = new_token(), new_token()
    async with db.transaction() as tx:
        await store.create_session(
            tx,
            token_hash(token),
            member.id,
            kind,
            csrf,
            now,
            None if ttl is None else now + ttl,
            link_id,
        )
    return Started(token, csrf, member, kind)


async def session_from_init_data(
    db: Database, init_data: str, bot_token: str, now: datetime, ttl: timedelta
) -> Started | InitDataError | None:
    """A Mini App session; an InitDataError when the data is not genuine; None when its
    user is no member allowed in."""
    checked = check_init_data(init_data, bot_token, now)
    if isinstance(checked, InitDataError):
        return checked
    async with db.read() as tx:
        member = await members.by_telegram_id(tx, checked)
    if member is None or not may_use(member):
        return None
    return await start_session(db, member, "app", now, ttl)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The member behind a request's session."""

    session: Session
    member: Member

    @property
    def read_only(self) -> bool:
        return self.session.kind == "wall"


async def viewer_of(db: Database, token: str | None, now: datetime) -> Viewer | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    async with db.read() as tx:
        session = await store.live_session(tx, token_hash(token), now)
        if session is None:
            return None
        member = await members.by_id(tx, session.member_id)
    if member is None or not may_use(member):
        return None
    return Viewer(session, member)


async def end_session(db: Database, viewer: Viewer, now: datetime) -> None:
    async with db.transaction() as tx:
        await store.end_session(tx, viewer.session.id, now)


# --- links ----------------------------------------------------------------------------------


async def issue_link(db: Database, member: Member, kind: str, now: datetime) -> str:
    """A new login link token (10 minutes, once) or wall link token (until revoked)."""
    token = new_token()
    expires = now + LOGIN_LINK_TTL if kind == "login" else None
    async with db.transaction() as tx:
        await store.create_link(tx, token_hash(token), member.id, kind, now, expires)
    return token


async def revoke_walls(db: Database, member: Member, now: datetime) -> int:
    """``/dasbor cabut``: an admin revokes every wall link, a supervisor their own."""
    everyone = has_role(member, Role.ADMIN)
    async with db.transaction() as tx:
        return await store.revoke_wall_links(tx, None if everyone else member.id, now)


async def use_link(
    db: Database, token: str, kind: str, now: datetime, ttl: timedelta
) -> Started | None:
    """The session a link starts; None for an unknown, used, expired or revoked link."""
    if not token or len(token) > MAX_TOKEN:
        return None
    async with db.transaction() as tx:
        link = await store.link_by_hash(tx, token_hash(token))
        if link is None or link.kind != kind or link.revoked_at is not None:
            return None
        if kind == "login" and not await store.use_login_link(tx, link.id, now):
            return None
        member = await members.by_id(tx, link.member_id)
        if member is None or not may_use(member):
            return None
        if kind == "wall" and not may_show_wall(member):
            return None
        secret, csrf = new_token(), new_token()
        await store.create_session(
            tx,
            token_hash(secret),
            member.id,
            "wall" if kind == "wall" else "browser",
            csrf,
            now,
            None if kind == "wall" else now + ttl,
            link.id if kind == "wall" else None,
        )
    return Started(secret, csrf, member, "wall" if kind == "wall" else "browser")
