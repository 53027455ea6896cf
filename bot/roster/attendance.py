"""How a slot went (pure): hadir, terlambat N menit, tidak hadir, belum mulai, belum hadir,
and whether the officer left before the end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Mark(StrEnum):
    NOT_STARTED = "belum_mulai"
    WAITING = "belum_hadir"  # started, nobody yet, not over
    PRESENT = "hadir"
    LATE = "terlambat"
    ABSENT = "tidak_hadir"


@dataclass(frozen=True, slots=True)
class Attendance:
    mark: Mark
    late_minutes: int = 0
    left_early: bool = False

    @property
    def outcome(self) -> str | None:
        """The stored outcome of an ended slot ('hadir', 'terlambat', 'tidak_hadir')."""
        if self.mark in (Mark.PRESENT, Mark.LATE, Mark.ABSENT):
            return self.mark.value
        return None


def late_minutes(start_at: datetime, arrived_at: datetime) -> int:
    """Whole minutes after the start; arriving early or within the first minute is 0."""
    return max(0, int((arrived_at - start_at).total_seconds() // 60))


def classify(
    start_at: datetime,
    end_at: datetime,
    arrived_at: datetime | None,
    left_at: datetime | None,
    now: datetime,
) -> Attendance:
    left_early = left_at is not None and left_at < end_at and left_at <= now
    if arrived_at is not None and arrived_at <= now:
        late = late_minutes(start_at, arrived_at)
        return Attendance(Mark.LATE if late else Mark.PRESENT, late, left_early)
    if now < start_at:
        return Attendance(Mark.NOT_STARTED)
    if now < end_at:
        return Attendance(Mark.WAITING)
    return Attendance(Mark.ABSENT)
