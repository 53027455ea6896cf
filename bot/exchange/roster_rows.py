"""``roster.csv`` (SPEC §9): ``post,member,date,start,end``.

``date`` is a date (2026-11-27) or weekdays (mon-fri; sat,sun); ``start``/``end`` are
WIB times and may cross midnight. Every row is checked first (unknown post, a member
unknown, no longer an officer or not assigned to the post, a bad date or time, a member
rostered twice at once) and nothing is written when any row is bad. The file then becomes
the roster of the posts it names: their coming slots follow it, started ones stay.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.core.config import RosterSettings
from bot.exchange.csv_file import Errors, Line, shown
from bot.roster import planning
from bot.roster.slots import (
    MINUTES_PER_WEEK,
    ONE_DAY,
    Pattern,
    PlannedSlot,
    RosterError,
    parse_day_spec,
    parse_time,
    span,
    week_intervals,
    weekdays,
)
from storage import roster as store
from storage.db import Tx

COLUMNS = ("post", "member", "date", "start", "end")


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    post_id: int
    post_code: str
    member_id: int
    member_ref: str
    when: date | int  # a date, or a weekday mask
    start_minute: int
    end_minute: int


async def import_roster(
    tx: Tx, lines: list[Line], errors: Errors, now: datetime, settings: RosterSettings
) -> tuple[int, int, int]:
    """Check every row, then write; returns (slots added, kept, dropped)."""
    context = await store.import_context(tx)
    rows = [row for line in lines if (row := _row(line, context, errors)) is not None]
    if not errors:
        _check_overlaps(rows, errors)
    errors.fail_if_any()
    post_ids = sorted({row.post_id for row in rows})
    patterns: dict[tuple[int, int, int, int, int], Pattern] = {}
    dated: list[PlannedSlot] = []
    dated_days: set[tuple[int, date]] = set()
    for row in rows:
        if isinstance(row.when, date):
            dated.append(
                PlannedSlot(
                    row.post_id, row.member_id, *span(row.when, row.start_minute, row.end_minute)
                )
            )
            dated_days.add((row.post_id, row.when))
        else:
            key = (row.post_id, row.member_id, row.when, row.start_minute, row.end_minute)
            patterns[key] = Pattern(*key)
    plan = planning.RosterPlan(post_ids, list(patterns.values()), dated, dated_days)
    result = await planning.write(tx, plan, now, settings)
    return result.added, result.kept, result.dropped


def _row(line: Line, context: store.ImportContext, errors: Errors) -> _Row | None:
    n = line.number
    ok = True
    post_code, ref = line["post"].upper(), line["member"]
    post_id = context.posts.get(post_code)
    if post_id is None:
        ok = False
        errors.add(n, "post", f"unknown post {shown(post_code)}; expected a code from posts.csv")
    member = context.members.get(ref)
    if member is None:
        ok = False
        errors.add(n, "member", f"unknown member {shown(ref)}; expected a ref from members.csv")
    elif not member[1]:
        ok = False
        errors.add(n, "member", f"{shown(ref)} is no longer an officer; expected a serving officer")
    elif post_id is not None and (member[0], post_id) not in context.assigned:
        ok = False
        errors.add(
            n,
            "member",
            f"{shown(ref)} is not assigned to {post_code}; expected an officer of the post "
            "(add the post to the member's posts in members.csv first)",
        )
    when: date | int | None = None
    try:
        when = parse_day_spec(line["date"].replace(";", ","))
    except RosterError as exc:
        ok = False
        errors.add(n, "date", str(exc))
    minutes: list[int] = []
    for column in ("start", "end"):
        try:
            minutes.append(parse_time(line[column]))
        except RosterError as exc:
            ok = False
            errors.add(n, column, str(exc))
    if len(minutes) == 2:
        start, end = minutes[0], minutes[1] or 1440  # 00:00 as an end is midnight
        minutes = [start, end]
        if start == 1440:
            ok = False
            errors.add(n, "start", "expected a start before 24:00; a slot starts on its day")
        elif start == end:
            ok = False
            errors.add(n, "end", "the slot starts and ends at the same time; expected HH:MM")
    if not ok or post_id is None or member is None or when is None:
        return None
    return _Row(n, post_id, post_code, member[0], ref, when, minutes[0], minutes[1])


def _check_overlaps(rows: list[_Row], errors: Errors) -> None:
    """A member cannot be rostered twice at once: weekday rows are compared on a week
    (wrapping over Sunday night), dated rows with each other and with the weekday rows
    that still apply around their date."""
    by_member: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        by_member[row.member_id].append(row)
    overridden: set[tuple[int, date]] = {
        (row.post_id, row.when) for row in rows if isinstance(row.when, date)
    }
    reported: set[tuple[int, int]] = set()
    for member_rows in by_member.values():
        if len(member_rows) < 2:
            continue
        intervals: list[tuple[int, int, _Row]] = []
        weekly = [row for row in member_rows if isinstance(row.when, int)]
        for row in weekly:
            assert isinstance(row.when, int)
            for start, end in week_intervals(row.when, row.start_minute, row.end_minute):
                intervals.append((start, end, row))
        found = _pairs(intervals, wrap=MINUTES_PER_WEEK)
        dated = [row for row in member_rows if isinstance(row.when, date)]
        if dated:
            found += _dated_pairs(dated, weekly, overridden)
        for first, second in found:
            key = (min(first.line, second.line), max(first.line, second.line))
            if key in reported:
                continue
            reported.add(key)
            later = second if second.line > first.line else first
            earlier = first if later is second else second
            errors.add(
                later.line,
                "start",
                f"{later.member_ref} is already rostered at that time on line {earlier.line} "
                f"({earlier.post_code}); expected one slot per member at a time",
            )


def _pairs(
    intervals: list[tuple[int, int, _Row]], wrap: int | None = None
) -> list[tuple[_Row, _Row]]:
    if wrap is not None:
        # A slot late on Sunday runs into Monday: compare against next week's copies too.
        intervals = intervals + [(s + wrap, e + wrap, row) for s, e, row in intervals]
    intervals.sort(key=lambda item: (item[0], item[1]))
    found: list[tuple[_Row, _Row]] = []
    for index, (_, end, row) in enumerate(intervals):
        for other_start, _, other in intervals[index + 1 :]:
            if other_start >= end:
                break
            if other is not row:
                found.append((row, other))
    return found


def _dated_pairs(
    dated: list[_Row], weekly: list[_Row], overridden: set[tuple[int, date]]
) -> list[tuple[_Row, _Row]]:
    intervals: list[tuple[int, int, _Row]] = []
    origin = min(row.when for row in dated if isinstance(row.when, date)) - ONE_DAY
    days: set[date] = set()
    for row in dated:
        assert isinstance(row.when, date)
        intervals.append((*_minutes(origin, row.when, row.start_minute, row.end_minute), row))
        days.update((row.when - ONE_DAY, row.when, row.when + ONE_DAY))
    for day in sorted(days):
        for row in weekly:
            assert isinstance(row.when, int)
            if day.weekday() in weekdays(row.when) and (row.post_id, day) not in overridden:
                intervals.append((*_minutes(origin, day, row.start_minute, row.end_minute), row))
    return [
        (first, second)
        for first, second in _pairs(intervals)
        if isinstance(first.when, date) or isinstance(second.when, date)
    ]


def _minutes(origin: date, day: date, start_minute: int, end_minute: int) -> tuple[int, int]:
    start = (day - origin) // timedelta(minutes=1) + start_minute
    length = end_minute - start_minute
    return start, start + (length if length > 0 else length + 1440)
