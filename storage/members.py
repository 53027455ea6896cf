"""Members, their roles, post assignments and supervisor scopes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Row, Tx, to_db
from storage.records import Member


@dataclass(frozen=True, slots=True)
class MemberRow:
    ref: str
    name: str
    nip: str | None
    phone: str | None
    roles: tuple[str, ...]
    posts: tuple[str, ...]
    areas: tuple[str, ...]
    telegram_id: int | None
    language: str | None
    agency: str | None = None
    """The code of a liaison's agency (None for everyone else)."""


_SELECT = (
    "SELECT m.id, m.ref, m.name, m.telegram_id, m.language, m.client_language,"
    " m.unreachable_at IS NOT NULL AS unreachable,"
    " (SELECT group_concat(role) FROM member_roles r WHERE r.member_id = m.id) AS roles"
    " FROM members m"
)


def _member(row: Row) -> Member:
    roles = row["roles"]
    return Member(
        id=row["id"],
        ref=row["ref"],
        name=row["name"],
        telegram_id=row["telegram_id"],
        language=row["language"],
        client_language=row["client_language"],
        roles=frozenset(roles.split(",")) if roles else frozenset(),
        unreachable=bool(row["unreachable"]),
    )


async def by_telegram_id(tx: Tx, telegram_id: int) -> Member | None:
    row = await tx.one(f"{_SELECT} WHERE m.telegram_id = ?", (telegram_id,))
    return None if row is None else _member(row)


async def by_ref(tx: Tx, ref: str) -> Member | None:
    row = await tx.one(f"{_SELECT} WHERE m.ref = ?", (ref,))
    return None if row is None else _member(row)


async def by_id(tx: Tx, member_id: int) -> Member | None:
    row = await tx.one(f"{_SELECT} WHERE m.id = ?", (member_id,))
    return None if row is None else _member(row)


async def row_by_ref(tx: Tx, ref: str) -> tuple[int, MemberRow] | None:
    """A stored member as a members.csv row (id, row): roles, posts and areas by code."""
    row = await tx.one(
        "SELECT m.id, m.ref, m.name, m.nip, m.phone, m.telegram_id, m.language,"
        " a.code AS agency FROM members m LEFT JOIN agencies a ON a.id = m.agency_id"
        " WHERE m.ref = ?",
        (ref,),
    )
    if row is None:
        return None
    member_id = int(row["id"])
    roles = await tx.all(
        "SELECT role FROM member_roles WHERE member_id = ? ORDER BY role", (member_id,)
    )
    posts = await tx.all(
        "SELECT p.code FROM assignments a JOIN posts p ON p.id = a.post_id"
        " WHERE a.member_id = ? ORDER BY p.code",
        (member_id,),
    )
    areas = await tx.all(
        "SELECT ar.code FROM scopes s JOIN areas ar ON ar.id = s.area_id"
        " WHERE s.member_id = ? ORDER BY ar.code",
        (member_id,),
    )
    return member_id, MemberRow(
        ref=row["ref"],
        name=row["name"],
        nip=row["nip"],
        phone=row["phone"],
        roles=tuple(r[0] for r in roles),
        posts=tuple(r[0] for r in posts),
        areas=tuple(r[0] for r in areas),
        telegram_id=row["telegram_id"],
        language=row["language"],
        agency=row["agency"],
    )


async def refs(tx: Tx) -> dict[str, int | None]:
    """ref → telegram_id of every member (for validating an import)."""
    return {row[0]: row[1] for row in await tx.all("SELECT ref, telegram_id FROM members")}


async def bind_telegram(
    tx: Tx, member_id: int, telegram_id: int, client_language: str | None, now: datetime
) -> None:
    await tx.execute(
        "UPDATE members SET telegram_id = ?, client_language = ?,"
        " registered_at = COALESCE(registered_at, ?), unreachable_at = NULL,"
        " unreachable_reason = NULL, updated_at = ? WHERE id = ?",
        (telegram_id, client_language, to_db(now), to_db(now), member_id),
    )


async def rebind_telegram(
    tx: Tx, member_id: int, old_telegram_id: int, telegram_id: int, now: datetime
) -> bool:
    """Move a registered member to another Telegram account (compare-and-swap on the old
    one, so two codes cannot both move it)."""
    changed = await tx.execute(
        "UPDATE members SET telegram_id = ?, unreachable_at = NULL, unreachable_reason = NULL,"
        " updated_at = ? WHERE id = ? AND telegram_id = ?",
        (telegram_id, to_db(now), member_id, old_telegram_id),
    )
    return bool(changed)


async def note_client_language(tx: Tx, member_id: int, language: str | None) -> None:
    await tx.execute(
        "UPDATE members SET client_language = ? WHERE id = ? AND client_language IS NOT ?",
        (language, member_id, language),
    )


