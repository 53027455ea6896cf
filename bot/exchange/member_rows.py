"""``members.csv``: each row checked against the stored areas and posts and against the
other rows, then upserted.

:func:`check_row` checks one row and returns its problems as data (a code, the values it
names, and the English sentence the import file report uses), so that /petugas in chat
validates exactly as the import does and renders the same problems in the person's
language (catalog keys ``member_row.<code>``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.exchange.csv_file import MAX_INT64, Errors, Line, items, shown, spreadsheet_hint
from storage import agencies, areas, members, posts, roster
from storage.db import Tx
from storage.members import MemberRow
from storage.records import ROLES

#: Role names accepted in ``members.csv`` (English or Indonesian) → stored role.
ROLE_NAMES: dict[str, str] = {
    **{role: role for role in ROLES},
    "petugas": "officer",
    "pengawas": "supervisor",
    "penghubung": "liaison",
}
#: Roles whose members carry area scopes (the ``areas`` column).
SCOPED_ROLES = ("supervisor", "liaison")

LANGUAGES = ("id", "en")
COLUMNS = ("ref", "name", "nip", "phone", "roles", "posts", "areas", "telegram_id", "language")
OPTIONAL_COLUMNS = ("agency",)

_NIP = re.compile(r"^\d{18}$")
_PHONE = re.compile(r"^\+?\d{8,15}$")
_PHONE_NOISE = re.compile(r"[\s\-.()]")
_TELEGRAM_ID = re.compile(r"^\d{1,19}$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one column of a member row."""

    column: str
    code: str
    message: str
    """The sentence of the import report (English, as the CSV tooling speaks)."""
    values: dict[str, str] = field(default_factory=dict)
    """What the chat rendering names (``member_row.<code>`` placeholders)."""


@dataclass(frozen=True, slots=True)
class Known:
    """What a row is checked against: the stored areas, posts and Telegram accounts."""

    area_levels: dict[str, str]
    post_codes: dict[str, str]  # casefolded code -> stored code
    bound: dict[int, str]  # telegram_id -> ref
    agency_codes: frozenset[str] = frozenset()

    @classmethod
    async def load(cls, tx: Tx) -> Known:
        stored = await members.refs(tx)
        return cls(
            area_levels=await areas.codes(tx),
            post_codes={code.casefold(): code for code in await posts.codes(tx)},
            bound={tid: ref for ref, tid in stored.items() if tid is not None},
            agency_codes=frozenset(await agencies.codes(tx)),
        )


@dataclass
class Seen:
    """Rows met earlier in the same file (a file must name each ref and account once)."""

    refs: dict[str, int] = field(default_factory=dict)
    ids: dict[int, tuple[int, str]] = field(default_factory=dict)


