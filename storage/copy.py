"""``posko db copy``: the SQL of both sides of moving a SQLite deployment to PostgreSQL.

The source is a snapshot of the live file taken with SQLite's backup API, so the bot may
keep writing while the copy runs (and the copy reads a file nobody else touches). The
target is written in one transaction under the writers' advisory lock: a failure, or a
verification that does not match, leaves the target as it was. Rows keep their ids, and
every identity sequence is moved past the largest id afterwards.

The checksums themselves are computed by bot/exchange/db_copy.py from the rows both
sides hand back here.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from storage.db import Database, redacted
from storage.leadership import LEADER_CLASS, LEADER_TRY
from storage.postgres import VERSION_TABLE, WRITER_KEY

Values = tuple[Any, ...]


class CopyError(RuntimeError):
    """The copy cannot go on; the message says why and what to do."""


# What the database or the network may raise on the way (the caller reports them whole).
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


async def migrate_target(url: str) -> int:
    """Bring the target to this posko's schema; its version afterwards."""
    try:
        db = await Database.open(url)
    except DRIVER_ERRORS as exc:
        raise CopyError(f"cannot reach {redacted(url)}: {exc}") from exc
    try:
        _, after = await db.migrate()
    finally:
        await db.close()
    return after


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    parents: frozenset[str]
    """Other tables its foreign keys point to: they are copied first."""
    self_keys: tuple[tuple[int, int], ...] = ()
    """(referencing column, referenced column) positions of keys into the table itself
    (an area's parent): its rows are copied parents first."""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_list(columns: Sequence[str]) -> str:
    return ", ".join(_quoted(column) for column in columns)


# --- the source ---------------------------------------------------------------------------


def live_version(live: Path) -> int:
    """The schema version of the live SQLite file (a header field: no lock is held)."""
    if not live.is_file():
        raise CopyError(f"no SQLite database at {live} (the [storage] path)")
    conn = sqlite3.connect(str(live), timeout=30)
    try:
        row = conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as exc:
        raise CopyError(f"cannot read {live}: {exc}") from exc
    finally:
        conn.close()
    return int(row[0]) if row else 0


