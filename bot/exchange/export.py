"""Data out for reports: shifts, issues, alerts, the roster and its attendance as CSV or
XLSX (SPEC §6, §9, ``posko export``).

One row per record, oldest first, times in WIB, the area path (kota / kecamatan / kelurahan)
spelled out in columns. Rows stream from SQLite straight into the file; only the first
few are held back to size the XLSX columns. Building a file is blocking work: the CLI calls
:func:`export` directly, the bot through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import chain, islice
from pathlib import Path
from typing import Literal

from bot.core.clock import WIB, SystemClock, wib
from bot.core.i18n import label, t
from bot.exchange import roster_export
from storage import export as store
from storage.db import from_db
from storage.export import AreaNode, Snapshot

Kind = Literal["shifts", "issues", "alerts", "roster", "attendance"]
Format = Literal["csv", "xlsx"]
Value = str | int | float | bool | datetime | None

# What people may type for each kind (the CLI's words and the bot's Indonesian ones).
KINDS: dict[str, Kind] = {
    "shifts": "shifts",
    "shift": "shifts",
    "issues": "issues",
    "issue": "issues",
    "laporan": "issues",
    "alerts": "alerts",
    "alert": "alerts",
    "peringatan": "alerts",
    "roster": "roster",
    "piket": "roster",
    "jadwal": "roster",
    "attendance": "attendance",
    "kehadiran": "attendance",
    "absensi": "attendance",
}
FORMATS: tuple[Format, ...] = ("csv", "xlsx")

TIME_FORMAT = "%Y-%m-%d %H:%M"  # CSV text
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm"  # XLSX number format of real datetime cells
SIZE_SAMPLE = 200  # rows held back to size XLSX columns
MIN_WIDTH, TIME_WIDTH = 6, 17
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XLSX = re.compile(r"[\000-\010\013\014\016-\037]")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DMY_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class ExportError(ValueError):
    """A request that cannot be served; ``code`` names the problem for the bot's catalog,
    the message says it in one line for the command line."""

    def __init__(self, code: str, message: str, **values: str) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


# ------------------------------------------------------------------------------ arguments


def parse_kind(word: str) -> Kind:
    kind = KINDS.get(word.strip().lower())
    if kind is None:
        raise ExportError(
            "kind",
            f"unknown export '{word}' (choose shifts, issues, alerts, roster or attendance)",
            value=word,
        )
    return kind


def parse_format(word: str) -> Format:
    text = word.strip().lower()
    for known in FORMATS:
        if text == known:
            return known
    raise ExportError("format", f"unknown format '{word}' (choose csv or xlsx)", value=word)


def parse_day(text: str) -> date:
    """A day as ``YYYY-MM-DD`` (or ``DD/MM/YYYY``, as it is often written in Indonesia)."""
    word = text.strip()
    found: date | None = None
    try:
        if _ISO_DAY.match(word):
            found = date.fromisoformat(word)
        dmy = _DMY_DAY.match(word)
        if dmy:
            found = date(int(dmy.group(3)), int(dmy.group(2)), int(dmy.group(1)))
    except ValueError:
        found = None
    # Years far off cannot be turned into UTC instants at the edges; none is meant.
    if found is not None and 2000 <= found.year <= 2100:
        return found
    raise ExportError("date", f"'{text}' is not a date; write YYYY-MM-DD", value=text)


def looks_like_day(text: str) -> bool:
    word = text.strip()
    return bool(_ISO_DAY.match(word) or _DMY_DAY.match(word))


def format_for(path: Path, requested: str | None) -> Format:
    """The requested format, else the file's suffix, else CSV."""
    if requested:
        return parse_format(requested)
    return "xlsx" if path.suffix.lower() == ".xlsx" else "csv"


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days in WIB, both ends inclusive; ``None`` leaves that end open."""

    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.until < self.since:
            raise ExportError(
                "range",
                f"--until {self.until.isoformat()} is before --since {self.since.isoformat()}",
                since=self.since.isoformat(),
                until=self.until.isoformat(),
            )

    @property
    def start(self) -> datetime | None:
        """00:00 WIB of the first day."""
        return None if self.since is None else datetime.combine(self.since, time(), WIB)

    @property
    def end(self) -> datetime | None:
        """Exclusive: 00:00 WIB of the day after the last (so 23:59:59.999 WIB is in)."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time(), WIB)

    @classmethod
    def last_days(cls, now: datetime, days: int = 7) -> Period:
        """Today (WIB) and the days before it: ``days`` days in all."""
        today = wib(now).date()
        return cls(today - timedelta(days=days - 1), today)


