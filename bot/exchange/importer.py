"""CSV import of areas, posts and members (SPEC §6, "Import files").

Every row of a file is checked before anything is written, and every problem found is
reported, each naming the file, the line (as a text editor counts them, the header being
line 1) and the column, and saying what was expected. If any row is bad nothing is
written; otherwise all rows are upserted in one transaction, together with one audit
entry. The file is read and checked inside that same transaction, so what it was checked
against (the codes already stored) cannot change before it is written.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from bot.core.config import parse_duration
from bot.watch.schedule import HoursError, parse_hours
from storage import areas, audit, members, posts
from storage.areas import AreaRow
from storage.db import Database, Tx
from storage.members import MemberRow
from storage.posts import PostRow
from storage.records import AREA_LEVELS, ROLES

Kind = Literal["areas", "posts", "members"]

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
    "members": (),
}

#: Role names accepted in ``members.csv`` (English or Indonesian) → stored role.
ROLE_NAMES: dict[str, str] = {
    **{role: role for role in ROLES},
    "petugas": "officer",
    "pengawas": "supervisor",
}

LANGUAGES = ("id", "en")
MAX_SHOWN_ERRORS = 20

_AREA_CODE = re.compile(r"^[^\s;,/]{1,64}$")
_POST_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_LIST_SEPARATOR = re.compile(r"[;,]")
_NIP = re.compile(r"^\d{18}$")
_PHONE = re.compile(r"^\+?\d{8,15}$")
_PHONE_NOISE = re.compile(r"[\s\-.()]")
_TELEGRAM_ID = re.compile(r"^\d{1,19}$")
_INT = re.compile(r"^[+-]?\d+$")
_MAX_INT64 = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ImportSummary:
    kind: Kind
    created: int
    updated: int

    @property
    def total(self) -> int:
        return self.created + self.updated


class ImportFailed(Exception):
    """The file was refused; nothing was written. ``errors`` holds every problem found."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        shown = self.errors[:MAX_SHOWN_ERRORS]
        lines = list(shown)
        if len(self.errors) > len(shown):
            lines.append(f"... and {len(self.errors) - len(shown)} more")
        return "\n".join(lines)


async def import_csv(db: Database, kind: Kind, path: Path, now: datetime) -> ImportSummary:
    """Validate every row of ``path`` and upsert them all, or raise :class:`ImportFailed`
    and write nothing."""
    if kind not in get_args(Kind):
        raise ValueError(f"unknown import kind {kind!r}; expected areas, posts or members")
    errors = _Errors(path.name)
    rows = _read(path, kind, errors)
    if errors:
        raise ImportFailed(errors.messages)
    async with db.transaction() as tx:
        if kind == "areas":
            created, updated = await _import_areas(tx, rows, errors, now)
        elif kind == "posts":
            created, updated = await _import_posts(tx, rows, errors, now)
        else:
            created, updated = await _import_members(tx, rows, errors, now)
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
    return ImportSummary(kind, created, updated)


# --- reading -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    cells: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")


class _Errors:
    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.messages: list[str] = []

    def add(self, line: int | None, column: str | None, message: str) -> None:
        where = self.file_name if line is None else f"{self.file_name}:{line}"
        if column is not None:
            where = f"{where}: column {column}"
        self.messages.append(f"{where}: {message}")

    def fail_if_any(self) -> None:
        if self.messages:
            raise ImportFailed(self.messages)

    def __bool__(self) -> bool:
        return bool(self.messages)


def _shown(value: str, limit: int = 40) -> str:
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(text)