class SqliteSnapshot:
    """A private copy of a live SQLite database, as it was at :attr:`taken_at`."""

    def __init__(self, conn: sqlite3.Connection, source: Path, taken_at: datetime) -> None:
        self._conn = conn
        self.source = source
        self.taken_at = taken_at

    @classmethod
    @contextmanager
    def of(cls, live: Path, folder: Path | None = None) -> Iterator[SqliteSnapshot]:
        """The backup API copies every page in one step, under one read transaction: in WAL
        mode the bot's writers are not held up, and what is copied is one moment."""
        if not live.is_file():
            raise CopyError(f"no SQLite database at {live} (the [storage] path)")
        # Beside the database by default: that disk has room for the database already,
        # where /tmp may be a small RAM disk.
        where = folder if folder is not None else live.parent
        with tempfile.TemporaryDirectory(prefix=".posko-copy-", dir=where) as scratch:
            copy = Path(scratch) / "snapshot.db"
            source = sqlite3.connect(str(live), timeout=30)
            conn = sqlite3.connect(str(copy))
            try:
                taken_at = datetime.now(UTC)
                source.backup(conn)
            except sqlite3.Error as exc:
                conn.close()
                raise CopyError(f"cannot read {live}: {exc}") from exc
            finally:
                source.close()
            try:
                yield cls(conn, live, taken_at)
            finally:
                conn.close()

    def version(self) -> int:
        row = self._conn.execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else 0

    def tables(self) -> list[Table]:
        names = [
            str(row[0])
            for row in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        found = []
        for name in names:
            columns = tuple(
                str(row[1]) for row in self._conn.execute(f"PRAGMA table_info({_quoted(name)})")
            )
            parents: set[str] = set()
            self_keys: list[tuple[int, int]] = []
            keys = self._conn.execute(f"PRAGMA foreign_key_list({_quoted(name)})").fetchall()
            for _id, _seq, target, column, referenced, *_ in keys:
                if target == name:
                    self_keys.append((columns.index(column), columns.index(referenced or "id")))
                else:
                    parents.add(str(target))
            found.append(Table(name, columns, frozenset(parents), tuple(self_keys)))
        return found

    def rows(self, table: Table, batch: int) -> Iterator[list[Values]]:
        """The table's rows in batches; parents before children when it refers to itself."""
        cursor = self._conn.execute(
            f"SELECT {_column_list(table.columns)} FROM {_quoted(table.name)}"
        )
        if table.self_keys:
            ordered = parents_first(cursor.fetchall(), table.self_keys)
            for start in range(0, len(ordered), batch):
                yield ordered[start : start + batch]
            return
        while chunk := cursor.fetchmany(batch):
            yield chunk


def parents_first(rows: list[Values], self_keys: tuple[tuple[int, int], ...]) -> list[Values]:
    """Rows ordered so that each comes after the rows it refers to (a row whose parent is
    missing, or a circle, goes last: the foreign key then names the problem)."""
    pending = list(rows)
    placed: list[Values] = []
    known: dict[int, set[Any]] = {referenced: set() for _, referenced in self_keys}
    while pending:
        waiting = []
        for row in pending:
            ready = all(
                row[column] is None
                or row[column] in known[referenced]
                or row[column] == row[referenced]
                for column, referenced in self_keys
            )
            if ready:
                placed.append(row)
                for referenced, seen in known.items():
                    seen.add(row[referenced])
            else:
                waiting.append(row)
        if len(waiting) == len(pending):
            placed.extend(waiting)
            break
        pending = waiting
    return placed


# --- the target ---------------------------------------------------------------------------


class PgTarget:
    """The PostgreSQL side: its tables, its rows, and the one transaction that loads it."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @classmethod
    async def connect(cls, url: str) -> PgTarget:
        return cls(await asyncpg.connect(url, server_settings={"application_name": "posko copy"}))

    async def close(self) -> None:
        await self._conn.close()

    async def lead(self) -> bool:
        """Take the target's leader lock for the copy (storage/leadership.py): False when a
        bot leads on it now. Held until :meth:`close`, so no bot starts leading meanwhile."""
        return bool(await self._conn.fetchval(LEADER_TRY, LEADER_CLASS))

    async def column_types(self) -> dict[str, dict[str, str]]:
        """table → column → type name, for the tables of the current schema (the schema
        version's own table aside)."""
        rows = await self._conn.fetch(
            "SELECT table_name, column_name, udt_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name <> $1",
            VERSION_TABLE,
        )
        found: dict[str, dict[str, str]] = {}
        for table, column, kind in rows:
            found.setdefault(str(table), {})[str(column)] = str(kind)
        return found

    async def tables_with_rows(self, tables: Sequence[str]) -> list[str]:
        holding = []
        for table in tables:
            if await self._conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quoted(table)})"):
                holding.append(table)
        return holding

    @asynccontextmanager
    async def loading(self, tables: Sequence[str], replace: bool) -> AsyncIterator[None]:
        """One transaction for the whole copy, under the lock every posko writer takes
        first (so a bot already running on the target waits rather than interleaves).
        With ``replace`` the tables are emptied inside it: nothing is lost unless the copy
        commits."""
        async with self._conn.transaction():
            await self._conn.execute(f"SELECT pg_advisory_xact_lock({WRITER_KEY})")
            if replace and tables:
                names = ", ".join(_quoted(table) for table in tables)
                await self._conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            yield

    async def copy_rows(self, table: Table, rows: list[Values]) -> None:
        """Rows as SQLite's column affinities typed them (int, float, str or None): binary
        COPY takes them as they are. A value of another type is refused here, naming the
        table, rather than converted (the verification would not recognise it)."""
        try:
            await self._conn.copy_records_to_table(
                table.name, records=rows, columns=list(table.columns)
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError, TypeError) as exc:
            raise CopyError(f"table {table.name}: {exc}") from exc

    async def restart_identities(self) -> None:
        """The next row the bot inserts gets a fresh id, as SQLite's rowid would give."""
        identities = await self._conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'"
        )
        for table, column in identities:
            await self._conn.execute(
                f"SELECT setval(pg_get_serial_sequence($1, $2),"
                f" coalesce(max({_quoted(column)}), 0) + 1, false) FROM {_quoted(table)}",
                _quoted(table),
                column,
            )

    async def rows(self, table: Table, batch: int) -> AsyncIterator[list[Values]]:
        """The table's rows read back, in batches, inside the current transaction or a
        repeatable-read one of their own."""
        query = f"SELECT {_column_list(table.columns)} FROM {_quoted(table.name)}"
        if self._conn.is_in_transaction():
            async for chunk in self._batches(query, batch):
                yield chunk
            return
        async with self._conn.transaction(isolation="repeatable_read", readonly=True):
            async for chunk in self._batches(query, batch):
                yield chunk

    async def _batches(self, query: str, batch: int) -> AsyncIterator[list[Values]]:
        cursor = await self._conn.cursor(query)
        while chunk := await cursor.fetch(batch):
            yield [tuple(record) for record in chunk]
