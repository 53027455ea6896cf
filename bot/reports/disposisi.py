"""Disposisi (SPEC §8): a supervisor in scope (or an admin) forwards a report to a partner
agency; the agency's liaisons nearest up the tree from the post receive the card, accept
it, write progress notes, and finish it (selesai) or send it back (dikembalikan).

Every step is a compare-and-swap on the forward's state, writes a forward event and an
audit row, and queues the notices (liaisons, the reporter, the forwarding supervisor) in
the same transaction. A note awaited from someone lives in ``drafts`` so a restart
between the button and the text loses nothing. Role, agency and scope are checked on the
server for every button and every note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.core.access import Role, has_role
from bot.core.clock import day_hhmm
from bot.core.config import parse_duration
from bot.core.i18n import t
from bot.core.scope import covers, scope_area_ids
from bot.reports import evidence
from bot.reports.desk import (
    DEFAULT_FOLLOW_UP,
    FORWARD_CALLBACK,
    FORWARDABLE,
    accept_on_forward,
    card_text,
    language_for,
    markup_json,
)
from bot.reports.forward_room import tell_groups
from bot.watch.rules import MIN_REPEAT
from storage import agencies, areas, audit, drafts, forwards, issues, members, posts
from storage.agencies import Agency
from storage.db import Database, Tx
from storage.forwards import Forward
from storage.issues import IssueCard
from storage.outbox import Priority, enqueue
from storage.records import Member

PICK = FORWARD_CALLBACK
"""``fw:s:<issue_id>``: the ➡️ Teruskan button on a report card."""
AGENCY = "fw:a:"
"""``fw:a:<issue_id>:<agency_id>``: an agency picked."""
NO_NOTE = "fw:n:"
"""``fw:n:<issue_id>:<agency_id>``: forward without a note."""
STEP = "fw:x:"
"""``fw:x:<forward_id>:<action>``: a liaison's button."""

ACCEPT, PROGRESS, DONE, RETURN = "ok", "pr", "dn", "rt"
LIAISON_ACTIONS = (ACCEPT, PROGRESS, DONE, RETURN)
SOURCES: dict[str, tuple[str, ...]] = {
    ACCEPT: ("dikirim",),
    PROGRESS: ("diterima",),
    DONE: ("diterima",),
    RETURN: ("dikirim", "diterima"),
}
NOTE_DRAFT = "forward_note"
STEP_DRAFT = "forward_step"
MAX_NOTE = 1000
CARD_KIND = "forward_card"
NOTICE_KIND = "forward_notice"
CANCEL_WORDS = frozenset({"batal", "cancel", "/batal", "/cancel"})


class Outcome(Enum):
    DONE = "done"
    NEEDS_NOTE = "needs_note"
    NOT_ALLOWED = "not_allowed"
    UNKNOWN = "unknown"  # no such report, agency or forward
    MOVED = "moved"  # the report or forward is no longer where the button expected it
    NO_LIAISON = "no_liaison"
    ALREADY = "already"  # an open forward to this agency exists
    NO_AGENCIES = "no_agencies"
    BUSY = "busy"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    card: IssueCard | None = None
    agency: Agency | None = None
    forward: Forward | None = None
    action: str | None = None
    liaisons: list[Member] = field(default_factory=list)
    options: list[tuple[Agency, bool]] = field(default_factory=list)
    """(agency, suggested for the report's category), suggested first."""
    origin: tuple[int, int] | None = None


# --- who ----------------------------------------------------------------------------------


async def nearest_liaisons(
    tx: Tx, post_area_id: int, agency_id: int, above: int | None = None
) -> tuple[int, list[Member]] | None:
    """The agency's registered liaisons of the post's area, else of the nearest ancestor
    that has some; with ``above``, only areas strictly above that one on the path."""
    path = list(reversed(await areas.path(tx, post_area_id)))  # the post's area first
    if above is not None:
        ids = [area.id for area in path]
        if above not in ids:
            return None
        path = path[ids.index(above) + 1 :]
    for area in path:
        found = [m for m in await members.liaisons_of_area(tx, area.id, agency_id) if m.telegram_id]
        if found:
            return area.id, found
    return None


async def may_forward(tx: Tx, member: Member, card: IssueCard) -> bool:
    return has_role(member, Role.SUPERVISOR) and covers(
        await scope_area_ids(tx, member), card.area_id
    )


