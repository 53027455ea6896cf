"""Opening hours of a post.

Hours are written and reasoned about in Asia/Jakarta local time (WIB), because that is
how admins type them in ``posts.csv``; every instant that goes in or comes out of a
:class:`Schedule` is a timezone-aware datetime, and results are always in UTC, because
that is how the database stores times.

Everything here is pure: the current time is always an argument, so the watcher and the
tests decide what "now" is.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

JAKARTA = ZoneInfo("Asia/Jakarta")

#: How far :meth:`Schedule.current_window`, :meth:`Schedule.next_open` and
#: :meth:`Schedule.next_change` look around the given instant. Two weeks covers any
#: realistic gap (a post closed over a long weekend) while keeping a 24 h post cheap.
HORIZON = timedelta(days=14)

MINUTES_PER_DAY = 24 * 60
ALL_DAYS: frozenset[int] = frozenset(range(7))

_ONE_DAY = timedelta(days=1)
_EXPECTED = "expected '24h' or windows like 'mon-fri 08:00-16:00; 22:00-06:00'"
_DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS: dict[str, int] = {
    **{code: i for i, code in enumerate(_DAY_CODES)},
    **{code: i for i, code in enumerate(("sen", "sel", "rab", "kam", "jum", "sab", "min"))},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    **{
        name: i
        for i, name in enumerate(("senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu"))
    },
}
_CLOSED_WORDS = ("closed", "tutup")
# Indonesian writing often uses "08.00" for times, so both separators are accepted.
_WINDOW_RE = re.compile(
    r"^(?P<days>.*?)\s*(?:(?P<allday>24h)"
    r"|(?P<sh>\d{1,2})[:.](?P<sm>\d{2})\s*-\s*(?P<eh>\d{1,2})[:.](?P<em>\d{2}))$"
)


class HoursError(ValueError):
    """Hours text that cannot be read; the message is shown to admins as is."""


@dataclass(frozen=True)
class Window:
    """A daily opening window on some weekdays (0 = Monday .. 6 = Sunday).

    ``end_minute`` is 1..1440; when it is not after ``start_minute`` the window runs past
    midnight and belongs to the day it starts on.
    """

    days: frozenset[int]
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not self.days or not self.days <= ALL_DAYS:
            raise ValueError(f"window days must be a non-empty subset of 0..6, got {self.days}")
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise ValueError(f"start_minute must be in 0..1439, got {self.start_minute}")
        if not 0 < self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(f"end_minute must be in 1..1440, got {self.end_minute}")
        if self.start_minute == self.end_minute:
            raise ValueError("a window cannot start and end at the same minute")

    @property
    def duration(self) -> int:
        """Length in minutes, at most one day."""
        if self.end_minute > self.start_minute:
            return self.end_minute - self.start_minute
        return self.end_minute + MINUTES_PER_DAY - self.start_minute

    def __str__(self) -> str:
        if self.start_minute == 0 and self.end_minute == MINUTES_PER_DAY:
            times = "24h"
        else:
            times = f"{_fmt_minute(self.start_minute)}-{_fmt_minute(self.end_minute)}"
        if self.days == ALL_DAYS:
            return times
        return f"{_format_days(self.days)[0]} {times}"


@dataclass(frozen=True)
class WeeklyHours:
    """A week of opening windows. ``str()`` gives the canonical text, which
    :func:`parse_hours` reads back to an equal value."""

    windows: tuple[Window, ...] = ()
    # Precomputed because the watcher asks for the same days over and over.
    _by_day: tuple[tuple[tuple[int, int], ...], ...] = field(init=False, repr=False, compare=False)
    _spans: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_day = tuple(
            tuple(sorted((w.start_minute, w.duration) for w in self.windows if day in w.days))
            for day in range(7)
        )
        object.__setattr__(self, "_by_day", by_day)
        spans = sorted({(w.start_minute, w.duration) for w in self.windows})
        object.__setattr__(self, "_spans", tuple(spans))

    def windows_starting_on(self, weekday: int) -> list[tuple[int, int]]:
        """(start minute, duration in minutes) of the windows that start on ``weekday``,
        sorted by start."""
        return list(self._by_day[weekday])

    def all_spans(self) -> list[tuple[int, int]]:
        """(start minute, duration) of every window regardless of its days, as used when
        these hours are a dated override."""
        return list(self._spans)

    def __str__(self) -> str:
        if not self.windows:
            return _CLOSED_WORDS[0]
        return "; ".join(str(w) for w in self.windows)


ALWAYS_OPEN = WeeklyHours((Window(ALL_DAYS, 0, MINUTES_PER_DAY),))
CLOSED = WeeklyHours()


def parse_hours(text: str) -> WeeklyHours:
    """Read hours as written in ``posts.csv`` or a config override.

    ``24h``, ``closed`` (``tutup``), or windows separated by ``;``, each ``HH:MM-HH:MM``
    (or ``24h``) with an optional day prefix such as ``mon-fri``, ``sat,sun`` or
    ``fri-mon`` (wraps). Case and spacing do not matter. Windows with the same times are
    merged into one, so equal hours compare equal however they were written.
    """
    body = text.strip()
    shown = _shorten(body)
    if not body:
        raise HoursError(f"empty hours: {_EXPECTED}")
    if body.lower() in _CLOSED_WORDS:
        return CLOSED
    days_by_times: dict[tuple[int, int], set[int]] = {}
    for part in (p.strip() for p in body.split(";")):
        # A trailing or doubled ';' is a harmless slip in a spreadsheet cell.
        if not part:
            continue
        start, end, days = _parse_window(part, shown)
        days_by_times.setdefault((start, end), set()).update(days)
    if not days_by_times:
        raise HoursError(f"invalid hours {shown!r}: {_EXPECTED}")
    windows = [Window(frozenset(days), s, e) for (s, e), days in days_by_times.items()]
    windows.sort(key=lambda w: (_format_days(w.days)[1], w.start_minute, w.end_minute))
    return WeeklyHours(tuple(windows))


@dataclass(frozen=True)
class DateOverride:
    """Hours for one local date that replace the weekly windows starting on that date.

    The day prefixes in ``hours`` are ignored: every window applies to ``date``.
    ``areas`` limits the override to posts in the subtrees of those area codes; ``None``
    means the whole city.
    """

    date: dt.date
    hours: WeeklyHours
    areas: frozenset[str] | None = None

    def applies_to(self, area_path_codes: Sequence[str]) -> bool:
        """``area_path_codes`` is the post's area path, root first."""
        if self.areas is None:
            return True
        return any(code in self.areas for code in area_path_codes)

    def _specificity(self, area_path_codes: Sequence[str]) -> int:
        if self.areas is None:
            return -1
        return max(i for i, code in enumerate(area_path_codes) if code in self.areas)


