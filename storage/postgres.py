"""The PostgreSQL back end (asyncpg), behind the same Tx/Database interface as SQLite.

Statements arrive in SQLite's dialect and are translated once each (storage/dialect.py),
then prepared once per connection. Three things keep the behaviour of the SQLite store:

* Writers are serialised across processes as SQLite's ``BEGIN IMMEDIATE`` does: every
  write transaction first takes one transaction-scoped advisory lock. Within the lock,
  READ COMMITTED sees every earlier writer's rows, so a unit's read-then-write is as safe
  as on SQLite; the compare-and-swap updates stay as they are for the standby. The
  officers' hot paths (``Database.concurrently``) take the lock shared and overlap one
  another, ordered per post by its row lock.
* Parameters are converted to the types PostgreSQL inferred for them (SQLite would have
  stored ``5`` given for a TEXT column as ``'5'``; asyncpg refuses it).
* ``numeric`` results (``sum`` of integers, ``avg``) come back as int or float, not Decimal.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
from asyncpg import PostgresError

from storage import dialect
from storage.db import (
    WRITE_LOCK_PATIENCE,
    BackupUnsupported,
    Database,
    DatabaseUnavailable,
    Params,
    Row,
    T,
    Tx,
    WriteConflict,
    carrying,
    handled_update,
    migrations,
    redacted,
)
from storage.pg_batches import (
    BatchShape,
    batch_shape,
    distinct_ids,
    insert_from_arrays,
    update_from_arrays,
)

log = logging.getLogger(__name__)

WRITER_CLASS = 0x706F7377  # "posw"
WRITER_KEY = f"{WRITER_CLASS}, hashtext(current_schema())"
"""The writers' lock, taken by every write transaction (and the migrations): one per schema,
so deployments (and the test schemas) sharing a database never wait for one another."""
VERSION_TABLE = "posko_schema_version"
PREPARED_PER_CONNECTION = 2048
READERS = 3
"""Reader connections (``read``) beside the writer's; exports read on a snapshot
connection of their own."""
WRITERS = 4
"""Connections for ``concurrently``'s transactions, which overlap one another."""
ATTEMPTS = 4
"""Runs of one ``concurrently`` transaction that a deadlock or a conflict may roll back, at
most."""
RETRIED = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.UniqueViolationError,
    WriteConflict,
)
RERUN_ON_UNIQUE = frozenset({"shifts_one_open"})
"""The one unique index two overlapping writers may legitimately both try to fill: one
member's open shift, from two processes during a handover. Any other clash is a bug (or
data an import left behind) that running again would only repeat."""

