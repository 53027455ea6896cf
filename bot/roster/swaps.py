"""Tukar piket (SPEC §9): an officer offers a coming slot to a colleague of the same post;
the colleague accepts or declines; with ``[roster] swap_approval`` a supervisor in scope
of the post approves; then the slot changes hands. An unanswered request lapses when the
slot starts (the watcher's pass calls :func:`expire_due`).

Every button names only ids; who may press it is decided here against the database (the
slot's holder, the swap's colleague, a supervisor whose scope covers the post). Each step
is a compare-and-swap on the swap's version, writes an audit row and queues the notices
for the others in the same transaction. The presser's own answer is returned rendered
in their language (an :class:`Answer`), so the handler only shows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from bot.core.access import Role, has_role
from bot.core.clock import hhmm
from bot.core.i18n import t
from bot.core.scope import area_in_scope
from bot.reports.desk import language_for, markup_json
from bot.roster.swap_rules import SwapEvent, SwapRefused, next_state
from bot.roster.views import slot_button, slot_text
from bot.watch.escalation import levels_for
from storage import areas, audit, members, posts
from storage import roster as store
from storage import swaps as swap_store
from storage import watch as watch_store
from storage.db import Database, Tx
from storage.outbox import Priority, enqueue
from storage.records import Member, Post
from storage.roster import Slot
from storage.swaps import Swap
from storage.watch import Recipient

log = logging.getLogger(__name__)

PREFIX = "tk:"
PICK_SLOT = "tk:s:"
"""``tk:s:<slot_id>``: one of my coming slots picked."""
PICK_COLLEAGUE = "tk:m:"
"""``tk:m:<slot_id>:<member_id>``: the colleague picked; the request is sent."""
QUIT = "tk:q"
"""Close the picker without asking anyone."""
STEP = "tk:x:"
"""``tk:x:<swap_id>:<action>``: an answer to a request (action below)."""
ACTIONS: dict[str, SwapEvent] = {
    "a": SwapEvent.ACCEPT,
    "d": SwapEvent.DECLINE,
    "c": SwapEvent.CANCEL,
    "y": SwapEvent.APPROVE,
    "n": SwapEvent.REJECT,
}
_CODES = {event: code for code, event in ACTIONS.items()}

MAX_SLOTS = 10
MAX_COLLEAGUES = 20
REQUEST_KIND = "swap_request"
APPROVAL_KIND = "swap_approval"
NOTICE_KIND = "swap_notice"


class Outcome(Enum):
    DONE = "done"
    NOT_OFFICER = "not_officer"
    NO_SLOTS = "no_slots"
    NO_COLLEAGUES = "no_colleagues"
    UNKNOWN = "unknown"  # no such slot or swap (a garbage or stale button)
    NOT_YOURS = "not_yours"  # someone else's slot, request or approval
    STARTED = "started"
    ALREADY_OPEN = "already_open"
    SELF = "self"
    NOT_COLLEAGUE = "not_colleague"
    BUSY = "busy"
    UNREGISTERED = "unregistered"
    CLOSED = "closed"
    EXPIRED = "expired"
    NOT_NOW = "not_now"
    SLOT_MOVED = "slot_moved"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the presser sees: ``message`` replaces the pressed message (or answers the
    command) with ``rows`` as its buttons; ``toast`` answers the button press."""

    outcome: Outcome
    message: str | None = None
    rows: list[list[tuple[str, str]]] = field(default_factory=list)
    toast: str | None = None

    @property
    def refused(self) -> bool:
        return self.outcome is not Outcome.DONE


def _refusal(language: str, outcome: Outcome, **values: object) -> Answer:
    return Answer(outcome, toast=t(language, f"roster.swap_{outcome.value}", **values))


def step_data(swap_id: int, event: SwapEvent) -> str:
    return f"{STEP}{swap_id}:{_CODES[event]}"


def _language(member: Member) -> str:
    return language_for(member.language, member.client_language)


# --- choosing -----------------------------------------------------------------------------


