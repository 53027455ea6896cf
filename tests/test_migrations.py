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