def check_row(
    cells: Mapping[str, str], known: Known, seen: Seen | None = None, line: int = 0
) -> tuple[MemberRow | None, list[Problem]]:
    """The row (None when its ref is unusable) and every problem found in it, in column
    order. ``seen`` and ``line`` give the checks against earlier rows of a file."""
    problems: list[Problem] = []

    def add(column: str, code: str, message: str, **values: object) -> None:
        problems.append(Problem(column, code, message, {k: str(v) for k, v in values.items()}))

    def cell(name: str) -> str:
        return cells.get(name, "")

    role_names = ", ".join(ROLES)
    ref = cell("ref")
    ref_ok = False
    if not ref:
        add("ref", "ref_missing", "expected the member's unique key, e.g. 'ASN-0001', got ''")
    elif seen is not None and ref in seen.refs:
        add(
            "ref",
            "ref_repeated",
            f"{shown(ref)} is already on line {seen.refs[ref]}; expected each once",
            ref=ref,
            line=seen.refs[ref],
        )
    else:
        ref_ok = True
        if seen is not None:
            seen.refs[ref] = line

    name = cell("name")
    if not name:
        add("name", "name_missing", "expected the member's name, got ''")

    nip = cell("nip").replace(" ", "") or None
    if nip is not None and not _NIP.match(nip):
        add(
            "nip",
            "nip_bad",
            f"expected an NIP of 18 digits, or nothing, got {shown(cell('nip'))}"
            + spreadsheet_hint(nip),
            value=cell("nip")[:40],
        )

    phone = _PHONE_NOISE.sub("", cell("phone")) or None
    if phone is not None and not _PHONE.match(phone):
        add(
            "phone",
            "phone_bad",
            "expected a phone number of 8-15 digits with an optional leading '+', e.g. "
            f"'+6281234567890', or nothing, got {shown(cell('phone'))}" + spreadsheet_hint(phone),
            value=cell("phone")[:40],
        )

    roles: list[str] = []
    for item in items(cell("roles")):
        role = ROLE_NAMES.get(item.lower())
        if role is None:
            add(
                "roles",
                "role_unknown",
                f"unknown role {shown(item)}; expected {role_names} "
                "(or petugas, pengawas, penghubung), separated by ';'",
                value=item[:40],
            )
        elif role not in roles:
            roles.append(role)
    if not items(cell("roles")):
        add("roles", "roles_missing", f"expected at least one of {role_names}, separated by ';'")

    post_refs: list[str] = []
    unknown_posts: list[str] = []
    for item in items(cell("posts")):
        stored_code = known.post_codes.get(item.casefold())
        if stored_code is None:
            unknown_posts.append(item)
        elif stored_code not in post_refs:
            post_refs.append(stored_code)
    if unknown_posts:
        add(
            "posts",
            "post_unknown",
            f"unknown post {', '.join(shown(p) for p in unknown_posts)}; expected codes "
            "of posts already imported (import posts.csv first), separated by ';'",
            value=", ".join(p[:32] for p in unknown_posts[:5]),
        )
    if "officer" in roles and not post_refs and not unknown_posts:
        add(
            "posts",
            "post_needed",
            "an officer needs a post; expected at least one post code, got ''",
        )
    if post_refs and "officer" not in roles:
        add(
            "posts",
            "posts_not_officer",
            "posts are assigned to officers only; expected 'officer' in roles, "
            "or posts to be empty",
        )

    area_refs: list[str] = []
    unknown_areas: list[str] = []
    for item in items(cell("areas")):
        if item not in known.area_levels:
            unknown_areas.append(item)
        elif item not in area_refs:
            area_refs.append(item)
    if unknown_areas:
        add(
            "areas",
            "area_unknown",
            f"unknown area {', '.join(shown(a) for a in unknown_areas)}; expected codes "
            "of areas already imported, separated by ';'",
            value=", ".join(a[:32] for a in unknown_areas[:5]),
        )
    if "supervisor" in roles and not area_refs and not unknown_areas:
        add(
            "areas",
            "area_needed",
            "a supervisor needs an area to watch; expected at least one area code, got ''",
        )
    if "liaison" in roles and not area_refs and not unknown_areas:
        add(
            "areas",
            "area_needed_liaison",
            "a liaison needs an area to serve; expected at least one area code, got ''",
        )
    if area_refs and not any(role in roles for role in SCOPED_ROLES):
        add(
            "areas",
            "areas_not_supervisor",
            "areas are scopes of supervisors and liaisons only; expected 'supervisor' or "
            "'liaison' in roles, or areas to be empty",
        )

    agency: str | None = cell("agency").lower() or None
    if agency is not None and "liaison" not in roles:
        add(
            "agency",
            "agency_not_liaison",
            "an agency is given to liaisons only; expected 'liaison' in roles, "
            "or agency to be empty",
        )
    elif agency is not None and agency not in known.agency_codes:
        add(
            "agency",
            "agency_unknown",
            f"unknown agency {shown(cell('agency'))}; expected the code of an agency already "
            "imported (import agencies.csv first)",
            value=cell("agency")[:40],
        )
    elif agency is None and "liaison" in roles:
        add(
            "agency",
            "agency_needed",
            "a liaison needs an agency; expected the code of an imported agency, e.g. "
            "'bawaslu', got ''",
        )

    telegram_id: int | None = None
    id_text = cell("telegram_id")
    if id_text:
        if not _TELEGRAM_ID.match(id_text) or not 0 < int(id_text) <= MAX_INT64:
            add(
                "telegram_id",
                "telegram_bad",
                "expected a Telegram user id (a positive whole number), or nothing, "
                f"got {shown(id_text)}" + spreadsheet_hint(id_text),
                value=id_text[:40],
            )
        else:
            telegram_id = int(id_text)
            if seen is not None and telegram_id in seen.ids:
                other_line, other_ref = seen.ids[telegram_id]
                add(
                    "telegram_id",
                    "telegram_repeated",
                    f"{telegram_id} is also given to {shown(other_ref)} on line "
                    f"{other_line}; expected each Telegram account once",
                    value=telegram_id,
                    ref=other_ref,
                    line=other_line,
                )
            elif known.bound.get(telegram_id, ref) != ref:
                add(
                    "telegram_id",
                    "telegram_taken",
                    f"{telegram_id} already belongs to member {shown(known.bound[telegram_id])} "
                    "in the database; expected a Telegram account no one else uses",
                    value=telegram_id,
                    ref=known.bound[telegram_id],
                )
            if seen is not None:
                seen.ids.setdefault(telegram_id, (line, ref))

    language: str | None = cell("language").lower() or None
    if language is not None and language not in LANGUAGES:
        add(
            "language",
            "language_bad",
            f"expected 'id' or 'en' (or nothing for 'id'), got {shown(cell('language'))}",
            value=cell("language")[:40],
        )

    if not ref_ok:
        return None, problems
    row = MemberRow(
        ref=ref,
        name=name,
        nip=nip,
        phone=phone,
        roles=tuple(roles),
        posts=tuple(post_refs),
        areas=tuple(area_refs),
        telegram_id=telegram_id,
        language=language,
        agency=agency,
    )
    return row, problems


def cells_of(row: MemberRow) -> dict[str, str]:
    """A stored member as the cells of a members.csv row (to check a change to it)."""
    return {
        "ref": row.ref,
        "name": row.name,
        "nip": row.nip or "",
        "phone": row.phone or "",
        "roles": ";".join(row.roles),
        "posts": ";".join(row.posts),
        "areas": ";".join(row.areas),
        "telegram_id": "" if row.telegram_id is None else str(row.telegram_id),
        "language": row.language or "",
        "agency": row.agency or "",
    }


async def import_members(
    tx: Tx, lines: list[Line], errors: Errors, now: datetime
) -> tuple[int, int]:
    known = await Known.load(tx)
    stored = await members.refs(tx)
    seen = Seen()
    parsed: list[MemberRow] = []
    for line in lines:
        row, problems = check_row(line.cells, known, seen, line.number)
        for problem in problems:
            errors.add(line.number, problem.column, problem.message)
        if row is not None:
            parsed.append(row)
    errors.fail_if_any()
    rostered = await roster.has_roster(tx)
    serving = await roster.officer_posts(tx) if rostered else set()
    await members.upsert(tx, parsed, now)
    if rostered:
        # An officer taken off a post (or no longer an officer) leaves its roster there.
        await roster.drop_pairs(tx, serving - await roster.officer_posts(tx), now)
    created = sum(1 for row in parsed if row.ref not in stored)
    return created, len(parsed) - created
