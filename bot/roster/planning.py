"""Writing the roster: an import replaces the roster of the posts it names, and a daily
extension turns weekday rows into slots up to ``[roster] horizon_days`` ahead.

Slots already started are history (attendance) and are never changed by an import; a
coming slot that the new roster still has keeps its row (so nobody is reminded twice),
the others are dropped or added.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.core.clock import wib_date
from bot.core.config import RosterSettings
from bot.roster import swaps
from bot.roster.slots import (
    ONE_DAY,
    Pattern,
    PlannedSlot,
    days_between,
    first_step,
    span,
)
from storage import roster as store
from storage.db import Database, Tx, to_db


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
    existing = await store.future_slot_keys(tx, plan.post_ids, now)
    steps = _Steps(now, settings)
    new: list[store.SlotRow] = []
    kept: set[int] = set()
    past = 0
    wanted = _rows(with_ids, first, through, plan.dated_days, steps)
    dated = (steps.row(slot) for slot in plan.dated)
    for row in itertools.chain(wanted, dated):
        if row is None:
            past += 1
            continue
        found = existing.get((row[0], row[1], row[2], row[3])) if existing else None
        if found is not None:
            kept.add(found)
        else:
            new.append(row)
    dropped = [slot_id for slot_id in existing.values() if slot_id not in kept]
    await swaps.cancel_for_slots(tx, dropped, now)
    await store.delete_slots(tx, dropped)
    await store.insert_slot_rows(tx, new)
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
    patterns = [(pattern_id, _pattern(p)) for pattern_id, p in await store.all_patterns(tx)]
    skipped = await store.dated_days(tx, first, target)
    steps = _Steps(now, settings, ended_only=True)
    new = [row for row in _rows(patterns, first, target, skipped, steps) if row is not None]
    await store.insert_slot_rows(tx, new)
    await store.set_expanded_through(tx, target)
    if new:
        tx.touched_deadlines = True
    return len(new)


_Known = tuple[str, str, str | None, str | None]
"""A slot's start, end, first deadline (stored text) and the deadline's kind."""


# Rows per transaction of the daily extension (a day is ~320,000 slots nationally): each
# row lands on a page of its own in three indexes, so a transaction of 20,000 took 1.6 s
# (bench at 20,000 posts, loop_s 0.64).
EXTEND_ROWS_PER_STEP = 5_000


async def extend_in_steps(
    db: Database, now: datetime, settings: RosterSettings, rows_per_step: int = EXTEND_ROWS_PER_STEP
) -> int:
    """``extend`` in short transactions, so the bot keeps answering while a national
    roster grows by a day. The horizon moves only in the last one; a crash in between
    leaves slots that the next run skips. A roster imported meanwhile replaced the
    patterns of its posts (new ids) and expanded them only through the old horizon:
    the rows of replaced patterns are skipped, and the new patterns are expanded in the
    last transaction."""
    target = horizon_end(now, settings)
    async with db.read() as tx:
        through = await store.expanded_through(tx)
        if through is not None and through < target:
            patterns = await store.all_patterns(tx)
            skipped = await store.dated_days(tx, through + ONE_DAY, target)
    # Outside the read: the store's lock is not reentrant.
    if through is None:
        return await _extend_first(db, now, settings)
    if through >= target:
        return 0
    first = through + ONE_DAY
    known = {pattern_id for pattern_id, _ in patterns}
    steps = _Steps(now, settings, ended_only=True)
    as_patterns = [(pattern_id, _pattern(row)) for pattern_id, row in patterns]
    rows = [row for row in _rows(as_patterns, first, target, skipped, steps) if row is not None]
    del patterns, as_patterns
    added = 0
    for begin in range(0, len(rows), rows_per_step):
        async with db.transaction() as tx:
            if await store.expanded_through(tx) != through:
                return added  # extended meanwhile by another runner
            added += await store.insert_missing_slot_rows(tx, rows[begin : begin + rows_per_step])
            tx.touched_deadlines = True
    async with db.transaction() as tx:
        if await store.expanded_through(tx) != through:
            return added
        fresh = [
            (pattern_id, _pattern(row))
            for pattern_id, row in await store.all_patterns(tx)
            if pattern_id not in known
        ]
        if fresh:
            skipped = await store.dated_days(tx, first, target)
            late = [row for row in _rows(fresh, first, target, skipped, steps) if row is not None]
            added += await store.insert_missing_slot_rows(tx, late)
        await store.set_expanded_through(tx, target)
        tx.touched_deadlines = True
    return added


async def _extend_first(db: Database, now: datetime, settings: RosterSettings) -> int:
    """No horizon yet (no roster ever written): nothing to split."""
    async with db.transaction() as tx:
        return await extend(tx, now, settings)


def _pattern(row: store.PatternRow) -> Pattern:
    return Pattern(row.post_id, row.member_id, row.days, row.start_minute, row.end_minute)


class _Steps:
    """A slot's stored start, end and first deadline, worked out once per interval: the
    slots of a whole roster share a few hundred intervals, so a slot costs one tuple.
    ``None`` stands for a slot left out: already started (an import leaves those as
    they were) or, with ``ended_only``, already over."""

    def __init__(self, now: datetime, settings: RosterSettings, ended_only: bool = False) -> None:
        self.now = now
        self.remind_before = settings.remind_before
        self.ended_only = ended_only
        self._known: dict[tuple[datetime, datetime], _Known | None] = {}

    def of(self, start_at: datetime, end_at: datetime) -> _Known | None:
        key = (start_at, end_at)
        if key in self._known:
            return self._known[key]
        skipped = end_at <= self.now if self.ended_only else start_at <= self.now
        known = None
        if not skipped:
            step = first_step(start_at, end_at, self.now, self.remind_before)
            start_text, end_text = to_db(start_at), to_db(end_at)
            assert start_text is not None and end_text is not None
            known = (
                start_text,
                end_text,
                None if step is None else to_db(step.at),
                None if step is None else step.kind,
            )
        self._known[key] = known
        return known

    def row(self, slot: PlannedSlot) -> store.SlotRow | None:
        known = self.of(slot.start_at, slot.end_at)
        if known is None:
            return None
        return (slot.post_id, slot.member_id, known[0], known[1], slot.pattern_id, *known[2:])


def _rows(
    patterns: Sequence[tuple[int | None, Pattern]],
    first: date,
    last: date,
    dated_days: set[tuple[int, date]],
    steps: _Steps,
) -> Iterator[store.SlotRow | None]:
    """``slots.expand`` in stored form, pattern by pattern (each post's slots together, the
    order its indexes are kept in)."""
    days = list(days_between(first, last))
    spans: dict[tuple[int, int], list[tuple[date, int, _Known | None]]] = {}
    for pattern_id, pattern in patterns:
        key = (pattern.start_minute, pattern.end_minute)
        on_days = spans.get(key)
        if on_days is None:
            on_days = spans[key] = [
                (
                    day,
                    1 << day.weekday(),
                    steps.of(*span(day, pattern.start_minute, pattern.end_minute)),
                )
                for day in days
            ]
        post_id, member_id, mask = pattern.post_id, pattern.member_id, pattern.days
        for day, bit, known in on_days:
            if not mask & bit or (post_id, day) in dated_days:
                continue
            if known is None:
                yield None
            else:
                yield (post_id, member_id, known[0], known[1], pattern_id, known[2], known[3])
