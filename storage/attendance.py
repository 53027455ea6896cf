"""Reads of slot attendance for the recap (SPEC §9: per kecamatan, slots, absent, late).

The recap reads one day of slots for the posts it covers; the index on (post_id, start_at)
answers it post by post, so a day's recap never scans the whole roster history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, from_db, to_db


@dataclass(frozen=True, slots=True)
class SlotFact:
    """What the recap needs of one slot: when, and how it went so far."""

    post_id: int
    start_at: datetime
    end_at: datetime
    arrived_at: datetime | None
    left_at: datetime | None
    outcome: str | None
    late_minutes: int | None


async def day_slots(
    tx: Tx, post_ids: Sequence[int], start: datetime, end: datetime
) -> list[SlotFact]:
    """The slots of ``post_ids`` that start in ``[start, end)``, in order of start."""
    if not post_ids:
        return []
    rows = await tx.all(
        "SELECT post_id, start_at, end_at, arrived_at, left_at, outcome, late_minutes"
        " FROM slots WHERE post_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))"
        " AND start_at >= ? AND start_at < ? ORDER BY start_at, id",
        (json.dumps(sorted(post_ids)), to_db(start), to_db(end)),
    )
    return [
        SlotFact(
            post_id=int(row[0]),
            start_at=datetime.fromisoformat(row[1]),
            end_at=datetime.fromisoformat(row[2]),
            arrived_at=from_db(row[3]),
            left_at=from_db(row[4]),
            outcome=row[5],
            late_minutes=row[6],
        )
        for row in rows
    ]
