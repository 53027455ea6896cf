"""Which areas a member oversees: the one answer every supervisor command and button uses."""

from __future__ import annotations

from collections.abc import Collection, Mapping

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


POWERS = ("jeda", "siaran", "ekspor")
"""Admin commands a supervisor may be given within their subtree (``[powers]``)."""


async def power_scope(tx: Tx, member: Member | None, levels: Collection[str]) -> Scope:
    """Where ``member`` may use a power given to supervisors of areas at ``levels``: None
    for admins (everywhere); for a supervisor, the subtrees of those of their scope areas
    that are at one of the levels; an empty set for everyone else (no power at all)."""
    if member is None:
        return set()
    if has_role(member, Role.ADMIN):
        return None
    if not has_role(member, Role.SUPERVISOR) or not levels:
        return set()
    mine: list[int] = []
    for area_id in await members.scope_area_ids(tx, member.id):
        area = await areas.by_id(tx, area_id)
        if area is not None and area.level in levels:
            mine.append(area_id)
    return await areas.subtree_ids(tx, mine)


async def powers_of(
    tx: Tx, member: Member, levels_by_power: Mapping[str, Collection[str]]
) -> list[str]:
    """The powers this member has somewhere (for menus and /bantuan)."""
    found: list[str] = []
    for power, levels in levels_by_power.items():
        reach = await power_scope(tx, member, levels)
        if reach is None or reach:
            found.append(power)
    return found
