"""Rows of the piket exports (SPEC §9, §6): ``roster`` (who is rostered where and when) and
``attendance`` (the same, with how each slot went). One row per slot starting in the
period, in order of start; dates and times of day in WIB.

The columns are declared with the other exports' in bot/exchange/export.py, which calls
these generators; a slot still running is judged at the moment of the export.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core.clock import wib
from bot.core.i18n import t
from bot.roster.attendance import Mark
from bot.roster.slots import weekdays
from bot.roster.standing import standing
from bot.watch.schedule import format_days
from storage import export as store
from storage.db import from_db
from storage.export import Snapshot

if TYPE_CHECKING:  # export.py imports this module; these are only its types
    from bot.exchange.export import Period, Places, Value


def _source(language: str, pattern_days: int | None) -> str:
    if pattern_days is None:
        return t(language, "export.roster_source.dated")
    days = format_days(weekdays(pattern_days))
    if not days:
        return t(language, "export.roster_source.weekly_all")
    return t(language, "export.roster_source.weekly", days=days)


def _slot_cells(row: Any, places: Places, language: str) -> list[Value]:
    start = wib(datetime.fromisoformat(row["start_at"]))
    end = wib(datetime.fromisoformat(row["end_at"]))
    return [
        row["post_code"],
        row["post_name"],
        *places.cells(row["area_id"]),
        row["member_ref"],
        row["member_name"],
        start.date().isoformat(),
        start.strftime("%H:%M"),
        end.strftime("%H:%M"),
        _source(language, row["pattern_days"] if row["pattern_id"] is not None else None),
    ]


def roster_rows(
    conn: Snapshot,
    period: Period,
    places: Places,
    language: str,
    area_ids: Collection[int] | None,
    now: datetime,
) -> Iterator[list[Value]]:
    del now  # the roster is what was planned, whenever it is read
    for row in store.slots(conn, period.start, period.end, area_ids):
        yield _slot_cells(row, places, language)


def attendance_rows(
    conn: Snapshot,
    period: Period,
    places: Places,
    language: str,
    area_ids: Collection[int] | None,
    now: datetime,
) -> Iterator[list[Value]]:
    for row in store.slots(conn, period.start, period.end, area_ids):
        start_at = datetime.fromisoformat(row["start_at"])
        end_at = datetime.fromisoformat(row["end_at"])
        arrived, left = from_db(row["arrived_at"]), from_db(row["left_at"])
        found = standing(start_at, end_at, arrived, left, row["outcome"], row["late_minutes"], now)
        late: int | None = None
        if found.mark in (Mark.PRESENT, Mark.LATE):
            late = found.late_minutes
        yield [
            *_slot_cells(row, places, language),
            arrived if arrived is not None and arrived <= now else None,
            late,
            left if found.left_early else None,
            found.mark.value,
        ]