async def choices(db: Database, member: Member, now: datetime, language: str) -> Answer:
    """``/tukar``: buttons of my slots that have not started."""
    if not has_role(member, Role.OFFICER):
        return Answer(Outcome.NOT_OFFICER, t(language, "roster.swap_not_officer"))
    async with db.read() as tx:
        coming = await swap_store.coming_of_member(tx, member.id, now, MAX_SLOTS)
        found = [(slot, await posts.by_id(tx, slot.post_id)) for slot in coming]
    pairs = [(slot, post) for slot, post in found if post is not None]
    if not pairs:
        return Answer(Outcome.NO_SLOTS, t(language, "roster.swap_no_slots"))
    rows = [[(slot_button(language, slot, post), f"{PICK_SLOT}{slot.id}")] for slot, post in pairs]
    rows.append([(t(language, "roster.button_quit"), QUIT)])
    return Answer(Outcome.DONE, t(language, "roster.swap_pick_slot"), rows)


async def _my_coming_slot(
    tx: Tx, member: Member, slot_id: int, now: datetime, language: str
) -> tuple[Slot, Post] | Answer:
    slot = await store.by_id(tx, slot_id)
    post = None if slot is None else await posts.by_id(tx, slot.post_id)
    if slot is None or post is None:
        return _refusal(language, Outcome.UNKNOWN)
    if slot.member_id != member.id:
        return _refusal(language, Outcome.NOT_YOURS)
    if slot.start_at <= now:
        return _refusal(language, Outcome.STARTED)
    waiting = await swap_store.open_swap_of_slot(tx, slot.id)
    if waiting is not None:
        other = await members.by_id(tx, waiting.to_member)
        return _refusal(language, Outcome.ALREADY_OPEN, name=other.name if other else "-")
    return slot, post


async def colleagues(
    db: Database, member: Member, slot_id: int, now: datetime, language: str
) -> Answer:
    """A slot picked: buttons of colleagues of its post who are free at that time and can
    answer (registered with the bot)."""
    async with db.read() as tx:
        mine = await _my_coming_slot(tx, member, slot_id, now, language)
        if isinstance(mine, Answer):
            return mine
        slot, post = mine
        others = [
            colleague
            for colleague in await members.officers_of_post(tx, post.id)
            if colleague.id != member.id and colleague.telegram_id is not None
        ]
        busy = await swap_store.busy_members(
            tx, [m.id for m in others], slot.start_at, slot.end_at, slot.id
        )
    free = [colleague for colleague in others if colleague.id not in busy][:MAX_COLLEAGUES]
    what = slot_text(language, slot, post)
    if not free:
        text = t(language, "roster.swap_no_colleagues", code=post.code, slot=what)
        # The pop-up holds 200 characters at most: the message says the rest.
        return Answer(
            Outcome.NO_COLLEAGUES, text, toast=t(language, "roster.swap_no_colleagues_toast")
        )
    rows = [[(c.name, f"{PICK_COLLEAGUE}{slot.id}:{c.id}")] for c in free]
    rows.append([(t(language, "roster.button_quit"), QUIT)])
    text = t(language, "roster.swap_pick_colleague", slot=what, code=post.code)
    return Answer(Outcome.DONE, text, rows)


async def request(
    db: Database, member: Member, slot_id: int, colleague_id: int, now: datetime, language: str
) -> Answer:
    """The colleague picked: checked again (the buttons may be old or forged), then the
    request goes to the colleague with ✅ Terima / ❌ Tolak."""
    async with db.transaction() as tx:
        mine = await _my_coming_slot(tx, member, slot_id, now, language)
        if isinstance(mine, Answer):
            return mine
        slot, post = mine
        if colleague_id == member.id:
            return _refusal(language, Outcome.SELF)
        colleague = next(
            (m for m in await members.officers_of_post(tx, post.id) if m.id == colleague_id), None
        )
        if colleague is None:
            return _refusal(language, Outcome.NOT_COLLEAGUE, code=post.code)
        if await swap_store.busy_members(tx, [colleague.id], slot.start_at, slot.end_at, slot.id):
            return _refusal(language, Outcome.BUSY, name=colleague.name)
        if colleague.telegram_id is None:
            return _refusal(language, Outcome.UNREGISTERED, name=colleague.name)
        swap_id = await swap_store.create_swap(
            tx, slot.id, member.id, colleague.id, now, expires_at=slot.start_at
        )
        await audit.record(
            tx, now, member.id, "swap_request", "swap", swap_id,
            slot=slot.id, post=post.code, to_member=colleague.id,
        )  # fmt: skip
        theirs = _language(colleague)
        await enqueue(
            tx,
            colleague.telegram_id,
            t(theirs, "roster.swap_request", name=member.name, slot=slot_text(theirs, slot, post)),
            now,
            kind=REQUEST_KIND,
            priority=Priority.NOTICE,
            reply_markup=markup_json(
                [
                    [
                        (t(theirs, "roster.button_accept"), step_data(swap_id, SwapEvent.ACCEPT)),
                        (t(theirs, "roster.button_decline"), step_data(swap_id, SwapEvent.DECLINE)),
                    ]
                ]
            ),
            ref_type="swap",
            ref_id=swap_id,
        )
        # The lapse at the slot's start needs no wake-up here: the runner reads the soonest
        # open swap in next_deadline after every pass, at most [watch] max_sleep apart.
        tx.touched_outbox = True
    text = t(
        language, "roster.swap_sent", slot=slot_text(language, slot, post), name=colleague.name
    )
    cancel = [[(t(language, "roster.button_withdraw"), step_data(swap_id, SwapEvent.CANCEL))]]
    return Answer(Outcome.DONE, text, cancel, toast=t(language, "roster.toast_sent"))


