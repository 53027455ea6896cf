"""The officer's own reports: one report with its history, and the corrections allowed while
nobody has accepted it yet (status ``baru``): withdraw it, change its category or severity,
add a note. Each is checked on the server (the reporter, the status), is a compare-and-swap
with its event and audit row, and tells the supervisors the report was announced to through
the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.core.i18n import DEFAULT_LANGUAGE, label, t
from bot.presence.checkin import PostWatch
from bot.reports import desk, evidence
from bot.reports.forward_close import close_forwards
from bot.watch.escalation import Level, levels_for
from storage import audit, drafts, issues
from storage import watch as watch_store
from storage import web as web_store
from storage.db import Database, Tx
from storage.issues import IssueCard, IssueEvent
from storage.outbox import Priority, enqueue
from storage.records import SEVERITIES, Area, Member

NOTE_DRAFT = "report_note"
PHOTOS_DRAFT = "report_photos"
MAX_NOTE = desk.MAX_NOTE
CORRECTABLE_STATUS = "baru"
FIX_KIND = "issue_fix"


class Fix(Enum):
    DONE = "done"
    NEEDS_NOTE = "needs_note"  # the note step is stored; ask for the text
    NOT_YOURS = "not_yours"  # no such report, or somebody else's
    NOT_NEW = "not_new"  # already accepted, closed or withdrawn: no more corrections
    SAME = "same"  # the value it already has
    BAD_CHOICE = "bad_choice"
    BUSY = "busy"  # another conversation (a report being written) holds the draft slot
    EMPTY = "empty"
    TOO_LONG = "too_long"
    CANCELLED = "cancelled"
    NEEDS_PHOTOS = "needs_photos"  # the photo step is stored; photos sent now are added
    FULL = "full"  # the report already holds max_photos


@dataclass(frozen=True, slots=True)
class FixResult:
    verdict: Fix
    card: IssueCard | None = None
    old: str | None = None


def may_correct(card: IssueCard) -> bool:
    return card.issue.status == CORRECTABLE_STATUS


def may_add_note(card: IssueCard) -> bool:
    """A note (more of what the officer saw) is welcome while the report is open, also
    after a supervisor took it on (SPEC §8, the reporter's follow-up)."""
    return card.issue.status in desk.OPEN_STATUSES


async def _own(tx: Tx, member: Member, issue_id: int) -> IssueCard | None:
    card = await issues.card(tx, issue_id)
    if card is None or card.issue.reporter_id != member.id:
        return None
    return card


async def own(db: Database, member: Member, issue_id: int) -> FixResult:
    """The member's own report, if it may still be corrected (DONE) or why not."""
    async with db.read() as tx:
        card = await _own(tx, member, issue_id)
        if card is None:
            return FixResult(Fix.NOT_YOURS)
        return FixResult(Fix.DONE if may_correct(card) else Fix.NOT_NEW, card)


async def mine(db: Database, member: Member, ref: str) -> tuple[IssueCard, list[IssueEvent]] | None:
    """One of the member's own reports by reference, with its history."""
    async with db.read() as tx:
        card = await issues.card_by_ref(tx, ref)
        if card is None or card.issue.reporter_id != member.id:
            return None
        return card, await issues.events(tx, card.issue.id)


Words = Callable[[str], dict[str, str]]


def _no_words(_language: str) -> dict[str, str]:
    return {}


async def _tell_supervisors(
    tx: Tx, card: IssueCard, key: str, now: datetime, words: Words = _no_words
) -> int:
    """Those the report was announced to (or climbed to) hear of the change, in their
    language, with the card's buttons when something can still be done with it."""
    recipients = await issues.announced_to(tx, card.issue.id, desk.ANNOUNCE_KIND)
    for recipient in recipients:
        language = recipient.language or DEFAULT_LANGUAGE
        text = t(language, key, ref=card.issue.ref, who=card.reporter_name, **words(language))
        rows = desk.action_rows(language, card.issue.id, card.issue.status)
        await enqueue(
            tx,
            recipient.chat_id,
            f"{text}\n\n{desk.card_text(language, card)}",
            now,
            kind=FIX_KIND,
            priority=Priority.NOTICE,
            reply_markup=desk.markup_json(rows) if rows else None,
            topic_id=recipient.topic_id,
            ref_type="issue",
            ref_id=card.issue.id,
        )
    return len(recipients)


async def withdraw(db: Database, member: Member, issue_id: int, now: datetime) -> FixResult:
    async with db.transaction() as tx:
        card = await _own(tx, member, issue_id)
        if card is None:
            return FixResult(Fix.NOT_YOURS)
        if not may_correct(card) or not await issues.withdraw(tx, issue_id, member.id, now):
            return FixResult(Fix.NOT_NEW, card)
        await audit.record(
            tx, now, member.id, "issue_withdraw", "issue", issue_id, ref=card.issue.ref
        )
        await web_store.publish_issue(tx, issue_id, "withdrawn")
        current = await issues.card(tx, issue_id)
        assert current is not None
        await _tell_supervisors(tx, current, "reports.notice_withdrawn", now)
        await close_forwards(tx, current, member, "ditarik", now)
        return FixResult(Fix.DONE, current)


async def correct(
    db: Database,
    member: Member,
    issue_id: int,
    field: str,
    value: str,
    categories: list[str],
    now: datetime,
    watch: PostWatch | None = None,
) -> FixResult:
    """Change the category or severity of the member's still-new report."""
    allowed = categories if field == "category" else list(SEVERITIES)
    if field not in issues.CORRECTABLE or value not in allowed:
        return FixResult(Fix.BAD_CHOICE)
    async with db.transaction() as tx:
        card = await _own(tx, member, issue_id)
        if card is None:
            return FixResult(Fix.NOT_YOURS)
        if not may_correct(card):
            return FixResult(Fix.NOT_NEW, card)
        old = await issues.correct(tx, issue_id, member.id, field, value, now)
        if old is None:
            return FixResult(Fix.SAME, card)
        await audit.record(
            tx, now, member.id, "issue_correct", "issue", issue_id,
            ref=card.issue.ref, field=field, old=old, new=value,
        )  # fmt: skip
        if field == "severity":
            # The climb follows the new severity: tinggi/darurat climb, the others do not;
            # a report made darurat goes one level up at once, as a new darurat one does.
            await watch_store.set_issue_due(tx, issue_id, 0, None)
            if value == "darurat":
                await desk.escalate_issue(tx, issue_id, 1, now, await _ladder_for(tx))
            if watch is not None:
                await watch.track_issue(tx, issue_id, card.issue.post_id, value, now)
        current = await issues.card(tx, issue_id)
        assert current is not None
        await _tell_supervisors(
            tx,
            current,
            f"reports.notice_corrected_{field}",
            now,
            lambda language: {
                "old": _word(language, field, old),
                "new": _word(language, field, value),
            },
        )
        return FixResult(Fix.DONE, current, old)


async def _ladder_for(tx: Tx) -> Callable[[list[Area]], list[Level]]:
    supervisors = await watch_store.supervisors_by_area(tx)
    admins = await watch_store.admins(tx)
    return lambda path: levels_for(path, supervisors, admins)


def _word(language: str, field: str, value: str) -> str:
    if field == "category":
        return label(language, "category", value)
    return t(language, f"severity.{value}")


async def ask_note(db: Database, member: Member, issue_id: int, now: datetime) -> FixResult:
    """Store the note step; the next plain text is the note."""
    async with db.transaction() as tx:
        card = await _own(tx, member, issue_id)
        if card is None:
            return FixResult(Fix.NOT_YOURS)
        if not may_add_note(card):
            return FixResult(Fix.NOT_NEW, card)
        existing = await drafts.get(tx, member.id)
        if existing is not None and existing.kind != NOTE_DRAFT:
            return FixResult(Fix.BUSY, card)
        await drafts.put(tx, member.id, NOTE_DRAFT, "note", {"issue_id": issue_id}, now)
        return FixResult(Fix.NEEDS_NOTE, card)


async def cancel_note(db: Database, member: Member) -> bool:
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind != NOTE_DRAFT:
            return False
        return await drafts.delete(tx, member.id)


async def give_note(db: Database, member: Member, text: str, now: datetime) -> FixResult | None:
    """The text after the note button; None when no note is awaited."""
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind != NOTE_DRAFT:
            return None
        issue_id = int(draft.data.get("issue_id", 0))
        card = await _own(tx, member, issue_id)
        note = text.strip()
        if note.lower() in desk.CANCEL_WORDS:
            await drafts.delete(tx, member.id)
            return FixResult(Fix.CANCELLED, card)
        if not note:
            return FixResult(Fix.EMPTY, card)
        if len(note) > MAX_NOTE:
            return FixResult(Fix.TOO_LONG, card)
        await drafts.delete(tx, member.id)
        if card is None:
            return FixResult(Fix.NOT_YOURS)
        if not may_add_note(card):
            return FixResult(Fix.NOT_NEW, card)
        await issues.add_note(tx, issue_id, member.id, note, now)
        await audit.record(tx, now, member.id, "issue_note", "issue", issue_id, ref=card.issue.ref)
        await _tell_supervisors(tx, card, "reports.notice_note", now, lambda _l: {"note": note})
        return FixResult(Fix.DONE, card)


# --- more photos for an open report (SPEC §8, the reporter's follow-up) --------------------


async def ask_photos(db: Database, member: Member, issue_id: int, now: datetime) -> FixResult:
    """Store the photo step: photos (or videos) the reporter sends next go to the report."""
    async with db.transaction() as tx:
        card = await _own(tx, member, issue_id)
        if card is None:
            return FixResult(Fix.NOT_YOURS)
        if not may_add_note(card):
            return FixResult(Fix.NOT_NEW, card)
        existing = await drafts.get(tx, member.id)
        if existing is not None and existing.kind != PHOTOS_DRAFT:
            return FixResult(Fix.BUSY, card)
        await drafts.put(tx, member.id, PHOTOS_DRAFT, "photos", {"issue_id": issue_id}, now)
        return FixResult(Fix.NEEDS_PHOTOS, card)


@dataclass(frozen=True, slots=True)
class Added:
    result: FixResult
    count: int = 0


async def add_photo(
    db: Database, member: Member, file_id: str, kind: str, limit: int, now: datetime
) -> Added | None:
    """A photo while the photo step is stored; None when no photos are awaited."""
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind != PHOTOS_DRAFT:
            return None
        card = await _own(tx, member, int(draft.data.get("issue_id", 0)))
        if card is None:
            await drafts.delete(tx, member.id)
            return Added(FixResult(Fix.NOT_YOURS))
        if not may_add_note(card):
            await drafts.delete(tx, member.id)
            return Added(FixResult(Fix.NOT_NEW, card))
        count = await issues.append_media(tx, card.issue.id, file_id, kind, limit)
        if count is None:
            return Added(FixResult(Fix.FULL, card), limit)
        await issues.add_note(tx, card.issue.id, member.id, f"📷 +1 ({count})", now)
        await audit.record(tx, now, member.id, "issue_photo", "issue", card.issue.id)
        await _tell_supervisors(
            tx, card, "reports.notice_photo", now, lambda _l: {"count": str(count)}
        )
        # the photo itself follows the notice (by file_id, never downloaded)
        for recipient in await issues.announced_to(tx, card.issue.id, desk.ANNOUNCE_KIND):
            language = recipient.language or DEFAULT_LANGUAGE
            await evidence.queue(
                tx, recipient.chat_id, language, card, now,
                topic_id=recipient.topic_id, items=[(file_id, kind)],
            )  # fmt: skip
        return Added(FixResult(Fix.DONE, card), count)


async def stop_photos(db: Database, member: Member) -> bool:
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind != PHOTOS_DRAFT:
            return False
        return await drafts.delete(tx, member.id)
