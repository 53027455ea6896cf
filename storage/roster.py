"""Roster (SPEC §9): weekday patterns, dated days, slots and their deadlines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from storage.db import Row, Tx, from_db, to_db


@dataclass(frozen=True, slots=True)
class Slot:
    id: int
    post_id: int
    member_id: int
    start_at: datetime
    end_at: datetime
    arrived_at: datetime | None
    left_at: datetime | None
    reminded_at: datetime | None
    nudged_at: datetime | None
    outcome: str | None
    late_minutes: int | None
    next_due_at: datetime | None
    due_kind: str | None
    version: int
    pattern_id: int | None = None


_SLOT_COLUMNS = (
    "id, post_id, member_id, start_at, end_at, arrived_at, left_at, reminded_at, nudged_at,"
    " outcome, late_minutes, next_due_at, due_kind, version, pattern_id"
)


def _slot(row: Row) -> Slot:
    return Slot(
        id=row[0],
        post_id=row[1],
        member_id=row[2],
        start_at=_moment(row[3]),
        end_at=_moment(row[4]),
        arrived_at=from_db(row[5]),
        left_at=from_db(row[6]),
        reminded_at=from_db(row[7]),
        nudged_at=from_db(row[8]),
        outcome=row[9],
        late_minutes=row[10],
        next_due_at=from_db(row[11]),
        due_kind=row[12],
        version=row[13],
        pattern_id=row[14],
    )


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


SLOT_COLUMNS = _SLOT_COLUMNS


def slot_from_row(row: Row) -> Slot:
    return _slot(row)


def _marks(count: int) -> str:
    return ",".join("?" * count)


# --- the roster as imported -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatternRow:
    post_id: int
    member_id: int
    days: int
    start_minute: int
    end_minute: int


async def replace_patterns(
    tx: Tx,
    post_ids: Sequence[int],
    patterns: Sequence[PatternRow],
    dated_days: Iterable[tuple[int, date]],
) -> dict[tuple[int, int, int, int, int], int]:
    """The weekday rows and dated days of ``post_ids`` become exactly these; returns each
    pattern's id by (post, member, days, start, end)."""
    for chunk in _chunks(post_ids):
        marks = _marks(len(chunk))
        await tx.execute(f"DELETE FROM roster_patterns WHERE post_id IN ({marks})", chunk)
        await tx.execute(f"DELETE FROM roster_days WHERE post_id IN ({marks})", chunk)
    await tx.executemany(
        "INSERT INTO roster_patterns (post_id, member_id, days, start_minute, end_minute)"
        " VALUES (?, ?, ?, ?, ?)",
        [(p.post_id, p.member_id, p.days, p.start_minute, p.end_minute) for p in patterns],
    )
    await tx.executemany(
        "INSERT INTO roster_days (post_id, day) VALUES (?, ?)",
        [(post_id, day.isoformat()) for post_id, day in dated_days],
    )
    return await pattern_ids(tx, post_ids)


async def pattern_ids(
    tx: Tx, post_ids: Sequence[int] | None = None
) -> dict[tuple[int, int, int, int, int], int]:
    found: dict[tuple[int, int, int, int, int], int] = {}
    sql = "SELECT id, post_id, member_id, days, start_minute, end_minute FROM roster_patterns"
    if post_ids is None:
        rows = await tx.all(sql)
    else:
        rows = []
        for chunk in _chunks(post_ids):
            rows += await tx.all(f"{sql} WHERE post_id IN ({_marks(len(chunk))})", chunk)
    for row in rows:
        found[(row[1], row[2], row[3], row[4], row[5])] = row[0]
    return found


async def all_patterns(tx: Tx) -> list[tuple[int, PatternRow]]:
    rows = await tx.all(
        "SELECT id, post_id, member_id, days, start_minute, end_minute FROM roster_patterns"
    )
    return [(row[0], PatternRow(row[1], row[2], row[3], row[4], row[5])) for row in rows]


async def dated_days(tx: Tx, first: date, last: date) -> set[tuple[int, date]]:
    rows = await tx.all(
        "SELECT post_id, day FROM roster_days WHERE day BETWEEN ? AND ?",
        (first.isoformat(), last.isoformat()),
    )
    return {(row[0], date.fromisoformat(row[1])) for row in rows}