Coerce = Callable[[Any], Any] | None


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _to_float(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _to_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def _to_bool(value: Any) -> Any:
    return bool(value) if isinstance(value, int) else value


_COERCE: dict[str, Coerce] = {
    "int2": _to_int,
    "int4": _to_int,
    "int8": _to_int,
    "float4": _to_float,
    "float8": _to_float,
    "numeric": _to_float,
    "text": _to_text,
    "varchar": _to_text,
    "bpchar": _to_text,
    "name": _to_text,
    "json": _to_text,
    "jsonb": _to_text,
    "bool": _to_bool,
}


def _number(text: str) -> int | float:
    """numeric → what SQLite would have returned: an int when whole, else a float."""
    if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
        return float(text)
    return int(text)


def _changed(status: str | None) -> int:
    """Rows changed, from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    if not status:
        return 0
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PgRow(asyncpg.Record):  # type: ignore[misc]
    """asyncpg's record, with ``keys()`` a list as sqlite3.Row's is (callers slice it)."""

    def keys(self) -> list[str]:
        return list(super().keys())


class _Connection:
    """One asyncpg connection and its prepared statements (translated SQL → statement)."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn
        self._prepared: OrderedDict[str, tuple[Any, tuple[Coerce, ...]]] = OrderedDict()

    async def statement(self, sql: str) -> tuple[Any, tuple[Coerce, ...]]:
        found = self._prepared.get(sql)
        if found is not None:
            self._prepared.move_to_end(sql)
            return found
        stmt = await self.raw.prepare(dialect.query(sql), record_class=PgRow)
        coerce = tuple(_COERCE.get(kind.name) for kind in stmt.get_parameters())
        self._prepared[sql] = (stmt, coerce)
        if len(self._prepared) > PREPARED_PER_CONNECTION:
            self._prepared.popitem(last=False)
        return stmt, coerce

    def batch_shape(self, sql: str) -> BatchShape:
        return batch_shape(dialect.query(sql))

    async def by_rows(
        self, sql: str, per_row: Any, rewrite: Callable[[str, tuple[str, ...]], str]
    ) -> Any:
        """``sql`` rewritten to take arrays of its parameters, one per column (the rows
        unnested), prepared once per connection."""
        key = f"-- many rows\n{sql}"
        found = self._prepared.get(key)
        if found is not None:
            self._prepared.move_to_end(key)
            return found[0]
        types = tuple(kind.name for kind in per_row.get_parameters())
        stmt = await self.raw.prepare(rewrite(dialect.query(sql), types))
        self._prepared[key] = (stmt, ())
        if len(self._prepared) > PREPARED_PER_CONNECTION:
            self._prepared.popitem(last=False)
        return stmt


def _args(params: Params, coerce: tuple[Coerce, ...]) -> list[Any]:
    if isinstance(params, dict):
        raise TypeError("named parameters are not portable: use ? placeholders")
    values = list(params)
    if len(values) != len(coerce):
        raise ValueError(f"statement takes {len(coerce)} parameters, {len(values)} given")
    for at, convert in enumerate(coerce):
        if convert is not None:
            values[at] = convert(values[at])
    return values


def _literal(value: Any) -> str | None:
    """``value`` written into a statement: a quoted literal whose type PostgreSQL infers
    from where it stands, as it does a parameter's; None for a value not written in."""
    if value is None:
        return "NULL"
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None  # a float's text depends on its column: the prepared statement decides
    text = str(value)
    if "\x00" in text:
        return None
    # standard_conforming_strings is on (the session sets it): only ' needs doubling.
    return "'" + text.replace("'", "''") + "'"


def _written_in(sql: str, params: Params) -> str | None:
    """The statement with its values written in, or None when one cannot be."""
    if isinstance(params, dict):
        return None
    parts = dialect.query_around_parameters(sql)
    values = list(params)
    if len(values) != len(parts) - 1:
        return None
    out = [parts[0]]
    for value, after in zip(values, parts[1:], strict=True):
        literal = _literal(value)
        if literal is None:
            return None
        out += (literal, after)
    return "".join(out)


class PgTx(Tx):
    """A transaction on one connection. A write transaction's BEGIN (with the writers' lock)
    is sent with its first statement: when that is an ``execute`` whose values can be
    written in (the inbox's done mark, in every handler's first write), BEGIN and it are one
    round trip."""

    dialect = "postgresql"

    def __init__(self, conn: _Connection, writable: bool = True, begin: str | None = None) -> None:
        super().__init__()
        self._conn = conn
        self._writable = writable
        self._begin = begin

    @property
    def begun(self) -> bool:
        """Whether BEGIN was sent (a transaction that ran no statement has nothing to end)."""
        return self._begin is None

    async def _started(self) -> None:
        if self._begin is not None:
            script, self._begin = self._begin, None
            await self._conn.raw.execute(script)

    async def execute(self, sql: str, params: Params = ()) -> int:
        if self._begin is not None:
            statement = _written_in(sql, params)
            if statement is not None:
                script, self._begin = self._begin, None
                return _changed(await self._conn.raw.execute(f"{script}; {statement}"))
        await self._started()
        stmt, coerce = await self._conn.statement(sql)
        await stmt.fetch(*_args(params, coerce))
        return _changed(stmt.get_statusmsg())

    async def insert(self, sql: str, params: Params = ()) -> int:
        if not self._writable:
            raise RuntimeError("a snapshot is read-only")
        await self._started()
        if not re.search(r"\bRETURNING\b", sql, re.I):
            sql = f"{sql.rstrip().rstrip(';')} RETURNING id"
        stmt, coerce = await self._conn.statement(sql)
        row = await stmt.fetchrow(*_args(params, coerce))
        if row is None:
            raise RuntimeError("insert did not produce a row id")
        return int(row[0])

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        if not self._writable:
            raise RuntimeError("a snapshot is read-only")
        await self._started()
        stmt, coerce = await self._conn.statement(sql)
        batch = [_args(row, coerce) for row in rows]
        if not batch:
            return 0
        shape = self._conn.batch_shape(sql)
        if len(batch) > 1 and shape is BatchShape.INSERT:
            # Each row inserts exactly one row or raises: one INSERT … SELECT FROM unnest,
            # in the order given (the ids too), inserts and counts the same.
            by_rows = await self._conn.by_rows(sql, stmt, insert_from_arrays)
            await by_rows.fetch(*(list(column) for column in zip(*batch, strict=True)))
            return _changed(by_rows.get_statusmsg())
        if len(batch) > 1 and shape is BatchShape.UPDATE_BY_ID and distinct_ids(batch, sql):
            # Every row updates its own row by primary key, so one UPDATE … FROM unnest
            # changes exactly what the statements one by one would, and counts the same.
            by_rows = await self._conn.by_rows(sql, stmt, update_from_arrays)
            await by_rows.fetch(*(list(column) for column in zip(*batch, strict=True)))
            return _changed(by_rows.get_statusmsg())
        # Anything else one round trip per row: callers count what each row changed.
        changed = 0
        for values in batch:
            await stmt.fetch(*values)
            changed += _changed(stmt.get_statusmsg())
        return changed

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        await self._started()
        stmt, coerce = await self._conn.statement(sql)
        row: Row | None = await stmt.fetchrow(*_args(params, coerce))
        return row

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        await self._started()
        stmt, coerce = await self._conn.statement(sql)
        return list(await stmt.fetch(*_args(params, coerce)))


def _session_settings(url: str) -> dict[str, str]:
    """The bot's connections commit without waiting for the WAL flush unless the URL's query
    says otherwise (``?synchronous_commit=on``): the durability SQLite gives in WAL mode
    with ``synchronous=NORMAL``. A commit survives the bot's crash at once and the server's
    crash once the WAL writer flushed it (within 3 × ``wal_writer_delay``); the database is
    never left inconsistent. What must outlive a server crash the moment it commits (the
    inbox's stored updates, before Telegram is told they arrived) asks for a durable commit
    (``Database.standalone(durable=True)``); an effect lost with the server is replayed
    from the inbox, whose done mark it carried."""
    settings = {"application_name": "posko", "standard_conforming_strings": "on"}
    if "synchronous_commit" not in parse_qs(urlsplit(url).query):
        settings["synchronous_commit"] = "off"
    return settings


async def _connect(
    url: str, *, read_only: bool = False, durable: bool = False, patient: bool = False
) -> _Connection:
    settings = _session_settings(url)
    if read_only:  # a reader's statements outside a transaction may not write either
        settings["default_transaction_read_only"] = "on"
    if patient:  # how long a writer waits for a lock, set once rather than per transaction
        settings["lock_timeout"] = str(int(WRITE_LOCK_PATIENCE * 1000))
    conn = await asyncpg.connect(url, server_settings=settings)
    if durable:  # over whatever the URL says
        await conn.execute("SET synchronous_commit = on")
    await conn.set_type_codec(
        "numeric", schema="pg_catalog", encoder=str, decoder=_number, format="text"
    )
    return _Connection(conn)


@asynccontextmanager
async def _read_only(conn: _Connection) -> AsyncIterator[Tx]:
    """A read-only REPEATABLE READ transaction on ``conn``: one consistent snapshot."""
    await conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        yield PgTx(conn, writable=False)
    finally:
        if not conn.raw.is_closed():
            await conn.raw.execute("ROLLBACK")


@asynccontextmanager
async def _writing(conn: _Connection, begin: str) -> AsyncIterator[PgTx]:
    """A write transaction on ``conn`` that ``begin`` opens with its first statement;
    COMMIT, or ROLLBACK on error, only when something was sent."""
    tx = PgTx(conn, begin=begin)
    try:
        yield tx
    except BaseException:
        if tx.begun and not conn.raw.is_closed():
            await conn.raw.execute("ROLLBACK")
        raise
    if tx.begun:
        await conn.raw.execute("COMMIT")


async def _open(
    conn: _Connection | None,
    url: str,
    *,
    read_only: bool = False,
    durable: bool = False,
    patient: bool = False,
) -> _Connection:
    """``conn``, or a new connection when there is none yet or the server dropped it."""
    if conn is not None and not conn.raw.is_closed():
        return conn
    return await _connect(url, read_only=read_only, durable=durable, patient=patient)


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str, conn: _Connection) -> None:
        super().__init__(redacted(url))
        self.url = url
        self._conn = conn
        self._idle_readers: list[_Connection] = []
        self._beside: _Connection | None = None
        self._durable: _Connection | None = None
        self._snapshot: _Connection | None = None
        self._snapshot_lock = asyncio.Lock()
        self._beside_lock = asyncio.Lock()
        self._readers_free = asyncio.Semaphore(READERS)
        self._idle_writers: list[_Connection] = []
        self._closed = False
        self._writers_free = asyncio.Semaphore(WRITERS)

    @classmethod
    async def connect(cls, url: str) -> PostgresDatabase:
        try:
            return cls(url, await _connect(url))
        except (OSError, TimeoutError, PostgresError) as exc:
            raise DatabaseUnavailable(f"cannot reach {redacted(url)}: {exc}") from exc
        except ValueError as exc:  # asyncpg parsing the URL (its message never quotes it)
            raise DatabaseUnavailable(f"{redacted(url)} is not a usable URL: {exc}") from exc

    async def _live(self) -> _Connection:
        """The connection, opened again if the server dropped it (a restart, a failover)."""
        if self._conn.raw.is_closed():
            log.warning("database connection lost; reconnecting to %s", self.path)
            self._conn = await _connect(self.url)
        return self._conn

    @asynccontextmanager
    async def _unit(self, write: bool) -> AsyncIterator[Tx]:
        """A write transaction on the writer's connection (reads go to :meth:`read`)."""
        if not write:
            raise ValueError("reads run on the reader connections: use read()")
        conn = await self._live()
        patience = int(WRITE_LOCK_PATIENCE * 1000)
        begin = (
            f"BEGIN; SET LOCAL lock_timeout = {patience};"
            f" SELECT pg_advisory_xact_lock({WRITER_KEY})"
        )
        async with _writing(conn, begin) as tx:
            yield tx

    async def concurrently(
        self, work: Callable[[Tx], Awaitable[T]], *, bookkeeping: bool = False
    ) -> T:
        """On a writer connection of its own, under the writers' lock taken *shared*: it
        overlaps other ``concurrently`` transactions (their round trips were what held the
        update rate down while every writer waited its turn) and never a writer that takes
        the lock whole (``transaction``: the watcher's pass, an admin's change), which waits
        for them and makes later ones wait for it. Two of them on one post meet at its row
        lock (storage.shifts.open_locking_post, storage.posts.lock); two that lock two posts
        in opposite orders deadlock, and the one PostgreSQL rolls back runs again, as does
        one whose compare-and-swap found its row changed (``WriteConflict``) or that met a
        unique index another one filled first."""
        handled = None if bookkeeping else handled_update.get()
        begin = f"BEGIN; SELECT pg_advisory_xact_lock_shared({WRITER_KEY})"
        if self._closed:
            raise DatabaseUnavailable(f"{self.path} is closed")
        async with self._lent(self._idle_writers, self._writers_free, patient=True) as conn:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    with carrying(handled) as mark:
                        async with _writing(conn, begin) as tx:
                            if mark is not None:
                                await mark.record(tx, mark.update_id)
                            result = await work(tx)
                    break
                except RETRIED as exc:
                    clash = getattr(exc, "constraint_name", None)
                    unique = isinstance(exc, asyncpg.exceptions.UniqueViolationError)
                    if attempt == ATTEMPTS or (unique and clash not in RERUN_ON_UNIQUE):
                        raise
                    log.warning("write rolled back (%r); running it again", exc)
        self._announce(tx)
        return result

    @asynccontextmanager
    async def _standalone(self, durable: bool) -> AsyncIterator[Tx]:
        async with self._beside_lock:
            if durable:
                # Each statement commits on its own, as each is safe alone: one round trip
                # where BEGIN, the statement and COMMIT were three (the inbox's store of a
                # getUpdates batch, once per poll).
                self._durable = await _open(self._durable, self.url, durable=True)
                tx = PgTx(self._durable)
                yield tx
            else:
                self._beside = await _open(self._beside, self.url)
                async with _writing(self._beside, "BEGIN") as tx:
                    yield tx
        self._announce(tx)

    def standalone(self, *, durable: bool = False) -> AbstractAsyncContextManager[Tx]:
        return self._standalone(durable)

    @asynccontextmanager
    async def read(self, *, consistent: bool = True) -> AsyncIterator[Tx]:
        """A read-only REPEATABLE READ transaction on a reader connection, without the
        writers' lock: on SQLite a read costs microseconds under it, here every statement
        is a round trip, and a writer waiting behind a reader's round trips (or a reader
        behind a writer's) was what held the update rate down (bench/updates.py). A
        reader sees everything committed before it began, as it would under the lock.
        ``consistent=False``: no transaction, each statement on its own (the reader's
        session refuses writes)."""
        async with self._lent(self._idle_readers, self._readers_free, read_only=True) as conn:
            if consistent:
                async with _read_only(conn) as tx:
                    yield tx
            else:  # each statement on its own (the session is read-only)
                yield PgTx(conn, writable=False)

    @asynccontextmanager
    async def _lent(
        self,
        idle: list[_Connection],
        free: asyncio.Semaphore,
        *,
        read_only: bool = False,
        patient: bool = False,
    ) -> AsyncIterator[_Connection]:
        """A connection of a pool (``idle``, at most ``free`` lent at once), given back
        unless the database is closing, it broke, or it was left mid-transaction."""
        async with free:
            conn = idle.pop() if idle else None
            conn = await _open(conn, self.url, read_only=read_only, patient=patient)
            try:
                yield conn
            finally:
                if self._closed or conn.raw.is_closed() or conn.raw.is_in_transaction():
                    conn.raw.terminate()  # closing, broken, or interrupted mid-transaction
                else:
                    idle.append(conn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Tx]:  # type: ignore[override]
        """A read-only REPEATABLE READ transaction on a connection of its own: a long
        export takes none of the readers the bot's short reads need."""
        async with self._snapshot_lock:
            conn = self._snapshot = await _open(self._snapshot, self.url)
            try:
                async with _read_only(conn) as tx:
                    yield tx
            finally:
                if conn.raw.is_in_transaction():  # interrupted: never reused mid-snapshot
                    conn.raw.terminate()

    async def close(self) -> None:
        self._closed = True  # a writer still at work closes its connection when done
        async with self.lock:
            readers, self._idle_readers = self._idle_readers, []
            writers, self._idle_writers = self._idle_writers, []
            others = [c for c in (self._beside, self._durable, self._snapshot) if c is not None]
            self._beside = self._durable = self._snapshot = None
            for conn in (*readers, *writers, *others, self._conn):
                if not conn.raw.is_closed():
                    await conn.raw.close()

    @staticmethod
    async def stored_version(conn: _Connection) -> int:
        exists = await conn.raw.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSION_TABLE)
        if not exists:
            return 0
        stored = await conn.raw.fetchval(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}")
        return int(stored)

    async def schema_version(self) -> int:
        async with self.lock:
            return await self.stored_version(await self._live())

    async def _tables(self, conn: _Connection) -> set[str]:
        rows = await conn.raw.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        return {str(row[0]) for row in rows}

    async def _restart_identities(self, conn: _Connection) -> None:
        """Rows copied with their ids (a table rebuilt by a migration) leave the identity
        sequence behind; the next insert must get a fresh id, as SQLite's rowid would."""
        columns = await conn.raw.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'"
        )
        for table, column in columns:
            await conn.raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" coalesce(max({column}), 0) + 1, false) FROM {table}"
            )

    async def migrate(self) -> tuple[int, int]:
        """Each newer migration in its own transaction, under the writers' lock (two
        processes starting together migrate once)."""
        async with self.lock:
            conn = await self._live()
            before = await self.stored_version(conn)
            current = before
            for version, name, sql in migrations():
                if version <= current:
                    continue
                await conn.raw.execute(
                    f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_KEY});"
                    f" CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version BIGINT NOT NULL)"
                )
                try:
                    current = await self.stored_version(conn)
                    if version > current:
                        script = dialect.script(sql, await self._tables(conn))
                        await conn.raw.execute(script)
                        await self._restart_identities(conn)
                        await conn.raw.execute(f"DELETE FROM {VERSION_TABLE}")
                        await conn.raw.execute(
                            f"INSERT INTO {VERSION_TABLE} (version) VALUES ({version})"
                        )
                        current = version
                except (PostgresError, ValueError) as exc:
                    await conn.raw.execute("ROLLBACK")
                    raise RuntimeError(f"migration {name} failed: {exc}") from exc
                await conn.raw.execute("COMMIT")
            return before, current

    async def check_integrity(self) -> list[str]:
        """PostgreSQL enforces keys and constraints itself; an index left invalid by a
        failed concurrent build is what can still be wrong."""
        async with self.read() as tx:
            rows = await tx.all(
                "SELECT CAST(indexrelid AS regclass) FROM pg_index WHERE NOT indisvalid"
            )
        return [f"invalid index {row[0]}" for row in rows]

    async def backup(self, target: str | Path) -> None:
        raise BackupUnsupported(
            "PostgreSQL is backed up with its own tools, while the bot keeps running:"
            f" pg_dump --format=custom --file={target} '{self.path}'"
            " (restore with pg_restore; a managed service's snapshots work too)"
        )


