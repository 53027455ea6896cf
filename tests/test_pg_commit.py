"""PostgreSQL commits (storage/postgres.py): the bot's transactions do not wait for the WAL
flush, as SQLite's do not in WAL mode with synchronous=NORMAL, except the ones that must
outlive the server's crash (the inbox's stored updates) and unless the URL asks for it."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
from telegram import Update

from bot.core.clock import FakeClock
from bot.core.inbox import Inbox
from storage.db import Database, Tx
from storage.postgres import PostgresDatabase, _written_in
from tests.conftest import T0

on_postgresql = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

STAMP = "2026-11-27T01:00:00.000000+00:00"
SETTING = "SELECT current_setting('synchronous_commit')"


def _with_query(url: str, **settings: str) -> str:
    """The test URL (its schema kept) with its synchronous_commit replaced by ``settings``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "synchronous_commit"]
    query += list(settings.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@on_postgresql
async def test_only_durable_transactions_wait_for_the_flush(migrated_db: str) -> None:
    db = await Database.open(_with_query(migrated_db))
    try:
        async with db.transaction() as tx:
            assert await tx.scalar(SETTING) == "off"
        async with db.standalone(durable=True) as tx:
            assert await tx.scalar(SETTING) == "on"
        async with db.transaction() as tx:  # SET LOCAL: the next one is fast again
            assert await tx.scalar(SETTING) == "off"
        async with db.read() as tx:
            assert await tx.scalar(SETTING) == "off"
    finally:
        await db.close()


@on_postgresql
async def test_the_url_may_ask_every_commit_to_wait(migrated_db: str) -> None:
    db = await Database.open(_with_query(migrated_db, synchronous_commit="on"))
    try:
        async with db.transaction() as tx:
            assert await tx.scalar(SETTING) == "on"
    finally:
        await db.close()


class _Recording(PostgresDatabase):
    """Notes each write transaction: beside the writers or among them, durable or not."""

    writes: list[tuple[str, bool]]

    def _unit(self, write: bool) -> AbstractAsyncContextManager[Tx]:
        if write:
            self.writes.append(("writer", False))
        return super()._unit(write)

    def standalone(self, *, durable: bool = False) -> AbstractAsyncContextManager[Tx]:
        self.writes.append(("beside", durable))
        return super().standalone(durable=durable)


@on_postgresql
async def test_the_inbox_stores_updates_durably_beside_the_writers(migrated_db: str) -> None:
    db = await _Recording.connect(_with_query(migrated_db))
    db.writes = []
    inbox = Inbox(FakeClock(T0))
    inbox.db = db
    try:
        async with db.transaction() as tx:  # a handler's writer holds the writers' lock …
            await tx.execute("UPDATE posts SET name = name")
            # … and the updates still get stored (inserts that skip what exists)
            await asyncio.wait_for(inbox.store([Update(41), Update(42)]), 5)
        async with db.standalone() as tx:
            assert await tx.scalar(SETTING) == "off"
        handled = inbox.begin(Update(41))
        assert handled is not None
        async with db.transaction() as tx:  # the handler's effects, with the done mark
            assert await tx.scalar("SELECT state FROM inbox WHERE update_id = 41") == "done"
    finally:
        await db.close()
    assert db.writes == [("writer", False), ("beside", True), ("beside", False), ("writer", False)]


def test_values_are_written_in_as_quoted_literals_or_not_at_all() -> None:
    sql = "UPDATE inbox SET state = 'done', done_at = ? WHERE update_id = ? AND state = ?"
    assert _written_in(sql, ("2026-11-27T01:00:00+00:00", 41, None)) == (
        "UPDATE inbox SET state = 'done', done_at = '2026-11-27T01:00:00+00:00'"
        " WHERE update_id = '41' AND state = NULL"
    )
    assert _written_in("SELECT ?", ("it's",)) == "SELECT 'it''s'"
    assert _written_in("SELECT ?", (5.0,)) is None  # a float's text depends on its column
    assert _written_in("SELECT ?", (True,)) is None  # left to the prepared statement
    assert _written_in("SELECT ?", (b"raw",)) is None
    assert _written_in("SELECT ?", ("nul\x00",)) is None
    assert _written_in("SELECT ?, ?", (1,)) is None  # the prepared statement says what is wrong


@on_postgresql
async def test_the_first_statement_rides_with_begin_and_means_the_same(migrated_db: str) -> None:
    db = await Database.open(migrated_db)
    awkward = "O'Brien'; DROP TABLE posts; -- \\ $1 ?"
    try:
        async with db.transaction() as tx:  # first: written in, sent with BEGIN
            changed = await tx.execute(
                "INSERT INTO areas (code, name, level, parent_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                ("31.99", awkward, "kota", None, STAMP, STAMP),
            )
            assert changed == 1
        async with db.transaction() as tx:  # first: a bool, so a prepared statement
            assert await tx.execute("UPDATE areas SET name = name WHERE ?", (True,)) == 1
        async with db.read() as tx:
            assert await tx.scalar("SELECT name FROM areas WHERE code = '31.99'") == awkward
            assert await tx.scalar("SELECT count(*) FROM posts") == 0
        with pytest.raises(asyncpg.PostgresError):  # an error in it fails the transaction
            async with db.transaction() as tx:
                await tx.execute("UPDATE areas SET level = ? WHERE code = ?", (None, "31.99"))
        async with db.transaction():
            pass  # nothing sent at all: no BEGIN, no COMMIT
        async with db.read() as tx:
            assert await tx.scalar("SELECT level FROM areas WHERE code = '31.99'") == "kota"
    finally:
        await db.close()