async def expanded_through(tx: Tx) -> date | None:
    """The last WIB date whose weekday rows are already slots."""
    text = await tx.scalar("SELECT through_day FROM roster_horizon WHERE id = 1")
    return None if text is None else date.fromisoformat(text)


async def set_expanded_through(tx: Tx, day: date) -> None:
    await tx.execute(
        "INSERT INTO roster_horizon (id, through_day) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET through_day = excluded.through_day",
        (day.isoformat(),),
    )


# --- slots ------------------------------------------------------------------------------

NewSlot = tuple[int, int, datetime, datetime, int | None, datetime | None, str | None]
"""(post_id, member_id, start_at, end_at, pattern_id, next_due_at, due_kind)"""


async def insert_slots(tx: Tx, rows: Iterable[NewSlot]) -> None:
    await tx.executemany(
        "INSERT INTO slots (post_id, member_id, start_at, end_at, pattern_id, next_due_at,"
        " due_kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (post, member, to_db(start), to_db(end), pattern, to_db(due), kind)
            for post, member, start, end, pattern, due, kind in rows
        ),
    )


async def future_slot_keys(
    tx: Tx, post_ids: Sequence[int], after: datetime
) -> dict[tuple[int, int, str, str], int]:
    """(post, member, start, end text) → id of the slots of ``post_ids`` not started by
    ``after``: the part of the roster an import may still change. A slot that changed
    hands by an approved swap is keyed by the member the roster named, so importing the
    same roster again keeps the swap."""
    found: dict[tuple[int, int, str, str], int] = {}
    for chunk in _chunks(post_ids):
        rows = await tx.all(
            "SELECT s.id, s.post_id, coalesce((SELECT w.from_member FROM swaps w"
            " WHERE w.slot_id = s.id AND w.state = 'disetujui' ORDER BY w.id LIMIT 1),"
            " s.member_id), s.start_at, s.end_at FROM slots s"
            f" WHERE s.post_id IN ({_marks(len(chunk))}) AND s.start_at > ?",
            (*chunk, to_db(after)),
        )
        for row in rows:
            found[(row[1], row[2], row[3], row[4])] = row[0]
    return found


async def delete_slots(tx: Tx, slot_ids: Sequence[int]) -> None:
    for chunk in _chunks(slot_ids):
        await tx.execute(f"DELETE FROM slots WHERE id IN ({_marks(len(chunk))})", chunk)


async def by_id(tx: Tx, slot_id: int) -> Slot | None:
    row = await tx.one(f"SELECT {_SLOT_COLUMNS} FROM slots WHERE id = ?", (slot_id,))
    return None if row is None else _slot(row)


async def due(tx: Tx, now: datetime, limit: int) -> list[Slot]:
    rows = await tx.all(
        f"SELECT {_SLOT_COLUMNS} FROM slots WHERE next_due_at IS NOT NULL AND next_due_at <= ?"
        " ORDER BY next_due_at LIMIT ?",
        (to_db(now), limit),
    )
    return [_slot(row) for row in rows]


async def next_due(tx: Tx) -> datetime | None:
    return from_db(
        await tx.scalar("SELECT min(next_due_at) FROM slots WHERE next_due_at IS NOT NULL")
    )


@dataclass(frozen=True, slots=True)
class SlotStep:
    """A slot's walk advanced by the watcher (compare-and-swap on ``version``)."""

    slot_id: int
    version: int
    next_due_at: datetime | None
    due_kind: str | None
    reminded_at: datetime | None
    nudged_at: datetime | None
    arrived_at: datetime | None
    outcome: str | None
    late_minutes: int | None


_RUNNING = "start_at > ? AND start_at <= ? AND end_at > ?"

RUNNING_JSON = (
    f"(SELECT json_agg(json_build_array({_SLOT_COLUMNS}) ORDER BY id) FROM slots"
    f" WHERE post_id = p.id AND {_RUNNING})"
)
"""PostgreSQL: the slots of post ``p`` running in :func:`running_window`, as one JSON
value (:func:`slots_of_json`), for reading them in the statement that reads the post."""