def overrides_for(
    overrides: Iterable[DateOverride], area_path_codes: Sequence[str]
) -> dict[date, WeeklyHours]:
    """The overrides that apply to a post, by date.

    When several apply to the same date, the one naming the deepest area of the post's
    path wins, so a kecamatan can refine a city-wide voting-day rule; among equally
    specific ones the later wins, as in a config file where the last word counts.
    """
    best: dict[date, tuple[int, WeeklyHours]] = {}
    for override in overrides:
        if not override.applies_to(area_path_codes):
            continue
        rank = override._specificity(area_path_codes)
        current = best.get(override.date)
        if current is None or rank >= current[0]:
            best[override.date] = (rank, override.hours)
    return {day: hours for day, (_, hours) in best.items()}


@dataclass(frozen=True)
class Schedule:
    """Weekly hours plus dated overrides (already narrowed to one post, see
    :func:`overrides_for`).

    Open intervals are half-open ``[open, close)``; intervals that touch or overlap are one
    interval, so a post open ``24h`` every day never closes at midnight.
    """

    weekly: WeeklyHours
    overrides: Mapping[date, WeeklyHours] = field(default_factory=dict)

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Merged open intervals within ``[start, end)``, clipped to it, in UTC."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return []
        merged: list[tuple[datetime, datetime]] = []
        for s, e in self._raw(_local_date(start) - _ONE_DAY, _local_date(end)):
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        return [(max(s, start), min(e, end)) for s, e in merged if e > start and s < end]

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        day = _local_date(at)
        # Windows last at most a day, so only today's and yesterday's can cover `at`.
        return any(s <= at < e for s, e in self._raw(day - _ONE_DAY, day))

    def current_window(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The merged open interval containing ``at``, or None when closed.

        Both ends are capped at :data:`HORIZON` from ``at``: a post open around the clock
        gets ``(at - HORIZON, at + HORIZON)`` rather than an endless search.
        """
        at = _utc(at)
        reach, _ = self._scan_forward(at)
        if reach == at:
            return None
        return self._open_start(at), min(reach, at + HORIZON)

    def next_open(self, after: datetime) -> datetime | None:
        """When the post next opens strictly after ``after`` (if open now, the opening
        after the current interval closes); None if not within :data:`HORIZON`."""
        _, opens = self._scan_forward(_utc(after))
        return opens

    def next_change(self, after: datetime) -> datetime | None:
        """The next open or close instant strictly after ``after``; None if none within
        :data:`HORIZON`."""
        after = _utc(after)
        reach, opens = self._scan_forward(after)
        if reach > after:
            return reach if reach <= after + HORIZON else None
        return opens

    def _day(self, day: date) -> list[tuple[datetime, datetime]]:
        override = self.overrides.get(day)
        if override is not None:
            spans = override.all_spans()
        else:
            spans = self.weekly.windows_starting_on(day.weekday())
        if not spans:
            return []
        midnight = _midnight(day)
        return [
            (midnight + timedelta(minutes=s), midnight + timedelta(minutes=s + n)) for s, n in spans
        ]

    def _raw(self, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        """Unmerged intervals of the windows starting on local days first..last, ordered
        by start (each day's starts fall within that day)."""
        day = first
        while day <= last:
            yield from self._day(day)
            day += _ONE_DAY

    def _scan_forward(self, at: datetime) -> tuple[datetime, datetime | None]:
        """(reach, opens): ``reach`` is where the open stretch containing ``at`` ends, or
        ``at`` itself when closed; it exceeds ``at + HORIZON`` only when still open
        there. ``opens`` is the first opening after ``reach`` within the horizon."""
        limit = at + HORIZON
        reach = at
        for s, e in self._raw(_local_date(at) - _ONE_DAY, _local_date(limit)):
            if s > limit:
                break
            if s <= reach:
                reach = max(reach, e)
            else:
                # Starts are ascending, so nothing later can bridge this gap.
                return reach, s
        return reach, None

    def _open_start(self, at: datetime) -> datetime:
        """Start of the merged interval containing ``at`` (which must be open), capped at
        ``at - HORIZON``."""
        floor = at - HORIZON
        opened = at
        day = _local_date(at)
        # One day further back than the floor, since that day's windows may reach it.
        last = _local_date(floor) - _ONE_DAY
        while day >= last:
            # In descending start order a single pass is enough: an interval skipped
            # because it ends before `opened` can only matter again if `opened` moves
            # before its start, and then it lies inside the merged interval anyway.
            for s, e in reversed(self._day(day)):
                if s < opened <= e:
                    opened = s
            # Windows of earlier days end before the next midnight; past that, stop.
            if opened >= _midnight(day + _ONE_DAY):
                break
            day -= _ONE_DAY
        return max(opened, floor)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: expected a timezone-aware one")
    return moment.astimezone(UTC)


def _local_date(moment: datetime) -> date:
    return moment.astimezone(JAKARTA).date()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JAKARTA).astimezone(UTC)


def _shorten(text: str, limit: int = 60) -> str:
    # Error messages end up in one CLI line per bad CSV row.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse_window(part: str, shown: str) -> tuple[int, int, frozenset[int]]:
    match = _WINDOW_RE.match(part.lower())
    if match is None:
        raise HoursError(f"invalid hours {shown!r}: cannot read {_shorten(part)!r}; {_EXPECTED}")
    days = _parse_days(match["days"], shown) if match["days"] else ALL_DAYS
    if match["allday"]:
        return 0, MINUTES_PER_DAY, days
    start = _parse_time(match["sh"], match["sm"], shown)
    end = _parse_time(match["eh"], match["em"], shown)
    if start == MINUTES_PER_DAY:
        raise HoursError(
            f"invalid hours {shown!r}: 24:00 can only end a window, e.g. '16:00-24:00'"
        )
    if start == end:
        raise HoursError(
            f"invalid hours {shown!r}: window {_fmt_minute(start)}-{_fmt_minute(end)} "
            "is empty; start and end must differ"
        )
    # 00:00 as an end means the coming midnight, the same as 24:00.
    return start, end or MINUTES_PER_DAY, days


def _parse_time(hour: str, minute: str, shown: str) -> int:
    h, m = int(hour), int(minute)
    if m > 59 or h > 24 or (h == 24 and m != 0):
        raise HoursError(
            f"invalid hours {shown!r}: bad time '{hour}:{minute}'; expected HH:MM "
            "from 00:00 to 24:00"
        )
    return h * 60 + m


def _parse_days(text: str, shown: str) -> frozenset[int]:
    compact = re.sub(r"\s*([,-])\s*", r"\1", text.strip())
    days: set[int] = set()
    for item in compact.split(","):
        first, dash, last = item.partition("-")
        a = _day_number(first, shown)
        b = _day_number(last, shown) if dash else a
        # Ranges wrap over the weekend: fri-mon is fri, sat, sun, mon.
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)


