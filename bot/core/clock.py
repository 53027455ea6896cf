"""The one source of 'now'. Injected once in the app; tests pass a FakeClock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


def wib(moment: datetime) -> datetime:
    return moment.astimezone(WIB)


def wib_date(moment: datetime) -> date:
    """The WIB calendar date of ``moment``."""
    return moment.astimezone(WIB).date()


def wib_day(day: date) -> tuple[datetime, datetime]:
    """The WIB day as UTC instants ``[00:00, 24:00)``."""
    start = datetime(day.year, day.month, day.day, tzinfo=WIB).astimezone(UTC)
    return start, start + timedelta(days=1)


@lru_cache(maxsize=1024)
def hhmm(moment: datetime) -> str:
    """A time of day in WIB, as officers read it: '19:05'. Cached: a watch pass writes the
    same few moments into thousands of texts (equal aware datetimes are one instant)."""
    return wib(moment).strftime("%H:%M")


def day_hhmm(moment: datetime) -> str:
    return wib(moment).strftime("%d/%m %H:%M")


def span(delta: timedelta) -> str:
    """A short human duration: '2j 05m' style is catalog-independent digits only."""
    minutes = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}"
