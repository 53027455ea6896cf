"""Schema loader: fresh → latest, each older version → latest, and a rerun changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.db import Database, migrations

LATEST = len(migrations())


def _schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return sorted(
            (row[0], row[1] or "")
            for row in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            )
        )


async def test_fresh_database_reaches_latest(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "fresh.db")
    assert await db.migrate() == (0, LATEST)
    assert await db.schema_version() == LATEST
    await db.close()
    tables = {name for name, _ in _schema(tmp_path / "fresh.db")}
    for table in (
        "areas",
        "posts",
        "members",
        "member_roles",
        "assignments",
        "scopes",
        "invites",
        "shifts",
        "signals",
        "issues",
        "issue_events",
        "alerts",
        "outbox",
        "circulars",
        "circular_recipients",
        "audit_log",
        "drafts",
    ):
        assert table in tables


async def test_rerun_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    db = await Database.open(path)
    await db.migrate()
    before = _schema(path)
    assert await db.migrate() == (LATEST, LATEST)
    await db.close()
    assert _schema(path) == before


@pytest.mark.parametrize("start", range(1, LATEST + 1))
async def test_each_version_upgrades_to_latest(tmp_path: Path, start: int) -> None:
    """Build a database at ``start`` by applying the first migrations by hand, then migrate."""
    path = tmp_path / f"v{start}.db"
    with sqlite3.connect(path) as conn:
        for version, _, sql in migrations()[:start]:
            conn.executescript(sql)
            conn.execute(f"PRAGMA user_version = {version}")
    db = await Database.open(path)
    assert await db.migrate() == (start, LATEST)
    await db.close()
    fresh = tmp_path / "fresh.db"
    ref = await Database.open(fresh)
    await ref.migrate()
    await ref.close()
    assert _schema(path) == _schema(fresh)


async def test_pragmas_are_set(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "p.db")
    async with db.read() as tx:
        assert await tx.scalar("PRAGMA foreign_keys") == 1
        assert await tx.scalar("PRAGMA synchronous") == 1  # NORMAL
    async with db.lock:
        pass
    await db.close()
    with sqlite3.connect(tmp_path / "p.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = [
        *migrations(),
        (LATEST + 1, f"{LATEST + 1:04d}_broken.sql", "CREATE TABLE half (x);\nTHIS IS NOT SQL;"),
    ]
    monkeypatch.setattr("storage.db.migrations", lambda: broken)
    db = await Database.open(tmp_path / "b.db")
    with pytest.raises(RuntimeError, match="broken"):
        await db.migrate()
    assert await db.schema_version() == LATEST
    async with db.read() as tx:
        assert await tx.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'half'") == 0
    await db.close()