class SyncSnapshot:
    """A read-only snapshot for the exporters' worker thread, which has no event loop:
    asyncpg driven on a private loop, rows streamed through a server-side cursor."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._loop = asyncio.new_event_loop()
        self._conn: _Connection | None = None

    def __str__(self) -> str:
        return redacted(self._url)

    @classmethod
    @contextmanager
    def open(cls, url: str) -> Iterator[SyncSnapshot]:
        snapshot = cls(url)
        try:
            snapshot._conn = snapshot._run(_connect(url))
            snapshot._run(
                snapshot._conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            )
            yield snapshot
        finally:
            if snapshot._conn is not None:
                snapshot._run(snapshot._conn.raw.close())
            snapshot._loop.close()

    def _run(self, work: Awaitable[Any]) -> Any:
        return self._loop.run_until_complete(work)

    def version(self) -> int:
        assert self._conn is not None
        return self._run(PostgresDatabase.stored_version(self._conn))  # type: ignore[no-any-return]

    def stream(self, sql: str, params: Sequence[Any], batch: int) -> Iterator[Row]:
        assert self._conn is not None
        stmt, coerce = self._run(self._conn.statement(sql))
        cursor = self._run(stmt.cursor(*_args(params, coerce)))
        while rows := self._run(cursor.fetch(batch)):
            yield from rows
