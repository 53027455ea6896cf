"""Circulars (siaran) and scheduled announcements (jadwal): the rules.

* ``/siaran <scope> <text>`` makes a *draft* (stored, so it survives a restart) and tells
  the author how many people it reaches; the author's confirm moves it draft → sending with
  a compare-and-swap and, in the same transaction, writes one BULK outbox row per reachable
  recipient (``executemany``), linked from ``circular_recipients.outbox_id``. Members
  already marked unreachable get a recipient row without a copy and count as blocked.
* Each copy carries a "read" button; a press records ``read_at`` once (CAS) and marks the
  circular's report dirty.
* The author's delivery report is one message, edited in place by :func:`refresh_reports`
  (run by a job): only when the figures changed, at most once per ``REPORT_EVERY``, and
  never while an earlier edit of it is still queued. The edits go through the outbox.
* A scheduled announcement fires once (CAS on ``fired_at``) as a circular without a confirm
  step, in the same transaction that creates the circular and its outbox rows; its report
  is a new message to the author, then edited like any other.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.core.access import Role, has_role, language_of
from bot.core.clock import WIB, day_hhmm
from bot.core.i18n import LANGUAGES, t
from storage import areas, audit, members, posts
from storage import circulars as store
from storage.circulars import REPORT_KIND, Announcement, Circular, Figures, ReadOutcome, Unread
from storage.db import Database, Tx
from storage.outbox import Priority, enqueue
from storage.records import Member

log = logging.getLogger(__name__)

PREFIX = "cr:"
CONFIRM_PREFIX = "cr:ok:"
CANCEL_PREFIX = "cr:no:"
READ_PREFIX = "cr:r:"

TELEGRAM_LIMIT = 4096
REPORT_EVERY = timedelta(seconds=2)
"""At most one edit of a delivery report per this long."""
PREVIEW_CHARS = 600
SNIPPET_CHARS = 48
MAX_UNREAD_GROUPS = 8
MAX_UNREAD_NAMES = 24
MAX_NAMES_PER_GROUP = 3
MAX_NAME = 24
FIRE_BATCH = 20

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


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# Scopes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str
    """``all``, ``role``, ``area`` or ``post``."""
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
    return []


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
    return t(language, "circular.scope_post", post=scope.name, code=scope.key)


def area_label(language: str, level: str | None, name: str | None) -> str:
    if name is None:
        return t(language, "circular.area_none")
    if level in ("kelurahan", "kecamatan"):
        return t(language, f"circular.area_{level}", name=name)
    return t(language, "circular.area_other", name=name)


# --------------------------------------------------------------------------------------------
# Writing: drafts, confirm, cancel, read
# --------------------------------------------------------------------------------------------


class DraftStatus(Enum):
    READY = "ready"
    USAGE = "usage"
    UNKNOWN_SCOPE = "unknown_scope"
    TOO_LONG = "too_long"
    NOBODY = "nobody"


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


def split_scope_and_text(args: str) -> tuple[str, str] | None:
    parts = args.split(maxsplit=1)
    if len(parts) != 2 or not parts[1].strip():
        return None
    return parts[0], parts[1].strip()


def check_length(text: str) -> tuple[int, int] | None:
    """(length, limit) when the text is too long for one copy; None when it fits."""
    length, limit = u16len(text), text_limit()
    return (length, limit) if length > limit else None


async def draft(db: Database, author: Member, args: str, now: datetime) -> Draft:
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
        people = await recipients(tx, scope)
        if not people:
            return Draft(DraftStatus.NOBODY, scope=scope)
        circular_id = await store.create(tx, author.id, scope.key, text, now)
        unreachable = sum(1 for person in people if person.unreachable)
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


async def _queue_copies(
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
        if found.author_id != author.id or not has_role(author, Role.ADMIN):
            return Confirm(ConfirmStatus.NOT_YOURS, found)
        if not await store.confirm(tx, circular_id, author.id, now, chat_id, message_id):
            status = (
                ConfirmStatus.CANCELLED if found.status == "cancelled" else ConfirmStatus.ALREADY
            )
            return Confirm(status, found)
        scope = await resolve_scope(tx, found.scope)
        await _queue_copies(tx, circular_id, found.text, scope, now, default_language)
        figures = await store.figures(tx, circular_id)
        circular = await store.by_id(tx, circular_id)
        assert circular is not None
        if report_message is None and author.telegram_id is not None:
            language = language_of(author, None, default_language)
            await _queue_report(tx, circular, figures, author.telegram_id, language, now)
        await store.note_report(tx, circular_id, figures.digest(circular.status), now)
        await audit.record(
            tx, now, author.id, "confirm", "circular", circular_id, recipients=figures.total
        )
    return Confirm(ConfirmStatus.SENT, circular, figures)


class CancelStatus(Enum):
    CANCELLED = "cancelled"
    ALREADY_SENT = "already_sent"
    ALREADY_CANCELLED = "already_cancelled"
    NOT_YOURS = "not_yours"
    UNKNOWN = "unknown"


async def cancel(db: Database, author: Member, circular_id: int, now: datetime) -> CancelStatus:
    async with db.transaction() as tx:
        found = await store.by_id(tx, circular_id)
        if found is None:
            return CancelStatus.UNKNOWN
        if found.author_id != author.id or not has_role(author, Role.ADMIN):
            return CancelStatus.NOT_YOURS
        if not await store.cancel(tx, circular_id, author.id):
            if found.status == "cancelled":
                return CancelStatus.ALREADY_CANCELLED
            return CancelStatus.ALREADY_SENT
        await audit.record(tx, now, author.id, "cancel", "circular", circular_id)
    return CancelStatus.CANCELLED


async def mark_read(
    db: Database, member: Member, circular_id: int, now: datetime
) -> ReadOutcome | None:
    """Record a read receipt once; None when there is no such circular."""
    async with db.transaction() as tx:
        if await store.by_id(tx, circular_id) is None:
            return None
        return await store.mark_read(tx, circular_id, member.id, now)


# --------------------------------------------------------------------------------------------
# The delivery report
# --------------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> int:
    return min(100, round(100 * part / whole)) if whole else 0


def report_text(
    language: str, circular: Circular, figures: Figures, *, detail_hint: bool = True
) -> str:
    lines = [
        t(
            language,
            "circular.report_title",
            id=circular.id,
            scope=circular.scope,
            snippet=snippet(circular.text),
        ),
        t(
            language,
            "circular.report_figures",
            total=figures.total,
            sent=figures.sent,
            sent_pct=_pct(figures.sent, figures.total),
            pending=figures.pending,
            failed=figures.failed,
            blocked=figures.blocked,
            read=figures.read,
            read_pct=_pct(figures.read, figures.sent),
        ),
        t(
            language,
            "circular.report_status",
            status=t(language, f"circular.status_{circular.status}"),
        ),
    ]
    if detail_hint:
        lines.append(t(language, "circular.report_hint", id=circular.id))
    return "\n".join(lines)


async def _queue_report(
    tx: Tx, circular: Circular, figures: Figures, chat_id: int, language: str, now: datetime
) -> None:
    outbox_id = await enqueue(
        tx,
        chat_id,
        report_text(language, circular, figures),
        now,
        kind=REPORT_KIND,
        priority=Priority.NOTICE,
        ref_type=REPORT_KIND,
        ref_id=circular.id,
    )
    await store.set_report_outbox(tx, circular.id, chat_id, outbox_id)


async def _author_language(tx: Tx, author_id: int, default: str) -> str:
    author = await members.by_id(tx, author_id)
    return language_of(author, None, default)


async def refresh_reports(db: Database, now: datetime, default_language: str) -> int:
    """Queue an edit of every delivery report whose figures changed (throttled); finish
    circulars with nothing left to send. Returns the number of edits queued."""
    edits = 0
    async with db.transaction() as tx:
        for circular in await store.live(tx):
            edits += await _refresh_one(tx, circular, now, default_language)
    return edits


async def _refresh_one(tx: Tx, circular: Circular, now: datetime, default: str) -> int:
    figures = await store.figures(tx, circular.id)
    status = circular.status
    if status == "sending" and figures.pending == 0 and await store.finish(tx, circular.id):
        status = "done"
        await audit.record(
            tx, now, None, "done", "circular", circular.id, sent=figures.sent, total=figures.total
        )
    digest = figures.digest(status)
    if digest == circular.report_digest:
        if circular.report_dirty:
            await store.set_dirty(tx, circular.id, False)
        return 0
    updated = circular.report_updated_at
    if updated is not None and now - updated < REPORT_EVERY and now >= updated:
        await store.set_dirty(tx, circular.id, True)  # come back once the throttle allows
        return 0
    chat_id, message_id = circular.report_chat_id, circular.report_message_id
    if message_id is None and circular.report_outbox_id is not None:
        state = await store.outbox_state(tx, circular.report_outbox_id)
        if state is not None and state[0] == "sent" and state[1] is not None:
            message_id = state[1]
            await store.set_report_message(tx, circular.id, chat_id, message_id)
        elif state is not None and state[0] in ("pending", "sending"):
            await store.set_dirty(tx, circular.id, True)
            return 0
    if chat_id is None or message_id is None:
        await store.note_report(tx, circular.id, digest, now)  # nowhere to show it
        return 0
    if await store.edit_queued(tx, circular.id):
        await store.set_dirty(tx, circular.id, True)
        return 0
    language = await _author_language(tx, circular.author_id, default)
    shown = replace(circular, status=status)
    await enqueue(
        tx,
        chat_id,
        report_text(language, shown, figures),
        now,
        kind=REPORT_KIND,
        priority=Priority.NOTICE,
        method="editMessageText",
        ref_type=REPORT_KIND,
        ref_id=circular.id,
        extra={"message_id": message_id},
    )
    await store.note_report(tx, circular.id, digest, now)
    return 1


# --------------------------------------------------------------------------------------------
# /siaran_status
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusView:
    circular: Circular
    figures: Figures
    unread: list[Unread] = field(default_factory=list)
    areas: dict[int, tuple[str, str]] = field(default_factory=dict)
    """area id → (level, name) of the unread recipients' areas."""


