"""Reading an import file: UTF-8 CSV with a header row, checked column by column, and
the errors found, each naming the file, the line and the column."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_SHOWN_ERRORS = 20
INT = re.compile(r"^[+-]?\d+$")
MAX_INT64 = 2**63 - 1
LIST_SEPARATOR = re.compile(r"[;,]")


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


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    cells: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")


class Errors:
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


def shown(value: str, limit: int = 40) -> str:
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(text)


def read(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...], row_word: str, errors: Errors
) -> list[Line]:
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

    expected = ",".join(required)
    records = _records(text, errors)
    if records is None:
        return []
    if not records:
        errors.add(1, None, f"the file is empty; expected a header row: {expected}")
        return []

    header_line, header_cells = records[0]
    header = [cell.strip().lower() for cell in header_cells]
    allowed = set(required) | set(optional)
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

    rows: list[Line] = []
    for number, cells in records[1:]:
        values = [cell.strip() for cell in cells]
        extra = [(i, v) for i, v in enumerate(values) if i >= len(header) and v]
        if extra:
            position, value = extra[0]
            errors.add(
                number,
                f"{position + 1}",
                f"unexpected value {shown(value)} beyond the {len(header)} columns of the "
                "header; expected values that contain ',' to be in double quotes",
            )
            continue
        # Spreadsheets drop trailing empty cells; a missing cell is an empty one.
        row = {name: values[i] if i < len(values) else "" for i, name in enumerate(header)}
        rows.append(Line(number, row))
    if not rows:
        errors.add(
            header_line + 1,
            None,
            f"no rows below the header; expected one row per {row_word} to import",
        )
    return rows


def _records(text: str, errors: Errors) -> list[tuple[int, list[str]]] | None:
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


def number(text: str) -> float | None:
    """A finite decimal number; a lone ',' is taken as the decimal mark, as Indonesian
    spreadsheets write it."""
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def items(text: str) -> list[str]:
    """The entries of a ';'-separated cell (',' also accepted); empty entries dropped."""
    return [item.strip() for item in LIST_SEPARATOR.split(text) if item.strip()]


def spreadsheet_hint(text: str) -> str:
    if re.search(r"\d[.,]?\d*e\+?\d+$", text.lower()):
        return " (the spreadsheet turned it into a number; format the column as text)"
    return ""
