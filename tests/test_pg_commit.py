"""PostgreSQL commits (storage/postgres.py): the bot's transactions do not wait for the WAL
flush, as SQLite's do not in WAL mode with synchronous=NORMAL, except the ones that must
outlive the server's crash (the inbox's stored updates) and unless the URL asks for it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from storage.db import Database

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

SETTING = "SELECT current_setting('synchronous_commit')"


def _with_query(url: str, **settings: str) -> str:
    """The test URL (its schema kept) with its synchronous_commit replaced by ``settings``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "synchronous_commit"]
    query += list(settings.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_only_durable_transactions_wait_for_the_flush(migrated_db: str) -> None:
    db = await Database.open(_with_query(migrated_db))
    try:
        async with db.transaction() as tx:
            assert await tx.scalar(SETTING) == "off"
        async with db.transaction(durable=True) as tx:
            assert await tx.scalar(SETTING) == "on"
        async with db.transaction() as tx:  # SET LOCAL: the next one is fast again
            assert await tx.scalar(SETTING) == "off"
        async with db.read() as tx:
            assert await tx.scalar(SETTING) == "off"
    finally:
        await db.close()


async def test_the_url_may_ask_every_commit_to_wait(migrated_db: str) -> None:
    db = await Database.open(_with_query(migrated_db, synchronous_commit="on"))
    try:
        async with db.transaction() as tx:
            assert await tx.scalar(SETTING) == "on"
    finally:
        await db.close()
