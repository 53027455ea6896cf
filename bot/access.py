"""Who may do what: the one place roles and scopes are decided."""

from __future__ import annotations

from enum import StrEnum

from storage import areas, members
from storage.db import Tx
from storage.records import Member


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


def has_role(member: Member | None, role: Role) -> bool:
    if member is None:
        return False
    if role is Role.SUPERVISOR and member.has(Role.ADMIN.value):
        return True  # an admin has everything a supervisor has, over the whole tree
    return member.has(role.value)


def language_of(member: Member | None, client_language: str | None, default: str) -> str:
    """The member's own setting wins, then what their Telegram app reports, then the default."""
    if member is not None and member.language in ("id", "en"):
        return member.language
    if client_language and client_language.lower().startswith("en"):
        return "en"
    if client_language and client_language.lower().startswith("id"):
        return "id"
    return default


async def area_in_scope(tx: Tx, member: Member, area_id: int) -> bool:
    """May this member act on things in ``area_id``? Admins everywhere; supervisors in the
    subtrees of their scope areas; nobody else."""
    if has_role(member, Role.ADMIN):
        return True
    if not has_role(member, Role.SUPERVISOR):
        return False
    scope = set(await members.scope_area_ids(tx, member.id))
    return any(area.id in scope for area in await areas.path(tx, area_id))