def _day_number(name: str, shown: str) -> int:
    number = _DAYS.get(name)
    if number is None:
        raise HoursError(
            f"invalid hours {shown!r}: unknown day {name!r}; expected "
            "mon,tue,wed,thu,fri,sat,sun or sen,sel,rab,kam,jum,sab,min"
        )
    return number


def _fmt_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _format_days(days: frozenset[int]) -> tuple[str, int]:
    """Compact day text (runs of three or more as ranges, wrapping over Sunday) and the
    first day shown, which orders windows in the canonical text."""
    if days == ALL_DAYS:
        return "", 0
    # Walk the week starting right after a missing day, so a run over the weekend
    # (fri-mon) stays in one piece.
    gap = min(d for d in range(7) if d not in days)
    runs: list[list[int]] = []
    previous_in = False
    for offset in range(1, 8):
        day = (gap + offset) % 7
        if day in days:
            if previous_in:
                runs[-1].append(day)
            else:
                runs.append([day])
        previous_in = day in days
    runs.sort(key=lambda run: run[0])
    parts = []
    for run in runs:
        names = [_DAY_CODES[d] for d in run]
        parts.append(f"{names[0]}-{names[-1]}" if len(run) >= 3 else ",".join(names))
    return ",".join(parts), runs[0][0]


