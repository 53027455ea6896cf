"""Tukar piket (SPEC §9): swap requests of a slot to a colleague, and the slot queries
the swap flow asks (who is free, my coming slots)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Row, Tx, from_db, to_db
from storage.roster import SLOT_COLUMNS, Slot, slot_from_row


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _hours(count: int) -> timedelta:
    return timedelta(hours=count)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _chunks(values: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


SWAP_OPEN_STATES = ("diminta", "menunggu_persetujuan")


@dataclass(frozen=True, slots=True)
class Swap:
    id: int
    slot_id: int
    from_member: int
    to_member: int
    state: str
    requested_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    version: int


_SWAP_COLUMNS = (
    "id, slot_id, from_member, to_member, state, requested_at, expires_at, answered_at,"
    " decided_by, decided_at, reason, version"
)
# Spelled out (not bound) so SQLite can match the partial index swaps_open.
_SWAP_IS_OPEN = "state IN ('diminta', 'menunggu_persetujuan')"


def _swap(row: Row) -> Swap:
    return Swap(
        id=row[0],
        slot_id=row[1],
        from_member=row[2],
        to_member=row[3],
        state=row[4],
        requested_at=_moment(row[5]),
        expires_at=_moment(row[6]),
        answered_at=from_db(row[7]),
        decided_by=row[8],
        decided_at=from_db(row[9]),
        reason=row[10],
        version=row[11],
    )


async def create_swap(
    tx: Tx, slot_id: int, from_member: int, to_member: int, now: datetime, expires_at: datetime
) -> int:
    return await tx.insert(
        "INSERT INTO swaps (slot_id, from_member, to_member, requested_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (slot_id, from_member, to_member, to_db(now), to_db(expires_at)),
    )


async def swap_by_id(tx: Tx, swap_id: int) -> Swap | None:
    row = await tx.one(f"SELECT {_SWAP_COLUMNS} FROM swaps WHERE id = ?", (swap_id,))
    return None if row is None else _swap(row)


async def open_swap_of_slot(tx: Tx, slot_id: int) -> Swap | None:
    row = await tx.one(
        f"SELECT {_SWAP_COLUMNS} FROM swaps WHERE slot_id = ? AND {_SWAP_IS_OPEN}"
        " ORDER BY id DESC LIMIT 1",
        (slot_id,),
    )
    return None if row is None else _swap(row)


async def open_swaps_of_slots(tx: Tx, slot_ids: Sequence[int]) -> list[Swap]:
    """The requests still open on these slots."""
    found: list[Swap] = []
    for chunk in _chunks(slot_ids):
        rows = await tx.all(
            f"SELECT {_SWAP_COLUMNS} FROM swaps WHERE slot_id IN ({_marks(len(chunk))})"
            f" AND {_SWAP_IS_OPEN}",
            chunk,
        )
        found += [_swap(row) for row in rows]
    return found


async def move_swap(
    tx: Tx,
    swap: Swap,
    state: str,
    now: datetime,
    *,
    answered: bool = False,
    decided_by: int | None = None,
    reason: str | None = None,
) -> bool:
    """Compare-and-swap on the swap's version: a second press, a racing expiry pass or a
    cancel at the same moment finds the row changed and changes nothing."""
    return (
        await tx.execute(
            "UPDATE swaps SET state = ?, answered_at = coalesce(answered_at, ?),"
            " decided_by = coalesce(?, decided_by), decided_at = ?, reason = coalesce(?, reason),"
            " version = version + 1 WHERE id = ? AND version = ?",
            (
                state,
                to_db(now) if answered else None,
                decided_by,
                to_db(now) if decided_by is not None or state not in SWAP_OPEN_STATES else None,
                reason,
                swap.id,
                swap.version,
            ),
        )
        > 0
    )


async def due_swaps(tx: Tx, now: datetime, limit: int) -> list[Swap]:
    """Open swaps whose slot has started (the partial index swaps_open)."""
    rows = await tx.all(
        f"SELECT {_SWAP_COLUMNS} FROM swaps WHERE {_SWAP_IS_OPEN} AND expires_at <= ?"
        " ORDER BY expires_at LIMIT ?",
        (to_db(now), limit),
    )
    return [_swap(row) for row in rows]


async def next_swap_expiry(tx: Tx) -> datetime | None:
    return from_db(await tx.scalar(f"SELECT min(expires_at) FROM swaps WHERE {_SWAP_IS_OPEN}"))


async def busy_members(
    tx: Tx, member_ids: Sequence[int], start: datetime, end: datetime, except_slot: int
) -> set[int]:
    """Which of these members hold a slot (other than ``except_slot``) overlapping
    [start, end): they cannot take another at the same time."""
    found: set[int] = set()
    for chunk in _chunks(member_ids):
        rows = await tx.all(
            f"SELECT DISTINCT member_id FROM slots WHERE member_id IN ({_marks(len(chunk))})"
            " AND id != ? AND start_at < ? AND end_at > ? AND start_at > ?",
            (*chunk, except_slot, to_db(end), to_db(start), to_db(start - _hours(24))),
        )
        found |= {row[0] for row in rows}
    return found


async def coming_of_member(tx: Tx, member_id: int, after: datetime, limit: int) -> list[Slot]:
    """The member's slots not started by ``after``, soonest first."""
    rows = await tx.all(
        f"SELECT {SLOT_COLUMNS} FROM slots WHERE member_id = ? AND start_at > ?"
        " ORDER BY start_at, id LIMIT ?",
        (member_id, to_db(after), limit),
    )
    return [slot_from_row(row) for row in rows]
