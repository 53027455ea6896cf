"""Roster rows and the slots they expand into (pure: the clock is always an argument).

A roster row is either dated (one WIB date) or a weekday pattern ('mon-fri'). Start and
end are WIB times of day; an end not after the start runs past midnight into the next
day. Dated rows of a post on a date replace that post's weekday rows for the date, as
voting day replaces the usual week.

A slot walks through at most four deadlines, each a row in the watcher's index:
``remind`` (``remind_before`` the start) → ``start`` → ``nudge`` (``late_after`` the
start, only while the officer has not arrived) → ``end``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.core.clock import WIB
from bot.watch.schedule import HoursError, parse_days

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
ALL_WEEK = 0b1111111
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Spreadsheets set to Indonesian dates save them as 27/11/2026.
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
ONE_DAY = timedelta(days=1)


class RosterError(ValueError):
    """A roster cell that cannot be read; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A weekday row: ``days`` is a bit mask (bit 0 = Monday)."""

    post_id: int
    member_id: int
    days: int
    start_minute: int
    end_minute: int  # 1..1440; not after start_minute = past midnight


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    post_id: int
    member_id: int
    start_at: datetime  # UTC
    end_at: datetime  # UTC
    pattern_id: int | None = None


def parse_time(text: str) -> int:
    """Minutes after midnight of 'HH:MM' (or 'HH.MM'); '24:00' is the end of the day."""
    match = _TIME.match(text.strip())
    if not match:
        raise RosterError(f"expected a time HH:MM such as 08:00, got {text.strip()!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise RosterError(f"expected a time between 00:00 and 24:00, got {text.strip()!r}")
    return hour * 60 + minute


def parse_day_spec(text: str) -> date | int:
    """A date (YYYY-MM-DD or DD/MM/YYYY, 2000-2100) or a weekday mask from 'mon-fri',
    'sat,sun'."""
    value = text.strip()
    dmy = _DMY.match(value)
    if _DATE.match(value) or dmy:
        try:
            day = (
                date(int(dmy.group(3)), int(dmy.group(2)), int(dmy.group(1)))
                if dmy
                else date.fromisoformat(value)
            )
        except ValueError:
            raise RosterError(f"{value!r} is not a calendar date; expected YYYY-MM-DD") from None
        if not EARLIEST <= day <= LATEST:
            raise RosterError(f"date {value} is outside 2000-2100")
        return day
    if not value:
        raise RosterError("expected a date (2026-11-27) or weekdays (mon-fri, sat,sun)")
    try:
        days = parse_days(value)
    except HoursError:
        raise RosterError(
            f"expected a date (2026-11-27) or weekdays (mon-fri, sat,sun), got {value!r}"
        ) from None
    return mask(days)


def mask(days: Iterable[int]) -> int:
    result = 0
    for day in days:
        result |= 1 << day
    return result


def weekdays(days_mask: int) -> frozenset[int]:
    return frozenset(day for day in range(7) if days_mask >> day & 1)


def span(day: date, start_minute: int, end_minute: int) -> tuple[datetime, datetime]:
    """The UTC interval of a slot on ``day`` (WIB), crossing midnight when the end is not
    after the start."""
    start = datetime.combine(day, time(), WIB) + timedelta(minutes=start_minute)
    length = end_minute - start_minute
    if length <= 0:
        length += 24 * 60
    return start.astimezone(UTC), (start + timedelta(minutes=length)).astimezone(UTC)


def days_between(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def expand(
    patterns: Iterable[tuple[int | None, Pattern]],
    first: date,
    last: date,
    dated_days: set[tuple[int, date]],
) -> Iterator[PlannedSlot]:
    """The slots of weekday ``patterns`` (with their stored ids) starting on WIB dates
    ``first``..``last``, skipping the (post, date) pairs that have dated rows."""
    spans: dict[tuple[date, int, int], tuple[datetime, datetime]] = {}
    for pattern_id, pattern in patterns:
        for day in days_between(first, last):
            if not pattern.days >> day.weekday() & 1 or (pattern.post_id, day) in dated_days:
                continue
            key = (day, pattern.start_minute, pattern.end_minute)
            interval = spans.get(key)
            if interval is None:
                interval = spans[key] = span(day, pattern.start_minute, pattern.end_minute)
            yield PlannedSlot(pattern.post_id, pattern.member_id, *interval, pattern_id)


def required_staff(min_staff: int, running: int) -> int:
    """Officers a post needs while open: its ``min_staff``, or more when more slots run."""
    return max(min_staff, running)


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # remind | start | nudge | end
    at: datetime


def first_step(
    start_at: datetime, end_at: datetime, now: datetime, remind_before: timedelta
) -> Step | None:
    """Where a new slot's walk begins: a slot imported late skips the steps already
    passed (a slot already started gets no reminder, one starting soon gets it now); an
    ended slot has none."""
    if now >= end_at:
        return None
    if now < start_at:
        # A slot rostered less than remind_before ahead is announced at once.
        return Step("remind", max(now, start_at - remind_before))
    return Step("start", now)


def after(
    kind: str, start_at: datetime, end_at: datetime, arrived: bool, late_after: timedelta
) -> Step | None:
    """The step that follows ``kind``; the nudge is skipped for an officer already in."""
    if kind == "remind":
        return Step("start", start_at)
    if kind == "start":
        nudge_at = start_at + late_after
        if not arrived and nudge_at < end_at:
            return Step("nudge", nudge_at)
        return Step("end", end_at)
    if kind == "nudge":
        return Step("end", end_at)
    return None


MINUTES_PER_WEEK = 7 * 24 * 60


def week_intervals(days_mask: int, start_minute: int, end_minute: int) -> list[tuple[int, int]]:
    """The minutes of the week (Monday 00:00 = 0) a weekday row covers; an interval may
    run past the week's end into next Monday."""
    length = end_minute - start_minute
    if length <= 0:
        length += 24 * 60
    return [
        (day * 1440 + start_minute, day * 1440 + start_minute + length)
        for day in range(7)
        if days_mask >> day & 1
    ]