# --- answering ----------------------------------------------------------------------------


class _Changed(Exception):
    """The swap or its slot changed under the step: the transaction rolls back."""


@dataclass(frozen=True, slots=True)
class _Case:
    swap: Swap
    slot: Slot
    post: Post
    requester: Member
    colleague: Member


async def _case(tx: Tx, swap_id: int) -> _Case | None:
    swap = await swap_store.swap_by_id(tx, swap_id)
    slot = None if swap is None else await store.by_id(tx, swap.slot_id)
    post = None if slot is None else await posts.by_id(tx, slot.post_id)
    if swap is None or slot is None or post is None:
        return None
    requester = await members.by_id(tx, swap.from_member)
    colleague = await members.by_id(tx, swap.to_member)
    if requester is None or colleague is None:
        return None
    return _Case(swap, slot, post, requester, colleague)


async def _may(tx: Tx, member: Member, case: _Case, event: SwapEvent) -> bool:
    if event in (SwapEvent.ACCEPT, SwapEvent.DECLINE):
        return member.id == case.swap.to_member
    if event is SwapEvent.CANCEL:
        return member.id == case.swap.from_member
    return has_role(member, Role.SUPERVISOR) and await area_in_scope(tx, member, case.post.area_id)


def state_text(language: str, case: _Case, state: str) -> str:
    """How a request ended (or stands), for a message whose buttons no longer apply."""
    return t(
        language,
        "roster.swap_outcome",
        slot=slot_text(language, case.slot, case.post),
        who=f"{case.requester.name} → {case.colleague.name}",
        state=t(language, f"roster.swap_state_{state}"),
    )


async def press(
    db: Database,
    member: Member,
    swap_id: int,
    event: SwapEvent,
    now: datetime,
    language: str,
    *,
    approval_required: bool,
    remind_before: timedelta,
) -> Answer:
    """Accept, decline, cancel, approve or reject a request."""
    try:
        async with db.transaction() as tx:
            return await _press(
                tx, member, swap_id, event, now, language, approval_required, remind_before
            )
    except _Changed:
        async with db.read() as tx:
            case = await _case(tx, swap_id)
        if case is None:
            return _refusal(language, Outcome.UNKNOWN)
        state = t(language, f"roster.swap_state_{case.swap.state}")
        return Answer(
            Outcome.CLOSED,
            state_text(language, case, case.swap.state),
            toast=t(language, "roster.swap_closed", state=state),
        )


