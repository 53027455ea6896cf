"""``members.csv``: each row checked against the stored areas and posts and against the
other rows, then upserted."""

from __future__ import annotations

import re
from datetime import datetime

from bot.exchange.csv_file import MAX_INT64, Errors, Line, items, shown, spreadsheet_hint
from storage import areas, members, posts
from storage.db import Tx
from storage.members import MemberRow
from storage.records import ROLES

#: Role names accepted in ``members.csv`` (English or Indonesian) → stored role.
ROLE_NAMES: dict[str, str] = {
    **{role: role for role in ROLES},
    "petugas": "officer",
    "pengawas": "supervisor",
}

LANGUAGES = ("id", "en")

_NIP = re.compile(r"^\d{18}$")
_PHONE = re.compile(r"^\+?\d{8,15}$")
_PHONE_NOISE = re.compile(r"[\s\-.()]")
_TELEGRAM_ID = re.compile(r"^\d{1,19}$")



async def import_members(
    tx: Tx, lines: list[Line], errors: Errors, now: datetime
) -> tuple[int, int]:
    area_levels = await areas.codes(tx)
    post_codes = {code.casefold(): code for code in await posts.codes(tx)}
    stored = await members.refs(tx)
    bound = {telegram_id: ref for ref, telegram_id in stored.items() if telegram_id is not None}
    seen_refs: dict[str, int] = {}
    seen_ids: dict[int, tuple[int, str]] = {}
    parsed: list[MemberRow] = []
    role_names = ", ".join(ROLES)

    for line in lines:
        n = line.number
        ref = line["ref"]
        ref_ok = False
        if not ref:
            errors.add(n, "ref", "expected the member's unique key, e.g. 'ASN-0001', got ''")
        elif ref in seen_refs:
            errors.add(
                n, "ref", f"{shown(ref)} is already on line {seen_refs[ref]}; expected each once"
            )
        else:
            ref_ok = True
            seen_refs[ref] = n

        name = line["name"]
        if not name:
            errors.add(n, "name", "expected the member's name, got ''")

        nip = line["nip"].replace(" ", "") or None
        if nip is not None and not _NIP.match(nip):
            errors.add(
                n,
                "nip",
                f"expected an NIP of 18 digits, or nothing, got {shown(line['nip'])}"
                + spreadsheet_hint(nip),
            )

        phone = _PHONE_NOISE.sub("", line["phone"]) or None
        if phone is not None and not _PHONE.match(phone):
            errors.add(
                n,
                "phone",
                "expected a phone number of 8-15 digits with an optional leading '+', e.g. "
                f"'+6281234567890', or nothing, got {shown(line['phone'])}"
                + spreadsheet_hint(phone),
            )

        roles: list[str] = []
        for item in items(line["roles"]):
            role = ROLE_NAMES.get(item.lower())
            if role is None:
                errors.add(
                    n,
                    "roles",
                    f"unknown role {shown(item)}; expected {role_names} "
                    "(or petugas, pengawas), separated by ';'",
                )
            elif role not in roles:
                roles.append(role)
        if not items(line["roles"]):
            errors.add(n, "roles", f"expected at least one of {role_names}, separated by ';'")

        post_refs: list[str] = []
        unknown_posts: list[str] = []
        for item in items(line["posts"]):
            stored_code = post_codes.get(item.casefold())
            if stored_code is None:
                unknown_posts.append(item)
            elif stored_code not in post_refs:
                post_refs.append(stored_code)
        if unknown_posts:
            errors.add(
                n,
                "posts",
                f"unknown post {', '.join(shown(p) for p in unknown_posts)}; expected codes "
                "of posts already imported (import posts.csv first), separated by ';'",
            )
        if "officer" in roles and not post_refs and not unknown_posts:
            errors.add(
                n, "posts", "an officer needs a post; expected at least one post code, got ''"
            )
        if post_refs and "officer" not in roles:
            errors.add(
                n,
                "posts",
                "posts are assigned to officers only; expected 'officer' in roles, "
                "or posts to be empty",
            )

        area_refs: list[str] = []
        unknown_areas: list[str] = []
        for item in items(line["areas"]):
            if item not in area_levels:
                unknown_areas.append(item)
            elif item not in area_refs:
                area_refs.append(item)
        if unknown_areas:
            errors.add(
                n,
                "areas",
                f"unknown area {', '.join(shown(a) for a in unknown_areas)}; expected codes "
                "of areas already imported, separated by ';'",
            )
        if "supervisor" in roles and not area_refs and not unknown_areas:
            errors.add(
                n,
                "areas",
                "a supervisor needs an area to watch; expected at least one area code, got ''",
            )
        if area_refs and "supervisor" not in roles:
            errors.add(
                n,
                "areas",
                "areas are scopes of supervisors only; expected 'supervisor' in roles, "
                "or areas to be empty",
            )

        telegram_id: int | None = None
        id_text = line["telegram_id"]
        if id_text:
            if not _TELEGRAM_ID.match(id_text) or not 0 < int(id_text) <= MAX_INT64:
                errors.add(
                    n,
                    "telegram_id",
                    "expected a Telegram user id (a positive whole number), or nothing, "
                    f"got {shown(id_text)}" + spreadsheet_hint(id_text),
                )
            else:
                telegram_id = int(id_text)
                if telegram_id in seen_ids:
                    other_line, other_ref = seen_ids[telegram_id]
                    errors.add(
                        n,
                        "telegram_id",
                        f"{telegram_id} is also given to {shown(other_ref)} on line "
                        f"{other_line}; expected each Telegram account once",
                    )
                elif bound.get(telegram_id, ref) != ref:
                    errors.add(
                        n,
                        "telegram_id",
                        f"{telegram_id} already belongs to member {shown(bound[telegram_id])} "
                        "in the database; expected a Telegram account no one else uses",
                    )
                seen_ids.setdefault(telegram_id, (n, ref))

        language: str | None = line["language"].lower() or None
        if language is not None and language not in LANGUAGES:
            errors.add(
                n,
                "language",
                f"expected 'id' or 'en' (or nothing for 'id'), got {shown(line['language'])}",
            )

        if ref_ok:
            parsed.append(
                MemberRow(
                    ref=ref,
                    name=name,
                    nip=nip,
                    phone=phone,
                    roles=tuple(roles),
                    posts=tuple(post_refs),
                    areas=tuple(area_refs),
                    telegram_id=telegram_id,
                    language=language,
                )
            )

    errors.fail_if_any()
    await members.upsert(tx, parsed, now)
    created = sum(1 for row in parsed if row.ref not in stored)
    return created, len(parsed) - created
