"""Partner agencies (instansi) and their liaisons (SPEC §8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, to_db


@dataclass(frozen=True, slots=True)
class Agency:
    id: int
    code: str
    name: str


async def upsert(tx: Tx, rows: Sequence[tuple[str, str]], now: datetime) -> int:
    """Insert or update (code, name) pairs by code."""
    stamp = to_db(now)
    await tx.executemany(
        "INSERT INTO agencies (code, name, created_at, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(code) DO UPDATE SET name = excluded.name,"
        " updated_at = excluded.updated_at",
        [(code, name, stamp, stamp) for code, name in rows],
    )
    return len(rows)


async def codes(tx: Tx) -> set[str]:
    return {row[0] for row in await tx.all("SELECT code FROM agencies")}


async def all_agencies(tx: Tx) -> list[Agency]:
    rows = await tx.all("SELECT id, code, name FROM agencies ORDER BY code")
    return [Agency(row[0], row[1], row[2]) for row in rows]


async def by_code(tx: Tx, code: str) -> Agency | None:
    row = await tx.one("SELECT id, code, name FROM agencies WHERE code = ?", (code,))
    return None if row is None else Agency(row[0], row[1], row[2])


async def by_id(tx: Tx, agency_id: int) -> Agency | None:
    row = await tx.one("SELECT id, code, name FROM agencies WHERE id = ?", (agency_id,))
    return None if row is None else Agency(row[0], row[1], row[2])


async def of_member(tx: Tx, member_id: int) -> Agency | None:
    """The agency a liaison belongs to (None for everyone else)."""
    row = await tx.one(
        "SELECT a.id, a.code, a.name FROM agencies a JOIN members m ON m.agency_id = a.id"
        " WHERE m.id = ?",
        (member_id,),
    )
    return None if row is None else Agency(row[0], row[1], row[2])