def _read(path: Path, kind: str, errors: _Errors) -> list[_Line]:
    """The non-blank data rows of the file, values stripped, keyed by column name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        errors.add(None, None, f"cannot read the file: {exc.strerror or exc}")
        return []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        errors.add(
            line,
            None,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read); "
            "expected UTF-8: save it from the spreadsheet as 'CSV UTF-8' and import again",
        )
        return []

    required = COLUMNS[kind]
    expected = ",".join(required)
    records = _records(text, errors)
    if records is None:
        return []
    if not records:
        errors.add(1, None, f"the file is empty; expected a header row: {expected}")
        return []

    header_line, header_cells = records[0]
    header = [cell.strip().lower() for cell in header_cells]
    allowed = set(required) | set(OPTIONAL_COLUMNS[kind])
    optional = OPTIONAL_COLUMNS[kind]
    allowed_text = expected + (f" (optional: {','.join(optional)})" if optional else "")
    first_seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            errors.add(
                header_line,
                f"{position}",
                f"the header cell is empty; expected one of the columns {allowed_text}",
            )
            continue
        if name in first_seen:
            errors.add(
                header_line,
                name,
                f"appears more than once in the header (columns {first_seen[name]} and "
                f"{position}); expected each column once",
            )
            continue
        first_seen[name] = position
        if name not in allowed:
            errors.add(
                header_line,
                name,
                f"unknown column; expected only the columns {allowed_text}",
            )
    for name in required:
        if name not in first_seen:
            errors.add(
                header_line,
                name,
                f"missing from the header; expected the columns {expected}",
            )
    if errors:
        return []

    rows: list[_Line] = []
    for number, cells in records[1:]:
        values = [cell.strip() for cell in cells]
        extra = [(i, v) for i, v in enumerate(values) if i >= len(header) and v]
        if extra:
            position, value = extra[0]
            errors.add(
                number,
                f"{position + 1}",
                f"unexpected value {_shown(value)} beyond the {len(header)} columns of the "
                "header; expected values that contain ',' to be in double quotes",
            )
            continue
        # Spreadsheets drop trailing empty cells; a missing cell is an empty one.
        row = {name: values[i] if i < len(values) else "" for i, name in enumerate(header)}
        rows.append(_Line(number, row))
    if not rows:
        errors.add(
            header_line + 1,
            None,
            f"no rows below the header; expected one row per {kind[:-1]} to import",
        )
    return rows


def _records(text: str, errors: _Errors) -> list[tuple[int, list[str]]] | None:
    """(line where the record starts, cells) of every non-blank record, or None (with an
    error added) when the text is not CSV."""
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        errors.add(start, None, f"cannot read this line as CSV ({exc}); expected CSV text")
        return None
    return records


def _delimiter(text: str) -> str:
    """',' as the SPEC says; ';' or a tab only when the header line has no comma, as
    spreadsheets set to Indonesian number formats save "CSV" with ';'."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in header:
        if ";" in header:
            return ";"
        if "\t" in header:
            return "\t"
    return ","


# --- areas ---------------------------------------------------------------------------


async def _import_areas(
    tx: Tx, lines: list[_Line], errors: _Errors, now: datetime
) -> tuple[int, int]:
    stored = await areas.codes(tx)
    parsed: dict[str, tuple[_Line, AreaRow]] = {}
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
                f"or '/', e.g. '31.73.01.1001', got {_shown(code)}",
            )
            ok = False
        elif code in parsed:
            errors.add(
                line.number,
                "code",
                f"area {_shown(code)} is already on line {parsed[code][0].number}; "
                "expected each code once",
            )
            ok = False
        if not name:
            errors.add(line.number, "name", "expected the area's name, got ''")
        if level not in AREA_LEVELS:
            errors.add(
                line.number, "level", f"expected one of {levels_text}, got {_shown(line['level'])}"
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
                f"got {_shown(parent_code)}",
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
                f"unknown area {_shown(parent_code)}; expected the code of a {above} in this file "
                "or already imported",
            )
        elif parent_level in AREA_LEVELS and parent_level != above:
            errors.add(
                line.number,
                "parent_code",
                f"{_shown(parent_code)} is a {parent_level}; expected the code of a {above}, "
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
    tx: Tx, parsed: dict[str, tuple[_Line, AreaRow]], errors: _Errors
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
                f"{_shown(parent_code)} has the {child_level} {_shown(child_code)} below it "
                f"in the database; expected the level right above {child_level}, or move "
                f"{_shown(child_code)} in this file too",
            )


# --- posts ---------------------------------------------------------------------------


