"""How a slot stands at a moment, for the recap and the exports (pure).

A slot the watcher has closed keeps the outcome it stored at the end (that is the record,
even if a late check-in is written afterwards); any other slot is judged by
:func:`bot.roster.attendance.classify`, the one rule for marks.
"""

from __future__ import annotations

from datetime import datetime

from bot.roster.attendance import Attendance, Mark, classify


def standing(
    start_at: datetime,
    end_at: datetime,
    arrived_at: datetime | None,
    left_at: datetime | None,
    outcome: str | None,
    late_minutes: int | None,
    now: datetime,
) -> Attendance:
    if outcome is not None and now >= end_at:
        try:
            mark = Mark(outcome)
        except ValueError:
            mark = None
        if mark is not None:
            present = mark in (Mark.PRESENT, Mark.LATE)
            return Attendance(
                mark,
                (late_minutes or 0) if mark is Mark.LATE else 0,
                present and left_at is not None and left_at < end_at,
            )
    return classify(start_at, end_at, arrived_at, left_at, now)