def file_name(kind: Kind, fmt: Format, now: datetime) -> str:
    return f"posko-{kind}-{wib(now).date().isoformat()}.{fmt}"


# ------------------------------------------------------------------------------- columns


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the header is the catalog's ``export.col.<key>``
    type: Literal["text", "number", "time", "flag"] = "text"
    cap: int = 40  # widest an XLSX column gets, in characters


AREA_COLUMNS = (
    Column("kota_code", cap=14),
    Column("kota", cap=30),
    Column("kecamatan_code", cap=14),
    Column("kecamatan", cap=30),
    Column("kelurahan_code", cap=16),
    Column("kelurahan", cap=30),
)
POST_COLUMNS = (Column("post_code", cap=14), Column("post_name", cap=36))

# A report's forwards to partner agencies (issue 10): one cell each, the agencies joined
# with "; " in the order they were forwarded (text, so several times fit in one cell).
FORWARD_COLUMNS = (
    Column("forwarded_to", cap=40),
    Column("forwarded_at", cap=36),
    Column("forward_accepted_at", cap=36),
    Column("forward_done_at", cap=36),
    Column("forward_outcome", cap=60),
)
FORWARD_JOIN = "; "

# A slot of the roster (SPEC §9): its member, WIB date and times, and the roster row it came
# from; attendance adds how it went.
SLOT_COLUMNS = (
    *POST_COLUMNS,
    *AREA_COLUMNS,
    Column("officer_ref", cap=16),
    Column("officer", cap=30),
    Column("slot_date", cap=12),
    Column("slot_start", cap=8),
    Column("slot_end", cap=8),
    Column("roster_source", cap=28),
)

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    "shifts": (
        *POST_COLUMNS,
        *AREA_COLUMNS,
        Column("officer_ref", cap=16),
        Column("officer", cap=30),
        Column("started", "time"),
        Column("ended", "time"),
        Column("duration", "number"),
        Column("end_reason", cap=22),
        Column("distance", "number"),
        Column("inside", "flag"),
        Column("verified", "flag"),
    ),
    "issues": (
        Column("issue_ref", cap=16),
        *POST_COLUMNS,
        *AREA_COLUMNS,
        Column("reporter_ref", cap=16),
        Column("reporter", cap=30),
        Column("category", cap=20),
        Column("severity", cap=12),
        Column("status", cap=14),
        Column("text", cap=60),
        Column("photos", "number"),
        Column("latitude", "number"),
        Column("longitude", "number"),
        Column("created", "time"),
        Column("updated", "time"),
        Column("assignee", cap=30),
        Column("resolution_note", cap=50),
        *FORWARD_COLUMNS,
    ),
    "alerts": (
        *POST_COLUMNS,
        *AREA_COLUMNS,
        Column("alert_kind", cap=18),
        Column("opened", "time"),
        Column("steps", "number"),
        Column("last_level", cap=30),
        Column("acked_by", cap=30),
        Column("acked_at", "time"),
        Column("minutes_to_ack", "number"),
        Column("resolved_at", "time"),
        Column("minutes_to_recover", "number"),
        Column("resolution", cap=30),
    ),
    "roster": SLOT_COLUMNS,
    "attendance": (
        *SLOT_COLUMNS,
        Column("arrived", "time"),
        Column("late_minutes", "number"),
        Column("left_early_at", "time"),
        Column("attendance_outcome", cap=14),
    ),
}


def headers(kind: Kind, language: str, columns: tuple[Column, ...] | None = None) -> list[str]:
    return [t(language, f"export.col.{column.key}") for column in columns or COLUMNS[kind]]


class Places:
    """kota / kecamatan / kelurahan (code, name) of an area, walked up the in-memory tree."""

    LEVELS = ("kota", "kecamatan", "kelurahan")

    def __init__(self, tree: dict[int, AreaNode]) -> None:
        self._tree = tree
        self._cache: dict[int, tuple[Value, ...]] = {}

    def cells(self, area_id: int) -> tuple[Value, ...]:
        cached = self._cache.get(area_id)
        if cached is not None:
            return cached
        found: dict[str, AreaNode] = {}
        node = self._tree.get(area_id)
        seen: set[int] = set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            found.setdefault(node.level, node)
            node = self._tree.get(node.parent_id) if node.parent_id is not None else None
        cells: list[Value] = []
        for level in self.LEVELS:
            area = found.get(level)
            cells += [area.code, area.name] if area else [None, None]
        self._cache[area_id] = result = tuple(cells)
        return result


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60)


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


Rows = Callable[[Snapshot, Period, Places, str, Collection[int] | None], Iterator[list[Value]]]


