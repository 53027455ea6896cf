"""Circulars (siaran): the rules.

* ``/siaran <scope> <text>`` makes a *draft* (stored, so it survives a restart) and tells
  the author how many people it reaches; the author's confirm moves it draft → sending with
  a compare-and-swap and, in the same transaction, writes one BULK outbox row per reachable
  recipient (``executemany``), linked from ``circular_recipients.outbox_id``. Members
  already marked unreachable get a recipient row without a copy and count as blocked.
* Each copy carries a "read" button; a press records ``read_at`` once (CAS) and marks the
  circular's report dirty. The author's report lives in ``receipts``; scheduled
  announcements, which fire as circulars, in ``announcements``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from bot.circulars.receipts import queue_report
from bot.circulars.texts import area_label
from bot.core.access import Role, has_role, language_of
from bot.core.i18n import LANGUAGES, t
from storage import agencies, areas, audit, posts
from storage import circulars as store
from storage.circulars import Circular, Figures, ReadOutcome
from storage.db import Database, Tx
from storage.outbox import Priority, enqueue
from storage.records import Member

log = logging.getLogger(__name__)

PREFIX = "cr:"
CONFIRM_PREFIX = "cr:ok:"
CANCEL_PREFIX = "cr:no:"
READ_PREFIX = "cr:r:"
GROUP_COPY_KIND = store.GROUP_KIND

TELEGRAM_LIMIT = 4096
"""At most one edit of a delivery report per this long."""
PREVIEW_CHARS = 600

ALL_WORDS = frozenset({"semua", "all", "everyone"})
ROLE_WORDS: dict[str, Role] = {
    "petugas": Role.OFFICER,
    "officer": Role.OFFICER,
    "officers": Role.OFFICER,
    "pengawas": Role.SUPERVISOR,
    "supervisor": Role.SUPERVISOR,
    "supervisors": Role.SUPERVISOR,
    "admin": Role.ADMIN,
    "admins": Role.ADMIN,
}
# How a role scope is stored (the Indonesian word, as admins type it).
ROLE_SCOPE: dict[Role, str] = {
    Role.OFFICER: "petugas",
    Role.SUPERVISOR: "pengawas",
    Role.ADMIN: "admin",
}


def u16len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def text_limit() -> int:
    """The longest circular text whose copy (header included) fits one Telegram message."""
    header = max(u16len(t(lang, "circular.copy", id=10**9, text="")) for lang in LANGUAGES)
    return TELEGRAM_LIMIT - header


def preview(text: str) -> str:
    """The start of a circular as the author checks it, line breaks kept."""
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# Scopes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str
    """``all``, ``role``, ``agency`` (its liaisons), ``area`` or ``post``."""
    key: str
    """What is stored and shown in reports: ``semua``, ``petugas``, an area or post code."""
    name: str = ""
    role: Role | None = None
    target_id: int | None = None
    level: str = ""


async def resolve_scope(tx: Tx, word: str) -> Scope | None:
    lowered = word.strip().lower()
    if lowered in ALL_WORDS:
        return Scope("all", "semua")
    role = ROLE_WORDS.get(lowered)
    if role is not None:
        return Scope("role", ROLE_SCOPE[role], role=role)
    agency = await agencies.by_code(tx, lowered)
    if agency is not None:
        return Scope("agency", agency.code, agency.name, target_id=agency.id)
    area = await areas.by_code(tx, word.strip())
    if area is not None:
        return Scope("area", area.code, area.name, target_id=area.id, level=area.level)
    for code in dict.fromkeys((word.strip(), word.strip().upper())):
        post = await posts.by_code(tx, code)
        if post is not None:
            return Scope("post", post.code, post.name, target_id=post.id)
    return None


async def recipients(tx: Tx, scope: Scope) -> list[store.Recipient]:
    if scope.kind == "all":
        return await store.everyone(tx)
    if scope.kind == "role" and scope.role is not None:
        return await store.with_role(tx, scope.role.value)
    if scope.kind == "area" and scope.target_id is not None:
        return await store.in_areas(tx, await areas.subtree_ids(tx, [scope.target_id]))
    if scope.kind == "post" and scope.target_id is not None:
        return await store.of_post(tx, scope.target_id)
    if scope.kind == "agency" and scope.target_id is not None:
        return await store.of_agency(tx, scope.target_id)
    return []


async def inside(tx: Tx, scope: Scope, reach: Collection[int] | None) -> bool:
    """Does the scope lie within ``reach`` (area ids; None: everything)? A supervisor's
    circular may go to an area or a post of their subtree, never to everyone or a role."""
    if reach is None:
        return True
    if scope.kind == "area" and scope.target_id is not None:
        return scope.target_id in reach
    if scope.kind == "post" and scope.target_id is not None:
        post = await posts.by_id(tx, scope.target_id)
        return post is not None and post.area_id in reach
    return False


def scope_words(language: str, scope: Scope) -> str:
    """The scope in words for the author: 'semua anggota', 'Kec. Kebon Jeruk (31.73.01)'."""
    if scope.kind == "all":
        return t(language, "circular.scope_all")
    if scope.kind == "role" and scope.role is not None:
        return t(language, "circular.scope_role", role=t(language, f"role.{scope.role.value}"))
    if scope.kind == "area":
        return t(
            language,
            "circular.scope_area",
            area=area_label(language, scope.level, scope.name),
            code=scope.key,
        )
    if scope.kind == "agency":
        return t(language, "circular.scope_agency", agency=scope.name, code=scope.key)
    return t(language, "circular.scope_post", post=scope.name, code=scope.key)


# --------------------------------------------------------------------------------------------
# Writing: drafts, confirm, cancel, read
# --------------------------------------------------------------------------------------------


class DraftStatus(Enum):
    READY = "ready"
    USAGE = "usage"
    UNKNOWN_SCOPE = "unknown_scope"
    TOO_LONG = "too_long"
    NOBODY = "nobody"
    OUTSIDE = "outside"  # a scope beyond the supervisor's own subtree


@dataclass(frozen=True, slots=True)
class Draft:
    status: DraftStatus
    circular_id: int = 0
    scope: Scope | None = None
    scope_word: str = ""
    text: str = ""
    count: int = 0
    unreachable: int = 0
    length: int = 0
    limit: int = 0
    groups: int = 0
    """Posko bersama groups of an area scope, which get a copy too."""

    @property
    def copies(self) -> int:
        """Messages the circular will send: reachable recipients and groups."""
        return self.count - self.unreachable + self.groups


def split_scope_and_text(args: str) -> tuple[str, str] | None:
    parts = args.split(maxsplit=1)
    if len(parts) != 2 or not parts[1].strip():
        return None
    return parts[0], parts[1].strip()


def check_length(text: str) -> tuple[int, int] | None:
    """(length, limit) when the text is too long for one copy; None when it fits."""
    length, limit = u16len(text), text_limit()
    return (length, limit) if length > limit else None


async def draft(
    db: Database,
    author: Member,
    args: str,
    now: datetime,
    reach: Collection[int] | None = None,
) -> Draft:
    """``reach``: the area ids a supervisor with the siaran power may address (None: all,
    for admins)."""
    parsed = split_scope_and_text(args)
    if parsed is None:
        return Draft(DraftStatus.USAGE)
    word, text = parsed
    too_long = check_length(text)
    if too_long is not None:
        return Draft(DraftStatus.TOO_LONG, length=too_long[0], limit=too_long[1])
    async with db.transaction() as tx:
        scope = await resolve_scope(tx, word)
        if scope is None:
            return Draft(DraftStatus.UNKNOWN_SCOPE, scope_word=word[:32])
        if not await inside(tx, scope, reach):
            return Draft(DraftStatus.OUTSIDE, scope_word=word[:32])
        people = await recipients(tx, scope)
        if not people:
            return Draft(DraftStatus.NOBODY, scope=scope)
        circular_id = await store.create(tx, author.id, scope.key, text, now)
        unreachable = sum(1 for person in people if person.unreachable)
        groups = 0
        if scope.kind == "area" and scope.target_id is not None:
            groups = len(await areas.groups_in_subtree(tx, scope.target_id))
        await audit.record(
            tx, now, author.id, "draft", "circular", circular_id, scope=scope.key, count=len(people)
        )
    return Draft(
        DraftStatus.READY,
        circular_id,
        scope,
        word,
        text,
        len(people),
        unreachable,
        groups=groups,
    )


def copy_payload(language: str, circular_id: int, text: str) -> str:
    """A recipient's copy as outbox JSON: the text with its header and the read button."""
    payload: dict[str, Any] = {
        "text": t(language, "circular.copy", id=circular_id, text=text),
        "reply_markup": {
            "inline_keyboard": [
                [
                    {
                        "text": t(language, "circular.read_button"),
                        "callback_data": f"{READ_PREFIX}{circular_id}",
                    }
                ]
            ]
        },
    }
    return json.dumps(payload, ensure_ascii=False)