def running_window(now: datetime, longest_hours: int = 24) -> tuple[str | None, ...]:
    """The parameters of "running at ``now``": a slot lasts under a day, so only slots
    started in the last day are read (an index range per post)."""
    moment = to_db(now)
    return to_db(now - _hours(longest_hours)), moment, moment


def slots_of_json(value: str | None) -> list[Slot]:
    return [_slot(row) for row in json.loads(value)] if value else []


async def active(
    tx: Tx, post_ids: Sequence[int], now: datetime, longest_hours: int = 24
) -> dict[int, list[Slot]]:
    """The slots of ``post_ids`` running at ``now`` (:func:`running_window`)."""
    found: dict[int, list[Slot]] = {}
    if not post_ids:
        return found
    window = running_window(now, longest_hours)
    for chunk in _chunks(post_ids):
        rows = await tx.all(
            f"SELECT {_SLOT_COLUMNS} FROM slots WHERE post_id IN ({_marks(len(chunk))})"
            f" AND {_RUNNING}",
            (*chunk, *window),
        )
        for row in rows:
            slot = _slot(row)
            found.setdefault(slot.post_id, []).append(slot)
    return found


async def of_post(tx: Tx, post_id: int, start: datetime, end: datetime) -> list[Slot]:
    """The slots of a post starting in [start, end), in order."""
    rows = await tx.all(
        f"SELECT {_SLOT_COLUMNS} FROM slots WHERE post_id = ? AND start_at >= ? AND start_at < ?"
        " ORDER BY start_at, id",
        (post_id, to_db(start), to_db(end)),
    )
    return [_slot(row) for row in rows]


async def of_member(tx: Tx, member_id: int, start: datetime, end: datetime) -> list[Slot]:
    """The member's slots overlapping [start, end), in order."""
    rows = await tx.all(
        f"SELECT {_SLOT_COLUMNS} FROM slots WHERE member_id = ? AND start_at < ?"
        " AND end_at > ? AND start_at > ? ORDER BY start_at, id",
        (member_id, to_db(end), to_db(start), to_db(start - _hours(24))),
    )
    return [_slot(row) for row in rows]


async def record_arrival(tx: Tx, slot_id: int, at: datetime) -> bool:
    """The first check-in that counts toward the slot; a return after leaving early
    clears the departure. An ended slot is history and is left as it was."""
    return (
        await tx.execute(
            "UPDATE slots SET arrived_at = coalesce(arrived_at, ?), left_at = NULL,"
            " version = version + 1 WHERE id = ? AND end_at > ?",
            (to_db(at), slot_id, to_db(at)),
        )
        > 0
    )


async def record_departure(tx: Tx, slot_id: int, at: datetime) -> None:
    await tx.execute(
        "UPDATE slots SET left_at = ?, version = version + 1 WHERE id = ? AND end_at > ?",
        (to_db(at), slot_id, to_db(at)),
    )


async def set_holder(tx: Tx, slot_id: int, version: int, member_id: int) -> bool:
    """The slot changes hands (a swap): compare-and-swap so a racing step is retried. The
    old holder's reminder and early arrival were theirs, not the new holder's."""
    return (
        await tx.execute(
            "UPDATE slots SET member_id = ?, reminded_at = NULL, nudged_at = NULL,"
            " arrived_at = NULL, left_at = NULL, version = version + 1"
            " WHERE id = ? AND version = ?",
            (member_id, slot_id, version),
        )
        > 0
    )


def _hours(count: int) -> timedelta:
    return timedelta(hours=count)


