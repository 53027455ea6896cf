"""The durable outbox: every message the bot sends on its own initiative.

Rows are written in the same transaction as the state change that causes them; the
sender (bot/delivery.py) drains them. Lower ``priority`` goes first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from storage.db import Row, Tx, from_db, to_db


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