async def upsert(tx: Tx, rows: Sequence[MemberRow], now: datetime) -> int:
    """Insert or update by ref; roles, posts and areas are replaced by the file's."""
    stamp = to_db(now)
    for row in rows:
        member_id = await tx.scalar(
            "INSERT INTO members (ref, name, nip, phone, telegram_id, language, agency_id,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?,"
            " (SELECT id FROM agencies WHERE code = ?), ?, ?)"
            " ON CONFLICT(ref) DO UPDATE SET name = excluded.name, nip = excluded.nip,"
            " phone = excluded.phone,"
            " telegram_id = COALESCE(excluded.telegram_id, members.telegram_id),"
            " language = excluded.language, agency_id = excluded.agency_id,"
            " updated_at = excluded.updated_at"
            " RETURNING id",
            (
                row.ref,
                row.name,
                row.nip,
                row.phone,
                row.telegram_id,
                row.language,
                row.agency,
                stamp,
                stamp,
            ),
        )
        await tx.execute("DELETE FROM member_roles WHERE member_id = ?", (member_id,))
        await tx.executemany(
            "INSERT INTO member_roles (member_id, role) VALUES (?, ?)",
            [(member_id, role) for role in row.roles],
        )
        await tx.execute("DELETE FROM assignments WHERE member_id = ?", (member_id,))
        await tx.executemany(
            "INSERT INTO assignments (member_id, post_id) SELECT ?, id FROM posts WHERE code = ?",
            [(member_id, code) for code in row.posts],
        )
        await tx.execute("DELETE FROM scopes WHERE member_id = ?", (member_id,))
        await tx.executemany(
            "INSERT INTO scopes (member_id, area_id) SELECT ?, id FROM areas WHERE code = ?",
            [(member_id, code) for code in row.areas],
        )
    return len(rows)


async def scope_area_ids(tx: Tx, member_id: int) -> list[int]:
    return [
        row[0]
        for row in await tx.all("SELECT area_id FROM scopes WHERE member_id = ?", (member_id,))
    ]


async def supervisors_of_area(tx: Tx, area_id: int) -> list[Member]:
    """Supervisors whose scope names this very area (not its ancestors)."""
    rows = await tx.all(
        f"{_SELECT} JOIN scopes s ON s.member_id = m.id"
        " WHERE s.area_id = ? AND EXISTS (SELECT 1 FROM member_roles r"
        " WHERE r.member_id = m.id AND r.role = 'supervisor') ORDER BY m.id",
        (area_id,),
    )
    return [_member(row) for row in rows]


async def liaisons_of_area(tx: Tx, area_id: int, agency_id: int) -> list[Member]:
    """Liaisons of one agency whose scope names this very area (not its ancestors)."""
    rows = await tx.all(
        f"{_SELECT} JOIN scopes s ON s.member_id = m.id"
        " WHERE s.area_id = ? AND m.agency_id = ? AND EXISTS (SELECT 1 FROM member_roles r"
        " WHERE r.member_id = m.id AND r.role = 'liaison') ORDER BY m.id",
        (area_id, agency_id),
    )
    return [_member(row) for row in rows]


async def liaisons_of_agency(tx: Tx, agency_id: int) -> list[Member]:
    """Every liaison of an agency (a circular to the agency)."""
    rows = await tx.all(
        f"{_SELECT} WHERE m.agency_id = ? AND EXISTS (SELECT 1 FROM member_roles r"
        " WHERE r.member_id = m.id AND r.role = 'liaison') ORDER BY m.id",
        (agency_id,),
    )
    return [_member(row) for row in rows]


async def officers_of_post(tx: Tx, post_id: int) -> list[Member]:
    rows = await tx.all(
        f"{_SELECT} JOIN assignments a ON a.member_id = m.id WHERE a.post_id = ? ORDER BY m.id",
        (post_id,),
    )
    return [_member(row) for row in rows]


async def mark_unreachable(tx: Tx, telegram_id: int, reason: str, now: datetime) -> None:
    await tx.execute(
        "UPDATE members SET unreachable_at = ?, unreachable_reason = ? WHERE telegram_id = ?",
        (to_db(now), reason, telegram_id),
    )


async def mark_reachable(tx: Tx, member_id: int) -> bool:
    """The member wrote to the bot, so the bot can write to them again; False when they
    were not marked (or another update cleared it first)."""
    changed = await tx.execute(
        "UPDATE members SET unreachable_at = NULL, unreachable_reason = NULL"
        " WHERE id = ? AND unreachable_at IS NOT NULL",
        (member_id,),
    )
    return changed > 0
