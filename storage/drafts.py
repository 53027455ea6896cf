"""Unfinished conversations kept in the database so that they survive a restart."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import Tx, to_db
from storage.records import Draft


async def get(tx: Tx, member_id: int) -> Draft | None:
    row = await tx.one("SELECT * FROM drafts WHERE member_id = ?", (member_id,))
    if row is None:
        return None
    return Draft(row["member_id"], row["kind"], row["step"], json.loads(row["data"]))


async def put(
    tx: Tx, member_id: int, kind: str, step: str, data: dict[str, Any], now: datetime
) -> None:
    await tx.execute(
        "INSERT INTO drafts (member_id, kind, step, data, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(member_id) DO UPDATE SET kind = excluded.kind, step = excluded.step,"
        " data = excluded.data, updated_at = excluded.updated_at",
        (member_id, kind, step, json.dumps(data, ensure_ascii=False), to_db(now)),
    )


async def delete(tx: Tx, member_id: int) -> bool:
    return await tx.execute("DELETE FROM drafts WHERE member_id = ?", (member_id,)) > 0
