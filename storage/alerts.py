"""Alerts: an unstaffed or silent incident on a post, its escalation and its end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, from_db


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    post_id: int
    kind: str
    opened_at: datetime
    step: int
    acked_by_name: str | None


async def open_for_post(tx: Tx, post_id: int) -> OpenAlert | None:
    row = await tx.one(
        "SELECT a.id, a.post_id, a.kind, a.opened_at, a.step, m.name AS acked_by_name"
        " FROM alerts a LEFT JOIN members m ON m.id = a.acked_by"
        " WHERE a.post_id = ? AND a.resolved_at IS NULL",
        (post_id,),
    )
    if row is None:
        return None
    opened = from_db(row["opened_at"])
    assert opened is not None
    return OpenAlert(
        row["id"], row["post_id"], row["kind"], opened, row["step"], row["acked_by_name"]
    )
