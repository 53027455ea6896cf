"""Areas: the administrative tree (provinsi > kota > kecamatan > kelurahan)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, to_db
from storage.records import Area


@dataclass(frozen=True, slots=True)
class AreaRow:
    code: str
    name: str
    level: str
    parent_code: str | None


async def by_code(tx: Tx, code: str) -> Area | None:
    row = await tx.one("SELECT * FROM areas WHERE code = ?", (code,))
    return None if row is None else Area.from_row(row)


async def by_id(tx: Tx, area_id: int) -> Area | None:
    row = await tx.one("SELECT * FROM areas WHERE id = ?", (area_id,))
    return None if row is None else Area.from_row(row)


async def codes(tx: Tx) -> dict[str, str]:
    """code → level of every stored area."""
    return {row[0]: row[1] for row in await tx.all("SELECT code, level FROM areas")}


async def upsert(tx: Tx, rows: Sequence[AreaRow], now: datetime) -> int:
    """Insert or update by code; rows are ordered so that parents come first."""
    stamp = to_db(now)
    for row in rows:
        parent_id = None
        if row.parent_code:
            parent_id = await tx.scalar("SELECT id FROM areas WHERE code = ?", (row.parent_code,))
        await tx.execute(
            "INSERT INTO areas (code, name, level, parent_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(code) DO UPDATE SET name = excluded.name, level = excluded.level,"
            " parent_id = excluded.parent_id, updated_at = excluded.updated_at",
            (row.code, row.name, row.level, parent_id, stamp, stamp),
        )
    return len(rows)


async def path(tx: Tx, area_id: int) -> list[Area]:
    """The area and its ancestors, root first: the one walk up the tree."""
    rows = await tx.all(
        "WITH RECURSIVE up(id, depth) AS ("
        " SELECT id, 0 FROM areas WHERE id = ?"
        " UNION ALL SELECT a.parent_id, up.depth + 1 FROM areas a JOIN up ON a.id = up.id"
        " WHERE a.parent_id IS NOT NULL)"
        " SELECT areas.* FROM up JOIN areas ON areas.id = up.id ORDER BY up.depth DESC",
        (area_id,),
    )
    return [Area.from_row(row) for row in rows]


async def subtree_ids(tx: Tx, area_ids: Sequence[int]) -> set[int]:
    """Every area at or below the given ones: the one walk down the tree."""
    if not area_ids:
        return set()
    marks = ",".join("?" * len(area_ids))
    rows = await tx.all(
        "WITH RECURSIVE down(id) AS ("
        f" SELECT id FROM areas WHERE id IN ({marks})"
        " UNION SELECT a.id FROM areas a JOIN down ON a.parent_id = down.id)"
        " SELECT id FROM down",
        tuple(area_ids),
    )
    return {row[0] for row in rows}


async def set_group_chat(
    tx: Tx, area_id: int, chat_id: int | None, topic_id: int | None, now: datetime
) -> None:
    await tx.execute(
        "UPDATE areas SET group_chat_id = ?, group_topic_id = ?, updated_at = ? WHERE id = ?",
        (chat_id, topic_id, to_db(now), area_id),
    )


async def bound_to_chat(tx: Tx, chat_id: int) -> list[Area]:
    """The areas whose posko bersama group is ``chat_id`` (/grup), highest first."""
    rows = await tx.all(
        "SELECT * FROM areas WHERE group_chat_id = ? ORDER BY length(code), code", (chat_id,)
    )
    return [Area.from_row(row) for row in rows]


async def parent_links(tx: Tx) -> list[tuple[str, str, str]]:
    """Every stored area below another: (code, level, parent's code)."""
    rows = await tx.all(
        "SELECT child.code, child.level, parent.code FROM areas child"
        " JOIN areas parent ON parent.id = child.parent_id"
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def groups_in_subtree(tx: Tx, area_id: int) -> list[tuple[int, int | None]]:
    """(chat_id, topic_id) of the posko bersama groups bound at or below an area."""
    below = await subtree_ids(tx, [area_id])
    rows = await tx.all(
        "SELECT DISTINCT group_chat_id, group_topic_id FROM areas"
        " WHERE group_chat_id IS NOT NULL"
        " AND id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
        (json.dumps(sorted(below)),),
    )
    return [(int(row[0]), row[1]) for row in rows]
