"""The supervisor's issue desk: who may move an issue, which moves exist, what each tells whom.

Statuses move ``baru → diterima → ditangani → selesai`` (or straight from ``diterima`` to
``selesai``), or to ``ditolak`` from any open status (SPEC §2); a ``selesai`` issue can be
reopened to ``ditangani`` and a ``ditolak`` one to ``diterima``, with a reason. An issue
its reporter withdrew (shown ``ditarik``) allows no move. Every move is a compare-and-swap
on the status, writes an event and an audit row, and queues the reporter's notice in the
same transaction. Resolving needs a note, rejecting and reopening a reason: the pending
step lives in ``drafts`` so a restart between the button and the text loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.core.clock import day_hhmm
from bot.core.i18n import DEFAULT_LANGUAGE, label, t
from bot.core.scope import covers, scope_area_ids
from bot.reports import evidence
from bot.reports.filters import OPEN_STATUSES as OPEN_STATUSES
from bot.reports.filters import Filter as Filter
from bot.reports.filters import parse_filter as parse_filter
from bot.reports.filters import status_filter as status_filter
from bot.reports.forward_close import close_forwards
from bot.watch.escalation import climbing, levels_for, opening
from storage import areas, audit, drafts, issues, posts
from storage import watch as watch_store
from storage import web as web_store
from storage.db import Database, Tx
from storage.issues import IssueCard
from storage.outbox import Priority, enqueue
from storage.records import Issue, Member
from storage.watch import Recipient, recipient_language

log = logging.getLogger(__name__)

ACCEPT = "accept"
START = "start"
RESOLVE = "resolve"
REJECT = "reject"
REOPEN = "reopen"

NOTE_DRAFT = "issue_note"
MAX_NOTE = 500
SUMMARY_LIMIT = 300
ISSUE_CALLBACK = "sv:i:"
"""Callback data of the action buttons: ``sv:i:<issue_id>:<action>``."""
FORWARD_CALLBACK = "fw:s:"
"""The ➡️ Teruskan button (disposisi to a partner agency): ``fw:s:<issue_id>``."""
FORWARDABLE = ("baru", "diterima", "ditangani")
ANNOUNCE_KIND = "issue_new"
STATUS_KIND = "issue_status"
TAKEN_KIND = "issue_taken"
OUTCOME_KIND = "issue_outcome"
CANCEL_WORDS = frozenset({"batal", "cancel", "/batal", "/cancel"})
DEFAULT_FOLLOW_UP = timedelta(hours=2)
FOLLOWED_STATUSES = ("diterima", "ditangani")


@dataclass(frozen=True, slots=True)
class Move:
    action: str
    sources: frozenset[str]
    target: str
    needs_note: bool


MOVES: dict[str, Move] = {
    ACCEPT: Move(ACCEPT, frozenset({"baru"}), "diterima", False),
    START: Move(START, frozenset({"diterima"}), "ditangani", False),
    RESOLVE: Move(RESOLVE, frozenset({"diterima", "ditangani"}), "selesai", True),
    REJECT: Move(REJECT, frozenset(OPEN_STATUSES), "ditolak", True),
    REOPEN: Move(REOPEN, frozenset({"selesai", "ditolak"}), "ditangani", True),
}
REOPENED_TO = {"selesai": "ditangani", "ditolak": "diterima"}
"""A resolved issue is handled again; a rejected one goes back to accepted."""


def target_of(move: Move, status: str) -> str:
    """Where ``move`` takes an issue that is in ``status``."""
    if move.action == REOPEN:
        return REOPENED_TO.get(status, move.target)
    return move.target


def next_actions(status: str) -> list[str]:
    """The moves allowed from ``status``, forward first, then reject."""
    return [action for action, move in MOVES.items() if status in move.sources]


class Verdict(Enum):
    DONE = "done"
    NEEDS_NOTE = "needs_note"  # the note step is stored; ask for the text
    MOVED = "moved"  # the issue is no longer where the button expected it
    NOT_ALLOWED = "not_allowed"  # not a supervisor, or outside the member's subtree
    UNKNOWN = "unknown"  # no such issue or action
    BUSY = "busy"  # a report being written holds the member's draft
    TOO_LONG = "too_long"
    EMPTY = "empty"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class DeskResult:
    verdict: Verdict
    card: IssueCard | None = None
    action: str | None = None
    origin: tuple[int, int] | None = None
    """(chat_id, message_id) of the card whose button started a note step."""


@dataclass(frozen=True, slots=True)
class Listing:
    total: int
    page: int
    pages: int
    cards: list[IssueCard]
    no_scope: bool = False
    unknown_post: bool = False


# --- rendering (shared by replies and queued messages) -----------------------------------


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def card_text(language: str, card: IssueCard) -> str:
    issue = card.issue
    assignee = t(language, "desk.assignee", name=card.assignee_name) if card.assignee_name else ""
    return t(
        language,
        "desk.card",
        icon=t(language, f"desk.icon_{issue.status}"),
        ref=issue.ref,
        status=t(language, f"issue_status.{issue.status}"),
        post=card.post_code,
        post_name=card.post_name,
        category=label(language, "category", issue.category),
        severity=t(language, f"severity.{issue.severity}"),
        time=day_hhmm(issue.created_at),
        reporter=card.reporter_name,
        text=_trim(issue.text, SUMMARY_LIMIT),
        photos=issue.photo_count,
        location=t(
            language, "desk.location_yes" if issue.latitude is not None else "desk.location_no"
        ),
        assignee=assignee,
    )


def action_rows(language: str, issue_id: int, status: str) -> list[list[tuple[str, str]]]:
    """(label, callback_data) of the buttons for the moves allowed from ``status``."""
    row = [
        (t(language, f"desk.{action}_button"), f"{ISSUE_CALLBACK}{issue_id}:{action}")
        for action in next_actions(status)
    ]
    rows = [row] if row else []
    if status in FORWARDABLE:
        rows.append([(t(language, "desk.forward_button"), f"{FORWARD_CALLBACK}{issue_id}")])
    return rows


def markup_json(rows: list[list[tuple[str, str]]]) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [{"text": text, "callback_data": data} for text, data in row] for row in rows
        ]
    }


def language_for(language: str | None, client_language: str | None = None) -> str:
    """The language a recipient reads: their own, else the English of their app, else Indonesian."""
    return recipient_language(language, client_language) or DEFAULT_LANGUAGE


def moved_by(language: str, card: IssueCard) -> str:
    name = card.last_actor_name
    return t(language, "desk.moved_by", name=name) if name else ""


# --- reading ------------------------------------------------------------------------------


async def listing(
    db: Database, member: Member, wanted: Filter, page: int, per_page: int
) -> Listing:
    """One page (1-based, clamped) of the issues in the member's subtree that ``wanted``
    lists, the most severe first, then the newest."""
    async with db.read() as tx:
        scope = await scope_area_ids(tx, member)
        if scope is not None and not scope:
            return Listing(0, 1, 1, [], no_scope=True)
        post_id: int | None = None
        if wanted.post_code is not None:
            post = await posts.by_code(tx, wanted.post_code)
            if post is None:
                return Listing(0, 1, 1, [], unknown_post=True)
            post_id = post.id
        where = issues.Where(scope, wanted.statuses, wanted.severity, post_id)
        total = await issues.count_in_areas(tx, where)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        cards = await issues.cards_in_areas(tx, where, per_page, (page - 1) * per_page)
        return Listing(total, page, pages, cards)


async def find(db: Database, member: Member, ref: str) -> IssueCard | None:
    """An issue by reference, only if it lies in the member's subtree."""
    async with db.read() as tx:
        card = await issues.card_by_ref(tx, ref)
        if card is None or not covers(await scope_area_ids(tx, member), card.area_id):
            return None
        return card


