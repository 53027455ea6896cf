"""The database: one interface (Tx, Database) over SQLite (here) and PostgreSQL
(storage/postgres.py), chosen by :meth:`Database.open` from a path or a postgresql:// URL.

SQLite: the connection, its pragmas, transactions and the migration runner.

Short units of work (every handler's and the watcher's) run on the event loop's own
thread through a plain ``sqlite3`` connection: an indexed statement in WAL mode takes
microseconds, while a hop to a database thread costs a turn of the event loop, and under
load those turns, multiplied by the statements of a unit and taken while the write lock
is held, were what capped throughput (bench/updates.py). Each unit holds
``Database.lock`` from BEGIN to COMMIT so that units never interleave, and waits for
another process's write lock (an import, a backup) with ``asyncio.sleep``, never by
blocking the loop. Long reads that should not hold up the loop (exports, big listings)
use ``Database.snapshot()``, which runs on aiosqlite's worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import aiosqlite


class Row(Protocol):
    """A result row: by index and by column name, like sqlite3.Row (asyncpg's Record is one)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> list[str]: ...


Params = Sequence[Any] | dict[str, Any]
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password (in the user part or as ``?password=``), for logs and
    messages; the rest as written (an IPv6 host keeps its brackets, a bad port stays)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        if ":" in user:
            netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = "&".join(
        f"{pair.split('=', 1)[0]}=***"
        if unquote(pair.split("=", 1)[0]).lower() in _SECRET_PARAMETERS
        else pair
        for pair in parts.query.split("&")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_SECRET_PARAMETERS = frozenset({"password", "sslpassword", "passfile"})


class DatabaseUnavailable(RuntimeError):
    """The database server could not be reached (the message names it, never a password)."""


class BackupUnsupported(RuntimeError):
    """This back end is backed up with its own tools (PostgreSQL: pg_dump)."""


_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# How long to keep asking for the write lock another process holds (an import, a backup).
WRITE_LOCK_PATIENCE = 10.0

log = logging.getLogger(__name__)

T = TypeVar("T")


@lru_cache(maxsize=4096)
def to_db(moment: datetime | None) -> str | None:
    """The stored text of a moment (UTC, microseconds). Cached: a pass writes the same few
    moments (now, now + a delay) thousands of times, and equal aware datetimes are the same
    instant, so they have the same text whatever their time zone."""
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


class WriteConflict(Exception):
    """A compare-and-swap found its row changed under it: the transaction, run again, will
    see the change (``Database.concurrently`` does so)."""


class Tx:
    """A transaction in progress; the only way repository functions reach the database.

    Statements are written once, in SQLite's dialect with ``?`` placeholders; the
    PostgreSQL back end translates them (storage/dialect.py). The methods are coroutines
    so that the networked back end fits the same interface; on SQLite they complete
    without suspending.
    """

    dialect = "sqlite"

    def __init__(self) -> None:
        # Set by writers so that, after COMMIT, the sender and the watcher are woken.
        self.touched_outbox = False
        self.touched_deadlines = False
        # Changes a live view should hear of (the command room's event stream), handed to
        # Database.on_events only after COMMIT, so nobody hears of a change rolled back.
        self.events: list[dict[str, Any]] = []

    def publish(self, topic: str, **fields: Any) -> None:
        """Announce a change (``topic`` such as "post", "alert", "issue", "forward",
        "circular", "slot") to the in-process listeners once this transaction commits."""
        self.events.append({"topic": topic, **fields})

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        raise NotImplementedError

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an INSERT into a table with an ``id`` key; return the new row's id."""
        raise NotImplementedError

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        """Run a statement once per row; return the rows changed in all (for
        compare-and-swap batches: how many really moved)."""
        raise NotImplementedError

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        raise NotImplementedError

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        raise NotImplementedError

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        row = await self.one(sql, params)
        return None if row is None else row[0]


class SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__()
        self._sync = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        return self._sync.execute(sql, params).rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        row_id = self._sync.execute(sql, params).lastrowid
        if row_id is None:
            raise RuntimeError("insert did not produce a row id")
        return row_id

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        return self._sync.executemany(sql, rows).rowcount

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._sync.execute(sql, params).fetchone()
        return row

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(self._sync.execute(sql, params).fetchall())


class HandledUpdate:
    """The Telegram update the current task is handling (the durable inbox, SPEC §11).

    ``Database.transaction()`` runs ``record`` (storage.inbox.mark_done) inside the first
    write transaction of the update, so its effects and its being done commit together:
    a crash before that COMMIT leaves it pending (replayed), a crash after leaves it done
    (never processed again). One object is shared by every task the handler starts, so
    only one transaction carries the mark at a time (``claim``), and once one committed
    with it no other does.
    """

    __slots__ = ("carried", "done", "record", "update_id")

    def __init__(self, update_id: int, record: Callable[[Tx, int], Awaitable[object]]) -> None:
        self.update_id = update_id
        self.record = record
        self.done = False
        self.carried = False
        """A transaction carrying the mark is under way (until it commits or rolls back)."""

    def claim(self) -> bool:
        """Whether the transaction starting now carries the mark (no other has it)."""
        if self.done or self.carried:
            return False
        self.carried = True
        return True

    def settle(self, committed: bool) -> None:
        """The carrying transaction ended: the mark is done, or free for the next."""
        self.carried = False
        self.done = self.done or committed


handled_update: ContextVar[HandledUpdate | None] = ContextVar("handled_update", default=None)


@contextmanager
def carrying(handled: HandledUpdate | None) -> Iterator[HandledUpdate | None]:
    """Around one write transaction: the update whose done mark it is to record (None when
    there is none, or another transaction has it), settled as done when the block ends
    without an exception (after COMMIT) and freed for the next one otherwise."""
    if handled is None or not handled.claim():
        yield None
        return
    committed = False
    try:
        yield handled
        committed = True
    finally:
        handled.settle(committed)


class ThreadTx(SqliteTx):
    """A read on aiosqlite's worker thread: for long queries that must not stall the loop."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__(sqlite3.connect(":memory:"))
        self._thread = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return (await self._thread.execute(sql, params)).rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        raise RuntimeError("a snapshot is read-only")

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        raise RuntimeError("a snapshot is read-only")

    async def one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self._thread.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._thread.execute_fetchall(sql, params))


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Never block the event loop waiting for another process: BEGIN retries asynchronously.
    conn.execute("PRAGMA busy_timeout=20")
    # A due pass at city scale touches a few thousand pages (posts, their index, outbox
    # rows); with SQLite's default 2 MB cache it spilled dirty pages mid-transaction and
    # read the same post pages twice (bench/watch.py).
    conn.execute("PRAGMA cache_size=-32000")
    return conn


class Database:
    """The store every unit of work goes through, whichever the back end.

    Units never interleave within a process: each holds ``lock`` from BEGIN to COMMIT
    (on PostgreSQL, ``concurrently``'s overlap one another, and no other unit).
    After COMMIT, the listeners hear of what it touched (``on_outbox``, ``on_deadlines``)
    and of the changes it published (``on_events``).
    """

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = asyncio.Lock()
        self.on_outbox: list[Callable[[], None]] = []
        self.on_deadlines: list[Callable[[], None]] = []
        self.on_events: list[Callable[[list[dict[str, Any]]], None]] = []

    @classmethod
    async def open(cls, target: str | Path) -> Database:
        """SQLite at a file path (or ``:memory:``), PostgreSQL at a ``postgresql://`` URL."""
        if is_postgres(target):
            from storage.postgres import PostgresDatabase

            return await PostgresDatabase.connect(str(target))
        return await SqliteDatabase.connect(target)

    def _unit(self, write: bool) -> AbstractAsyncContextManager[Tx]:
        """BEGIN … COMMIT (or ROLLBACK on error; always ROLLBACK when not ``write``),
        called with ``lock`` held."""
        raise NotImplementedError

    @asynccontextmanager
    async def transaction(self, *, bookkeeping: bool = False) -> AsyncIterator[Tx]:
        """A write transaction. ``bookkeeping`` marks one that only notes something about
        the sender (reachable again, app language) before the update's own work: it does
        not carry the update's done mark, which must commit with the handler's effects."""
        handled = None if bookkeeping else handled_update.get()
        async with self.lock:
            with carrying(handled) as mark:
                async with self._unit(write=True) as tx:
                    if mark is not None:
                        await mark.record(tx, mark.update_id)
                    yield tx
        self._announce(tx)

    async def concurrently(
        self, work: Callable[[Tx], Awaitable[T]], *, bookkeeping: bool = False
    ) -> T:
        """``work`` in a write transaction that may run beside other ``concurrently`` ones:
        for the officers' hot paths (check-in, all clear, a one-shot report; the gate's
        notes on the sender's own member row), whose read-then-writes on rows another
        officer's update could change all come after the post's row is locked
        (storage.shifts.open_locking_post, storage.posts.lock, the issue number's UPDATE),
        which orders two updates of one post as the writers' turn would. Every other write
        transaction still runs alone. ``work`` may run more than once (a deadlock between
        two posts' row locks, a compare-and-swap that found its row changed, a second open
        shift of one member from two processes roll it back and run it again), so it must
        act only through ``tx``.
        SQLite runs it as any other transaction; PostgreSQL on writer connections of its
        own (storage/postgres.py). It carries the update's done mark unless
        ``bookkeeping``, as ``transaction``."""
        async with self.transaction(bookkeeping=bookkeeping) as tx:
            return await work(tx)

    def standalone(self, *, durable: bool = False) -> AbstractAsyncContextManager[Tx]:
        """A write transaction made of statements each safe on its own, whatever another
        writer does meanwhile (an insert that skips what exists, an update by key), with no
        read-then-write to protect: it needs no turn among the writers. SQLite runs it as
        any other; PostgreSQL on a connection of its own, beside the writers and without
        their lock (the inbox stores a getUpdates batch there while handlers write). It
        never carries an update's done mark. ``durable``: COMMIT returns only once the
        commit would survive the database server's crash (PostgreSQL's other commits do not
        wait for the WAL flush; SQLite's are all alike, WAL with synchronous=NORMAL); on
        PostgreSQL each of its statements then commits on its own, as each is safe alone,
        and a crash may keep the first and lose the rest."""
        return self.transaction(bookkeeping=True)

    def _announce(self, tx: Tx) -> None:
        """Tell the listeners what a committed transaction touched."""
        # Only after COMMIT: a woken sender must find the rows it is told about.
        if tx.touched_outbox:
            for listener in self.on_outbox:
                listener()
        if tx.touched_deadlines:
            for listener in self.on_deadlines:
                listener()
        if tx.events:
            for on_events in self.on_events:
                on_events(tx.events)

    @asynccontextmanager
    async def read(self, *, consistent: bool = True) -> AsyncIterator[Tx]:
        """A consistent read with nothing to commit. ``consistent=False``, for a read of one
        statement: each statement sees what was committed when it ran, which on PostgreSQL
        spares the round trips of BEGIN and ROLLBACK (on SQLite it changes nothing)."""
        async with self.lock, self._unit(write=False) as tx:
            yield tx

    def snapshot(self) -> AbstractAsyncContextManager[Tx]:
        """A consistent read on a second connection: for long queries (exports, long
        listings) that should not hold up the event loop or the write lock."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def schema_version(self) -> int:
        raise NotImplementedError

    async def migrate(self) -> tuple[int, int]:
        """Apply every migration newer than the stored version, each in its own
        transaction; (version before, version after)."""
        raise NotImplementedError

    async def check_integrity(self) -> list[str]:
        """Problems found by the database's own checks (empty when healthy)."""
        raise NotImplementedError

    async def backup(self, target: str | Path) -> None:
        raise NotImplementedError

    def checkpoint_elsewhere(self) -> None:
        """Hand housekeeping the database would do inside a commit to :meth:`checkpoint`."""

    async def checkpoint(self) -> None:
        """Periodic housekeeping off the event loop (nothing unless the back end needs it)."""


class SqliteDatabase(Database):
    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        super().__init__(path)
        self._sync = conn
        self._thread: aiosqlite.Connection | None = None
        self._beside: sqlite3.Connection | None = None
        self._beside_lock = asyncio.Lock()
        self._autocheckpoint = True

    @classmethod
    async def connect(cls, path: str | Path) -> SqliteDatabase:
        target = str(path)
        if target.startswith(("postgresql:/", "postgres:/")):
            # a URL that went through Path() (which eats a slash): never a file to create
            raise ValueError(f"{target} is a PostgreSQL URL, not a file: set [storage] url")
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        return cls(_connect(target), target)

    def checkpoint_elsewhere(self) -> None:
        """The long-running bot hands WAL checkpoints to :meth:`checkpoint` (a job on a
        worker thread): SQLite's automatic one runs inside whichever commit crosses 1,000
        pages, and a city-wide watcher pass would pay for it on the event loop."""
        self._autocheckpoint = False
        for conn in (self._sync, self._beside):
            if conn is not None:
                conn.execute("PRAGMA wal_autocheckpoint=0")

    def standalone(self, *, durable: bool = False) -> AbstractAsyncContextManager[Tx]:
        if self.path == ":memory:":  # a second connection would be another database
            return super().standalone(durable=durable)
        return self._standalone()

    @asynccontextmanager
    async def _standalone(self) -> AsyncIterator[Tx]:
        """On a second connection, so it waits only for a transaction open right now (a
        unit suspended mid-way), never behind every unit queued on ``lock``: the inbox's
        store of a batch, between two polls, is not held up by a burst of handlers. Its
        statements never suspend, so it holds SQLite's write lock for one turn of the loop."""
        async with self._beside_lock:
            if self._beside is None:
                self._beside = _connect(self.path)
                self._beside.execute("PRAGMA busy_timeout=0")  # never block the loop
                if not self._autocheckpoint:
                    self._beside.execute("PRAGMA wal_autocheckpoint=0")
            async with self._on(self._beside, write=True) as tx:
                yield tx
        self._announce(tx)

    async def checkpoint(self) -> None:
        """Copy the WAL back into the database on a worker thread, without blocking writers
        (PASSIVE): what the automatic checkpoint would have done inside a commit."""
        if self.path == ":memory:":
            return

        def run() -> None:
            conn = sqlite3.connect(self.path, timeout=1.0)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()

        try:
            await asyncio.to_thread(run)
        except sqlite3.Error as exc:  # busy now: the next tick tries again
            log.debug("wal checkpoint skipped: %s", exc)

    async def close(self) -> None:
        async with self.lock:
            if self._thread is not None:
                await self._thread.close()
                self._thread = None
            if self._beside is not None:
                self._beside.close()
                self._beside = None
            self._sync.close()

    async def schema_version(self) -> int:
        async with self.lock:
            row = self._sync.execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> tuple[int, int]:
        """Apply every migration newer than ``user_version``, each in its own transaction."""
        before = await self.schema_version()
        current = before
        for version, name, sql in migrations():
            if version <= current:
                continue
            async with self.lock:
                # Migrations run before the bot serves anyone: waiting here blocks nothing.
                self._sync.execute("PRAGMA busy_timeout=5000")
                try:
                    self._sync.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except sqlite3.Error as exc:
                    if self._sync.in_transaction:
                        self._sync.execute("ROLLBACK")
                    raise RuntimeError(f"migration {name} failed: {exc}") from exc
                finally:
                    self._sync.execute("PRAGMA busy_timeout=20")
            current = version
        return before, current

    async def _begin(self, statement: str, conn: sqlite3.Connection | None = None) -> None:
        """BEGIN, waiting without blocking the loop while another process (or connection)
        writes."""
        conn = self._sync if conn is None else conn
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WRITE_LOCK_PATIENCE
        pause = 0.002
        while True:
            try:
                conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _unit(self, write: bool) -> AbstractAsyncContextManager[Tx]:
        return self._on(self._sync, write)

    @asynccontextmanager
    async def _on(self, conn: sqlite3.Connection, write: bool) -> AsyncIterator[Tx]:
        """BEGIN IMMEDIATE (BEGIN for a read) on ``conn``; COMMIT, or ROLLBACK on error and
        after a read."""
        await self._begin("BEGIN IMMEDIATE" if write else "BEGIN", conn)
        tx = SqliteTx(conn)
        try:
            yield tx
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT" if write else "ROLLBACK")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Tx]:  # type: ignore[override]
        """Runs on aiosqlite's thread; WAL lets it read while writers go on."""
        if self._thread is None:
            self._thread = await aiosqlite.connect(self.path, isolation_level=None)
            self._thread.row_factory = sqlite3.Row
            await self._thread.execute("PRAGMA busy_timeout=5000")
        await self._thread.execute("BEGIN")
        try:
            yield ThreadTx(self._thread)
        finally:
            await self._thread.execute("ROLLBACK")

    async def check_integrity(self) -> list[str]:
        """Problems found by SQLite's own checks (empty when healthy)."""
        async with self.read() as tx:
            problems = [str(tuple(row)) for row in await tx.all("PRAGMA foreign_key_check")]
            result = await tx.scalar("PRAGMA quick_check")
        if result != "ok":
            problems.append(str(result))
        return problems

    async def backup(self, target: str | Path) -> None:
        """Online copy of a live database (SQLite backup API) while the bot keeps running.
        Runs on a worker thread with its own connection, so the bot keeps answering."""

        def copy() -> None:
            source = sqlite3.connect(self.path)
            destination = sqlite3.connect(str(target))
            try:
                source.backup(destination)
            finally:
                destination.close()
                source.close()

        await asyncio.to_thread(copy)
