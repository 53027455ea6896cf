"""Piket in the watcher (SPEC §9): each slot's deadlines (remind → start → nudge → end) sit
in the same partial index as the posts' and are walked in the watcher's pass, in its
transaction, after the posts.

A step is compare-and-swap on the slot's version; a slot changed under the pass (a
check-in, a swap) makes the whole pass roll back and retry, so nobody is told twice.
Starts and ends change how many officers a post needs, so their posts are re-decided
in the same pass.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.config import Settings
from bot.core.i18n import t
from bot.roster.attendance import Mark, classify
from bot.roster.slots import Step, after, required_staff
from bot.roster.views import hours
from storage import alerts as alerts_store
from storage import roster as store
from storage import watch as watch_store
from storage.alerts import Person
from storage.db import Tx
from storage.outbox import Priority
from storage.records import Post
from storage.roster import Slot, SlotStep
from storage.watch import recipient_language

# Slot steps per pass: a shift change starts (and ends) tens of thousands at once, and
# each step is a few microseconds of Python and one row of one executemany. A national
# shift change (20,000 slots ending, as many starting: bench/roster.py) fits one pass;
# cut in two, most of its posts were re-decided twice, the second time for nothing.
SLOT_PASS_LIMIT = 50_000

OutboxRow = tuple[int, int | None, int, str, str, str | None, int | None]


class PostRefresh(Protocol):
    settings: Settings

    async def refresh(self, tx: Tx, post_ids: Sequence[int], now: datetime) -> object: ...


def _minutes(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds() / 60))


def _row(chat_id: int, text: str, kind: str, slot_id: int) -> OutboxRow:
    payload = json.dumps({"text": text}, ensure_ascii=False)
    return (chat_id, None, int(Priority.NOTICE), kind, payload, "slot", slot_id)


async def walk(watcher: PostRefresh, tx: Tx, now: datetime) -> tuple[int, bool]:
    """Take every due slot through its due steps; returns (how many slots, whether
    every step held)."""
    due = await store.due(tx, now, SLOT_PASS_LIMIT)
    if not due:
        return 0, True
    late_after = watcher.settings.roster.late_after
    at_post = await store.on_duty_at(tx, sorted({slot.member_id for slot in due}))
    messages: list[tuple[Slot, str, int]] = []
    steps: list[SlotStep] = []
    redecide: set[int] = set()
    for slot in due:
        here = at_post.get(slot.member_id) == slot.post_id
        arrived, reminded, nudged = slot.arrived_at, slot.reminded_at, slot.nudged_at
        outcome, late = slot.outcome, slot.late_minutes
        step: Step | None = Step(slot.due_kind or "end", slot.next_due_at or now)
        # Steps already past (a pass late after a restart) are taken together; only the
        # latest one still meaningful speaks.
        while step is not None and step.at <= now:
            kind = step.kind
            if kind == "remind":
                reminded = now
                if not here and now < slot.start_at:
                    messages.append((slot, "roster_watch.remind", _minutes(slot.start_at - now)))
            elif kind == "start":
                if here and arrived is None:
                    arrived = slot.start_at  # checked in well before: on time
                redecide.add(slot.post_id)
            elif kind == "nudge":
                nudged = now
                if arrived is None and not here and now < slot.end_at:
                    messages.append((slot, "roster_watch.nudge", _minutes(now - slot.start_at)))
            else:
                attendance = classify(
                    slot.start_at, slot.end_at, arrived, slot.left_at, slot.end_at
                )
                outcome = attendance.outcome
                late = attendance.late_minutes if attendance.mark is Mark.LATE else None
                redecide.add(slot.post_id)
                step = None
                break
            step = after(kind, slot.start_at, slot.end_at, arrived is not None, late_after)
        steps.append(
            SlotStep(
                slot.id,
                slot.version,
                None if step is None else step.at,
                None if step is None else step.kind,
                reminded,
                nudged,
                arrived,
                outcome,
                late,
            )
        )
    if await store.save_steps_batch(tx, steps) != len(steps):
        return len(steps), False
    if messages:
        await watch_store.outbox_many(tx, await _texts(watcher, tx, messages), now)
        tx.touched_outbox = True
    if redecide:
        await watcher.refresh(tx, sorted(redecide), now)
    tx.touched_deadlines = True
    return len(steps), True


async def _texts(
    watcher: PostRefresh, tx: Tx, messages: Sequence[tuple[Slot, str, int]]
) -> list[OutboxRow]:
    """The reminders and nudges, each in its officer's language (registered ones only)."""
    addressees = await store.addressees(tx, sorted({slot.member_id for slot, _, _ in messages}))
    codes = await store.post_codes(tx, sorted({slot.post_id for slot, _, _ in messages}))
    default_language = watcher.settings.bot.default_language
    rows: list[OutboxRow] = []
    for slot, key, minutes in messages:
        addressee = addressees.get(slot.member_id)
        if addressee is None:
            continue
        language = (
            recipient_language(addressee.member_language, addressee.client_language)
            or default_language
        )
        text = t(
            language, key, post=codes.get(slot.post_id, "-"), span=hours(slot), minutes=minutes
        )
        rows.append(_row(addressee.chat_id, text, f"slot_{key.rsplit('.', 1)[1]}", slot.id))
    return rows


def staffing(
    post: Post, running: Sequence[Slot] | None, on_duty: int
) -> tuple[int, datetime | None]:
    """(officers required, short since) of a post: max(min_staff, slots running now). A
    post that was fully staffed until a slot started is short from that start, so the
    grace runs from there, not from the window's opening."""
    if not running:
        return post.min_staff, post.short_since
    required = required_staff(post.min_staff, len(running))
    short_since = post.short_since
    if short_since is None and on_duty < required:
        short_since = max(slot.start_at for slot in running)
    return required, short_since


async def people(tx: Tx, post_ids: Sequence[int], now: datetime) -> dict[int, list[Person]]:
    """``storage.alerts.people`` with whoever is rostered now marked (and added when not
    assigned): the alert texts name the absent ones first."""
    found = await alerts_store.people(tx, post_ids)
    for post_id, rostered in (await store.rostered_now(tx, post_ids, now)).items():
        listed = found.setdefault(post_id, [])
        marked = {person.member_id for person in rostered}
        # Who came and went before the end is not "absent": the text says they left.
        left = {
            person.member_id: person.slot.left_at
            for person in rostered
            if not person.on_duty and person.slot.arrived_at is not None
        }
        listed[:] = [
            replace(person, rostered=True, left_at=left.get(person.member_id))
            if person.member_id in marked
            else person
            for person in listed
        ]
        known = {person.member_id for person in listed}
        for person in rostered:
            if person.member_id not in known:
                known.add(person.member_id)
                listed.append(
                    Person(
                        person.member_id,
                        person.name,
                        person.phone,
                        person.on_duty,
                        True,
                        left_at=left.get(person.member_id),
                    )
                )
    return found