async def _press(
    tx: Tx,
    member: Member,
    swap_id: int,
    event: SwapEvent,
    now: datetime,
    language: str,
    approval_required: bool,
    remind_before: timedelta,
) -> Answer:
    case = await _case(tx, swap_id)
    if case is None:
        return _refusal(language, Outcome.UNKNOWN)
    if not await _may(tx, member, case, event):
        return _refusal(language, Outcome.NOT_YOURS)
    swap, slot = case.swap, case.slot
    try:
        state = next_state(swap.state, event, approval_required, swap.expires_at, now)
    except SwapRefused as refused:
        outcome = Outcome(refused.reason)
        shown = "kedaluwarsa" if outcome is Outcome.EXPIRED else swap.state
        words = t(language, f"roster.swap_state_{swap.state}")
        return Answer(
            outcome,
            state_text(language, case, shown),
            toast=t(language, f"roster.swap_{outcome.value}", state=words),
        )
    if state in ("menunggu_persetujuan", "disetujui") and slot.member_id != swap.from_member:
        return _refusal(language, Outcome.SLOT_MOVED)
    if state in ("menunggu_persetujuan", "disetujui") and (
        swap.to_member,
        slot.post_id,
    ) not in await store.officer_posts(tx, [swap.to_member]):
        # Taken off the post (or no longer an officer) since the request was made.
        return _refusal(language, Outcome.NOT_COLLEAGUE, code=case.post.code)
    if state in ("menunggu_persetujuan", "disetujui") and await swap_store.busy_members(
        tx, [swap.to_member], slot.start_at, slot.end_at, slot.id
    ):
        return _refusal(language, Outcome.BUSY, name=case.colleague.name)
    answered = event in (SwapEvent.ACCEPT, SwapEvent.DECLINE)
    decided_by = None if event is SwapEvent.ACCEPT else member.id
    if not await swap_store.move_swap(
        tx, swap, state, now, answered=answered, decided_by=decided_by
    ):
        raise _Changed
    if state == "disetujui" and not await store.set_holder(
        tx, slot.id, slot.version, swap.to_member
    ):
        raise _Changed
    await audit.record(
        tx, now, member.id, f"swap_{event.value}", "swap", swap.id,
        slot=slot.id, post=case.post.code, from_member=swap.from_member,
        to_member=swap.to_member, state=state,
    )  # fmt: skip
    tx.touched_outbox = True
    return await _after(tx, member, case, event, state, now, language, remind_before)


async def _after(
    tx: Tx,
    member: Member,
    case: _Case,
    event: SwapEvent,
    state: str,
    now: datetime,
    language: str,
    remind_before: timedelta,
) -> Answer:
    """Tell the others; return the presser's own answer."""
    requester, colleague = case.requester, case.colleague
    mine = slot_text(language, case.slot, case.post)
    toast = t(language, f"roster.toast_{event.value}")
    if event is SwapEvent.ACCEPT and state == "menunggu_persetujuan":
        await _ask_approval(tx, case, now)
        await _tell(tx, requester, "roster.swap_waiting_from", case, now, name=colleague.name)
        text = t(language, "roster.swap_waiting_to", slot=mine)
        return Answer(Outcome.DONE, text, toast=toast)
    if state == "disetujui":
        await _tell(tx, requester, "roster.swap_done_from", case, now, name=colleague.name)
        come = _when_to_come(language, case, now, remind_before)
        if event is SwapEvent.ACCEPT:
            text = t(language, "roster.swap_done_to", slot=mine, name=requester.name) + "\n" + come
            return Answer(Outcome.DONE, text, toast=toast)
        await _tell_holder(tx, case, now, remind_before)
        text = t(language, "roster.swap_done_approver", slot=mine, to_name=colleague.name,
                 from_name=requester.name)  # fmt: skip
        return Answer(Outcome.DONE, text, toast=toast)
    if event is SwapEvent.DECLINE:
        await _tell(tx, requester, "roster.swap_declined_from", case, now, name=colleague.name)
        return Answer(Outcome.DONE, t(language, "roster.swap_declined_to", slot=mine), toast=toast)
    if event is SwapEvent.CANCEL:
        await _tell(tx, colleague, "roster.swap_cancelled_to", case, now, name=requester.name)
        return Answer(
            Outcome.DONE, t(language, "roster.swap_cancelled_from", slot=mine), toast=toast
        )
    # rejected by a supervisor
    for person in (requester, colleague):
        await _tell(tx, person, "roster.swap_rejected", case, now, name=member.name,
                    holder=requester.name)  # fmt: skip
    text = t(language, "roster.swap_rejected_approver", slot=mine, holder=requester.name)
    return Answer(Outcome.DONE, text, toast=toast)


def _when_to_come(language: str, case: _Case, now: datetime, remind_before: timedelta) -> str:
    """The new holder is reminded by the watcher when the reminder is still ahead (the slot
    row names them now); past it, this notice is the reminder."""
    slot = case.slot
    if now < slot.start_at - remind_before:
        return t(language, "roster.swap_reminder_ahead", code=case.post.code)
    return t(language, "roster.swap_come", code=case.post.code, time=hhmm(slot.start_at))


