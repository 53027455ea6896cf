"""Throw-away PostgreSQL databases for the benchmarks' ``--storage postgresql://…`` runs.

The URL given names a server (and the credentials, and any session settings in its query,
e.g. ``?synchronous_commit=off``); each run gets a database of its own on it, created
empty and dropped afterwards, so a benchmark never meets the rows of another run or of a
deployment. Databases rather than schemas: bench/watch.py copies its seeded city for each
measured pass with ``CREATE DATABASE … TEMPLATE``, as it copies the SQLite file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from itertools import count
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

_numbers = count()


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _admin(url: str) -> str:
    """The same server and settings, on the maintenance database (``postgres``)."""
    parts = urlsplit(url)
    # Session settings of the benchmark are not wanted on the admin connection.
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k in ("sslmode", "user")])
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", query, ""))


def fresh_name(label: str) -> str:
    return f"posko_bench_{label}_{os.getpid()}_{next(_numbers)}"


async def create(url: str, name: str, template: str | None = None) -> str:
    """Create the database ``name`` (empty, or a copy of ``template``); its URL."""
    conn = await asyncpg.connect(_admin(url))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if template is None:
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        else:
            # FILE_COPY: a copy of the files, as shutil.copyfile of the SQLite database.
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    finally:
        await conn.close()
    return with_database(url, name)


async def drop(url: str, name: str) -> None:
    conn = await asyncpg.connect(_admin(url))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def scratch(url: str, label: str) -> AsyncIterator[str]:
    """A fresh empty database for the run; dropped on the way out, whatever happens."""
    name = fresh_name(label)
    target = await create(url, name)
    try:
        yield target
    finally:
        await drop(url, name)
