"""Who may do what: the one place roles and scopes are decided."""

from __future__ import annotations

from enum import StrEnum

from storage.records import Member


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    LIAISON = "liaison"


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
