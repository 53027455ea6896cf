"""Changes to officers and their posts drafted in chat (/petugas), waiting for the
admin's confirm button."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Tx, from_db, to_db


@dataclass(frozen=True, slots=True)
class StaffChange:
    id: int
    actor_id: int
    kind: str
    data: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None
    outcome: str | None


async def create(tx: Tx, actor_id: int, kind: str, data: dict[str, Any], now: datetime) -> int:
    return await tx.insert(
        "INSERT INTO staff_changes (actor_id, kind, data, created_at) VALUES (?, ?, ?, ?)",
        (actor_id, kind, json.dumps(data, ensure_ascii=False), to_db(now)),
    )


async def by_id(tx: Tx, change_id: int) -> StaffChange | None:
    row = await tx.one("SELECT * FROM staff_changes WHERE id = ?", (change_id,))
    if row is None:
        return None
    created = from_db(row["created_at"])
    assert created is not None
    return StaffChange(
        id=row["id"],
        actor_id=row["actor_id"],
        kind=row["kind"],
        data=json.loads(row["data"]),
        created_at=created,
        decided_at=from_db(row["decided_at"]),
        outcome=row["outcome"],
    )


async def decide(tx: Tx, change_id: int, actor_id: int, outcome: str, now: datetime) -> bool:
    """Settle a pending change once: a compare-and-swap, so a double tap cannot apply it
    twice and nobody but its author can settle it."""
    changed = await tx.execute(
        "UPDATE staff_changes SET decided_at = ?, outcome = ?"
        " WHERE id = ? AND actor_id = ? AND decided_at IS NULL",
        (to_db(now), outcome, change_id, actor_id),
    )
    return changed > 0


async def set_outcome(tx: Tx, change_id: int, outcome: str) -> None:
    await tx.execute("UPDATE staff_changes SET outcome = ? WHERE id = ?", (outcome, change_id))