def _shift_rows(
    conn: Snapshot,
    period: Period,
    places: Places,
    language: str,
    area_ids: Collection[int] | None = None,
) -> Iterator[list[Value]]:
    for row in store.shifts(conn, period.start, period.end, area_ids):
        started, ended = from_db(row["started_at"]), from_db(row["ended_at"])
        reason = row["end_reason"] or ("open" if ended is None else None)
        distance = row["distance_m"]
        yield [
            row["post_code"],
            row["post_name"],
            *places.cells(row["area_id"]),
            row["member_ref"],
            row["member_name"],
            started,
            ended,
            _minutes(started, ended),
            label(language, "export.end_reason", reason) if reason else None,
            None if distance is None else round(distance),
            _flag(row["inside_geofence"]),
            _flag(row["verified"]),
        ]


def issue_rows(
    conn: Snapshot,
    period: Period,
    places: Places,
    language: str,
    area_ids: Collection[int] | None = None,
) -> Iterator[list[Value]]:
    for row in store.issues(conn, period.start, period.end, area_ids):
        yield [
            row["ref"],
            row["post_code"],
            row["post_name"],
            *places.cells(row["area_id"]),
            row["reporter_ref"],
            row["reporter_name"],
            label(language, "category", row["category"]),
            label(language, "export.severity", row["severity"]),
            label(language, "issue_status", row["status"]),
            row["text"],
            row["photo_count"],
            row["latitude"],
            row["longitude"],
            from_db(row["created_at"]),
            from_db(row["updated_at"]),
            row["assignee_name"],
            row["resolution_note"],
            *forward_cells(row["forwards_json"], language),
        ]


def forward_cells(raw: str | None, language: str) -> list[Value]:
    """The five forward cells of an issue row (None each when it was never forwarded)."""
    found: list[list[str | None]] = json.loads(raw) if raw else []
    if not found:
        return [None] * len(FORWARD_COLUMNS)

    def when(text: str | None) -> str:
        moment = from_db(text)
        return "-" if moment is None else wib(moment).strftime(TIME_FORMAT)

    names, sent, accepted, done, outcomes = [], [], [], [], []
    for name, forwarded_at, accepted_at, closed_at, state, note in found:
        names.append(name or "-")
        sent.append(when(forwarded_at))
        accepted.append(when(accepted_at))
        done.append(when(closed_at) if state == "selesai" else "-")
        outcome = t(language, f"forward_state.{state}")
        if note and state in ("selesai", "dikembalikan"):
            outcome = f"{outcome}: {' '.join(note.split())}"
        outcomes.append(outcome)
    return [FORWARD_JOIN.join(cells) for cells in (names, sent, accepted, done, outcomes)]


def _alert_rows(
    conn: Snapshot,
    period: Period,
    places: Places,
    language: str,
    area_ids: Collection[int] | None = None,
) -> Iterator[list[Value]]:
    for row in store.alerts(conn, period.start, period.end, area_ids):
        opened = from_db(row["opened_at"])
        acked, resolved = from_db(row["acked_at"]), from_db(row["resolved_at"])
        resolution = row["resolution"]
        yield [
            row["post_code"],
            row["post_name"],
            *places.cells(row["area_id"]),
            label(language, "export.alert_kind", row["kind"]),
            opened,
            row["step"] + 1,  # step 0 is the first round: the post's own area was told
            row["step_area_name"],
            row["acked_by_name"],
            acked,
            _minutes(opened, acked),
            resolved,
            _minutes(opened, resolved),
            label(language, "export.resolution", resolution) if resolution else None,
        ]


_ROWS: dict[Kind, Rows] = {"shifts": _shift_rows, "issues": issue_rows, "alerts": _alert_rows}
# The piket kinds judge running slots at the moment of the export, so they take ``now`` too.
_ROWS_AT: dict[Kind, Callable[..., Iterator[list[Value]]]] = {
    "roster": roster_export.roster_rows,
    "attendance": roster_export.attendance_rows,
}


# ------------------------------------------------------------------------------- writers


def _safe_text(text: str) -> str:
    """Text a spreadsheet will not run as a formula (field reports are untrusted input)."""
    return "'" + text if text.startswith(_FORMULA_LEAD) else text


def _csv_cell(column: Column, value: Value, language: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return t(language, "export.yes" if value else "export.no")
    if isinstance(value, datetime):
        return wib(value).strftime(TIME_FORMAT)
    if column.type == "text":
        return _safe_text(str(value))
    return str(value)


def write_csv(target: Path, kind: Kind, rows: Iterable[list[Value]], language: str) -> int:
    """UTF-8 with a byte-order mark, so that Excel reads the Indonesian names right."""
    columns = COLUMNS[kind]
    count = 0
    with target.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers(kind, language))
        for row in rows:
            writer.writerow(
                [
                    _csv_cell(column, value, language)
                    for column, value in zip(columns, row, strict=True)
                ]
            )
            count += 1
    return count


