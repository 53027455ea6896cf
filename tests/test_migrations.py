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


# The shape of a database through its own catalog: SQLite keeps each object's SQL; on
# PostgreSQL, columns (type, nullability, default, collation), indexes and constraints.
_PG_SHAPE = """
SELECT table_name || '.' || column_name, data_type || ' ' || is_nullable || ' '
       || coalesce(column_default, '') || ' ' || coalesce(collation_name, '')
  FROM information_schema.columns WHERE table_schema = current_schema()
UNION ALL
SELECT indexname, replace(indexdef, current_schema() || '.', '')
  FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL
SELECT CAST(CAST(conrelid AS regclass) AS text) || '.' || conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = CAST(current_schema() AS regnamespace)
"""


async def _shape(db: Database) -> list[tuple[str, str]]:
    async with db.read() as tx:
        if tx.dialect == "sqlite":
            rows = await tx.all(
                "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            )
        else:
            rows = await tx.all(_PG_SHAPE)
    return sorted((str(row[0]), str(row[1] or "")) for row in rows)


async def _tables(db: Database) -> set[str]:
    async with db.read() as tx:
        if tx.dialect == "sqlite":
            rows = await tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = await tx.all(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
    return {str(row[0]) for row in rows}


async def test_fresh_database_reaches_latest(empty_db: Path | str) -> None:
    db = await Database.open(empty_db)
    assert await db.migrate() == (0, LATEST)
    assert await db.schema_version() == LATEST
    tables = await _tables(db)
    await db.close()
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


async def test_rerun_is_idempotent(empty_db: Path | str) -> None:
    db = await Database.open(empty_db)
    await db.migrate()
    before = await _shape(db)
    assert await db.migrate() == (LATEST, LATEST)
    assert await _shape(db) == before
    await db.close()
    again = await Database.open(empty_db)  # a new process finds it done
    assert await again.migrate() == (LATEST, LATEST)
    await again.close()


@pytest.mark.parametrize("start", sorted({1, 10, LATEST - 1}))
async def test_older_version_upgrades_like_a_fresh_one(
    empty_db: Path | str, other_empty_db: Path | str, start: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On either back end: stop at ``start`` (as a deployment of that day), then upgrade."""
    every = migrations()
    monkeypatch.setattr("storage.db.migrations", lambda: every[:start])
    monkeypatch.setattr("storage.postgres.migrations", lambda: every[:start])
    old = await Database.open(empty_db)
    assert await old.migrate() == (0, start)
    monkeypatch.setattr("storage.db.migrations", lambda: every)
    monkeypatch.setattr("storage.postgres.migrations", lambda: every)
    assert await old.migrate() == (start, LATEST)
    fresh = await Database.open(other_empty_db)
    await fresh.migrate()
    assert await _shape(old) == await _shape(fresh)
    await old.close()
    await fresh.close()


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


async def test_failed_migration_rolls_back(
    empty_db: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [
        *migrations(),
        (LATEST + 1, f"{LATEST + 1:04d}_broken.sql", "CREATE TABLE half (x TEXT);\nNOT SQL;"),
    ]
    monkeypatch.setattr("storage.db.migrations", lambda: broken)
    monkeypatch.setattr("storage.postgres.migrations", lambda: broken)
    db = await Database.open(empty_db)
    with pytest.raises(RuntimeError, match="broken"):
        await db.migrate()
    assert await db.schema_version() == LATEST
    assert "half" not in await _tables(db)
    await db.close()


async def test_follow_up_clocks_start_for_what_is_in_flight(tmp_path: Path) -> None:
    """Migration 0010: a taken alert and an accepted report that exist before it get a
    deadline (due at once), so nothing taken before the upgrade goes quiet for good."""
    path = tmp_path / "inflight.db"
    before = [m for m in migrations() if m[0] < 10]
    t = "2026-11-27T12:00:00+00:00"
    with sqlite3.connect(path) as conn:
        for version, _, sql in before:
            conn.executescript(sql)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.executescript(
            f"""
            INSERT INTO areas (id, code, name, level, created_at, updated_at)
              VALUES (1, '31', 'DKI', 'provinsi', '{t}', '{t}');
            INSERT INTO posts (id, code, name, area_id, created_at, updated_at, next_due_at)
              VALUES (1, 'A-1', 'Posko A', 1, '{t}', '{t}', '2026-11-28T00:00:00+00:00'),
                     (2, 'B-1', 'Posko B', 1, '{t}', '{t}', NULL);
            INSERT INTO members (id, ref, name, created_at, updated_at)
              VALUES (1, 'camat', 'Camat', '{t}', '{t}');
            INSERT INTO alerts (id, post_id, kind, opened_at, acked_by, acked_at)
              VALUES (1, 1, 'silent', '{t}', 1, '2026-11-27T12:05:00+00:00');
            INSERT INTO alerts (id, post_id, kind, opened_at) VALUES (2, 2, 'unstaffed', '{t}');
            INSERT INTO issues (id, ref, post_id, reporter_id, category, severity, text,
                                status, created_at, updated_at)
              VALUES (1, 'A-1/0001', 1, 1, 'logistik', 'sedang', 'x', 'diterima', '{t}', '{t}'),
                     (2, 'A-1/0002', 1, 1, 'logistik', 'sedang', 'y', 'baru', '{t}', '{t}');
            """
        )
    db = await Database.open(path)
    await db.migrate()
    await db.close()
    with sqlite3.connect(path) as conn:
        alerts = conn.execute("SELECT id, next_due_at FROM alerts ORDER BY id").fetchall()
        posts = conn.execute("SELECT id, next_due_at FROM posts ORDER BY id").fetchall()
        issues = conn.execute("SELECT id, follow_up_due_at FROM issues ORDER BY id").fetchall()
    assert alerts == [(1, "2026-11-27T12:05:00+00:00"), (2, None)]
    assert posts == [(1, "2026-11-27T12:05:00+00:00"), (2, None)]
    assert issues == [(1, t), (2, None)]
