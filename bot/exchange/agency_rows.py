"""``agencies.csv`` (SPEC §8): the partner agencies, ``code,name``, upserted by code."""

from __future__ import annotations

import re
from datetime import datetime

from bot.exchange.csv_file import Errors, Line, shown
from storage import agencies
from storage.db import Tx

COLUMNS = ("code", "name")
CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
NAME_LIMIT = 120


async def import_agencies(
    tx: Tx, lines: list[Line], errors: Errors, now: datetime
) -> tuple[int, int]:
    stored = await agencies.codes(tx)
    seen: dict[str, int] = {}
    parsed: list[tuple[str, str]] = []
    for line in lines:
        n = line.number
        code, name = line["code"], line["name"]
        code_ok = False
        if not CODE.match(code):
            errors.add(
                n,
                "code",
                "expected an agency code of 2-32 lowercase letters, digits or '_' starting "
                f"with a letter, e.g. 'bawaslu', got {shown(code)}",
            )
        elif code in seen:
            errors.add(
                n,
                "code",
                f"agency {shown(code)} is already on line {seen[code]}; expected each code once",
            )
        else:
            code_ok = True
            seen[code] = n
        if not name:
            errors.add(
                n, "name", "expected the agency's name, e.g. 'Bawaslu Jakarta Barat', got ''"
            )
        elif len(name) > NAME_LIMIT:
            errors.add(
                n, "name", f"expected a name of at most {NAME_LIMIT} characters, got {len(name)}"
            )
        if code_ok and name:
            parsed.append((code, name))
    errors.fail_if_any()
    await agencies.upsert(tx, parsed, now)
    created = sum(1 for code, _ in parsed if code not in stored)
    return created, len(parsed) - created