async def may_act(tx: Tx, member: Member, forward: Forward, card: IssueCard) -> bool:
    """A liaison of the forward's agency whose scope covers the report's post."""
    if not has_role(member, Role.LIAISON):
        return False
    agency = await agencies.of_member(tx, member.id)
    if agency is None or agency.id != forward.agency_id:
        return False
    scope = await areas.subtree_ids(tx, await members.scope_area_ids(tx, member.id))
    return card.area_id in scope


async def ladder_step(tx: Tx, card: IssueCard, default: timedelta) -> timedelta:
    """How long a forward waits before it climbs: the post's own ``escalate_after`` where
    posts.csv set one (as its alerts do), else the ``[watch]`` setting."""
    post = await posts.by_id(tx, card.issue.post_id)
    text = post.watch_policy.get("escalate_after") if post is not None else None
    if not text:
        return default
    try:
        return max(parse_duration(text), MIN_REPEAT)
    except ValueError:
        return default


# --- rendering ----------------------------------------------------------------------------


def liaison_rows(language: str, forward_id: int, state: str) -> list[list[tuple[str, str]]]:
    row = [
        (t(language, f"disposisi.button_{action}"), f"{STEP}{forward_id}:{action}")
        for action in LIAISON_ACTIONS
        if state in SOURCES[action]
    ]
    return [row] if row else []


def liaison_card(language: str, forward: Forward, card: IssueCard, climbed: bool = False) -> str:
    lead = t(
        language,
        "disposisi.card_climbed" if climbed else "disposisi.card_title",
        agency=forward.agency_name,
        who=forward.forwarder_name or "-",
        since=day_hhmm(forward.forwarded_at),
    )
    note = t(language, "disposisi.card_note", note=forward.note) if forward.note else ""
    state = t(language, f"forward_state.{forward.state}")
    return t(
        language,
        "disposisi.card",
        lead=lead,
        note=note,
        state=state,
        card=card_text(language, card),
    )


# --- the supervisor's side ----------------------------------------------------------------


async def options(
    db: Database, member: Member, issue_id: int, routing: Mapping[str, Sequence[str]]
) -> Result:
    """The agencies to pick from: those routed for the report's category first."""
    async with db.read() as tx:
        card = await issues.card(tx, issue_id)
        if card is None:
            return Result(Outcome.UNKNOWN)
        if not await may_forward(tx, member, card):
            return Result(Outcome.NOT_ALLOWED)
        if card.issue.status not in FORWARDABLE:
            return Result(Outcome.MOVED, card)
        every = await agencies.all_agencies(tx)
    if not every:
        return Result(Outcome.NO_AGENCIES, card)
    routed = list(routing.get(card.issue.category, ()))
    by_code = {agency.code: agency for agency in every}
    first = [(by_code[code], True) for code in routed if code in by_code]
    rest = [(agency, False) for agency in every if agency.code not in routed]
    return Result(Outcome.DONE, card, options=first + rest)


async def _check_forward(
    tx: Tx, member: Member, issue_id: int, agency_id: int
) -> tuple[Result, tuple[int, list[Member]] | None]:
    card = await issues.card(tx, issue_id)
    if card is None:
        return Result(Outcome.UNKNOWN), None
    if not await may_forward(tx, member, card):
        return Result(Outcome.NOT_ALLOWED), None
    agency = await agencies.by_id(tx, agency_id)
    if agency is None:
        return Result(Outcome.UNKNOWN, card), None
    if card.issue.status not in FORWARDABLE:
        return Result(Outcome.MOVED, card, agency), None
    existing = await forwards.open_to(tx, issue_id, agency_id)
    if existing is not None:
        return Result(Outcome.ALREADY, card, agency, existing), None
    target = await nearest_liaisons(tx, card.area_id, agency_id)
    if target is None:
        return Result(Outcome.NO_LIAISON, card, agency), None
    return Result(Outcome.DONE, card, agency, liaisons=target[1]), target