async def queue_copies(
    tx: Tx, circular_id: int, text: str, scope: Scope | None, now: datetime, default: str
) -> None:
    people = [] if scope is None else await recipients(tx, scope)
    payloads = {lang: copy_payload(lang, circular_id, text) for lang in LANGUAGES}
    copies: list[tuple[int, str]] = []
    unreachable: list[int] = []
    for person in people:
        if person.unreachable:
            unreachable.append(person.member_id)
        else:
            copies.append((person.chat_id, payloads[language_of(None, person.language, default)]))
    await store.add_recipients(tx, circular_id, copies, unreachable, now)
    if scope is not None and scope.kind == "area" and scope.target_id is not None:
        # The posko bersama groups of that area read it too (SPEC §8): a copy for the room,
        # without a read button (receipts are personal).
        for chat_id, topic_id in await areas.groups_in_subtree(tx, scope.target_id):
            await enqueue(
                tx,
                chat_id,
                t(default, "circular.copy", id=circular_id, text=text),
                now,
                kind=GROUP_COPY_KIND,
                priority=Priority.BULK,
                topic_id=topic_id,
                ref_type="circular",
                ref_id=circular_id,
            )


class ConfirmStatus(Enum):
    SENT = "sent"
    ALREADY = "already"
    CANCELLED = "cancelled"
    NOT_YOURS = "not_yours"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Confirm:
    status: ConfirmStatus
    circular: Circular | None = None
    figures: Figures | None = None