# --- moving -------------------------------------------------------------------------------


async def press(
    db: Database,
    member: Member,
    issue_id: int,
    action: str,
    now: datetime,
    origin: tuple[int, int] | None = None,
    follow_up_after: timedelta = DEFAULT_FOLLOW_UP,
) -> DeskResult:
    """A button: moves that need no note are done now; the others store the note step.
    An issue moved to diterima/ditangani is followed up after ``follow_up_after``."""
    async with db.transaction() as tx:
        move = MOVES.get(action)
        if move is None:
            return DeskResult(Verdict.UNKNOWN)
        checked = await _check(tx, member, issue_id, move)
        if checked.verdict is not Verdict.DONE or checked.card is None:
            return checked
        if not move.needs_note:
            pressed_in = origin[0] if origin is not None else None
            return await _apply(
                tx, member, checked.card, move, None, now, follow_up_after, pressed_in
            )
        existing = await drafts.get(tx, member.id)
        if existing is not None and existing.kind != NOTE_DRAFT:
            return DeskResult(Verdict.BUSY, checked.card, action)
        data: dict[str, Any] = {"issue_id": issue_id, "action": action}
        if origin is not None:
            data["chat_id"], data["message_id"] = origin
        await drafts.put(tx, member.id, NOTE_DRAFT, "note", data, now)
        return DeskResult(Verdict.NEEDS_NOTE, checked.card, action, origin)