async def choose(
    db: Database, member: Member, issue_id: int, agency_id: int, now: datetime
) -> Result:
    """An agency picked: checked now (so a missing liaison is said at once), then the note
    is asked for."""
    async with db.transaction() as tx:
        checked, _target = await _check_forward(tx, member, issue_id, agency_id)
        if checked.outcome is not Outcome.DONE:
            return checked
        existing = await drafts.get(tx, member.id)
        if existing is not None and existing.kind not in (NOTE_DRAFT, STEP_DRAFT):
            return Result(Outcome.BUSY, checked.card, checked.agency)
        data = {"issue_id": issue_id, "agency_id": agency_id}
        await drafts.put(tx, member.id, NOTE_DRAFT, "note", data, now)
        return Result(Outcome.NEEDS_NOTE, checked.card, checked.agency, liaisons=checked.liaisons)


async def send(
    db: Database,
    member: Member,
    issue_id: int,
    agency_id: int,
    note: str | None,
    now: datetime,
    escalate_after: timedelta,
    follow_up_after: timedelta = DEFAULT_FOLLOW_UP,
) -> Result:
    async with db.transaction() as tx:
        return await _send(
            tx, member, issue_id, agency_id, note, now, escalate_after, follow_up_after
        )


async def _send(
    tx: Tx,
    member: Member,
    issue_id: int,
    agency_id: int,
    note: str | None,
    now: datetime,
    escalate_after: timedelta,
    follow_up_after: timedelta = DEFAULT_FOLLOW_UP,
) -> Result:
    draft = await drafts.get(tx, member.id)
    if draft is not None and draft.kind == NOTE_DRAFT:
        await drafts.delete(tx, member.id)
    checked, target = await _check_forward(tx, member, issue_id, agency_id)
    if checked.outcome is not Outcome.DONE or target is None or checked.card is None:
        return checked
    area_id, liaisons = target
    above = await nearest_liaisons(tx, checked.card.area_id, agency_id, above=area_id)
    step = await ladder_step(tx, checked.card, escalate_after)
    due = now + step if above is not None else None
    forward_id = await forwards.create(tx, issue_id, agency_id, member.id, note, area_id, due, now)
    forward = None if forward_id is None else await forwards.by_id(tx, forward_id)
    if forward is None:
        return Result(Outcome.ALREADY, checked.card, checked.agency)
    await audit.record(
        tx, now, member.id, "issue_forward", "issue", issue_id,
        ref=checked.card.issue.ref, agency=forward.agency_code, forward=forward.id,
    )  # fmt: skip
    await accept_on_forward(tx, member, checked.card, now, follow_up_after)
    _publish(tx, forward, checked.card, "sent")
    await _deliver_card(tx, forward, checked.card, liaisons, now, climbed=False)
    await _tell(tx, forward, checked.card, member, "sent", note, now)
    await tell_groups(tx, forward, checked.card, member, "sent", note, now, liaison_rows)
    if due is not None:
        tx.touched_deadlines = True
    return Result(Outcome.DONE, checked.card, checked.agency, forward, liaisons=liaisons)


async def _deliver_card(
    tx: Tx,
    forward: Forward,
    card: IssueCard,
    liaisons: Sequence[Member],
    now: datetime,
    *,
    climbed: bool,
) -> None:
    """The card to each liaison, its evidence (album, pin) right behind it (SPEC §8)."""
    items = await evidence.load(tx, card)
    priority = Priority.ALERT if card.issue.severity == "darurat" else Priority.NOTICE
    for liaison in liaisons:
        if liaison.telegram_id is None:
            continue
        language = language_for(liaison.language, liaison.client_language)
        await enqueue(
            tx,
            liaison.telegram_id,
            liaison_card(language, forward, card, climbed),
            now,
            kind=CARD_KIND,
            priority=priority,
            reply_markup=markup_json(liaison_rows(language, forward.id, forward.state)),
            ref_type="forward",
            ref_id=forward.id,
        )
        # The evidence travels with the card: the liaison judges the case from the photos
        # and the place without asking anyone for them.
        await evidence.queue(
            tx, liaison.telegram_id, language, card, now, priority=priority, items=items
        )


