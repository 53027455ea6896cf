"""Pure roster rules: rows, expansion (weekdays, midnight, voting-day dates), a slot's
walk, attendance and the swap state machine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.roster.attendance import Mark, classify
from bot.roster.slots import (
    Pattern,
    RosterError,
    after,
    expand,
    first_step,
    mask,
    parse_day_spec,
    parse_time,
    span,
)
from bot.roster.swap_rules import SwapEvent, SwapRefused, next_state

MONDAY = date(2026, 11, 23)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_day_spec_reads_dates_and_weekdays() -> None:
    assert parse_day_spec("2026-11-27") == date(2026, 11, 27)
    assert parse_day_spec("27/11/2026") == date(2026, 11, 27)  # as Indonesian spreadsheets save it
    assert parse_day_spec("mon-fri") == 0b0011111
    assert parse_day_spec("sat,sun") == 0b1100000
    assert parse_day_spec("fri-mon") == mask({4, 5, 6, 0})


@pytest.mark.parametrize(
    "bad", ["1999-12-31", "2101-01-01", "2026-02-30", "31/02/2026", "someday", ""]
)
def test_day_spec_refuses_what_it_cannot_read(bad: str) -> None:
    with pytest.raises(RosterError):
        parse_day_spec(bad)


def test_times_and_their_limits() -> None:
    assert parse_time("08:00") == 480
    assert parse_time("8.30") == 510
    assert parse_time("24:00") == 1440
    for bad in ("25:00", "08:60", "24:30", "8am"):
        with pytest.raises(RosterError):
            parse_time(bad)


def test_span_is_wib_and_crosses_midnight() -> None:
    start, end = span(MONDAY, 22 * 60, 6 * 60)
    # 22:00 WIB Monday is 15:00 UTC; it ends 06:00 WIB Tuesday = 23:00 UTC Monday.
    assert (start, end) == (utc(23, 15), utc(23, 23))
    start, end = span(MONDAY, 0, 24 * 60)
    assert end - start == timedelta(hours=24)


def test_expand_follows_weekdays_and_dated_days_replace_them() -> None:
    weekdays_only = Pattern(
        post_id=1, member_id=7, days=0b0011111, start_minute=480, end_minute=960
    )
    slots = list(expand([(11, weekdays_only)], MONDAY, MONDAY + timedelta(days=6), set()))
    assert [s.start_at for s in slots] == [utc(23 + i, 1) for i in range(5)]
    assert {s.pattern_id for s in slots} == {11}
    # Voting day (Wednesday) has dated rows for post 1: its weekday row does not apply.
    voting_day = MONDAY + timedelta(days=2)
    slots = list(
        expand([(11, weekdays_only)], MONDAY, MONDAY + timedelta(days=6), {(1, voting_day)})
    )
    assert utc(25, 1) not in [s.start_at for s in slots]
    assert len(slots) == 4


def test_a_slot_walks_remind_start_nudge_end() -> None:
    start, end = utc(24, 1), utc(24, 9)
    remind = timedelta(minutes=30)
    late = timedelta(minutes=10)
    step = first_step(start, end, utc(23, 12), remind)
    assert step is not None and (step.kind, step.at) == ("remind", start - remind)
    nxt = after("remind", start, end, arrived=False, late_after=late)
    assert nxt is not None and nxt.kind == "start"
    nxt = after("start", start, end, arrived=False, late_after=late)
    assert nxt is not None and (nxt.kind, nxt.at) == ("nudge", start + late)
    nxt = after("start", start, end, arrived=True, late_after=late)
    assert nxt is not None and (nxt.kind, nxt.at) == ("end", end)
    assert after("end", start, end, arrived=True, late_after=late) is None


def test_a_slot_imported_late_skips_what_passed() -> None:
    start, end = utc(24, 1), utc(24, 9)
    remind = timedelta(minutes=30)
    soon = start - timedelta(minutes=5)
    step = first_step(start, end, soon, remind)
    assert step is not None and (step.kind, step.at) == ("remind", soon)  # told at once
    running = start + timedelta(hours=1)
    step = first_step(start, end, running, remind)
    assert step is not None and (step.kind, step.at) == ("start", running)
    assert first_step(start, end, end, remind) is None


def test_attendance_marks() -> None:
    start, end = utc(24, 1), utc(24, 9)
    assert classify(start, end, None, None, start - timedelta(hours=1)).mark is Mark.NOT_STARTED
    assert classify(start, end, None, None, start + timedelta(hours=1)).mark is Mark.WAITING
    assert classify(start, end, None, None, end).mark is Mark.ABSENT
    early = classify(start, end, start - timedelta(minutes=20), None, end)
    assert (early.mark, early.late_minutes) == (Mark.PRESENT, 0)
    late = classify(start, end, start + timedelta(minutes=17, seconds=40), None, end)
    assert (late.mark, late.late_minutes, late.outcome) == (Mark.LATE, 17, "terlambat")
    left = classify(start, end, start, end - timedelta(hours=2), end)
    assert left.left_early and left.mark is Mark.PRESENT
    assert not classify(start, end, start, end, end).left_early


def test_swap_state_machine() -> None:
    expires = utc(24, 1)
    before = expires - timedelta(hours=1)
    assert next_state("diminta", SwapEvent.ACCEPT, False, expires, before) == "disetujui"
    assert next_state("diminta", SwapEvent.ACCEPT, True, expires, before) == "menunggu_persetujuan"
    assert (
        next_state("menunggu_persetujuan", SwapEvent.APPROVE, True, expires, before) == "disetujui"
    )
    assert next_state("diminta", SwapEvent.DECLINE, False, expires, before) == "ditolak"
    with pytest.raises(SwapRefused) as twice:
        next_state("disetujui", SwapEvent.ACCEPT, False, expires, before)
    assert twice.value.reason == "closed"
    with pytest.raises(SwapRefused) as late:
        next_state("diminta", SwapEvent.ACCEPT, False, expires, expires)
    assert late.value.reason == "expired"
    with pytest.raises(SwapRefused):
        next_state("diminta", SwapEvent.APPROVE, True, expires, before)