def _chunks(values: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- piket in the watcher, check-in and /pantau (issue 11) ----------------------


async def save_steps_batch(tx: Tx, steps: Sequence[SlotStep]) -> int:
    """Apply the steps whose slot is unchanged since read, a pass's thousands in one
    statement; returns how many slots were still at the version read (compare-and-swap)."""
    if not steps:
        return 0
    return await tx.executemany(
        "UPDATE slots SET next_due_at = ?, due_kind = ?, reminded_at = ?, nudged_at = ?,"
        " arrived_at = ?, outcome = ?, late_minutes = ?, version = version + 1"
        " WHERE id = ? AND version = ?",
        [
            (
                to_db(step.next_due_at),
                step.due_kind,
                to_db(step.reminded_at),
                to_db(step.nudged_at),
                to_db(step.arrived_at),
                step.outcome,
                step.late_minutes,
                step.slot_id,
                step.version,
            )
            for step in steps
        ],
    )


async def on_duty_at(tx: Tx, member_ids: Sequence[int]) -> dict[int, int]:
    """member → the post of the member's open shift (a member has at most one)."""
    found: dict[int, int] = {}
    for chunk in _chunks(member_ids):
        rows = await tx.all(
            "SELECT member_id, post_id FROM shifts WHERE ended_at IS NULL"
            f" AND member_id IN ({_marks(len(chunk))})",
            chunk,
        )
        for row in rows:
            found[row[0]] = row[1]
    return found


@dataclass(frozen=True, slots=True)
class Addressee:
    member_id: int
    chat_id: int
    member_language: str | None
    client_language: str | None


async def addressees(tx: Tx, member_ids: Sequence[int]) -> dict[int, Addressee]:
    """The registered members among ``member_ids`` (those the bot can write to)."""
    found: dict[int, Addressee] = {}
    for chunk in _chunks(member_ids):
        rows = await tx.all(
            "SELECT id, telegram_id, language, client_language FROM members"
            f" WHERE telegram_id IS NOT NULL AND id IN ({_marks(len(chunk))})",
            chunk,
        )
        for row in rows:
            found[row[0]] = Addressee(row[0], row[1], row[2], row[3])
    return found


async def post_codes(tx: Tx, post_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(post_ids):
        rows = await tx.all(f"SELECT id, code FROM posts WHERE id IN ({_marks(len(chunk))})", chunk)
        for row in rows:
            found[row[0]] = row[1]
    return found


@dataclass(frozen=True, slots=True)
class Rostered:
    """Someone whose slot at the post runs now, and whether they are checked in there."""

    post_id: int
    member_id: int
    name: str
    phone: str | None
    on_duty: bool
    slot: Slot


async def rostered_now(tx: Tx, post_ids: Sequence[int], now: datetime) -> dict[int, list[Rostered]]:
    running = await active(tx, post_ids, now)
    if not running:
        return {}
    member_ids = sorted({slot.member_id for slots in running.values() for slot in slots})
    people: dict[int, tuple[str, str | None]] = {}
    for chunk in _chunks(member_ids):
        rows = await tx.all(
            f"SELECT id, name, phone FROM members WHERE id IN ({_marks(len(chunk))})", chunk
        )
        for row in rows:
            people[row[0]] = (row[1], row[2])
    at = await on_duty_at(tx, member_ids)
    found: dict[int, list[Rostered]] = {}
    for post_id, slots in running.items():
        for slot in sorted(slots, key=lambda s: (s.start_at, s.id)):
            name, phone = people.get(slot.member_id, ("?", None))
            found.setdefault(post_id, []).append(
                Rostered(
                    post_id, slot.member_id, name, phone, at.get(slot.member_id) == post_id, slot
                )
            )
    return found


async def record_departures(tx: Tx, pairs: Iterable[tuple[int, int]], at: datetime) -> None:
    """(member, post): the member left the post before the end of a slot running there;
    an early arrival for a slot not yet started no longer counts (they are not there)."""
    moment = to_db(at)
    since = to_db(at - _hours(24))
    pairs = list(pairs)
    await tx.executemany(
        "UPDATE slots SET left_at = ?, version = version + 1 WHERE member_id = ? AND post_id = ?"
        " AND start_at > ? AND start_at <= ? AND end_at > ?",
        [(moment, member, post, since, moment, moment) for member, post in pairs],
    )
    await tx.executemany(
        "UPDATE slots SET arrived_at = NULL, version = version + 1 WHERE member_id = ?"
        " AND post_id = ? AND start_at > ? AND arrived_at IS NOT NULL",
        [(member, post, moment) for member, post in pairs],
    )


async def arrival_candidates(
    tx: Tx, member_id: int, post_id: int, now: datetime, ahead: timedelta
) -> list[Slot]:
    """The member's slots at the post running now or starting within ``ahead``."""
    return [
        slot
        for slot in await of_member(tx, member_id, now, now + ahead + timedelta(seconds=1))
        if slot.post_id == post_id and slot.start_at <= now + ahead and slot.end_at > now
    ]


async def roster_counts(
    tx: Tx, post_ids: Sequence[int], now: datetime
) -> dict[int, tuple[int, int]]:
    """post → (slots running now, of them whose officer is checked in at the post): two
    numbers per post, counted in SQL (the board asks for thousands of posts at once)."""
    result: dict[int, tuple[int, int]] = {}
    moment = to_db(now)
    since = to_db(now - _hours(24))
    for chunk in _chunks(post_ids):
        rows = await tx.all(
            "SELECT s.post_id, count(*), sum(CASE WHEN EXISTS (SELECT 1 FROM shifts h"
            " WHERE h.post_id = s.post_id AND h.member_id = s.member_id"
            " AND h.ended_at IS NULL) THEN 1 ELSE 0 END) FROM slots s"
            f" WHERE s.post_id IN ({_marks(len(chunk))}) AND s.start_at > ?"
            " AND s.start_at <= ? AND s.end_at > ? GROUP BY s.post_id",
            (*chunk, since, moment, moment),
        )
        for row in rows:
            result[row[0]] = (int(row[1]), int(row[2] or 0))
    return result


async def day_of_post(
    tx: Tx, post_id: int, start: datetime, end: datetime
) -> list[tuple[Slot, str]]:
    """The post's slots starting in [start, end) with their holder's name, in order."""
    slots = await of_post(tx, post_id, start, end)
    names: dict[int, str] = {}
    ids = sorted({slot.member_id for slot in slots})
    for chunk in _chunks(ids):
        rows = await tx.all(
            f"SELECT id, name FROM members WHERE id IN ({_marks(len(chunk))})", chunk
        )
        names.update({row[0]: row[1] for row in rows})
    return [(slot, names.get(slot.member_id, "?")) for slot in slots]


# --- import -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportContext:
    """What a roster file is checked against: post ids by code, members by ref (id and
    whether they still serve as officers) and who is assigned where."""

    posts: dict[str, int]
    members: dict[str, tuple[int, bool]]
    assigned: set[tuple[int, int]]  # (member_id, post_id)


async def import_context(tx: Tx) -> ImportContext:
    posts = {row[0].upper(): row[1] for row in await tx.all("SELECT code, id FROM posts")}
    members = {
        row[0]: (row[1], bool(row[2]))
        for row in await tx.all(
            "SELECT m.ref, m.id, EXISTS (SELECT 1 FROM member_roles r"
            " WHERE r.member_id = m.id AND r.role = 'officer') FROM members m"
        )
    }
    assigned = {
        (row[0], row[1]) for row in await tx.all("SELECT member_id, post_id FROM assignments")
    }
    return ImportContext(posts, members, assigned)


# --- officers leaving a post -------------------------------------------------------------


async def officer_posts(tx: Tx, member_ids: Sequence[int] | None = None) -> set[tuple[int, int]]:
    """(member, post) of every serving officer's assignment (of ``member_ids`` only, if
    given): compared before and after a change to find who left which post."""
    sql = (
        "SELECT a.member_id, a.post_id FROM assignments a JOIN member_roles r"
        " ON r.member_id = a.member_id AND r.role = 'officer'"
    )
    if member_ids is None:
        return {(row[0], row[1]) for row in await tx.all(sql)}
    found: set[tuple[int, int]] = set()
    for chunk in _chunks(member_ids):
        rows = await tx.all(f"{sql} WHERE a.member_id IN ({_marks(len(chunk))})", chunk)
        found.update((row[0], row[1]) for row in rows)
    return found


async def has_roster(tx: Tx) -> bool:
    return bool(await tx.scalar("SELECT EXISTS (SELECT 1 FROM slots)"))


async def drop_pairs(tx: Tx, pairs: Iterable[tuple[int, int]], now: datetime) -> int:
    """The members no longer serve at these posts: their weekday rows there go, and so do
    their slots there not started by ``now`` (with any swap request of them). Returns the
    number of slots dropped; started slots stay as history."""
    rows = list(pairs)
    await tx.executemany("DELETE FROM roster_patterns WHERE member_id = ? AND post_id = ?", rows)
    since = to_db(now)
    return await tx.executemany(
        "DELETE FROM slots WHERE member_id = ? AND post_id = ? AND start_at > ?",
        [(member, post, since) for member, post in rows],
    )


# --- slots in bulk: the national import and the daily extension (issue 11, rperf) -------

SlotRow = tuple[int, int, str, str, int | None, str | None, str | None]
_INTO_SLOTS = (
    "INSERT INTO slots (post_id, member_id, start_at, end_at, pattern_id, next_due_at, due_kind)"
)
_INSERT_SLOT = f"{_INTO_SLOTS} VALUES (?, ?, ?, ?, ?, ?, ?)"
"""A slot in stored form: (post_id, member_id, start_at, end_at, pattern_id, next_due_at,
due_kind), the moments already ``to_db`` text (thousands of slots share a few instants)."""

# The page cache of a bulk insert (KiB): at national size (~5 million slots) the index
# pages a slot lands on (slots_due above all, keyed by a deadline unrelated to the post
# order) no longer fit SQLite's usual cache, and every row paid a page read and a dirty
# page spilled to the WAL.
BULK_CACHE_KIB = 1_048_576
# Inserting at least this many rows into a slots table holding fewer drops its secondary
# indexes and builds them again afterwards: one sort per index instead of millions of
# scattered B-tree inserts.
REBUILD_INDEXES_AT = 200_000


async def insert_slot_rows(tx: Tx, rows: Sequence[SlotRow]) -> None:
    if not rows:
        return
    if tx.dialect != "sqlite":
        # PostgreSQL keeps its own buffers and builds no index row by row out of cache.
        await tx.executemany(_INSERT_SLOT, rows)
        return
    previous_cache = int(await tx.scalar("PRAGMA cache_size"))
    if len(rows) >= 20_000:
        await tx.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        indexes: list[tuple[str, str]] = []
        if len(rows) >= REBUILD_INDEXES_AT and len(rows) > await _slots_at_most(tx, len(rows)):
            indexes = [
                (row[0], row[1])
                for row in await tx.all(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                    " AND tbl_name = 'slots' AND sql IS NOT NULL"
                )
            ]
            for name, _ in indexes:
                await tx.execute(f'DROP INDEX "{name}"')
            # The indexes are built afterwards whatever the order, so the table is laid out
            # by start: the slots a shift change ends and starts (tens of thousands, of as
            # many posts) then share a few thousand pages instead of one page each, which
            # the watcher's pass would read, dirty and commit.
            rows = sorted(rows, key=_start_of)
        await tx.executemany(_INSERT_SLOT, rows)
        for _, sql in indexes:
            await tx.execute(sql)
    finally:
        await tx.execute(f"PRAGMA cache_size={previous_cache}")


def _start_of(row: SlotRow) -> str:
    return row[2]


async def _slots_at_most(tx: Tx, limit: int) -> int:
    """How many slots there are, counting no further than ``limit``."""
    return int(await tx.scalar("SELECT count(*) FROM (SELECT 1 FROM slots LIMIT ?)", (limit,)))


async def insert_missing_slot_rows(tx: Tx, rows: Sequence[SlotRow]) -> int:
    """Insert the rows that are not slots yet and whose roster pattern still exists (an
    extension in several transactions may be resumed after a crash, or a roster imported
    between two of them may have replaced the patterns); returns how many went in."""
    return await tx.executemany(
        f"{_INTO_SLOTS} SELECT ?, ?, ?, ?, ?, ?, ?"
        " WHERE (CAST(? AS BIGINT) IS NULL"
        " OR EXISTS (SELECT 1 FROM roster_patterns WHERE id = ?))"
        " AND NOT EXISTS (SELECT 1 FROM slots WHERE post_id = ? AND start_at = ?"
        " AND member_id = ? AND end_at = ?)",
        [(*row, row[4], row[4], row[0], row[2], row[1], row[3]) for row in rows],
    )