async def cancel_note(db: Database, member: Member) -> bool:
    """Drop an awaited note (the member's report draft, if any, is left alone)."""
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind != NOTE_DRAFT:
            return False
        return await drafts.delete(tx, member.id)


async def give_note(
    db: Database,
    member: Member,
    text: str,
    now: datetime,
    follow_up_after: timedelta = DEFAULT_FOLLOW_UP,
) -> DeskResult | None:
    """The text after a resolve/reject button; None when no note is awaited."""
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind != NOTE_DRAFT:
            return None
        issue_id = int(draft.data.get("issue_id", 0))
        action = str(draft.data.get("action", ""))
        origin: tuple[int, int] | None = None
        if "chat_id" in draft.data and "message_id" in draft.data:
            origin = (int(draft.data["chat_id"]), int(draft.data["message_id"]))
        note = text.strip()
        card = await issues.card(tx, issue_id)
        if note.lower() in CANCEL_WORDS:
            await drafts.delete(tx, member.id)
            return DeskResult(Verdict.CANCELLED, card, action, origin)
        if not note:
            return DeskResult(Verdict.EMPTY, card, action, origin)
        if len(note) > MAX_NOTE:
            return DeskResult(Verdict.TOO_LONG, card, action, origin)
        await drafts.delete(tx, member.id)
        move = MOVES.get(action)
        if move is None:
            return DeskResult(Verdict.UNKNOWN, card, action, origin)
        checked = await _check(tx, member, issue_id, move)
        if checked.verdict is not Verdict.DONE or checked.card is None:
            return DeskResult(checked.verdict, checked.card or card, action, origin)
        pressed_in = origin[0] if origin is not None else None
        result = await _apply(
            tx, member, checked.card, move, note, now, follow_up_after, pressed_in
        )
        return DeskResult(result.verdict, result.card, action, origin)


async def move_now(
    db: Database,
    member: Member,
    issue_id: int,
    action: str,
    note: str | None,
    now: datetime,
    follow_up_after: timedelta = DEFAULT_FOLLOW_UP,
) -> DeskResult:
    """A move whose note (when it needs one) comes with it, as from the command room:
    the same checks, the same CAS and the same notices as the button and its note."""
    async with db.transaction() as tx:
        move = MOVES.get(action)
        if move is None:
            return DeskResult(Verdict.UNKNOWN)
        text = (note or "").strip() or None
        if move.needs_note and text is None:
            return DeskResult(Verdict.EMPTY, action=action)
        if text is not None and len(text) > MAX_NOTE:
            return DeskResult(Verdict.TOO_LONG, action=action)
        checked = await _check(tx, member, issue_id, move)
        if checked.verdict is not Verdict.DONE or checked.card is None:
            return checked
        return await _apply(tx, member, checked.card, move, text, now, follow_up_after)


async def _check(tx: Tx, member: Member, issue_id: int, move: Move) -> DeskResult:
    """Role, scope and status, on the server side, for every button and note."""
    card = await issues.card(tx, issue_id)
    if card is None:
        return DeskResult(Verdict.UNKNOWN, action=move.action)
    if not covers(await scope_area_ids(tx, member), card.area_id):
        return DeskResult(Verdict.NOT_ALLOWED, action=move.action)
    if card.issue.status not in move.sources:
        return DeskResult(Verdict.MOVED, card, move.action)
    return DeskResult(Verdict.DONE, card, move.action)