async def _tell(
    tx: Tx,
    forward: Forward,
    card: IssueCard,
    actor: Member,
    step: str,
    note: str | None,
    now: datetime,
) -> None:
    """The reporter and the forwarding supervisor hear of every step (not the actor)."""
    told: set[int] = set()
    targets = [
        (card.reporter_telegram_id, card.reporter_language, card.reporter_client_language),
        (forward.forwarder_telegram_id, forward.forwarder_language, None),
    ]
    for chat_id, language_setting, client in targets:
        if chat_id is None or chat_id == actor.telegram_id or chat_id in told:
            continue
        told.add(chat_id)
        language = language_for(language_setting, client)
        text = t(
            language,
            f"disposisi.notice_{step}",
            ref=card.issue.ref,
            agency=forward.agency_name,
            who=actor.name,
            note=note or "-",
        )
        if step == "sent" and not note:
            text = text.split(" " + t(language, "disposisi.note_word"))[0]
        text += "\n" + t(language, "disposisi.notice_follow", ref=card.issue.ref)
        await enqueue(
            tx, chat_id, text, now, kind=NOTICE_KIND, priority=Priority.NOTICE,
            ref_type="forward", ref_id=forward.id,
        )  # fmt: skip


# --- the liaison's side -------------------------------------------------------------------


async def _check_step(tx: Tx, member: Member, forward_id: int, action: str) -> Result:
    forward = await forwards.by_id(tx, forward_id)
    if forward is None or action not in SOURCES:
        return Result(Outcome.UNKNOWN, action=action)
    card = await issues.card(tx, forward.issue_id)
    if card is None:
        return Result(Outcome.UNKNOWN, action=action)
    if not await may_act(tx, member, forward, card):
        return Result(Outcome.NOT_ALLOWED, action=action)
    if forward.state not in SOURCES[action]:
        return Result(Outcome.MOVED, card, forward=forward, action=action)
    return Result(Outcome.DONE, card, forward=forward, action=action)


async def press(
    db: Database,
    member: Member,
    forward_id: int,
    action: str,
    now: datetime,
    origin: tuple[int, int] | None = None,
) -> Result:
    """A liaison's button: ✅ Terima is done now; the others ask for a note."""
    async with db.transaction() as tx:
        checked = await _check_step(tx, member, forward_id, action)
        if checked.outcome is not Outcome.DONE or checked.forward is None:
            return checked
        if action == ACCEPT:
            if not await forwards.accept(tx, forward_id, member.id, now):
                return await _moved(tx, forward_id, action)
            return await _after(tx, member, forward_id, "accepted", None, now)
        existing = await drafts.get(tx, member.id)
        if existing is not None and existing.kind not in (NOTE_DRAFT, STEP_DRAFT):
            return Result(Outcome.BUSY, checked.card, forward=checked.forward, action=action)
        data: dict[str, Any] = {"forward_id": forward_id, "action": action}
        if origin is not None:
            data["chat_id"], data["message_id"] = origin
        await drafts.put(tx, member.id, STEP_DRAFT, "note", data, now)
        return Result(
            Outcome.NEEDS_NOTE, checked.card, forward=checked.forward, action=action, origin=origin
        )


async def _moved(tx: Tx, forward_id: int, action: str) -> Result:
    forward = await forwards.by_id(tx, forward_id)
    card = None if forward is None else await issues.card(tx, forward.issue_id)
    return Result(Outcome.MOVED, card, forward=forward, action=action)


async def _after(
    tx: Tx, member: Member, forward_id: int, step: str, note: str | None, now: datetime
) -> Result:
    forward = await forwards.by_id(tx, forward_id)
    card = None if forward is None else await issues.card(tx, forward.issue_id)
    if forward is None or card is None:
        return Result(Outcome.UNKNOWN)
    await audit.record(
        tx, now, member.id, f"forward_{step}", "forward", forward_id,
        ref=card.issue.ref, agency=forward.agency_code, note=note,
    )  # fmt: skip
    await _tell(tx, forward, card, member, step, note, now)
    await tell_groups(tx, forward, card, member, step, note, now, liaison_rows)
    _publish(tx, forward, card, step)
    return Result(Outcome.DONE, card, forward=forward)


def _publish(tx: Tx, forward: Forward, card: IssueCard, step: str) -> None:
    """Tell the command room (the post's area decides who hears it; ids and states only)."""
    tx.publish(
        "forward", id=forward.id, issue_id=card.issue.id, ref=card.issue.ref,
        agency_id=forward.agency_id, agency=forward.agency_code, area_id=card.area_id,
        state=forward.state, action=step,
    )  # fmt: skip


