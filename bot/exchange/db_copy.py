"""``posko db copy --to postgresql://…``: a live SQLite deployment moved to PostgreSQL and
checked row for row (SPEC §11).

The order of things protects both sides: the source's schema version is checked before
the target is touched; the target is migrated to the same version and must hold no row
(unless ``replace``); the rows are read from a snapshot of the live file (the bot may keep
running) and loaded in one transaction, parents before children, keeping their ids. Before
that transaction commits every table is read back and compared with the snapshot (row
count and an order-independent checksum): a difference rolls the whole copy back.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.clock import wib
from storage.copy import (
    DRIVER_ERRORS,
    CopyError,
    PgTarget,
    SqliteSnapshot,
    Table,
    live_version,
    migrate_target,
)
from storage.db import is_postgres, migrations, redacted

BATCH = 5_000
_MODULUS = 1 << 128


class CopyRefused(Exception):
    """Nothing was written to the target; the message says why and what to do."""


class CopyFailed(Exception):
    """The rows read back differ from the source: the copy was rolled back."""

    def __init__(self, report: CopyReport) -> None:
        super().__init__(f"verification failed for {', '.join(report.failed)}")
        self.report = report


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


@dataclass(frozen=True, slots=True)
class CopyReport:
    source: Path
    target: str
    """The target's URL without its password."""
    version: int
    taken_at: datetime
    checks: tuple[TableCheck, ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(check.source_rows for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.table for check in self.checks if not check.ok]


# --- checksums ------------------------------------------------------------------------------


class Checksum:
    """Order-independent: the sum of the rows' digests (a sum, not an XOR, so that two
    equal rows do not cancel out). A row's text is the repr of its values, which keeps
    their types apart (5, 5.0 and '5' differ), so a conversion on the way would show;
    both back ends hand back int, float, str or None for this schema."""

    def __init__(self) -> None:
        self.rows = 0
        self._total = 0

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        total = self._total
        count = 0
        for row in rows:
            text = repr(tuple(row)).encode("utf-8", "surrogatepass")
            total += int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "big")
            count += 1
        self._total = total % _MODULUS
        self.rows += count

    @property
    def hexdigest(self) -> str:
        return f"{self._total:032x}"


# --- order and schema -------------------------------------------------------------------------


def foreign_key_order(tables: Sequence[Table]) -> list[Table]:
    """Parents before the tables that refer to them (alphabetical among equals)."""
    by_name = {table.name: table for table in tables}
    placed: list[Table] = []
    done: set[str] = set()
    pending = sorted(by_name)
    while pending:
        ready = [name for name in pending if by_name[name].parents & by_name.keys() <= done]
        if not ready:
            raise CopyRefused(
                "foreign keys go round in a circle between "
                + ", ".join(pending)
                + "; this schema cannot be copied table by table"
            )
        for name in ready:
            placed.append(by_name[name])
            done.add(name)
        pending = [name for name in pending if name not in done]
    return placed


