"""Databases for the tests on both back ends.

On PostgreSQL every test gets a database state of its own: a schema in the database
``posko_tests`` that no other running test uses (one per test process, so pytest-xdist
workers and concurrent runs never meet), reset before each test to exactly the migrated,
seeded sample city. The URL selects the schema (``search_path``), so the bot under test
sees an ordinary database.

Why not CREATE DATABASE per test: on the CI machines creating a database (even from a
template) and dropping it cost about 4 s, and migrating a schema from scratch about
1.5 s; a reset (delete every row, copy the seeded rows back, restart the identities) is
one round trip of a few milliseconds.

The server is ``$POSKO_TEST_POSTGRES`` (an admin URL), else postgres@127.0.0.1:5432
(database ``postgres``, then ``test``). When none answers, PostgreSQL tests are skipped,
saying so.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_ADMIN_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://postgres@127.0.0.1:5432/test",
)
TESTS_DATABASE = "posko_tests"
CREATE_LOCK = 0x706F736B6F + 1
# Tests throw their data away: no need to wait for the disk at each commit.
SESSION_OPTIONS = "synchronous_commit=off"

_admin: str | None = None
_unreachable: str | None = None
_ready_database = False
_reset_sql: dict[str, str] = {}  # seed key → the statements restoring the seeded state


async def admin_url() -> str | None:
    """A URL on which we may CREATE DATABASE, or None (see :func:`why_not`)."""
    global _admin, _unreachable
    if _admin is not None or _unreachable is not None:
        return _admin
    configured = os.environ.get("POSKO_TEST_POSTGRES")
    candidates = (configured,) if configured else DEFAULT_ADMIN_URLS
    problems = []
    for url in candidates:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            problems.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        await conn.close()
        _admin = url
        return url
    _unreachable = "; ".join(problems)
    return None


def why_not() -> str:
    return f"PostgreSQL: no server answers ({_unreachable}); set POSKO_TEST_POSTGRES"


def url_of(admin: str, schema: str) -> str:
    parts = urlsplit(admin)
    query = f"{SESSION_OPTIONS}&search_path={schema}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{TESTS_DATABASE}", query, ""))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _tests_database(admin: str) -> asyncpg.Connection:
    """A connection to the tests' database, created once; schemas that processes no longer
    running left behind are dropped on the way."""
    global _ready_database
    if not _ready_database:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f"SELECT pg_advisory_lock({CREATE_LOCK})")
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", TESTS_DATABASE
            )
            if not exists:
                await conn.execute(
                    f"CREATE DATABASE {TESTS_DATABASE} TEMPLATE template0 ENCODING 'UTF8'"
                )
            await conn.execute(f"SELECT pg_advisory_unlock({CREATE_LOCK})")
        finally:
            await conn.close()
    conn = await asyncpg.connect(url_of(admin, "public"))
    if not _ready_database:
        _ready_database = True
        for (schema,) in await conn.fetch(
            "SELECT nspname FROM pg_namespace"
            " WHERE nspname ~ '^(run|seed|empty|build)_[0-9]+(_[0-9]+)?$'"
        ):
            if not _alive(int(schema.split("_")[1])):
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return conn


async def empty(admin: str, number: int = 0) -> str:
    """The URL of a schema with nothing in it (not migrated); ``number`` tells apart the
    empty databases one test uses at once."""
    schema = f"empty_{os.getpid()}_{number}"
    conn = await _tests_database(admin)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    return url_of(admin, schema)


async def seeded(admin: str, seed_key: str, seed: Callable[[str], Awaitable[None]]) -> str:
    """The URL of this process's schema, holding exactly what ``seed`` made of a fresh
    database (migrated, and filled as the key says). The first call per key builds it in a
    scratch schema and keeps a copy of its rows; later calls swap the rows back in."""
    pid = os.getpid()
    schema = f"run_{pid}"
    url = url_of(admin, schema)
    conn = await _tests_database(admin)
    try:
        reset = _reset_sql.get(seed_key)
        if reset is None:
            reset = await _build(conn, admin, schema, seed, len(_reset_sql))
            _reset_sql[seed_key] = reset
        await conn.execute(reset)
        return url
    finally:
        await conn.close()


async def _build(
    conn: asyncpg.Connection,
    admin: str,
    schema: str,
    seed: Callable[[str], Awaitable[None]],
    number: int,
) -> str:
    pid = os.getpid()
    scratch, copy = f"build_{pid}", f"seed_{pid}_{number}"
    await conn.execute(
        f"DROP SCHEMA IF EXISTS {scratch} CASCADE; DROP SCHEMA IF EXISTS {copy} CASCADE;"
        f" CREATE SCHEMA {scratch}; CREATE SCHEMA {copy}"
    )
    await seed(url_of(admin, scratch))
    tables = [
        row[0]
        for row in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1", scratch
        )
    ]
    for table in tables:
        await conn.execute(f"CREATE TABLE {copy}.{table} AS SELECT * FROM {scratch}.{table}")
    # Every seed migrates to the same schema: the first becomes this process's database.
    has_run = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
    if has_run:
        await conn.execute(f"DROP SCHEMA {scratch} CASCADE")
    else:
        await conn.execute(f"ALTER SCHEMA {scratch} RENAME TO {schema}")
    identities = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND is_identity = 'YES'",
        schema,
    )
    # Foreign keys are not checked while the rows are swapped (the copy is consistent).
    statements = ["BEGIN", "SET LOCAL session_replication_role = replica"]
    statements += [f"DELETE FROM {schema}.{table}" for table in tables]
    statements += [f"INSERT INTO {schema}.{table} SELECT * FROM {copy}.{table}" for table in tables]
    statements += [
        f"SELECT setval(pg_get_serial_sequence('{schema}.{table}', '{column}'),"
        f" coalesce((SELECT max({column}) FROM {schema}.{table}), 0) + 1, false)"
        for table, column in identities
    ]
    statements.append("COMMIT")
    return ";\n".join(statements)
