"""CSV import of areas, posts, members, agencies and rosters (SPEC §6, §8, §9).

Every row of a file is checked before anything is written, and every problem found is
reported, each naming the file, the line (as a text editor counts them, the header being
line 1) and the column, and saying what was expected. If any row is bad nothing is
written; otherwise all rows are upserted in one transaction, together with one audit
entry. The file is read and checked inside that same transaction, so what it was checked
against (the codes already stored) cannot change before it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from bot.core.config import RosterSettings, parse_duration
from bot.exchange.agency_rows import COLUMNS as AGENCY_COLUMNS
from bot.exchange.agency_rows import import_agencies
from bot.exchange.csv_file import INT, Errors, ImportFailed, Line, number, read, shown
from bot.exchange.member_rows import OPTIONAL_COLUMNS as MEMBER_OPTIONAL
from bot.exchange.member_rows import import_members
from bot.exchange.roster_rows import COLUMNS as ROSTER_COLUMNS
from bot.exchange.roster_rows import import_roster
from bot.watch.schedule import HoursError, parse_hours
from storage import areas, audit, posts
from storage.areas import AreaRow
from storage.db import Database, Tx
from storage.posts import PostRow
from storage.records import AREA_LEVELS

Kind = Literal["areas", "posts", "members", "agencies", "roster"]

#: Required columns of each kind of file, in the order the SPEC lists them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "areas": ("code", "name", "level", "parent_code"),
    "posts": (
        "code",
        "name",
        "area_code",
        "latitude",
        "longitude",
        "radius_m",
        "min_staff",
        "hours",
    ),
    "members": (
        "ref",
        "name",
        "nip",
        "phone",
        "roles",
        "posts",
        "areas",
        "telegram_id",
        "language",
    ),
    "agencies": AGENCY_COLUMNS,
    "roster": ROSTER_COLUMNS,
}

#: Per-post overrides of the ``[watch]`` settings that ``posts.csv`` may carry.
WATCH_OVERRIDES = (
    "staff_grace",
    "silence_after",
    "remind_before",
    "escalate_after",
    "repeat_every",
    "remind_before_open",
)

OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "areas": (),
    "posts": WATCH_OVERRIDES,
    "members": MEMBER_OPTIONAL,
    "agencies": (),
    "roster": (),
}

_AREA_CODE = re.compile(r"^[^\s;,/]{1,64}$")
_POST_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class ImportSummary:
    kind: Kind
    created: int  # for a roster: slots added
    updated: int  # for a roster: coming slots kept as they were
    dropped: int = 0  # for a roster: coming slots the new roster no longer has

    @property
    def total(self) -> int:
        return self.created + self.updated


async def import_csv(
    db: Database, kind: Kind, path: Path, now: datetime, roster: RosterSettings | None = None
) -> ImportSummary:
    """Validate every row of ``path`` and upsert them all, or raise :class:`ImportFailed`
    and write nothing."""
    if kind not in get_args(Kind):
        raise ValueError(
            f"unknown import kind {kind!r}; expected areas, posts, members, agencies or roster"
        )
    errors = Errors(path.name)
    row_word = {"agencies": "agency", "roster": "slot"}.get(kind, kind[:-1])
    rows = read(path, COLUMNS[kind], OPTIONAL_COLUMNS[kind], row_word, errors)
    if errors:
        raise ImportFailed(errors.messages)
    dropped = 0
    async with db.transaction() as tx:
        if kind == "areas":
            created, updated = await _import_areas(tx, rows, errors, now)
        elif kind == "posts":
            created, updated = await _import_posts(tx, rows, errors, now)
        elif kind == "agencies":
            created, updated = await import_agencies(tx, rows, errors, now)
        elif kind == "roster":
            created, updated, dropped = await import_roster(
                tx, rows, errors, now, roster or RosterSettings()
            )
        else:
            created, updated = await import_members(tx, rows, errors, now)
        await audit.record(
            tx,
            now,
            None,
            "import",
            kind,
            path.name,
            path=str(path),
            rows=len(rows),
            created=created,
            updated=updated,
        )
    return ImportSummary(kind, created, updated, dropped)


# --- areas ---------------------------------------------------------------------------


async def _import_areas(
    tx: Tx, lines: list[Line], errors: Errors, now: datetime
) -> tuple[int, int]:
    stored = await areas.codes(tx)
    parsed: dict[str, tuple[Line, AreaRow]] = {}
    levels_text = ", ".join(AREA_LEVELS)

    for line in lines:
        code, name, parent = line["code"], line["name"], line["parent_code"]
        level = line["level"].lower()
        ok = True
        if not code:
            errors.add(line.number, "code", "expected an area code, e.g. '31.73.01.1001', got ''")
            ok = False
        elif not _AREA_CODE.match(code):
            errors.add(
                line.number,
                "code",
                f"expected an area code of at most 64 characters without spaces, ';', ',' "
                f"or '/', e.g. '31.73.01.1001', got {shown(code)}",
            )
            ok = False
        elif code in parsed:
            errors.add(
                line.number,
                "code",
                f"area {shown(code)} is already on line {parsed[code][0].number}; "
                "expected each code once",
            )
            ok = False
        if not name:
            errors.add(line.number, "name", "expected the area's name, got ''")
        if level not in AREA_LEVELS:
            errors.add(
                line.number, "level", f"expected one of {levels_text}, got {shown(line['level'])}"
            )
        if ok:
            parsed[code] = (line, AreaRow(code, name, level, parent or None))

    file_levels = {code: row.level for code, (_, row) in parsed.items()}
    for code, (line, row) in parsed.items():
        if row.level not in AREA_LEVELS:
            continue
        depth = AREA_LEVELS.index(row.level)
        above = AREA_LEVELS[depth - 1] if depth > 0 else None
        parent_code = row.parent_code
        if parent_code is None:
            # The top of the tree: a province, or a city when provinces are not kept.
            if row.level not in AREA_LEVELS[:2]:
                errors.add(
                    line.number,
                    "parent_code",
                    f"a {row.level} needs a parent area; expected the code of its {above}, got ''",
                )
            continue
        if above is None:
            errors.add(
                line.number,
                "parent_code",
                f"a provinsi is the root of the tree; expected an empty parent_code, "
                f"got {shown(parent_code)}",
            )
            continue
        if parent_code == code:
            errors.add(
                line.number,
                "parent_code",
                f"an area cannot be its own parent; expected the code of its {above}",
            )
            continue
        parent_level = (
            file_levels[parent_code] if parent_code in file_levels else stored.get(parent_code)
        )
        if parent_level is None:
            errors.add(
                line.number,
                "parent_code",
                f"unknown area {shown(parent_code)}; expected the code of a {above} in this file "
                "or already imported",
            )
        elif parent_level in AREA_LEVELS and parent_level != above:
            errors.add(
                line.number,
                "parent_code",
                f"{shown(parent_code)} is a {parent_level}; expected the code of a {above}, "
                f"the level right above {row.level}",
            )

    await _check_stored_children(tx, parsed, errors)
    errors.fail_if_any()

    # Each parent is exactly one level above its child, so ordering by level writes every
    # parent before its children; the same rule makes a cycle impossible, since levels
    # strictly rise along any chain of parents.
    ordered = sorted(
        (row for _, row in parsed.values()), key=lambda row: AREA_LEVELS.index(row.level)
    )
    await areas.upsert(tx, ordered, now)
    created = sum(1 for row in ordered if row.code not in stored)
    return created, len(ordered) - created


async def _check_stored_children(
    tx: Tx, parsed: dict[str, tuple[Line, AreaRow]], errors: Errors
) -> None:
    """A stored area whose level the file changes must still sit right above the stored
    areas below it that the file leaves where they are."""
    reported: set[str] = set()
    for child_code, child_level, parent_code in await areas.parent_links(tx):
        if child_code in parsed or parent_code not in parsed or parent_code in reported:
            continue
        line, row = parsed[parent_code]
        if row.level not in AREA_LEVELS:
            continue
        depth = AREA_LEVELS.index(row.level)
        below = AREA_LEVELS[depth + 1] if depth + 1 < len(AREA_LEVELS) else None
        if child_level != below:
            reported.add(parent_code)
            errors.add(
                line.number,
                "level",
                f"{shown(parent_code)} has the {child_level} {shown(child_code)} below it "
                f"in the database; expected the level right above {child_level}, or move "
                f"{shown(child_code)} in this file too",
            )


# --- posts ---------------------------------------------------------------------------


async def _import_posts(
    tx: Tx, lines: list[Line], errors: Errors, now: datetime
) -> tuple[int, int]:
    area_levels = await areas.codes(tx)
    stored = await posts.codes(tx)
    # Post codes are looked up without regard to case, so two spellings must not coexist.
    stored_folded = {code.casefold(): code for code in stored}
    seen: dict[str, int] = {}
    parsed: list[PostRow] = []
    default_hours = str(parse_hours("24h"))

    for line in lines:
        n = line.number
        code = line["code"]
        code_ok = False
        if not _POST_CODE.match(code):
            errors.add(
                n,
                "code",
                "expected a post code of 1-32 letters, digits, '-' or '_' starting with a "
                f"letter or digit, e.g. 'KBJ-01', got {shown(code)}",
            )
        elif code.casefold() in seen:
            errors.add(
                n,
                "code",
                f"post {shown(code)} is already on line {seen[code.casefold()]}; "
                "expected each code once",
            )
        elif stored_folded.get(code.casefold(), code) != code:
            errors.add(
                n,
                "code",
                f"{shown(code)} differs only in letter case from the existing post "
                f"{shown(stored_folded[code.casefold()])}; expected the same spelling",
            )
        else:
            code_ok = True
            seen[code.casefold()] = n

        name = line["name"]
        if not name:
            errors.add(n, "name", "expected the post's name, got ''")

        area_code = line["area_code"]
        if not area_code:
            errors.add(n, "area_code", "expected the code of the post's area, got ''")
        elif area_code not in area_levels:
            errors.add(
                n,
                "area_code",
                f"unknown area {shown(area_code)}; expected the code of an area already "
                "imported (import areas.csv first)",
            )

        latitude = _coordinate(line, "latitude", 90, errors)
        longitude = _coordinate(line, "longitude", 180, errors)
        has_latitude = bool(line["latitude"])
        has_longitude = bool(line["longitude"])
        if has_latitude != has_longitude:
            missing = "longitude" if has_latitude else "latitude"
            other = "latitude" if has_latitude else "longitude"
            errors.add(
                n,
                missing,
                f"expected a {missing} together with the {other} (both or neither), got ''",
            )

        radius: float | None = None
        radius_text = line["radius_m"]
        if radius_text:
            value = number(radius_text)
            if value is None or value <= 0:
                errors.add(
                    n,
                    "radius_m",
                    f"expected a number of metres > 0, got {shown(radius_text)}",
                )
            elif not (has_latitude and has_longitude):
                errors.add(
                    n,
                    "radius_m",
                    "a geofence radius needs the post's coordinates; expected latitude and "
                    "longitude to be filled in, or radius_m to be empty",
                )
            else:
                radius = value

        min_staff = 1
        staff_text = line["min_staff"]
        if staff_text:
            if INT.match(staff_text) and 0 <= int(staff_text) <= 1000:
                min_staff = int(staff_text)
            else:
                errors.add(
                    n,
                    "min_staff",
                    "expected a whole number of officers >= 0 (empty means 1), "
                    f"got {shown(staff_text)}",
                )

        hours = default_hours
        if line["hours"]:
            try:
                hours = str(parse_hours(line["hours"]))
            except HoursError as exc:
                errors.add(n, "hours", str(exc))

        policy: dict[str, str] = {}
        durations: dict[str, timedelta] = {}
        for setting in WATCH_OVERRIDES:
            text = line[setting]
            if not text:
                continue
            try:
                durations[setting] = parse_duration(text)
            except ValueError as exc:
                errors.add(n, setting, str(exc))
                continue
            if setting in ("escalate_after", "repeat_every") and not durations[setting]:
                errors.add(n, setting, f"expected a duration longer than 0s, got {shown(text)}")
                continue
            policy[setting] = text
        silence, remind = durations.get("silence_after"), durations.get("remind_before")
        if silence and remind is not None and remind >= silence:
            errors.add(
                n,
                "remind_before",
                f"expected less than silence_after ({line['silence_after']}), "
                f"got {shown(line['remind_before'])}",
            )

        if code_ok:
            parsed.append(
                PostRow(
                    code=code,
                    name=name,
                    area_code=area_code,
                    latitude=latitude,
                    longitude=longitude,
                    radius_m=radius,
                    min_staff=min_staff,
                    hours=hours,
                    watch_policy=policy,
                )
            )

    errors.fail_if_any()
    await posts.upsert(tx, parsed, now)
    created = sum(1 for row in parsed if row.code not in stored)
    return created, len(parsed) - created


def _coordinate(line: Line, column: str, limit: int, errors: Errors) -> float | None:
    text = line[column]
    if not text:
        return None
    value = number(text)
    if value is not None and -limit <= value <= limit:
        return value
    hint = ""
    if value is not None and column == "latitude" and -180 <= value <= 180:
        hint = " (are latitude and longitude swapped?)"
    errors.add(
        line.number,
        column,
        f"expected decimal degrees from -{limit} to {limit}, e.g. "
        f"{'-6.2146' if column == 'latitude' else '106.8451'}, got {shown(text)}{hint}",
    )
    return None