async def confirm(
    db: Database,
    author: Member,
    circular_id: int,
    now: datetime,
    default_language: str,
    report_message: tuple[int, int] | None,
    reach: Collection[int] | None = None,
) -> Confirm:
    """draft → sending and every copy queued, in one transaction; nothing on a replay.

    ``report_message`` is the (chat, message) the report will be edited into (the preview);
    without one a new report message is queued to the author.
    """
    chat_id, message_id = report_message if report_message else (None, None)
    async with db.transaction() as tx:
        found = await store.by_id(tx, circular_id)
        if found is None:
            return Confirm(ConfirmStatus.UNKNOWN)
        scope = await resolve_scope(tx, found.scope)
        if found.author_id != author.id or not await _may_send(tx, author, scope, reach):
            return Confirm(ConfirmStatus.NOT_YOURS, found)
        if not await store.confirm(tx, circular_id, author.id, now, chat_id, message_id):
            status = (
                ConfirmStatus.CANCELLED if found.status == "cancelled" else ConfirmStatus.ALREADY
            )
            return Confirm(status, found)
        await queue_copies(tx, circular_id, found.text, scope, now, default_language)
        figures = await store.figures(tx, circular_id)
        circular = await store.by_id(tx, circular_id)
        assert circular is not None
        if report_message is None and author.telegram_id is not None:
            language = language_of(author, None, default_language)
            await queue_report(tx, circular, figures, author.telegram_id, language, now)
        await store.note_report(tx, circular_id, figures.digest(circular.status), now)
        await audit.record(
            tx, now, author.id, "confirm", "circular", circular_id, recipients=figures.total
        )
        tx.publish("circular", id=circular_id, author_id=author.id, action="sent")
    return Confirm(ConfirmStatus.SENT, circular, figures)


async def _may_send(
    tx: Tx, author: Member, scope: Scope | None, reach: Collection[int] | None
) -> bool:
    """Admins anywhere; a supervisor with the power within their subtree, checked again
    at the moment of sending (the subtree or the scope may have changed since the draft)."""
    if reach is None:
        return has_role(author, Role.ADMIN)
    return scope is not None and await inside(tx, scope, reach)


class CancelStatus(Enum):
    CANCELLED = "cancelled"
    ALREADY_SENT = "already_sent"
    ALREADY_CANCELLED = "already_cancelled"
    NOT_YOURS = "not_yours"
    UNKNOWN = "unknown"


async def cancel(
    db: Database,
    author: Member,
    circular_id: int,
    now: datetime,
    reach: Collection[int] | None = None,
) -> CancelStatus:
    async with db.transaction() as tx:
        found = await store.by_id(tx, circular_id)
        if found is None:
            return CancelStatus.UNKNOWN
        mine = has_role(author, Role.ADMIN) if reach is None else bool(reach)
        if found.author_id != author.id or not mine:
            return CancelStatus.NOT_YOURS
        if not await store.cancel(tx, circular_id, author.id):
            if found.status == "cancelled":
                return CancelStatus.ALREADY_CANCELLED
            return CancelStatus.ALREADY_SENT
        await audit.record(tx, now, author.id, "cancel", "circular", circular_id)
    return CancelStatus.CANCELLED


async def retry_unpaid(
    db: Database,
    author: Member,
    circular_id: int,
    now: datetime,
    reach: Collection[int] | None = None,
) -> int | None:
    """The author sends again the copies refused for want of Stars; None when the circular
    is not theirs (or does not exist), else how many copies go out again."""
    async with db.transaction() as tx:
        found = await store.by_id(tx, circular_id)
        if found is None or found.author_id != author.id:
            return None
        scope = await resolve_scope(tx, found.scope)
        if not await _may_send(tx, author, scope, reach):  # as confirm checks, again now
            return None
        again = await store.retry_unpaid(tx, circular_id, now)
        if again:
            await audit.record(tx, now, author.id, "retry", "circular", circular_id, copies=again)
    return again


async def mark_read(
    db: Database, member: Member, circular_id: int, now: datetime
) -> ReadOutcome | None:
    """Record a read receipt once; None when there is no such circular."""
    async with db.transaction() as tx:
        found = await store.by_id(tx, circular_id)
        if found is None:
            return None
        outcome = await store.mark_read(tx, circular_id, member.id, now)
        if outcome is ReadOutcome.READ:
            tx.publish("circular", id=circular_id, author_id=found.author_id, action="read")
        return outcome
