"""Writing the roster: an import replaces the roster of the posts it names, and a daily
extension turns weekday rows into slots up to ``[roster] horizon_days`` ahead.

Slots already started are history (attendance) and are never changed by an import; a
coming slot that the new roster still has keeps its row (so nobody is reminded twice),
the others are dropped or added.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.core.config import RosterSettings
from bot.roster import swaps
from bot.roster.slots import ONE_DAY, Pattern, PlannedSlot, expand, first_step, wib_date
from storage import roster as store
from storage.db import Tx, to_db


@dataclass(frozen=True, slots=True)
class RosterPlan:
    """A roster file read and checked: for ``post_ids``, these weekday rows and these
    dated slots (the dates in ``dated_days`` replace the weekday rows)."""

    post_ids: Sequence[int]
    patterns: Sequence[Pattern]
    dated: Sequence[PlannedSlot]
    dated_days: set[tuple[int, date]]


@dataclass(frozen=True, slots=True)
class PlanResult:
    added: int
    kept: int
    dropped: int
    past: int  # rows whose slots had already started: left as they were


def horizon_end(now: datetime, settings: RosterSettings) -> date:
    return wib_date(now) + timedelta(days=settings.horizon_days)


async def write(tx: Tx, plan: RosterPlan, now: datetime, settings: RosterSettings) -> PlanResult:
    rows = [
        store.PatternRow(p.post_id, p.member_id, p.days, p.start_minute, p.end_minute)
        for p in plan.patterns
    ]
    ids = await store.replace_patterns(tx, plan.post_ids, rows, plan.dated_days)
    through = await store.expanded_through(tx) or horizon_end(now, settings)
    # From yesterday: a weekday row of last night may still be running (22:00-06:00).
    first = wib_date(now) - ONE_DAY
    with_ids = [
        (ids[(p.post_id, p.member_id, p.days, p.start_minute, p.end_minute)], p)
        for p in plan.patterns
    ]
    wanted = list(expand(with_ids, first, through, plan.dated_days))
    wanted += plan.dated
    existing = await store.future_slot_keys(tx, plan.post_ids, now)
    new: list[PlannedSlot] = []
    kept: set[int] = set()
    past = 0
    for slot in wanted:
        if slot.start_at <= now:
            past += 1
            continue
        key = (slot.post_id, slot.member_id, to_db(slot.start_at), to_db(slot.end_at))
        found = existing.get(key)  # type: ignore[arg-type]
        if found is not None:
            kept.add(found)
        else:
            new.append(slot)
    dropped = [slot_id for slot_id in existing.values() if slot_id not in kept]
    await swaps.cancel_for_slots(tx, dropped, now)
    await store.delete_slots(tx, dropped)
    await store.insert_slots(tx, _with_steps(new, now, settings))
    await store.set_expanded_through(tx, through)
    tx.touched_deadlines = True
    return PlanResult(len(new), len(kept), len(dropped), past)


async def extend(tx: Tx, now: datetime, settings: RosterSettings) -> int:
    """Expand weekday rows through the horizon; returns how many slots were added."""
    target = horizon_end(now, settings)
    through = await store.expanded_through(tx)
    if through is not None and through >= target:
        return 0
    first = wib_date(now) if through is None else through + ONE_DAY
    patterns = [
        (pattern_id, Pattern(p.post_id, p.member_id, p.days, p.start_minute, p.end_minute))
        for pattern_id, p in await store.all_patterns(tx)
    ]
    skipped = await store.dated_days(tx, first, target)
    new = [slot for slot in expand(patterns, first, target, skipped) if slot.end_at > now]
    await store.insert_slots(tx, _with_steps(new, now, settings))
    await store.set_expanded_through(tx, target)
    if new:
        tx.touched_deadlines = True
    return len(new)


def _with_steps(
    slots: Iterable[PlannedSlot], now: datetime, settings: RosterSettings
) -> Iterator[store.NewSlot]:
    for slot in slots:
        step = first_step(slot.start_at, slot.end_at, now, settings.remind_before)
        yield (
            slot.post_id,
            slot.member_id,
            slot.start_at,
            slot.end_at,
            slot.pattern_id,
            None if step is None else step.at,
            None if step is None else step.kind,
        )