async def give_note(
    db: Database, member: Member, text: str, now: datetime, escalate_after: timedelta
) -> Result | None:
    """Plain text that is an awaited note (a forward's, or a liaison's progress, done or
    return note); None when no such note is awaited."""
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind not in (NOTE_DRAFT, STEP_DRAFT):
            return None
        note = text.strip()
        if note.lower() in CANCEL_WORDS:
            await drafts.delete(tx, member.id)
            return Result(Outcome.CANCELLED, action=str(draft.data.get("action", "")))
        if draft.kind == NOTE_DRAFT:
            issue_id = int(draft.data.get("issue_id", 0))
            agency_id = int(draft.data.get("agency_id", 0))
            if not note:
                return Result(Outcome.EMPTY)
            if len(note) > MAX_NOTE:
                return Result(Outcome.TOO_LONG)
            return await _send(tx, member, issue_id, agency_id, note, now, escalate_after)
        forward_id = int(draft.data.get("forward_id", 0))
        action = str(draft.data.get("action", ""))
        origin: tuple[int, int] | None = None
        if "chat_id" in draft.data and "message_id" in draft.data:
            origin = (int(draft.data["chat_id"]), int(draft.data["message_id"]))
        if not note:
            return Result(Outcome.EMPTY, action=action)
        if len(note) > MAX_NOTE:
            return Result(Outcome.TOO_LONG, action=action)
        await drafts.delete(tx, member.id)
        checked = await _check_step(tx, member, forward_id, action)
        if checked.outcome is not Outcome.DONE:
            return checked
        if action == PROGRESS:
            await forwards.add_event(tx, forward_id, member.id, "progress", note, now)
            step = "progress"
        else:
            state = "selesai" if action == DONE else "dikembalikan"
            closed = await forwards.close(
                tx, forward_id, SOURCES[action], state, member.id, note, now
            )
            if not closed:
                return await _moved(tx, forward_id, action)
            step = "done" if action == DONE else "returned"
        result = await _after(tx, member, forward_id, step, note, now)
        return Result(result.outcome, result.card, forward=result.forward, action=action,
                      origin=origin)  # fmt: skip


async def cancel_notes(db: Database, member: Member) -> bool:
    async with db.transaction() as tx:
        draft = await drafts.get(tx, member.id)
        if draft is None or draft.kind not in (NOTE_DRAFT, STEP_DRAFT):
            return False
        return await drafts.delete(tx, member.id)


async def liaison_list(
    db: Database, member: Member, limit: int
) -> tuple[Agency | None, list[tuple[Forward, IssueCard]]]:
    """``/disposisi``: the forwards to the liaison's agency within their scope (None as
    the agency: not a liaison)."""
    async with db.read() as tx:
        if not has_role(member, Role.LIAISON):
            return None, []
        agency = await agencies.of_member(tx, member.id)
        if agency is None:
            return None, []
        scope = await areas.subtree_ids(tx, await members.scope_area_ids(tx, member.id))
        found: list[tuple[Forward, IssueCard]] = []
        for forward in await forwards.for_liaison(tx, agency.id, scope, limit):
            card = await issues.card(tx, forward.issue_id)
            if card is not None:
                found.append((forward, card))
        return agency, found


# --- the ladder (the watcher's pass) ------------------------------------------------------


async def climb_due(tx: Tx, now: datetime, limit: int, escalate_after: timedelta) -> int:
    """Unaccepted forwards whose time has come go to the agency's liaisons one level up
    (compare-and-swap, so two watchers never send twice); at the top the clock stops."""
    handled = 0
    for item in await forwards.due(tx, now, limit):
        forward = await forwards.by_id(tx, item.id)
        card = None if forward is None else await issues.card(tx, forward.issue_id)
        if forward is None or card is None or forward.state != "dikirim":
            await forwards.climb(tx, item, item.area_id, None, now)
            continue
        target = await nearest_liaisons(tx, card.area_id, forward.agency_id, above=item.area_id)
        if target is None:
            await forwards.climb(tx, item, item.area_id, None, now)
            continue
        area_id, liaisons = target
        higher = await nearest_liaisons(tx, card.area_id, forward.agency_id, above=area_id)
        due = now + await ladder_step(tx, card, escalate_after) if higher is not None else None
        if not await forwards.climb(tx, item, area_id, due, now):
            continue
        moved = await forwards.by_id(tx, item.id)
        if moved is not None:
            await _deliver_card(tx, moved, card, liaisons, now, climbed=True)
        handled += 1
    if handled:
        tx.touched_outbox = True
    return handled
