"""The durable inbox: Telegram updates stored before they are acknowledged (SPEC §11).

An update is stored ``pending`` in one transaction with the rest of its batch, before the
next getUpdates (or the webhook's 200) tells Telegram it arrived; it becomes ``done`` in
the same transaction as its handler's first write (``storage.db.HandledUpdate``), or
right after a handler that wrote nothing. ``update_id`` is the key, so an update
delivered again after a crash is recognised: it is either done (ignored) or pending
(replayed from here, not from Telegram).

Plain SQL that PostgreSQL runs as it is: multi-row VALUES with ``ON CONFLICT DO NOTHING
RETURNING`` tells which updates of a batch are new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, to_db

# Telegram hands out at most 100 updates per getUpdates; a webhook one at a time.
BATCH = 100
# A done row is only kept to recognise a redelivery, and Telegram keeps an update at most
# 24 hours; a day more covers a clock that is off.
KEEP_DONE_HOURS = 48


@dataclass(frozen=True, slots=True)
class Received:
    """One update as it arrived: its id, its chat (None for chatless updates), its JSON."""

    update_id: int
    chat_id: int | None
    payload: str


@dataclass(frozen=True, slots=True)
class Pending:
    update_id: int
    payload: str


async def store(tx: Tx, updates: Sequence[Received], now: datetime) -> set[int]:
    """Store the updates not seen before; return the ids of those that are new.

    An id already in the inbox (pending or done) is left as it is: Telegram delivered it
    again, and it is either processed already or waiting in here to be.
    """
    new: set[int] = set()
    received_at = to_db(now)
    for start in range(0, len(updates), BATCH):
        chunk = updates[start : start + BATCH]
        rows = ", ".join("(?, ?, ?, ?)" for _ in chunk)
        params: list[object] = []
        for update in chunk:
            params.extend((update.update_id, update.chat_id, received_at, update.payload))
        found = await tx.all(
            f"INSERT INTO inbox (update_id, chat_id, received_at, payload) VALUES {rows}"
            " ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
            params,
        )
        new.update(int(row[0]) for row in found)
    return new


async def claim_pending(tx: Tx, after: int = 0, limit: int = 1000) -> list[Pending]:
    """Pending updates with an id above ``after``, oldest first: what a starting process
    replays before it takes anything new. One process leads (SPEC §11), so taking them is
    reading them; a claim by a standby would add its lease here."""
    rows = await tx.all(
        "SELECT update_id, payload FROM inbox WHERE state = 'pending' AND update_id > ?"
        " ORDER BY update_id LIMIT ?",
        (after, limit),
    )
    return [Pending(int(row[0]), str(row[1])) for row in rows]


async def mark_done(tx: Tx, update_id: int, now: datetime) -> bool:
    """Record the update as processed; False if it was not pending (unknown or done)."""
    changed = await tx.execute(
        "UPDATE inbox SET state = 'done', done_at = ? WHERE update_id = ? AND state = 'pending'",
        (to_db(now), update_id),
    )
    return changed > 0


async def state_of(tx: Tx, update_id: int) -> str | None:
    """'pending', 'done', or None for an update the inbox does not hold."""
    value = await tx.scalar("SELECT state FROM inbox WHERE update_id = ?", (update_id,))
    return None if value is None else str(value)


async def count_pending(tx: Tx) -> int:
    return int(await tx.scalar("SELECT count(*) FROM inbox WHERE state = 'pending'"))


async def prune(tx: Tx, before: datetime, limit: int = 1000) -> int:
    """Delete up to ``limit`` done updates received before ``before``; return how many.

    Walks from the oldest id and stops at the first row received later, so a pass costs
    what it deletes, never a scan of the whole day's updates (ids grow with time).
    Pending rows are kept whatever their age.
    """
    rows = await tx.all(
        "SELECT update_id, received_at FROM inbox ORDER BY update_id LIMIT ?", (limit,)
    )
    cutoff = to_db(before)
    assert cutoff is not None
    boundary = None
    for row in rows:
        if str(row[1]) >= cutoff:
            break
        boundary = int(row[0])
    if boundary is None:
        return 0
    return await tx.execute(
        "DELETE FROM inbox WHERE update_id <= ? AND state = 'done'", (boundary,)
    )
