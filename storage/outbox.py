"""The durable outbox: every message the bot sends on its own initiative.

Rows are written in the same transaction as the state change that causes them; the
sender (bot/delivery/sender.py) drains them. Lower ``priority`` goes first.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from storage.db import Row, Tx, from_db, to_db

BALANCE_TOO_LOW = "balance_too_low"
"""Telegram's refusal of a paid broadcast the bot's Stars cannot pay for (lowercased), as
a failed row's ``error`` carries it."""


def unpaid(error_column: str) -> str:
    """SQL: the failed row was refused for want of Stars (``error_column``: its error)."""
    return f"lower({error_column}) LIKE '%{BALANCE_TOO_LOW}%'"


class Priority(IntEnum):
    ALERT = 0
    NOTICE = 5
    BULK = 9


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: int
    topic_id: int | None
    priority: int
    kind: str
    method: str
    payload: dict[str, Any]
    attempts: int
    not_before: datetime
    ref_type: str | None
    ref_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> OutboxItem:
        not_before = from_db(row["not_before"])
        assert not_before is not None
        return cls(
            id=row["id"],
            chat_id=row["chat_id"],
            topic_id=row["topic_id"],
            priority=row["priority"],
            kind=row["kind"],
            method=row["method"],
            payload=json.loads(row["payload"]),
            attempts=row["attempts"],
            not_before=not_before,
            ref_type=row["ref_type"],
            ref_id=row["ref_id"],
        )


async def enqueue(
    tx: Tx,
    chat_id: int,
    text: str,
    now: datetime,
    *,
    kind: str,
    priority: Priority = Priority.NOTICE,
    reply_markup: dict[str, Any] | None = None,
    topic_id: int | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
    method: str = "sendMessage",
    extra: dict[str, Any] | None = None,
) -> int:
    """Queue one message; returns the outbox id. ``reply_markup`` is Bot API JSON."""
    payload: dict[str, Any] = {"text": text}
    if reply_markup is not None:
        payload["reply_markup"] = reply_markup
    if extra:
        payload.update(extra)
    return await enqueue_call(
        tx,
        chat_id,
        method,
        payload,
        now,
        kind=kind,
        priority=priority,
        topic_id=topic_id,
        ref_type=ref_type,
        ref_id=ref_id,
    )


async def enqueue_call(
    tx: Tx,
    chat_id: int,
    method: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    kind: str,
    priority: Priority = Priority.NOTICE,
    topic_id: int | None = None,
    ref_type: str | None = None,
    ref_id: int | None = None,
) -> int:
    """Queue one Bot API call other than a text message (an album, a photo, a map pin):
    ``payload`` is its parameters without ``chat_id``; returns the outbox id."""
    tx.touched_outbox = True
    return await tx.insert(
        "INSERT INTO outbox (chat_id, topic_id, priority, kind, method, payload, ref_type, ref_id,"
        " not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            chat_id,
            topic_id,
            int(priority),
            kind,
            method,
            json.dumps(payload, ensure_ascii=False),
            ref_type,
            ref_id,
            to_db(now),
            to_db(now),
        ),
    )


# --------------------------------------------------------------------------------------------
# The sender's side (bot/delivery/sender.py). Rows move pending → sending → sent | failed; every
# move is a compare-and-swap on ``status`` so that a row is never claimed twice.
# --------------------------------------------------------------------------------------------

_READY_SQL = """
SELECT o.* FROM outbox AS o
WHERE o.status = 'pending' AND o.not_before <= ?
  AND o.chat_id NOT IN (SELECT CAST(value AS BIGINT) FROM json_each(?)){kinds}
  AND NOT EXISTS (
      SELECT 1 FROM outbox AS p
      WHERE p.chat_id = o.chat_id AND p.priority = o.priority
        AND p.status IN ('pending', 'sending') AND p.id < o.id)
ORDER BY o.priority, o.not_before, o.id
LIMIT ?
"""


_ANY_KIND = _READY_SQL.format(kinds="")
_ONLY_KINDS = _READY_SQL.format(kinds="\n  AND o.kind IN (SELECT value FROM json_each(?))")


async def ready(
    tx: Tx,
    now: datetime,
    limit: int,
    exclude_chats: Iterable[int] = (),
    only_kinds: Collection[str] | None = None,
) -> list[OutboxItem]:
    """Pending rows due at ``now``, best first: (priority, not_before, id).

    Only the head of each (chat, priority) queue is returned, so a chat's messages leave in
    id order even when an earlier one was pushed back by a retry; ``exclude_chats`` are
    chats the caller may not send to right now (throttled or paused); ``only_kinds``, when
    given, keeps rows of those kinds only.
    """
    held = json.dumps(sorted(set(exclude_chats)))
    if only_kinds is None:
        rows = await tx.all(_ANY_KIND, (to_db(now), held, limit))
    else:
        kinds = json.dumps(sorted(only_kinds))
        rows = await tx.all(_ONLY_KINDS, (to_db(now), held, kinds, limit))
    return [OutboxItem.from_row(row) for row in rows]