async def status(db: Database, circular_id: int | None) -> StatusView | Circular | None:
    """The figures and the unread list; a bare Circular when it was never sent."""
    async with db.read() as tx:
        if circular_id is None:
            circular = await store.latest_sent(tx)
        else:
            circular = await store.by_id(tx, circular_id)
        if circular is None:
            return None
        if circular.status not in ("sending", "done"):
            return circular
        figures = await store.figures(tx, circular.id)
        unread = await store.unread(tx, circular.id)
        ids = {person.area_id for person in unread if person.area_id is not None}
        names = await store.area_labels(tx, ids)
    return StatusView(circular, figures, unread, names)


def unread_text(language: str, view: StatusView) -> str:
    if not view.unread:
        return t(language, "circular.unread_none")
    groups: dict[str, list[str]] = {}
    for person in view.unread:
        level, name = view.areas.get(person.area_id, ("", None)) if person.area_id else ("", None)
        label = area_label(language, level, name)
        shown = person.name if len(person.name) <= MAX_NAME else person.name[: MAX_NAME - 1] + "…"
        groups.setdefault(label, []).append(("🚫" if person.unreachable else "") + shown)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    lines = [t(language, "circular.unread_title", count=len(view.unread))]
    shown_count = 0
    for label, names in ordered[:MAX_UNREAD_GROUPS]:
        room = min(MAX_NAMES_PER_GROUP, MAX_UNREAD_NAMES - shown_count)
        if room <= 0:
            break
        taken = names[:room]
        listed = ", ".join(taken) + (", …" if len(names) > len(taken) else "")
        lines.append(
            t(language, "circular.unread_group", area=label, count=len(names), names=listed)
        )
        shown_count += len(taken)
    rest = len(view.unread) - shown_count
    if rest > 0:
        lines.append(t(language, "circular.unread_more", count=rest))
    return "\n".join(lines)


def status_text(language: str, view: StatusView) -> str:
    return "\n\n".join(
        [
            report_text(language, view.circular, view.figures, detail_hint=False),
            unread_text(language, view),
        ]
    )


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
            await _queue_copies(tx, circular_id, item.text, scope, now, default_language)
            figures = await store.figures(tx, circular_id)
            circular = await store.by_id(tx, circular_id)
            assert circular is not None
            author = await members.by_id(tx, item.author_id)
            if author is not None and author.telegram_id is not None:
                language = language_of(author, None, default_language)
                await _queue_report(tx, circular, figures, author.telegram_id, language, now)
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
