"""Audit log: every state change, who did it and when."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import Tx, to_db


async def record(
    tx: Tx,
    now: datetime,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: object,
    **detail: Any,
) -> None:
    await tx.execute(
        "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            to_db(now),
            actor_id,
            action,
            entity,
            None if entity_id is None else str(entity_id),
            json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        ),
    )