async def _import_posts(
    tx: Tx, lines: list[_Line], errors: _Errors, now: datetime
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
                f"letter or digit, e.g. 'KBJ-01', got {_shown(code)}",
            )
        elif code.casefold() in seen:
            errors.add(
                n,
                "code",
                f"post {_shown(code)} is already on line {seen[code.casefold()]}; "
                "expected each code once",
            )
        elif stored_folded.get(code.casefold(), code) != code:
            errors.add(
                n,
                "code",
                f"{_shown(code)} differs only in letter case from the existing post "
                f"{_shown(stored_folded[code.casefold()])}; expected the same spelling",
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
                f"unknown area {_shown(area_code)}; expected the code of an area already "
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
            value = _number(radius_text)
            if value is None or value <= 0:
                errors.add(
                    n,
                    "radius_m",
                    f"expected a number of metres > 0, got {_shown(radius_text)}",
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
            if _INT.match(staff_text) and 0 <= int(staff_text) <= 1000:
                min_staff = int(staff_text)
            else:
                errors.add(
                    n,
                    "min_staff",
                    "expected a whole number of officers >= 0 (empty means 1), "
                    f"got {_shown(staff_text)}",
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
                errors.add(n, setting, f"expected a duration longer than 0s, got {_shown(text)}")
                continue
            policy[setting] = text
        silence, remind = durations.get("silence_after"), durations.get("remind_before")
        if silence and remind is not None and remind >= silence:
            errors.add(
                n,
                "remind_before",
                f"expected less than silence_after ({line['silence_after']}), "
                f"got {_shown(line['remind_before'])}",
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


def _number(text: str) -> float | None:
    """A finite decimal number; a lone ',' is taken as the decimal mark, as Indonesian
    spreadsheets write it."""
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _coordinate(line: _Line, column: str, limit: int, errors: _Errors) -> float | None:
    text = line[column]
    if not text:
        return None
    value = _number(text)
    if value is not None and -limit <= value <= limit:
        return value
    hint = ""
    if value is not None and column == "latitude" and -180 <= value <= 180:
        hint = " (are latitude and longitude swapped?)"
    errors.add(
        line.number,
        column,
        f"expected decimal degrees from -{limit} to {limit}, e.g. "
        f"{'-6.2146' if column == 'latitude' else '106.8451'}, got {_shown(text)}{hint}",
    )
    return None


# --- members -------------------------------------------------------------------------


async def _import_members(
    tx: Tx, lines: list[_Line], errors: _Errors, now: datetime
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
                n, "ref", f"{_shown(ref)} is already on line {seen_refs[ref]}; expected each once"
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
                f"expected an NIP of 18 digits, or nothing, got {_shown(line['nip'])}"
                + _spreadsheet_hint(nip),
            )

        phone = _PHONE_NOISE.sub("", line["phone"]) or None
        if phone is not None and not _PHONE.match(phone):
            errors.add(
                n,
                "phone",
                "expected a phone number of 8-15 digits with an optional leading '+', e.g. "
                f"'+6281234567890', or nothing, got {_shown(line['phone'])}"
                + _spreadsheet_hint(phone),
            )

        roles: list[str] = []
        for item in _items(line["roles"]):
            role = ROLE_NAMES.get(item.lower())
            if role is None:
                errors.add(
                    n,
                    "roles",
                    f"unknown role {_shown(item)}; expected {role_names} "
                    "(or petugas, pengawas), separated by ';'",
                )
            elif role not in roles:
                roles.append(role)
        if not _items(line["roles"]):
            errors.add(n, "roles", f"expected at least one of {role_names}, separated by ';'")

        post_refs: list[str] = []
        unknown_posts: list[str] = []
        for item in _items(line["posts"]):
            stored_code = post_codes.get(item.casefold())
            if stored_code is None:
                unknown_posts.append(item)
            elif stored_code not in post_refs:
                post_refs.append(stored_code)
        if unknown_posts:
            errors.add(
                n,
                "posts",
                f"unknown post {', '.join(_shown(p) for p in unknown_posts)}; expected codes "
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
        for item in _items(line["areas"]):
            if item not in area_levels:
                unknown_areas.append(item)
            elif item not in area_refs:
                area_refs.append(item)
        if unknown_areas:
            errors.add(
                n,
                "areas",
                f"unknown area {', '.join(_shown(a) for a in unknown_areas)}; expected codes "
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
            if not _TELEGRAM_ID.match(id_text) or not 0 < int(id_text) <= _MAX_INT64:
                errors.add(
                    n,
                    "telegram_id",
                    "expected a Telegram user id (a positive whole number), or nothing, "
                    f"got {_shown(id_text)}" + _spreadsheet_hint(id_text),
                )
            else:
                telegram_id = int(id_text)
                if telegram_id in seen_ids:
                    other_line, other_ref = seen_ids[telegram_id]
                    errors.add(
                        n,
                        "telegram_id",
                        f"{telegram_id} is also given to {_shown(other_ref)} on line "
                        f"{other_line}; expected each Telegram account once",
                    )
                elif bound.get(telegram_id, ref) != ref:
                    errors.add(
                        n,
                        "telegram_id",
                        f"{telegram_id} already belongs to member {_shown(bound[telegram_id])} "
                        "in the database; expected a Telegram account no one else uses",
                    )
                seen_ids.setdefault(telegram_id, (n, ref))

        language: str | None = line["language"].lower() or None
        if language is not None and language not in LANGUAGES:
            errors.add(
                n,
                "language",
                f"expected 'id' or 'en' (or nothing for 'id'), got {_shown(line['language'])}",
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


def _items(text: str) -> list[str]:
    """The entries of a ';'-separated cell (',' also accepted); empty entries dropped."""
    return [item.strip() for item in _LIST_SEPARATOR.split(text) if item.strip()]


def _spreadsheet_hint(text: str) -> str:
    if re.search(r"\d[.,]?\d*e\+?\d+$", text.lower()):
        return " (the spreadsheet turned it into a number; format the column as text)"
    return ""
