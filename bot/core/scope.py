"""Which areas a member oversees: the one answer every supervisor command and button uses."""

from __future__ import annotations

from collections.abc import Collection

from bot.core.access import Role, has_role
from storage import areas, members
from storage.db import Tx
from storage.records import Member

Scope = set[int] | None
"""Area ids a member may see and act on; None means the whole tree."""


async def scope_area_ids(tx: Tx, member: Member | None) -> set[int] | None:
    """None for admins (everything); for supervisors every area at or below their scope
    areas; an empty set for everyone else (officers, strangers)."""
    if member is None:
        return set()
    if has_role(member, Role.ADMIN):
        return None
    if not has_role(member, Role.SUPERVISOR):
        return set()
    return await areas.subtree_ids(tx, await members.scope_area_ids(tx, member.id))


def covers(scope: Collection[int] | None, area_id: int) -> bool:
    return scope is None or area_id in scope


async def own_area_ids(tx: Tx, member: Member) -> list[int]:
    """The scope areas as the member was given them (for naming the scope)."""
    return await members.scope_area_ids(tx, member.id)


async def area_in_scope(tx: Tx, member: Member, area_id: int) -> bool:
    """May this member act on things in ``area_id``? (Admins everywhere, supervisors in
    their subtrees, nobody else.)"""
    return covers(await scope_area_ids(tx, member), area_id)
