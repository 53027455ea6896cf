"""Opening hours: parsing and open/closed arithmetic.

Calendar used throughout: 2026-11-23 is a Monday, so 11-27 is Friday (voting day),
11-28 Saturday, 11-29 Sunday and 11-30 the next Monday. WIB is UTC+7, so 08:00 WIB on
Monday the 23rd is ``utc(2026, 11, 23, 1)``; every expected instant is written in UTC with
its WIB reading beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.watch.schedule import (
    ALWAYS_OPEN,
    CLOSED,
    HORIZON,
    JAKARTA,
    DateOverride,
    HoursError,
    Schedule,
    WeeklyHours,
    Window,
    overrides_for,
    parse_hours,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def sched(text: str, overrides: dict[date, str] | None = None) -> Schedule:
    parsed = {day: parse_hours(hours) for day, hours in (overrides or {}).items()}
    return Schedule(parse_hours(text), parsed)


OFFICE = "mon-fri 08:00-16:00; sat 08:00-12:00"
VOTING_DAY = date(2026, 11, 27)


# --- parsing -------------------------------------------------------------------------


def test_24h_forms_are_always_open() -> None:
    assert parse_hours("24h") == ALWAYS_OPEN
    assert parse_hours("  24H ") == ALWAYS_OPEN
    assert parse_hours("00:00-24:00") == ALWAYS_OPEN
    assert str(ALWAYS_OPEN) == "24h"
    assert ALWAYS_OPEN.windows_starting_on(3) == [(0, 1440)]


def test_day_prefixes_and_windows() -> None:
    hours = parse_hours(OFFICE)
    assert hours.windows == (
        Window(frozenset({0, 1, 2, 3, 4}), 480, 960),
        Window(frozenset({5}), 480, 720),
    )
    assert hours.windows_starting_on(0) == [(480, 480)]
    assert hours.windows_starting_on(4) == [(480, 480)]
    assert hours.windows_starting_on(5) == [(480, 240)]
    assert hours.windows_starting_on(6) == []


def test_no_prefix_means_every_day_and_midnight_crossing_belongs_to_start_day() -> None:
    hours = parse_hours("22:00-06:00")
    assert hours.windows == (Window(frozenset(range(7)), 1320, 360),)
    assert all(hours.windows_starting_on(d) == [(1320, 480)] for d in range(7))


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("sen-jum 08.00-16.00", "mon-fri 08:00-16:00"),
        ("Senin - Jumat 8:00 - 16:00", "mon-fri 08:00-16:00"),
        ("MON,tue,Wed,THU,fri 08:00-16:00", "mon-fri 08:00-16:00"),
        ("sab,min 08:00-12:00", "sat,sun 08:00-12:00"),
        ("mon 08:00-12:00; tue 08:00-12:00", "mon,tue 08:00-12:00"),
        ("fri-mon 22:00-06:00", "fri,sat,sun,mon 22:00-06:00"),
        ("22:00-00:00", "22:00-24:00"),
        ("sat,sun 24h", "sat,sun 00:00-24:00"),
        ("mon-fri 08:00-16:00;", "mon-fri 08:00-16:00"),
        ("sat 08:00-12:00 ;  mon-fri 08:00-16:00", OFFICE),
    ],
)
def test_equivalent_spellings(text: str, same_as: str) -> None:
    assert parse_hours(text) == parse_hours(same_as)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("sat 08:00-12:00; mon-fri 08:00-16:00", OFFICE),
        ("Jum-Sen 22.00-06.00", "fri-mon 22:00-06:00"),
        ("mon, wed-fri 7:30-15:00", "mon,wed-fri 07:30-15:00"),
        ("sun,sat 24h; mon-fri 08:00-16:00", "mon-fri 08:00-16:00; sat,sun 24h"),
        ("22:00-06:00; 06:00-14:00", "06:00-14:00; 22:00-06:00"),
        ("22:00-00:00", "22:00-24:00"),
        ("00:00-24:00", "24h"),
        ("tutup", "closed"),
    ],
)
def test_canonical_text_round_trips(text: str, canonical: str) -> None:
    hours = parse_hours(text)
    assert str(hours) == canonical
    assert parse_hours(canonical) == hours


def test_closed_is_an_empty_week() -> None:
    assert parse_hours("Closed") == CLOSED == WeeklyHours()
    assert all(CLOSED.windows_starting_on(d) == [] for d in range(7))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty hours: expected '24h' or windows like"),
        ("   ", "empty hours"),
        (";", "invalid hours ';': expected '24h'"),
        ("xx", "cannot read 'xx'"),
        ("mon-fri", "cannot read 'mon-fri'"),
        ("08:00", "cannot read '08:00'"),
        ("08:00-", "cannot read '08:00-'"),
        ("8-16", "cannot read '8-16'"),
        ("08:00-16:00 mon", "cannot read '08:00-16:00 mon'"),
        ("mon 08:00-12:00; Tue", "cannot read 'Tue'"),
        ("25:00-26:00", "bad time '25:00'; expected HH:MM from 00:00 to 24:00"),
        ("08:60-12:00", "bad time '08:60'"),
        ("20:00-24:30", "bad time '24:30'"),
        ("24:00-06:00", "24:00 can only end a window"),
        ("08:00-08:00", "window 08:00-08:00 is empty; start and end must differ"),
        ("00:00-00:00", "window 00:00-00:00 is empty"),
        ("xyz 08:00-12:00", "unknown day 'xyz'; expected mon,tue,wed,thu,fri,sat,sun"),
        ("mon,,tue 08:00-12:00", "unknown day ''"),
        ("mon- 08:00-12:00", "unknown day ''"),
        ("mon-fri-sat 08:00-12:00", "unknown day 'fri-sat'"),
        ("mon tue 08:00-12:00", "unknown day 'mon tue'"),
    ],
)
def test_bad_forms_say_what_was_wrong(text: str, message: str) -> None:
    with pytest.raises(HoursError) as caught:
        parse_hours(text)
    assert message in str(caught.value)


def test_error_message_exact_and_is_a_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        parse_hours("xx")
    assert str(caught.value) == (
        "invalid hours 'xx': cannot read 'xx'; "
        "expected '24h' or windows like 'mon-fri 08:00-16:00; 22:00-06:00'"
    )


def test_error_message_quotes_the_text_as_written_and_shortens_it() -> None:
    with pytest.raises(HoursError, match=r"^invalid hours 'MON 25:00-26:00': bad time"):
        parse_hours("MON 25:00-26:00")
    long_text = "mon 08:00-09:00; " * 10 + "25:00-26:00"
    with pytest.raises(HoursError) as caught:
        parse_hours(long_text)
    assert len(str(caught.value)) < 160
    assert "…" in str(caught.value)


def test_window_rejects_impossible_values() -> None:
    with pytest.raises(ValueError):
        Window(frozenset(), 0, 60)
    with pytest.raises(ValueError):
        Window(frozenset({7}), 0, 60)
    with pytest.raises(ValueError):
        Window(frozenset({0}), 1440, 60)
    with pytest.raises(ValueError):
        Window(frozenset({0}), 0, 0)
    with pytest.raises(ValueError):
        Window(frozenset({0}), 60, 60)
    assert Window(frozenset({0}), 1320, 360).duration == 480
    assert Window(frozenset({0}), 0, 1440).duration == 1440


# --- open / closed -------------------------------------------------------------------


def test_office_hours_open_and_closed() -> None:
    s = sched(OFFICE)
    assert s.is_open(utc(2026, 11, 23, 1))  # Mon 08:00 WIB
    assert not s.is_open(utc(2026, 11, 23, 0, 59))  # Mon 07:59
    assert s.is_open(utc(2026, 11, 23, 8, 59))  # Mon 15:59
    assert not s.is_open(utc(2026, 11, 23, 9))  # Mon 16:00, the close is exclusive
    assert s.is_open(utc(2026, 11, 28, 4, 59))  # Sat 11:59
    assert not s.is_open(utc(2026, 11, 28, 5))  # Sat 12:00
    assert not s.is_open(utc(2026, 11, 29, 3))  # Sun 10:00


def test_window_across_midnight() -> None:
    s = sched("22:00-06:00")
    assert not s.is_open(utc(2026, 11, 23, 14, 59))  # Mon 21:59 WIB
    assert s.is_open(utc(2026, 11, 23, 15))  # Mon 22:00
    assert s.is_open(utc(2026, 11, 23, 22, 59))  # Tue 05:59
    assert not s.is_open(utc(2026, 11, 23, 23))  # Tue 06:00
    assert s.current_window(utc(2026, 11, 23, 20)) == (
        utc(2026, 11, 23, 15),  # Mon 22:00 WIB
        utc(2026, 11, 23, 23),  # Tue 06:00 WIB
    )


def test_sunday_night_window_runs_into_monday() -> None:
    s = sched("sun 22:00-06:00")
    assert s.is_open(utc(2026, 11, 29, 20))  # Mon 03:00 WIB, from Sunday's window
    assert not s.is_open(utc(2026, 11, 29, 14))  # Sun 21:00
    assert not s.is_open(utc(2026, 11, 29, 23))  # Mon 06:00
    assert not s.is_open(utc(2026, 11, 28, 20))  # Sun 03:00: Saturday has no window
    assert s.current_window(utc(2026, 11, 29, 20)) == (
        utc(2026, 11, 29, 15),  # Sun 22:00 WIB
        utc(2026, 11, 29, 23),  # Mon 06:00 WIB
    )
    assert s.next_change(utc(2026, 11, 29, 20)) == utc(2026, 11, 29, 23)
    assert s.next_open(utc(2026, 11, 29, 20)) == utc(2026, 12, 6, 15)  # next Sun 22:00


def test_wrapping_day_range() -> None:
    s = sched("fri-mon 22:00-06:00")
    assert s.is_open(utc(2026, 11, 23, 20))  # Tue 03:00 WIB, from Monday's window
    assert not s.is_open(utc(2026, 11, 24, 20))  # Wed 03:00
    assert not s.is_open(utc(2026, 11, 25, 20))  # Thu 03:00
    assert s.is_open(utc(2026, 11, 27, 15))  # Fri 22:00


def test_weekend_days() -> None:
    s = sched("sat,sun 09:00-15:00")
    assert not s.is_open(utc(2026, 11, 27, 3))  # Fri 10:00 WIB
    assert s.is_open(utc(2026, 11, 28, 3))  # Sat 10:00
    assert s.is_open(utc(2026, 11, 29, 3))  # Sun 10:00
    assert not s.is_open(utc(2026, 11, 30, 3))  # Mon 10:00
    assert s.next_open(utc(2026, 11, 27, 3)) == utc(2026, 11, 28, 2)  # Sat 09:00
    assert s.next_open(utc(2026, 11, 28, 3)) == utc(2026, 11, 29, 2)  # Sun 09:00
    assert s.next_open(utc(2026, 11, 29, 3)) == utc(2026, 12, 5, 2)  # next Sat 09:00


def test_any_aware_timezone_in_utc_out() -> None:
    s = sched(OFFICE)
    monday_0900_wib = datetime(2026, 11, 23, 9, tzinfo=JAKARTA)
    assert s.is_open(monday_0900_wib)
    window = s.current_window(monday_0900_wib)
    assert window == (utc(2026, 11, 23, 1), utc(2026, 11, 23, 9))
    assert window is not None
    assert all(moment.tzinfo is UTC for moment in window)
    change = s.next_change(monday_0900_wib)
    assert change is not None
    assert change.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    s = sched(OFFICE)
    with pytest.raises(ValueError, match="naive"):
        s.is_open(datetime(2026, 11, 23, 8))
    with pytest.raises(ValueError, match="naive"):
        s.intervals(datetime(2026, 11, 23), utc(2026, 11, 24))


# --- intervals and merging -------------------------------------------------------------


def test_intervals_are_clipped_to_the_range() -> None:
    s = sched(OFFICE)
    assert s.intervals(utc(2026, 11, 23, 5), utc(2026, 11, 24, 3)) == [
        (utc(2026, 11, 23, 5), utc(2026, 11, 23, 9)),  # Mon 12:00-16:00 WIB
        (utc(2026, 11, 24, 1), utc(2026, 11, 24, 3)),  # Tue 08:00-10:00
    ]
    assert s.intervals(utc(2026, 11, 24), utc(2026, 11, 23)) == []
    assert s.intervals(utc(2026, 11, 23, 10), utc(2026, 11, 24, 0)) == []


def test_24h_is_one_continuous_interval() -> None:
    s = Schedule(ALWAYS_OPEN)
    start = utc(2026, 11, 23, 5)
    assert s.intervals(start, start + timedelta(days=3)) == [(start, start + timedelta(days=3))]
    assert s.is_open(start)
    assert s.current_window(start) == (start - HORIZON, start + HORIZON)
    assert s.next_change(start) is None
    assert s.next_open(start) is None


def test_weekend_24h_merges_across_midnights() -> None:
    s = sched("mon-fri 08:00-16:00; sat,sun 24h")
    saturday_1000 = utc(2026, 11, 28, 3)
    assert s.current_window(saturday_1000) == (
        utc(2026, 11, 27, 17),  # Sat 00:00 WIB
        utc(2026, 11, 29, 17),  # Mon 00:00 WIB, not Sun 00:00
    )
    assert s.next_change(saturday_1000) == utc(2026, 11, 29, 17)
    assert s.next_open(saturday_1000) == utc(2026, 11, 30, 1)  # Mon 08:00


def test_night_and_day_windows_merge() -> None:
    s = sched("22:00-06:00; 06:00-14:00")
    assert s.intervals(utc(2026, 11, 22, 17), utc(2026, 11, 24, 17)) == [  # Mon-Wed 00:00 WIB
        (utc(2026, 11, 22, 17), utc(2026, 11, 23, 7)),  # Sunday's night into Mon 14:00
        (utc(2026, 11, 23, 15), utc(2026, 11, 24, 7)),  # Mon 22:00 to Tue 14:00
        (utc(2026, 11, 24, 15), utc(2026, 11, 24, 17)),  # Tue 22:00 to the range end
    ]
    assert s.current_window(utc(2026, 11, 23, 22)) == (  # Tue 05:00 WIB
        utc(2026, 11, 23, 15),
        utc(2026, 11, 24, 7),
    )
    assert s.next_change(utc(2026, 11, 23, 22)) == utc(2026, 11, 24, 7)  # not Tue 06:00


def test_overlapping_windows_merge() -> None:
    s = sched("08:00-12:00; 10:00-14:00")
    assert s.current_window(utc(2026, 11, 23, 2)) == (utc(2026, 11, 23, 1), utc(2026, 11, 23, 7))


# --- next_open / next_change -----------------------------------------------------------


def test_next_open_and_next_change_by_hand() -> None:
    s = sched(OFFICE)
    mon_0700 = utc(2026, 11, 23, 0)
    mon_0800 = utc(2026, 11, 23, 1)
    mon_1600 = utc(2026, 11, 23, 9)
    tue_0800 = utc(2026, 11, 24, 1)
    assert s.current_window(mon_0700) is None
    assert s.next_change(mon_0700) == mon_0800
    assert s.next_open(mon_0700) == mon_0800
    # At the opening instant the post is open, so what comes next is the close.
    assert s.next_change(mon_0800) == mon_1600
    assert s.next_open(mon_0800) == tue_0800
    assert s.next_change(mon_1600) == tue_0800
    assert s.next_open(mon_1600) == tue_0800
    sat_1200 = utc(2026, 11, 28, 5)
    assert s.next_change(utc(2026, 11, 28, 2)) == sat_1200  # from Sat 09:00
    assert s.next_change(sat_1200) == utc(2026, 11, 30, 1)  # Mon 08:00 WIB
    assert s.next_open(utc(2026, 11, 29, 12)) == utc(2026, 11, 30, 1)  # from Sun 19:00


def test_never_open_has_no_next() -> None:
    s = Schedule(CLOSED)
    at = utc(2026, 11, 23)
    assert s.intervals(at, at + timedelta(days=30)) == []
    assert not s.is_open(at)
    assert s.current_window(at) is None
    assert s.next_open(at) is None
    assert s.next_change(at) is None


def test_openings_beyond_the_horizon_are_not_found() -> None:
    at = utc(2026, 11, 1)
    near = Schedule(CLOSED, {date(2026, 11, 11): ALWAYS_OPEN})
    assert near.next_open(at) == utc(2026, 11, 10, 17)  # Nov 11 00:00 WIB
    far = Schedule(CLOSED, {date(2026, 11, 21): ALWAYS_OPEN})
    assert far.next_open(at) is None
    assert far.next_change(at) is None
    assert far.next_open(utc(2026, 11, 10)) == utc(2026, 11, 20, 17)


# --- dated overrides -----------------------------------------------------------------


def test_voting_day_24h_replaces_office_hours() -> None:
    weekly = "mon-fri 08:00-16:00"
    s = sched(weekly, {VOTING_DAY: "24h"})
    fri_0300 = utc(2026, 11, 26, 20)
    assert s.is_open(fri_0300)
    assert not sched(weekly).is_open(fri_0300)
    assert s.intervals(utc(2026, 11, 25, 17), utc(2026, 11, 29, 17)) == [  # Thu-Mon 00:00 WIB
        (utc(2026, 11, 26, 1), utc(2026, 11, 26, 9)),  # Thu 08:00-16:00
        (utc(2026, 11, 26, 17), utc(2026, 11, 27, 17)),  # all of Friday
    ]
    fri_1000, fri_2000 = utc(2026, 11, 27, 3), utc(2026, 11, 27, 13)
    assert s.current_window(fri_2000) == (utc(2026, 11, 26, 17), utc(2026, 11, 27, 17))
    assert s.next_change(fri_1000) == utc(2026, 11, 27, 17)  # Sat 00:00 WIB
    assert s.next_open(fri_1000) == utc(2026, 11, 30, 1)  # Mon 08:00 WIB
    assert s.next_change(utc(2026, 11, 26, 9)) == utc(2026, 11, 26, 17)  # Thu 16:00 -> Fri 00:00


def test_override_opens_a_closed_day_ignoring_its_day_prefix() -> None:
    # "mon" is ignored: the override's windows all apply to its date, a Saturday.
    s = sched("mon-fri 08:00-16:00", {date(2026, 11, 28): "mon 07:00-13:00"})
    assert s.is_open(utc(2026, 11, 28, 3))  # Sat 10:00 WIB
    assert not s.is_open(utc(2026, 11, 28, 6))  # Sat 13:00
    assert s.next_open(utc(2026, 11, 27, 10)) == utc(2026, 11, 28, 0)  # Fri 17:00 -> Sat 07:00
    assert not s.is_open(utc(2026, 11, 29, 3))  # Sunday untouched


def test_override_ending_where_a_normal_window_starts() -> None:
    s = sched("mon-fri 08:00-16:00", {date(2026, 11, 29): "20:00-08:00"})
    sunday_2100 = utc(2026, 11, 29, 14)
    assert s.current_window(utc(2026, 11, 29, 20)) == (  # Mon 03:00 WIB
        utc(2026, 11, 29, 13),  # Sun 20:00 WIB
        utc(2026, 11, 30, 9),  # Mon 16:00 WIB: no close at 08:00
    )
    assert s.next_change(sunday_2100) == utc(2026, 11, 30, 9)
    assert s.next_open(sunday_2100) == utc(2026, 12, 1, 1)  # Tue 08:00


def test_override_replaces_only_windows_starting_on_its_date() -> None:
    s = sched("22:00-06:00", {date(2026, 11, 24): "closed"})
    assert s.is_open(utc(2026, 11, 23, 20))  # Tue 03:00 WIB, Monday's window still runs
    assert not s.is_open(utc(2026, 11, 24, 16))  # Tue 23:00
    assert not s.is_open(utc(2026, 11, 24, 20))  # Wed 03:00
    assert s.next_open(utc(2026, 11, 23, 20)) == utc(2026, 11, 25, 15)  # Wed 22:00


# --- area scoping --------------------------------------------------------------------

CITY_PATH = ("31", "31.73")
KEBON_JERUK = ("31", "31.73", "31.73.01", "31.73.01.1001")
PALMERAH = ("31", "31.73", "31.73.02", "31.73.02.1002")


def test_override_applies_to_area_subtrees() -> None:
    citywide = DateOverride(VOTING_DAY, ALWAYS_OPEN)
    scoped = DateOverride(VOTING_DAY, ALWAYS_OPEN, frozenset({"31.73.01"}))
    assert citywide.applies_to(PALMERAH)
    assert citywide.applies_to(())
    assert scoped.applies_to(KEBON_JERUK)
    assert scoped.applies_to(("31", "31.73", "31.73.01"))
    assert not scoped.applies_to(PALMERAH)
    assert not scoped.applies_to(CITY_PATH)
    assert not scoped.applies_to(())


def test_most_specific_override_wins() -> None:
    citywide = DateOverride(VOTING_DAY, ALWAYS_OPEN)
    kecamatan = DateOverride(VOTING_DAY, parse_hours("06:00-22:00"), frozenset({"31.73.01"}))
    for order in ([citywide, kecamatan], [kecamatan, citywide]):
        assert overrides_for(order, KEBON_JERUK) == {VOTING_DAY: kecamatan.hours}
        assert overrides_for(order, PALMERAH) == {VOTING_DAY: ALWAYS_OPEN}

    kelurahan = DateOverride(VOTING_DAY, CLOSED, frozenset({"31.73.01.1001", "31.73.02"}))
    assert overrides_for([kecamatan, kelurahan], KEBON_JERUK) == {VOTING_DAY: CLOSED}

    later = DateOverride(VOTING_DAY, parse_hours("07:00-19:00"))
    assert overrides_for([citywide, later], PALMERAH) == {VOTING_DAY: later.hours}
    assert overrides_for([kecamatan], PALMERAH) == {}


def test_scoped_override_changes_only_its_posts() -> None:
    rules = [
        DateOverride(VOTING_DAY, ALWAYS_OPEN),
        DateOverride(VOTING_DAY, parse_hours("06:00-22:00"), frozenset({"31.73.01"})),
    ]
    weekly = parse_hours("mon-fri 08:00-16:00")
    kebon_jeruk = Schedule(weekly, overrides_for(rules, KEBON_JERUK))
    palmerah = Schedule(weekly, overrides_for(rules, PALMERAH))
    fri_2300 = utc(2026, 11, 27, 16)
    assert palmerah.is_open(fri_2300)
    assert not kebon_jeruk.is_open(fri_2300)
    assert kebon_jeruk.next_change(utc(2026, 11, 27, 3)) == utc(2026, 11, 27, 15)  # Fri 22:00


# --- consistency against a brute-force reading of intervals() -------------------------


@pytest.mark.parametrize(
    ("text", "overrides"),
    [
        (OFFICE, {}),
        ("22:00-06:00; 06:00-14:00", {}),
        ("sun 22:00-06:00; mon-fri 06:00-10:00", {}),
        ("mon-fri 08:00-16:00; sat,sun 24h", {}),
        ("fri-mon 22:00-06:00; 12:00-13:00", {VOTING_DAY: "24h"}),
        ("mon-fri 08:00-16:00", {date(2026, 11, 29): "20:00-08:00", VOTING_DAY: "closed"}),
    ],
)
def test_queries_agree_with_intervals(text: str, overrides: dict[date, str]) -> None:
    s = sched(text, overrides)
    first, last = utc(2026, 11, 20, 17), utc(2026, 12, 1, 17)
    wide = s.intervals(first - timedelta(days=4), last + timedelta(days=4))
    starts = [a for a, _ in wide]
    changes = sorted({moment for interval in wide for moment in interval})
    at = first
    while at < last:
        containing = [(a, b) for a, b in wide if a <= at < b]
        assert s.is_open(at) == bool(containing)
        assert s.current_window(at) == (containing[0] if containing else None)
        assert s.next_change(at) == next(m for m in changes if m > at)
        assert s.next_open(at) == next(a for a in starts if a > at)
        at += timedelta(minutes=30)


def test_a_post_override_beats_its_area_and_the_city() -> None:
    from types import SimpleNamespace

    from bot.watch.schedule import POST_KEY, DateOverride, PostSchedules, parse_hours

    day = date(2026, 12, 9)
    schedules = PostSchedules(
        [
            DateOverride(day, parse_hours("06:00-24:00")),
            DateOverride(day, parse_hours("07:00-20:00"), frozenset({"31.73.01"})),
            DateOverride(day, parse_hours("tutup"), frozenset({POST_KEY + "KBJ-01"})),
        ]
    )
    path = [SimpleNamespace(code="31"), SimpleNamespace(code="31.73.01")]
    noon = datetime(2026, 12, 9, 5, 0, tzinfo=UTC)  # 12:00 WIB
    kbj01 = schedules.of(SimpleNamespace(code="KBJ-01", hours="24h"), path)
    kbj02 = schedules.of(SimpleNamespace(code="KBJ-02", hours="24h"), path)
    elsewhere = schedules.of(SimpleNamespace(code="X-1", hours="24h"), path[:1])
    assert not kbj01.is_open(noon)
    assert kbj02.is_open(noon) and not kbj02.is_open(noon + timedelta(hours=9))  # 21:00
    assert elsewhere.is_open(noon + timedelta(hours=9))