def _schema_differences(tables: Sequence[Table], target: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    for table in tables:
        columns = target.get(table.name)
        if columns is None:
            problems.append(f"table {table.name} is missing")
            continue
        missing = [column for column in table.columns if column not in columns]
        extra = sorted(set(columns) - set(table.columns))
        if missing:
            problems.append(f"{table.name}: no column {', '.join(missing)}")
        if extra:
            problems.append(f"{table.name}: extra column {', '.join(extra)}")
    extra_tables = sorted(set(target) - {table.name for table in tables})
    if extra_tables:
        problems.append(f"tables only on PostgreSQL: {', '.join(extra_tables)}")
    return problems


# --- the copy -------------------------------------------------------------------------------


async def verify(
    snapshot: SqliteSnapshot,
    target: PgTarget,
    tables: Sequence[Table] | None = None,
    batch: int = BATCH,
) -> list[TableCheck]:
    """Each table's rows counted and checksummed on both sides, read back the same way."""
    checks = []
    for table in tables if tables is not None else snapshot.tables():
        source, copied = Checksum(), Checksum()
        for chunk in snapshot.rows(table, batch):
            source.add(chunk)
        async for rows in target.rows(table, batch):
            copied.add(rows)
        checks.append(
            TableCheck(table.name, source.rows, copied.rows, source.hexdigest, copied.hexdigest)
        )
    return checks


async def verify_copy(source: Path, url: str, batch: int = BATCH) -> list[TableCheck]:
    """Compare a SQLite database (read from a snapshot) with a PostgreSQL one as they are."""
    target = await PgTarget.connect(url)
    try:
        with SqliteSnapshot.of(source) as snapshot:
            return await verify(snapshot, target, batch=batch)
    finally:
        await target.close()


def _check_version(found: int, expected: int, what: str) -> None:
    if found < expected:
        raise CopyRefused(
            f"{what} is at schema version {found}, this posko at {expected}:"
            " run `posko db migrate` (with the same --config) first, then copy"
        )
    if found > expected:
        raise CopyRefused(
            f"{what} is at schema version {found}, newer than this posko ({expected}):"
            " copy with the posko version that runs it"
        )


async def copy_database(
    source: Path,
    url: str,
    *,
    replace: bool = False,
    batch: int = BATCH,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Copy the SQLite database at ``source`` into the PostgreSQL database at ``url``.

    Raises CopyRefused (nothing written), CopyError (the copy broke off and was rolled
    back) or CopyFailed (the read-back differed and was rolled back)."""
    if not is_postgres(url):
        raise CopyRefused(f"--to takes a postgresql:// URL, not {url!r}")
    shown = redacted(url)
    try:
        return await _copy(source, url, replace, batch, progress or (lambda _: None))
    except DRIVER_ERRORS as exc:
        raise CopyError(f"{shown}: {exc}") from exc


async def _copy(
    source: Path, url: str, replace: bool, batch: int, progress: Callable[[str], None]
) -> CopyReport:
    started = time.perf_counter()
    expected = len(migrations())
    shown = redacted(url)
    try:
        found = live_version(source)
    except CopyError as exc:  # missing or unreadable: nothing was touched yet
        raise CopyRefused(str(exc)) from exc
    _check_version(found, expected, str(source))
    target = await PgTarget.connect(url)
    try:
        if not await target.lead():
            raise CopyRefused(
                f"a posko bot is running on {shown} (it holds the leader lock): stop every"
                " bot on it before copying into it"
            )
        _check_version(await migrate_target(url), expected, shown)
        types = await target.column_types()
        holding = await target.tables_with_rows(sorted(types))
        if holding and not replace:
            raise CopyRefused(
                f"{shown} already holds rows (in {', '.join(holding[:5])}"
                f"{', …' if len(holding) > 5 else ''}): copy into an empty database,"
                " or add --replace to empty it first"
            )
        with SqliteSnapshot.of(source) as snapshot:
            _check_version(snapshot.version(), expected, str(source))
            tables = foreign_key_order(snapshot.tables())
            progress(
                f"snapshot of {source} taken at {wib(snapshot.taken_at):%H:%M:%S} WIB;"
                f" loading {len(tables)} tables"
            )
            problems = _schema_differences(tables, types)
            if problems:
                raise CopyRefused(f"the schemas differ: {'; '.join(problems)}")
            async with target.loading(sorted(types), replace):
                if not replace:
                    # a bot started on the target since the first look: leave it alone
                    holding = await target.tables_with_rows(sorted(types))
                    if holding:
                        raise CopyRefused(f"{shown} received rows meanwhile (in {holding[0]})")
                for table in tables:
                    for rows in snapshot.rows(table, batch):
                        await target.copy_rows(table, rows)
                await target.restart_identities()
                progress("loaded; reading every table back on both sides")
                checks = await verify(snapshot, target, tables, batch)
                report = CopyReport(
                    source,
                    shown,
                    expected,
                    snapshot.taken_at,
                    tuple(checks),
                    time.perf_counter() - started,
                )
                if report.failed:
                    raise CopyFailed(report)
            return report
    finally:
        await target.close()


def render(checks: Sequence[TableCheck]) -> list[str]:
    """The per-table lines the command prints (alphabetical, to find a table by eye)."""
    width = max([len("table"), *(len(check.table) for check in checks)])
    lines = [f"{'table':<{width}}  {'rows':>9}  checksum"]
    for check in sorted(checks, key=lambda check: check.table):
        if check.ok:
            lines.append(
                f"{check.table:<{width}}  {check.source_rows:>9}  ok {check.source_sum[:12]}"
            )
        else:
            rows = (
                f"{check.source_rows}"
                if check.source_rows == check.target_rows
                else f"{check.source_rows}≠{check.target_rows}"
            )
            lines.append(
                f"{check.table:<{width}}  {rows:>9}  DIFFERS"
                f" {check.source_sum[:12]} ≠ {check.target_sum[:12]}"
            )
    total = sum(check.source_rows for check in checks)
    bad = sum(not check.ok for check in checks)
    lines.append(f"{'total':<{width}}  {total:>9}  {'ok' if not bad else f'{bad} tables differ'}")
    return lines


__all__ = [
    "BATCH",
    "Checksum",
    "CopyError",
    "CopyFailed",
    "CopyRefused",
    "CopyReport",
    "TableCheck",
    "copy_database",
    "foreign_key_order",
    "render",
    "verify",
    "verify_copy",
]
