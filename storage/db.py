"""The SQLite connection, its pragmas, transactions and the migration runner.

One aiosqlite connection serves the whole process. aiosqlite runs every statement on one
thread, but coroutines would still interleave statements of different transactions on
that connection, so every unit of work holds ``Database.lock`` from BEGIN to COMMIT.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

Row = sqlite3.Row
Params = Sequence[Any] | dict[str, Any]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def to_db(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to storage; all times must be UTC-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every packaged migration, in order."""
    found: list[tuple[int, str, str]] = []
    folder = resources.files("storage").joinpath("migrations")
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration numbering has a gap or duplicate at {name}")
    return found


class Tx:
    """A transaction in progress; the only way repository functions reach the database."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        # Set by writers so that, after COMMIT, the sender and the watcher are woken.
        self.touched_outbox = False
        self.touched_deadlines = False

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        cursor = await self._conn.execute(sql, params)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def insert(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(sql, params)
        row_id = cursor.lastrowid
        await cursor.close()
        if row_id is None:
            raise RuntimeError("insert did not produce a row id")
        return row_id

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._conn.execute(sql, params)
        row = await cursor.fetchone()
        await cursor.close()
        return row  # type: ignore[no-any-return]

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._conn.execute(sql, params)
        rows = await cursor.fetchall()
        await cursor.close()
        return list(rows)

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        row = await self.one(sql, params)
        return None if row is None else row[0]


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self.lock = asyncio.Lock()
        self.on_outbox: list[Callable[[], None]] = []
        self.on_deadlines: list[Callable[[], None]] = []

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(target, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn, target)

    async def close(self) -> None:
        async with self.lock:
            await self._conn.close()

    async def schema_version(self) -> int:
        async with self.lock:
            cursor = await self._conn.execute("PRAGMA user_version")
            row = await cursor.fetchone()
            await cursor.close()
        return int(row[0]) if row else 0

    async def migrate(self) -> tuple[int, int]:
        """Apply every migration newer than ``user_version``, each in its own transaction."""
        before = await self.schema_version()
        current = before
        for version, name, sql in migrations():
            if version <= current:
                continue
            async with self.lock:
                try:
                    await self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")
                    raise RuntimeError(f"migration {name} failed: {exc}") from exc
            current = version
        return before, current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            tx = Tx(self._conn)
            try:
                yield tx
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            else:
                await self._conn.execute("COMMIT")
        # Only after COMMIT: a woken sender must find the rows it is told about.
        if tx.touched_outbox:
            for listener in self.on_outbox:
                listener()
        if tx.touched_deadlines:
            for listener in self.on_deadlines:
                listener()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A consistent read (a deferred transaction) with nothing to commit."""
        async with self.lock:
            await self._conn.execute("BEGIN")
            try:
                yield Tx(self._conn)
            finally:
                await self._conn.execute("ROLLBACK")

    async def check_integrity(self) -> list[str]:
        """Problems found by SQLite's own checks (empty when healthy)."""
        async with self.read() as tx:
            problems = [str(tuple(row)) for row in await tx.all("PRAGMA foreign_key_check")]
            result = await tx.scalar("PRAGMA quick_check")
        if result != "ok":
            problems.append(str(result))
        return problems

    async def backup(self, target: str | Path) -> None:
        """Online copy of a live database (SQLite backup API) while the bot keeps running."""
        async with self.lock:
            destination = await aiosqlite.connect(str(target))
            try:
                await self._conn.backup(destination)
            finally:
                await destination.close()
