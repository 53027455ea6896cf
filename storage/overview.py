"""SQL for the post overview (/pantau): the posts of a subtree by watch state.

``area_ids`` is the set of areas to look at (a supervisor's subtree); None means the whole
tree (admins). Problem posts come first: silent, then unstaffed, each oldest first.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Tx, from_db

# Order of the list: what needs attention first, what is quiet last.
_RANK = (
    "CASE state WHEN 'silent' THEN 0 WHEN 'unstaffed' THEN 1 WHEN 'opening' THEN 2"
    " WHEN 'reminded' THEN 3 WHEN 'staffed' THEN 3 WHEN 'paused' THEN 4 ELSE 5 END"
)


@dataclass(frozen=True, slots=True)
class PostLine:
    id: int
    code: str
    name: str
    area_id: int
    state: str
    state_since: datetime | None


def _where(area_ids: Collection[int] | None) -> tuple[str, list[Any]]:
    if area_ids is None:
        return "1", []
    return "area_id IN (SELECT value FROM json_each(?))", [json.dumps(sorted(area_ids))]


async def state_counts(tx: Tx, area_ids: Collection[int] | None) -> dict[str, int]:
    """Number of posts per ``posts.state`` (states without posts are absent)."""
    where, params = _where(area_ids)
    rows = await tx.all(f"SELECT state, count(*) FROM posts WHERE {where} GROUP BY state", params)
    return {str(row[0]): int(row[1]) for row in rows}


async def post_lines(
    tx: Tx, area_ids: Collection[int] | None, limit: int, offset: int = 0
) -> list[PostLine]:
    where, params = _where(area_ids)
    rows = await tx.all(
        f"SELECT id, code, name, area_id, state, state_since FROM posts WHERE {where}"
        f" ORDER BY {_RANK},"
        " CASE WHEN state IN ('silent', 'unstaffed') THEN state_since END, code"
        " LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [
        PostLine(
            id=row["id"],
            code=row["code"],
            name=row["name"],
            area_id=row["area_id"],
            state=row["state"],
            state_since=from_db(row["state_since"]),
        )
        for row in rows
    ]


async def area_names(tx: Tx, area_ids: Collection[int]) -> list[str]:
    """Names of the given areas, higher levels first (for a scope's title)."""
    if not area_ids:
        return []
    rows = await tx.all(
        "SELECT name FROM areas WHERE id IN (SELECT value FROM json_each(?))"
        " ORDER BY CASE level WHEN 'provinsi' THEN 0 WHEN 'kota' THEN 1"
        " WHEN 'kecamatan' THEN 2 ELSE 3 END, name",
        (json.dumps(sorted(area_ids)),),
    )
    return [str(row[0]) for row in rows]