def _display_length(column: Column, value: Value) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime) or column.type == "time":
        return TIME_WIDTH
    if isinstance(value, bool):
        return 5
    return max((len(line) for line in str(value).splitlines()), default=0)


def write_xlsx(
    target: Path,
    kind: Kind,
    rows: Iterable[list[Value]],
    language: str,
    columns: tuple[Column, ...] | None = None,
) -> int:
    """A write-only (streamed) workbook: bold frozen header, autofilter, sized columns,
    real datetime cells. ``columns``: the kind's own unless given (the zip export adds
    its photo columns)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    columns = columns or COLUMNS[kind]
    names = headers(kind, language, columns)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(t(language, f"export.sheet.{kind}")[:31])
    iterator = iter(rows)
    sample = list(islice(iterator, SIZE_SAMPLE))
    for index, (column, name) in enumerate(zip(columns, names, strict=True), start=1):
        widest = max([len(name) + 2, *(_display_length(column, row[index - 1]) for row in sample)])
        width = min(max(widest + 1, MIN_WIDTH), max(column.cap, len(name) + 3))
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"

    bold = Font(bold=True)
    fill = PatternFill("solid", start_color="DDEBF7")
    wrap = Alignment(vertical="top", wrap_text=True)
    header_cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font, cell.fill, cell.alignment = bold, fill, wrap
        header_cells.append(cell)
    sheet.append(header_cells)

    yes, no = t(language, "export.yes"), t(language, "export.no")

    def cell_of(column: Column, value: Value) -> object:
        if value is None:
            return None
        if isinstance(value, datetime):
            cell = WriteOnlyCell(sheet, value=wib(value).replace(tzinfo=None))
            cell.number_format = XLSX_TIME_FORMAT
            return cell
        if isinstance(value, bool):
            return yes if value else no
        if isinstance(value, str):
            text = _ILLEGAL_XLSX.sub("", value)
            if not text.startswith("="):
                return text
            cell = WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"  # text, never a formula (field reports are untrusted input)
            return cell
        return value

    count = 0
    for row in chain(sample, iterator):
        sheet.append([cell_of(column, value) for column, value in zip(columns, row, strict=True)])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    workbook.save(target)
    return count


_WRITERS: dict[Format, Callable[[Path, Kind, Iterable[list[Value]], str], int]] = {
    "csv": write_csv,
    "xlsx": write_xlsx,
}


# ---------------------------------------------------------------------------- the whole job


def scratch_for(out: Path) -> Path:
    """An empty file next to ``out`` (so the final rename is atomic); fails early and in
    one line if ``out`` cannot be written."""
    if out.is_dir():
        raise ExportError("output", f"cannot write {out}: it is a folder", value=str(out))
    folder = out.parent
    if not folder.is_dir():
        raise ExportError(
            "output", f"cannot write {out}: folder {folder} does not exist", value=str(out)
        )
    scratch = folder / f".{out.name}.{secrets.token_hex(4)}.part"
    try:
        # created as any new file would be (the umask decides who may read it)
        os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise ExportError(
            "output", f"cannot write {out}: {exc.strerror or exc}", value=str(out)
        ) from None
    return scratch


def export(
    db_path: str | Path,
    kind: Kind,
    period: Period,
    fmt: Format,
    out: Path,
    language: str,
    area_ids: Collection[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Write the export to ``out`` (replaced whole, never half-written); the number of rows.
    ``area_ids``: only the rows of posts in these areas (a supervisor's subtree); None: all.
    ``now``: the moment running slots are judged at (attendance; the clock's by default).

    Blocking: run it in a thread from async code. Reads on its own SQLite connection.
    """
    scratch = scratch_for(out)
    try:
        try:
            with store.snapshot(db_path) as conn:
                places = Places(store.area_tree(conn))
                if kind in _ROWS_AT:
                    at = now or SystemClock().now()
                    rows = _ROWS_AT[kind](conn, period, places, language, area_ids, at)
                else:
                    rows = _ROWS[kind](conn, period, places, language, area_ids)
                count = _WRITERS[fmt](scratch, kind, rows, language)
        except store.NoDatabase as exc:
            raise ExportError("database", str(exc)) from None
        os.replace(scratch, out)
    except OSError as exc:
        raise ExportError(
            "output", f"cannot write {out}: {exc.strerror or exc}", value=str(out)
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
    return count
