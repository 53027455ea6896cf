"""``posko db copy`` at city scale: a 100,000-post SQLite deployment moved to PostgreSQL.

    .venv/bin/python bench/db_copy.py                  # 100,000 posts
    .venv/bin/python bench/db_copy.py --posts 20000

The SQLite file is migrated by posko, then filled with plain sqlite3 inserts (not
measured): 1 provinsi, 5 kota, 44 kecamatan per kota, 6 kelurahan per kecamatan, N posts
spread over the kelurahan, one officer per post (member, role, assignment) and a week of
shifts for a tenth of them. What is measured (``copy_s``) is
``bot.exchange.db_copy.copy_database`` as the command runs it: the snapshot (backup API),
migrating the empty target, the load in one transaction and the read-back verification
of every table on both sides.

The server is ``$POSKO_BENCH_POSTGRES`` (an admin URL), else postgres@127.0.0.1:5432; the
copy goes to a schema of its own in the database ``posko_bench``, dropped afterwards.
The last line of output is one JSON object: loop_s, posts, rows, copy_s (and rows_per_s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reference import loop_s
from bot.exchange.db_copy import copy_database
from storage.db import Database, to_db

ADMIN = os.environ.get("POSKO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DATABASE = "posko_bench"


async def build_source(path: Path, post_count: int) -> None:
    db = await Database.open(path)
    await db.migrate()
    await db.close()
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    stamp = to_db(now)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        areas: list[tuple[int, str, str, str, int | None]] = [
            (1, "31", "DKI Jakarta", "provinsi", None)
        ]
        kelurahan: list[int] = []
        for k in range(5):
            kota = len(areas) + 1
            areas.append((kota, f"31.7{k}", f"Kota {k}", "kota", 1))
            for c in range(44):
                kec = len(areas) + 1
                areas.append((kec, f"31.7{k}.{c:02d}", f"Kec {k}-{c}", "kecamatan", kota))
                for v in range(6):
                    kel = len(areas) + 1
                    areas.append(
                        (kel, f"31.7{k}.{c:02d}.{1001 + v}", f"Kel {k}-{c}-{v}", "kelurahan", kec)
                    )
                    kelurahan.append(kel)
        conn.executemany(
            "INSERT INTO areas (id, code, name, level, parent_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*area, stamp, stamp) for area in areas],
        )
        conn.executemany(
            "INSERT INTO posts (id, code, name, area_id, latitude, longitude, radius_m, min_staff,"
            " hours, state, state_since, next_due_at, due_kind, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 150, 1, '24h', 'staffed', ?, ?, 'remind', ?, ?)",
            (
                (
                    n,
                    f"P-{n:06d}",
                    f"Posko TPS {n} — Kel. {kelurahan[n % len(kelurahan)]}",
                    kelurahan[n % len(kelurahan)],
                    -6.1 - (n % 1000) / 10_000,
                    106.7 + (n // 1000) / 10_000,
                    stamp,
                    to_db(now + timedelta(minutes=75 + n % 30)),
                    stamp,
                    stamp,
                )
                for n in range(1, post_count + 1)
            ),
        )
        conn.executemany(
            "INSERT INTO members (id, ref, name, telegram_id, registered_at, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (n, f"officer{n}", f"Petugas {n}", 5_000_000_000 + n, stamp, stamp, stamp)
                for n in range(1, post_count + 1)
            ),
        )
        conn.executemany(
            "INSERT INTO member_roles (member_id, role) VALUES (?, 'officer')",
            ((n,) for n in range(1, post_count + 1)),
        )
        conn.executemany(
            "INSERT INTO assignments (member_id, post_id) VALUES (?, ?)",
            ((n, n) for n in range(1, post_count + 1)),
        )
        conn.executemany(
            "INSERT INTO shifts (member_id, post_id, started_at, ended_at, end_reason,"
            " latitude, longitude, accuracy_m, distance_m, inside_geofence, verified,"
            " last_location_at) VALUES (?, ?, ?, ?, 'checkout', ?, ?, 12.5, 30.25, 1, 1, ?)",
            (
                (
                    n,
                    n,
                    to_db(now - timedelta(days=day, hours=8)),
                    to_db(now - timedelta(days=day)),
                    -6.1,
                    106.7,
                    to_db(now - timedelta(days=day)),
                )
                for n in range(1, post_count + 1, 10)
                for day in range(7)
            ),
        )
    conn.close()


def _url(schema: str) -> str:
    parts = urlsplit(ADMIN)
    return urlunsplit(
        (parts.scheme, parts.netloc, f"/{BENCH_DATABASE}", f"search_path={schema}", "")
    )


async def _target(schema: str) -> str:
    conn = await asyncpg.connect(ADMIN)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DATABASE):
            await conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(_url("public"))
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    return _url(schema)


async def _drop(schema: str) -> None:
    conn = await asyncpg.connect(_url("public"))
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    args = parser.parse_args()
    reference = loop_s()
    schema = f"copy_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="posko-bench-copy-") as folder:
        source = Path(folder) / "posko.db"
        built = time.perf_counter()
        await build_source(source, args.posts)
        print(
            f"source: {args.posts} posts, {source.stat().st_size / 1e6:.0f} MB,"
            f" built in {time.perf_counter() - built:.1f} s",
            file=sys.stderr,
        )
        url = await _target(schema)
        try:
            started = time.perf_counter()
            report = await copy_database(source, url)
            copy_s = time.perf_counter() - started
        finally:
            await _drop(schema)
    assert report.failed == [], report.failed
    for check in report.checks:
        if check.source_rows:
            print(f"{check.table:<14} {check.source_rows:>8} ok", file=sys.stderr)
    print(
        json.dumps(
            {
                "loop_s": reference,
                "posts": args.posts,
                "rows": report.rows,
                "copy_s": round(copy_s, 2),
                "rows_per_s": round(report.rows / copy_s),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
