"""Unfinished conversations kept in the database so that they survive a restart.

A member has one draft per slot: ``conversation`` (a report being written, a note a
supervisor was asked for) and ``checkin`` (the post to check in at, with the location
that asked for it), so that checking in never throws away a half-written report.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import Tx, to_db
from storage.records import Draft

CONVERSATION = "conversation"
CHECKIN = "checkin"


async def get(tx: Tx, member_id: int, slot: str = CONVERSATION) -> Draft | None:
    row = await tx.one("SELECT * FROM drafts WHERE member_id = ? AND slot = ?", (member_id, slot))
    if row is None:
        return None
    return Draft(row["member_id"], row["kind"], row["step"], json.loads(row["data"]))


async def put(
    tx: Tx,
    member_id: int,
    kind: str,
    step: str,
    data: dict[str, Any],
    now: datetime,
    slot: str = CONVERSATION,
) -> None:
    await tx.execute(
        "INSERT INTO drafts (member_id, slot, kind, step, data, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(member_id, slot) DO UPDATE SET kind = excluded.kind,"
        " step = excluded.step, data = excluded.data, updated_at = excluded.updated_at",
        (member_id, slot, kind, step, json.dumps(data, ensure_ascii=False), to_db(now)),
    )


async def delete(tx: Tx, member_id: int, slot: str = CONVERSATION) -> bool:
    return (
        await tx.execute("DELETE FROM drafts WHERE member_id = ? AND slot = ?", (member_id, slot))
        > 0
    )