async def _tell(
    tx: Tx, person: Member, key: str, case: _Case, now: datetime, **values: object
) -> None:
    if person.telegram_id is None:
        return
    language = _language(person)
    text = t(language, key, slot=slot_text(language, case.slot, case.post), **values)
    await enqueue(
        tx, person.telegram_id, text, now, kind=NOTICE_KIND, priority=Priority.NOTICE,
        ref_type="swap", ref_id=case.swap.id,
    )  # fmt: skip


async def _tell_holder(tx: Tx, case: _Case, now: datetime, remind_before: timedelta) -> None:
    """The colleague, approved by a supervisor: the slot is theirs, and when to come."""
    colleague = case.colleague
    if colleague.telegram_id is None:
        return
    language = _language(colleague)
    text = t(
        language,
        "roster.swap_done_to",
        slot=slot_text(language, case.slot, case.post),
        name=case.requester.name,
    )
    text += "\n" + _when_to_come(language, case, now, remind_before)
    await enqueue(
        tx, colleague.telegram_id, text, now, kind=NOTICE_KIND, priority=Priority.NOTICE,
        ref_type="swap", ref_id=case.swap.id,
    )  # fmt: skip


async def approvers(tx: Tx, post: Post) -> list[Recipient]:
    """The supervisors of the post's area, else of the nearest ancestor that has some (the
    first step of the alert ladder), people only: a group chat approves nothing."""
    path = await areas.path(tx, post.area_id)
    ladder = levels_for(
        path, await watch_store.supervisors_by_area(tx), await watch_store.admins(tx)
    )
    people = [r for r in ladder[0].recipients if r.member_id is not None] if ladder else []
    if not people:
        people = await watch_store.admins(tx)
    return people


async def _ask_approval(tx: Tx, case: _Case, now: datetime) -> None:
    people = await approvers(tx, case.post)
    if not people:
        log.warning("swap %s waits for an approver and there is none", case.swap.id)
    for person in people:
        language = language_for(person.language)
        text = t(
            language,
            "roster.swap_approval_request",
            slot=slot_text(language, case.slot, case.post),
            from_name=case.requester.name,
            to_name=case.colleague.name,
        )
        rows = [
            [
                (t(language, "roster.button_approve"), step_data(case.swap.id, SwapEvent.APPROVE)),
                (t(language, "roster.button_reject"), step_data(case.swap.id, SwapEvent.REJECT)),
            ]
        ]
        await enqueue(
            tx, person.chat_id, text, now, kind=APPROVAL_KIND, priority=Priority.NOTICE,
            reply_markup=markup_json(rows), ref_type="swap", ref_id=case.swap.id,
        )  # fmt: skip


# --- lapsing (the watcher's pass) and a new roster ----------------------------------------


async def cancel_for_slots(tx: Tx, slot_ids: list[int], now: datetime) -> int:
    """A new roster drops these coming slots: their open requests are cancelled and both
    people are told why (before the slots, and the requests with them, are deleted)."""
    cancelled = 0
    for swap in await swap_store.open_swaps_of_slots(tx, slot_ids):
        if not await swap_store.move_swap(tx, swap, "dibatalkan", now):
            continue
        cancelled += 1
        await audit.record(tx, now, None, "swap_roster_changed", "swap", swap.id,
                           slot=swap.slot_id)  # fmt: skip
        case = await _case(tx, swap.id)
        if case is None:
            continue
        for person in (case.requester, case.colleague):
            await _tell(tx, person, "roster.swap_roster_changed", case, now)
    if cancelled:
        tx.touched_outbox = True
    return cancelled


async def expire_due(tx: Tx, now: datetime, limit: int) -> int:
    """Open requests whose slot has started lapse (kedaluwarsa); the requester and the
    colleague are told. Compare-and-swap, so two watchers never tell twice."""
    handled = 0
    for swap in await swap_store.due_swaps(tx, now, limit):
        if not await swap_store.move_swap(tx, swap, "kedaluwarsa", now):
            continue
        handled += 1
        case = await _case(tx, swap.id)
        await audit.record(tx, now, None, "swap_expire", "swap", swap.id, slot=swap.slot_id)
        if case is None:
            continue
        await _tell(tx, case.requester, "roster.swap_expired_from", case, now,
                    code=case.post.code)  # fmt: skip
        await _tell(tx, case.colleague, "roster.swap_expired_to", case, now,
                    name=case.requester.name)  # fmt: skip
    if handled:
        tx.touched_outbox = True
    return handled