async def accept_on_forward(
    tx: Tx, member: Member, card: IssueCard, now: datetime, follow_up_after: timedelta
) -> None:
    """Forwarding a new report accepts it: the forwarder took it on, so the reporter can no
    longer withdraw it, the others are told, and it is followed up like any accepted one."""
    if card.issue.status == "baru":
        await _apply(tx, member, card, MOVES[ACCEPT], None, now, follow_up_after)


async def _apply(
    tx: Tx,
    member: Member,
    card: IssueCard,
    move: Move,
    note: str | None,
    now: datetime,
    follow_up_after: timedelta = DEFAULT_FOLLOW_UP,
    pressed_in: int | None = None,
) -> DeskResult:
    before = card.issue.status
    target = target_of(move, before)
    changed = await issues.change_status(
        tx,
        card.issue.id,
        before,
        target,
        member.id,
        note,
        now,
        # whoever takes it on (accepts, or starts work on it) is who it waits for
        assign=move.action in (ACCEPT, START),
    )
    current = await issues.card(tx, card.issue.id)
    if not changed or current is None:
        return DeskResult(Verdict.MOVED, current, move.action)
    await audit.record(
        tx,
        now,
        member.id,
        f"issue_{move.action}",
        "issue",
        card.issue.id,
        ref=card.issue.ref,
        from_status=before,
        to_status=target,
        note=note,
    )
    await close_forwards(tx, current, member, target, now)
    await web_store.publish_issue(tx, card.issue.id, move.action)
    followed = target in FOLLOWED_STATUSES
    await issues.set_follow_up(tx, card.issue.id, now + follow_up_after if followed else None)
    await _tell_reporter(tx, current, member, move, note, now)
    if before == "baru":
        await _tell_others(tx, current, member, now)
    else:
        await _tell_groups(tx, current, member, note, now, pressed_in)
    return DeskResult(Verdict.DONE, current, move.action)


async def _tell_groups(
    tx: Tx,
    card: IssueCard,
    actor: Member,
    note: str | None,
    now: datetime,
    pressed_in: int | None,
) -> None:
    """The group chats the report was announced to hear every later step (ditangani,
    selesai, ditolak, reopened), with the note; the group where the button was pressed
    already sees its card change."""
    for recipient in await issues.announced_to(tx, card.issue.id, ANNOUNCE_KIND):
        if recipient.member_id is not None or recipient.chat_id == pressed_in:
            continue
        language = language_for(recipient.language)
        await enqueue(
            tx,
            recipient.chat_id,
            t(
                language,
                "group.issue_outcome",
                icon=t(language, f"desk.icon_{card.issue.status}"),
                ref=card.issue.ref,
                status=t(language, f"issue_status.{card.issue.status}"),
                who=actor.name,
                note=_trim(note, SUMMARY_LIMIT) if note else "-",
            ),
            now,
            kind=OUTCOME_KIND,
            priority=Priority.NOTICE,
            topic_id=recipient.topic_id,
            ref_type="issue",
            ref_id=card.issue.id,
        )


async def _tell_reporter(
    tx: Tx, card: IssueCard, actor: Member, move: Move, note: str | None, now: datetime
) -> None:
    chat_id = card.reporter_telegram_id
    if chat_id is None or card.issue.reporter_id == actor.id:
        return
    language = language_for(card.reporter_language, card.reporter_client_language)
    text = t(
        language,
        f"desk.notice_{move.action}",
        ref=card.issue.ref,
        who=actor.name,
        note=note or "-",
    )
    await enqueue(
        tx,
        chat_id,
        text,
        now,
        kind=STATUS_KIND,
        priority=Priority.NOTICE,
        ref_type="issue",
        ref_id=card.issue.id,
    )