POST_KEY = "post:"
"""A dated override for one post names it as ``post:<code>`` among its area codes: the
post comes after its deepest area, so its own override is the most specific."""


class PostSchedules:
    """Each post's schedule: its weekly ``hours`` plus the ``[[schedule.override]]`` dates
    that apply to its area path (then any dated hours set from chat, which win over the
    config's for the same date and place). Shared by the watcher and the recap, cached by
    content (posts share a handful of distinct schedules)."""

    def __init__(self, overrides: Iterable[DateOverride]) -> None:
        self._overrides = list(overrides)
        self._cache: dict[tuple[str, tuple[Any, ...]], Schedule] = {}

    @classmethod
    def from_settings(cls, settings: Any, extra: Iterable[DateOverride] = ()) -> PostSchedules:
        """From ``Settings.schedule.override`` (already validated when loaded), then
        ``extra`` (the dated hours stored in the database)."""
        configured = [
            DateOverride(
                item.date,
                parse_hours(item.hours),
                frozenset(item.areas) if item.areas is not None else None,
            )
            for item in settings.schedule.override
        ]
        return cls([*configured, *extra])

    def of(self, post: Any, path: Sequence[Any]) -> Schedule:
        """``post`` has ``.hours`` and ``.code``; ``path`` is its areas, root first."""
        if self._overrides:
            codes = [area.code for area in path] + [POST_KEY + post.code]
            dated = overrides_for(self._overrides, codes)
        else:
            dated = {}  # what overrides_for gives without overrides, at no cost per post
        key = (post.hours, tuple(sorted(dated.items())))
        schedule = self._cache.get(key)
        if schedule is None:
            try:
                weekly = parse_hours(post.hours)
            except HoursError:
                log.warning(
                    "post %s has unreadable hours %r; counted as closed", post.code, post.hours
                )
                weekly = CLOSED
            schedule = self._cache[key] = Schedule(weekly, dated)
        return schedule


def parse_days(text: str) -> frozenset[int]:
    """Weekdays written as in hours and rosters ('mon-fri', 'sat,sun', 'sen-jum'); raises
    :class:`HoursError` naming what was expected."""
    return _parse_days(text.lower(), text)


def format_days(days: frozenset[int]) -> str:
    """The compact text of a set of weekdays ('mon-fri'; '' for every day)."""
    return _format_days(days)[0]