# Claims on PostgreSQL lock the rows they move and pass over rows another transaction has
# locked (FOR UPDATE SKIP LOCKED): two senders — a leader and one taking over, for the
# moment both run — never move one row twice, even where the writers' lock does not
# serialise them. SQLite has one writer at a time, so its compare-and-swap is enough.
_CLAIM = {
    "sqlite": "UPDATE outbox SET status = 'sending' WHERE id = ? AND status = 'pending'",
    "postgresql": "UPDATE outbox SET status = 'sending' WHERE id = ("
    "SELECT id FROM outbox WHERE id = ? AND status = 'pending' FOR UPDATE SKIP LOCKED)"
    " AND status = 'pending'",
}
_CLAIM_MANY = {
    "sqlite": "UPDATE outbox SET status = 'sending' WHERE status = 'pending'"
    " AND id IN (SELECT CAST(value AS BIGINT) FROM json_each(?)) RETURNING id",
    "postgresql": "UPDATE outbox SET status = 'sending' WHERE id IN ("
    "SELECT id FROM outbox WHERE status = 'pending'"
    " AND id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))"
    " ORDER BY id FOR UPDATE SKIP LOCKED) AND status = 'pending' RETURNING id",
}


async def claim(tx: Tx, outbox_id: int) -> bool:
    """pending → sending; False if someone else moved (or is moving) the row first."""
    changed = await tx.execute(_CLAIM[tx.dialect], (outbox_id,))
    return changed == 1


async def claim_many(tx: Tx, outbox_ids: Iterable[int]) -> set[int]:
    """pending → sending for several rows in one statement; returns the ids moved (a row
    someone else moved, or is moving, first is left out)."""
    ids = sorted(set(outbox_ids))
    if not ids:
        return set()
    rows = await tx.all(_CLAIM_MANY[tx.dialect], (json.dumps(ids),))
    return {int(row[0]) for row in rows}


async def mark_sent(tx: Tx, outbox_id: int, now: datetime, message_id: int | None) -> bool:
    changed = await tx.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, error = NULL"
        " WHERE id = ? AND status = 'sending'",
        (to_db(now), message_id, outbox_id),
    )
    return changed == 1


async def mark_sent_many(tx: Tx, sent: Iterable[tuple[int, datetime, int | None]]) -> set[int]:
    """Several rows sending → sent, each with (id, sent at, message_id); returns the ids
    that were still in flight."""
    done: set[int] = set()
    for outbox_id, now, message_id in sent:
        if await mark_sent(tx, outbox_id, now, message_id):
            done.add(outbox_id)
    return done


async def mark_failed(tx: Tx, outbox_id: int, error: str, *, count_attempt: bool = True) -> bool:
    changed = await tx.execute(
        "UPDATE outbox SET status = 'failed', error = ?, attempts = attempts + ?"
        " WHERE id = ? AND status = 'sending'",
        (error, int(count_attempt), outbox_id),
    )
    return changed == 1


async def reschedule(
    tx: Tx,
    outbox_id: int,
    not_before: datetime,
    error: str | None,
    *,
    count_attempt: bool,
) -> bool:
    """sending → pending again, not before ``not_before``; the error text is kept."""
    changed = await tx.execute(
        "UPDATE outbox SET status = 'pending', not_before = ?, error = ?,"
        " attempts = attempts + ? WHERE id = ? AND status = 'sending'",
        (to_db(not_before), error, int(count_attempt), outbox_id),
    )
    return changed == 1


async def release(tx: Tx, outbox_ids: Iterable[int]) -> int:
    """sending → pending for rows claimed but never answered (a stop mid-flight)."""
    ids = sorted(set(outbox_ids))
    if not ids:
        return 0
    return await tx.execute(
        "UPDATE outbox SET status = 'pending'"
        " WHERE status = 'sending' AND id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
        (json.dumps(ids),),
    )


async def release_stale(tx: Tx) -> int:
    """After a crash: every row left in 'sending' goes back to 'pending'.

    Only one sender runs per database, so at startup nothing is legitimately in flight; a
    row that was may have reached Telegram, which is the one duplicate SPEC §5 allows.
    """
    return await tx.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'")


async def retry_now(tx: Tx, now: datetime) -> int:
    """After an outage: pending rows backing off from a network error are due at once."""
    return await tx.execute(
        "UPDATE outbox SET not_before = ? WHERE status = 'pending' AND not_before > ?"
        " AND (error LIKE 'NetworkError:%' OR error LIKE 'TimedOut:%')",
        (to_db(now), to_db(now)),
    )


async def repoint_chat(tx: Tx, old_chat_id: int, new_chat_id: int) -> int:
    """A group became a supergroup: its queued messages and its area follow the new id.

    Returns the number of outbox rows moved (pending and in-flight ones).
    """
    moved = await tx.execute(
        "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'sending')",
        (new_chat_id, old_chat_id),
    )
    await tx.execute(
        "UPDATE areas SET group_chat_id = ? WHERE group_chat_id = ?", (new_chat_id, old_chat_id)
    )
    return moved


async def readdress_person(tx: Tx, old_chat_id: int, new_chat_id: int) -> int:
    """A member moved to a new Telegram account: what still waits to be sent to the lost
    phone goes to the new one. Edits of messages in the old chat cannot follow (the message
    is not there): they are dropped. Returns the number of rows moved."""
    moved = await tx.execute(
        "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'"
        " AND method LIKE 'send%'",
        (new_chat_id, old_chat_id),
    )
    await tx.execute(
        "UPDATE outbox SET status = 'failed', error = 'readdressed: the account was replaced'"
        " WHERE chat_id = ? AND status = 'pending'",
        (old_chat_id,),
    )
    await tx.execute(
        "UPDATE alert_notifications SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
    )
    return moved


async def next_not_before(tx: Tx, after: datetime) -> datetime | None:
    """The earliest moment after ``after`` at which a pending row becomes due."""
    text = await tx.scalar(
        "SELECT MIN(not_before) FROM outbox WHERE status = 'pending' AND not_before > ?",
        (to_db(after),),
    )
    return from_db(text)


async def status_counts(tx: Tx) -> dict[str, int]:
    rows = await tx.all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
    return {str(row[0]): int(row[1]) for row in rows}