async def _tell_others(tx: Tx, card: IssueCard, actor: Member, now: datetime) -> None:
    """Those the new issue was announced to learn who took (or turned down) it."""
    for recipient in await issues.announced_to(tx, card.issue.id, ANNOUNCE_KIND):
        if recipient.chat_id == actor.telegram_id:
            continue
        language = language_for(recipient.language)
        await enqueue(
            tx,
            recipient.chat_id,
            t(
                language,
                "desk.taken_by",
                ref=card.issue.ref,
                status=t(language, f"issue_status.{card.issue.status}"),
                who=actor.name,
            ),
            now,
            kind=TAKEN_KIND,
            priority=Priority.NOTICE,
            topic_id=recipient.topic_id,
            ref_type="issue",
            ref_id=card.issue.id,
        )


# --- announcing ---------------------------------------------------------------------------


def announcement_text(language: str, card: IssueCard) -> str:
    key = "announce.title_darurat" if card.issue.severity == "darurat" else "announce.title"
    return t(
        language,
        "announce.body",
        title=t(language, key, post=card.post_code),
        card=card_text(language, card),
    )


async def announce_new_issue(tx: Tx, issue: Issue, now: datetime) -> int:
    """Queue the new issue to the supervisors of its post's area (the first step of the
    alert ladder, group chats included) with Terima/Tolak buttons; a ``darurat`` issue also
    goes to the next step up at once, ahead of other traffic. Call it in the transaction
    that created the issue. Returns the number of messages queued."""
    card = await issues.card(tx, issue.id)
    if card is None:
        return 0
    path = await areas.path(tx, card.area_id)
    ladder = levels_for(
        path, await watch_store.supervisors_by_area(tx), await watch_store.admins(tx)
    )
    if not ladder:
        log.warning("issue %s has nobody to be announced to", issue.ref)
        return 0
    urgent = issue.severity == "darurat"
    steps = ladder[:2] if urgent else ladder[:1]
    seen: set[tuple[int, int | None]] = set()
    recipients: list[Recipient] = []
    for index, level in enumerate(steps):
        for recipient in opening(level, path) if index == 0 else level.recipients:
            key = (recipient.chat_id, recipient.topic_id)
            if key not in seen:
                seen.add(key)
                recipients.append(recipient)
    priority = Priority.ALERT if urgent else Priority.NOTICE
    items = await evidence.load(tx, card)
    for recipient in recipients:
        language = language_for(recipient.language)
        await enqueue(
            tx,
            recipient.chat_id,
            announcement_text(language, card),
            now,
            kind=ANNOUNCE_KIND,
            priority=priority,
            reply_markup=markup_json(action_rows(language, issue.id, card.issue.status)),
            topic_id=recipient.topic_id,
            ref_type="issue",
            ref_id=issue.id,
        )
        await evidence.queue(
            tx,
            recipient.chat_id,
            language,
            card,
            now,
            priority=priority,
            topic_id=recipient.topic_id,
            items=items,
        )
    return len(recipients)


ESCALATING_SEVERITIES = ("tinggi", "darurat")


async def escalate_issue(
    tx: Tx,
    issue_id: int,
    step: int,
    now: datetime,
    ladder_for: Any,
) -> bool:
    """Pass an unaccepted issue on to ladder step ``step`` (like an alert climbing).

    ``ladder_for(path)`` gives the escalation levels; returns False when there is no such
    step (the issue is already at the top)."""
    card = await issues.card(tx, issue_id)
    if card is None or card.issue.status != "baru":
        return False
    path = await areas.path(tx, card.area_id)
    ladder = ladder_for(path)
    if step >= len(ladder):
        return False
    items = await evidence.load(tx, card)
    for recipient in climbing(ladder[step], path):
        language = language_for(recipient.language)
        lead = t(language, "announce.escalated", since=day_hhmm(card.issue.created_at))
        await enqueue(
            tx,
            recipient.chat_id,
            f"{lead}\n{announcement_text(language, card)}",
            now,
            kind=ANNOUNCE_KIND,
            priority=Priority.ALERT,
            reply_markup=markup_json(action_rows(language, issue_id, card.issue.status)),
            topic_id=recipient.topic_id,
            ref_type="issue",
            ref_id=issue_id,
        )
        await evidence.queue(
            tx,
            recipient.chat_id,
            language,
            card,
            now,
            priority=Priority.ALERT,
            topic_id=recipient.topic_id,
            items=items,
        )
    return True
