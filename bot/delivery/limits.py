"""Telegram's sending limits as the sender keeps them: sliding windows counted the way
Telegram counts them, and a token bucket that paces a backlog evenly."""

from __future__ import annotations

import math

WINDOW_MARGIN = 0.002
"""Seconds added to every window span: clock rounding must never cost a 429."""


class Slot:
    """One send's place in a window: held until ``span`` after ``end`` (inf while in flight)."""

    __slots__ = ("end",)

    def __init__(self) -> None:
        self.end = math.inf


class Window:
    """At most ``capacity`` sends in any ``span`` seconds."""

    __slots__ = ("_pruned_at", "_slots", "capacity", "span")

    def __init__(self, capacity: int, span: float) -> None:
        self.capacity = capacity
        self.span = span + WINDOW_MARGIN
        self._slots: list[Slot] = []
        self._pruned_at = math.nan

    @classmethod
    def of_rate(cls, count: float, per: float) -> Window:
        """``count`` sends per ``per`` seconds; below one per ``per``, one per longer span."""
        capacity = math.floor(count + 1e-6)
        if capacity >= 1:
            return cls(capacity, per)
        return cls(1, per / count)

    def _prune(self, now: float) -> None:
        # Once per instant: a slot released since ended at or before ``now``, so it cannot
        # have left the window yet (the paid window holds a thousand slots).
        if self._slots and now != self._pruned_at:
            self._slots = [s for s in self._slots if s.end + self.span > now]
            self._pruned_at = now

    def empty(self, now: float) -> bool:
        self._prune(now)
        return not self._slots

    def free(self, now: float) -> int:
        self._prune(now)
        return self.capacity - len(self._slots)

    def next_free(self, now: float, keep: int = 0) -> float:
        """When more than ``keep`` slots are free (now if they are; inf if only answers can
        free enough)."""
        if self.free(now) > keep:
            return now
        leaving = len(self._slots) - self.capacity + keep + 1
        if leaving == 1:
            return min(s.end for s in self._slots) + self.span
        return sorted(s.end for s in self._slots)[leaving - 1] + self.span

    def take(self) -> Slot:
        slot = Slot()
        self._slots.append(slot)
        return slot


class Bucket:
    """Pacing: ``rate`` tokens per second, at most ``burst`` saved up."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at: float | None = None

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        if self._at is None or now > self._at:
            self._at = now

    def available(self, now: float) -> int:
        self._refill(now)
        return math.floor(self._tokens + 1e-6)

    def next_token(self, now: float) -> float:
        self._refill(now)
        if self._tokens + 1e-6 >= 1:
            return now
        return now + (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1
