"""Joining the bot: invite codes and binding a Telegram account to a member."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from storage import audit, invites, members, outbox
from storage.db import Database, Tx
from storage.invites import InviteOutcome
from storage.records import Member

# No 0/O/1/I/L: codes are read aloud and typed on phones.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


@dataclass(frozen=True, slots=True)
class Invitation:
    member: Member
    code: str
    expires_at: datetime


async def invite(
    db: Database,
    ref: str,
    now: datetime,
    valid_for: timedelta,
    *,
    rebind: bool = False,
    actor_id: int | None = None,
    via: str = "cli",
) -> Invitation | None:
    """A fresh single-use code for member ``ref`` (None when there is no such member).

    ``rebind``: the code moves the member, if already registered, to whichever Telegram
    account uses it (a lost phone, a new account); the old account loses access."""
    async with db.transaction() as tx:
        member = await members.by_ref(tx, ref)
        if member is None:
            return None
        return await _invite(tx, member, now, valid_for, rebind, actor_id, via)


async def invite_member(
    db: Database,
    member_id: int,
    now: datetime,
    valid_for: timedelta,
    *,
    rebind: bool = False,
    actor_id: int | None = None,
    via: str = "bot",
) -> Invitation | None:
    """As :func:`invite`, by the member's id (a button carries the id)."""
    async with db.transaction() as tx:
        member = await members.by_id(tx, member_id)
        if member is None:
            return None
        return await _invite(tx, member, now, valid_for, rebind, actor_id, via)


async def _invite(
    tx: Tx,
    member: Member,
    now: datetime,
    valid_for: timedelta,
    rebind: bool,
    actor: int | None,
    via: str,
) -> Invitation:
    code = new_code()
    expires = now + valid_for
    await invites.create(tx, code, member.id, now, expires, rebind=rebind)
    await audit.record(
        tx,
        now,
        actor,
        "invite",
        "member",
        member.id,
        expires=expires,
        rebind=rebind or None,
        via=via,
    )
    return Invitation(member, code, expires)


async def member_by_ref(db: Database, ref: str) -> Member | None:
    async with db.read() as tx:
        return await members.by_ref(tx, ref)


class JoinStatus(Enum):
    JOINED = "joined"
    ALREADY = "already"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    TAKEN = "taken"  # the member is bound to a different Telegram account


@dataclass(frozen=True, slots=True)
class Join:
    status: JoinStatus
    member: Member | None = None
    replaced_telegram_id: int | None = None
    """The account a rebind code took the member away from (it loses access at once)."""


def looks_like_code(text: str) -> bool:
    return 4 <= len(text) <= 64 and text.isalnum()


async def _join(
    db: Database, code: str, telegram_id: int, client_language: str | None, now: datetime
) -> Join:
    code = code.strip().upper()
    if not looks_like_code(code):
        return Join(JoinStatus.UNKNOWN)
    async with db.transaction() as tx:
        existing = await members.by_telegram_id(tx, telegram_id)
        if existing is not None:
            return Join(JoinStatus.ALREADY, existing)
        outcome, member_id = await invites.consume(tx, code, telegram_id, now)
        if outcome is InviteOutcome.UNKNOWN or member_id is None:
            return Join(JoinStatus.UNKNOWN)
        if outcome is InviteOutcome.USED:
            return Join(JoinStatus.USED)
        if outcome is InviteOutcome.EXPIRED:
            return Join(JoinStatus.EXPIRED)
        member = await members.by_id(tx, member_id)
        assert member is not None
        old = member.telegram_id
        if old is not None and old != telegram_id:
            if not await invites.is_rebind(tx, code) or not await members.rebind_telegram(
                tx, member.id, old, telegram_id, now
            ):
                # Rolling back keeps the code usable by the right person.
                raise _Taken(member)
            await members.bind_telegram(tx, member.id, telegram_id, client_language, now)
            moved = await outbox.readdress_person(tx, old, telegram_id)
            await audit.record(
                tx,
                now,
                member.id,
                "rebind",
                "member",
                member.id,
                old=old,
                new=telegram_id,
                readdressed=moved,
            )
            bound = await members.by_id(tx, member.id)
            return Join(JoinStatus.JOINED, bound, replaced_telegram_id=old)
        await members.bind_telegram(tx, member.id, telegram_id, client_language, now)
        await audit.record(tx, now, member.id, "register", "member", member.id)
        bound = await members.by_id(tx, member.id)
        return Join(JoinStatus.JOINED, bound)


class _Taken(Exception):
    def __init__(self, member: Member) -> None:
        self.member = member


async def join(
    db: Database, code: str, telegram_id: int, client_language: str | None, now: datetime
) -> Join:
    try:
        return await _join(db, code, telegram_id, client_language, now)
    except _Taken:
        return Join(JoinStatus.TAKEN)


async def heard_from(db: Database, member: Member, now: datetime) -> Member:
    """A member marked unreachable wrote to the bot in private: whatever blocked the
    bot is undone (Telegram delivers nothing from a user who blocked it), so circulars,
    recaps and alerts reach them again."""

    async def mark(tx: Tx) -> None:
        if await members.mark_reachable(tx, member.id):
            await audit.record(tx, now, member.id, "reachable", "member", member.id)

    await db.concurrently(mark, bookkeeping=True)  # the member's own row, by its key
    return replace(member, unreachable=False)


async def note_app_language(db: Database, member: Member, client_language: str) -> Member:
    """The language the member's Telegram app reports, remembered: messages the bot sends
    on its own (alerts, forwards, circulars) follow it when the member set none."""
    await db.concurrently(
        lambda tx: members.note_client_language(tx, member.id, client_language),
        bookkeeping=True,
    )
    return replace(member, client_language=client_language)


class MemberCache:
    """Who is behind a Telegram id, remembered briefly: every update asks, few change.

    Roles or posts changed by an import in another process show up within ``ttl``;
    a registration in this process is seen at once (``forget``)."""

    def __init__(self, ttl: float = 10.0, size: int = 50_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[int, tuple[float, Member | None]] = {}

    def get(self, telegram_id: int) -> tuple[bool, Member | None]:
        entry = self._entries.get(telegram_id)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, telegram_id: int, member: Member | None) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[telegram_id] = (time.monotonic() + self.ttl, member)

    def forget(self, telegram_id: int) -> None:
        self._entries.pop(telegram_id, None)


async def recognise(
    db: Database, telegram_id: int, cache: MemberCache | None = None
) -> Member | None:
    if cache is not None:
        known, member = cache.get(telegram_id)
        if known:
            return member
    async with db.read(consistent=False) as tx:
        member = await members.by_telegram_id(tx, telegram_id)
    if cache is not None:
        cache.put(telegram_id, member)
    return member
