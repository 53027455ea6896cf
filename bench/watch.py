"""Watcher pass cost at city scale: the figures SPEC §4 promises ("time proportional to the
due ones, not to all posts").

    .venv/bin/python bench/watch.py                    # default run (~1-2 minutes)
    .venv/bin/python bench/watch.py --profile          # also cProfile one due pass
    .venv/bin/python bench/watch.py --repeats 3 --idle-passes 100
    .venv/bin/python bench/watch.py --storage postgresql://postgres@127.0.0.1:5432/postgres

What is measured is ``bot.watch.watcher.Watcher(db, settings, clock).sweep(now)``, exactly as the
running bot calls it, on SQLite databases in a temporary directory:

* a city of 1 provinsi, 5 kota, 44 kecamatan per kota, 6 kelurahan per kecamatan
  (1,320 kelurahan), N posts spread evenly over the kelurahan (``24h``, ``min_staff`` 1);
* supervisors: 2 per kelurahan, 1 per kecamatan, 1 per kota (registered), 1 admin;
* one registered officer assigned to each post, checked in (an open shift).

Setup (not measured) drives the watcher itself through a short story, so the watch
columns are the ones the watcher writes, not hand-made:

1. ``t0``: the posts are new (due now); sweeps at ``t0`` until none is due
   -> every post staffed, next deadline the silence reminder at ``t0+75m``.
2. 0.5 % of the posts ("A") lose their officer at ``t0+1m``; the sweep at ``t0+16m``
   opens unstaffed alerts (and their outbox rows); at ``t0+20m`` a supervisor takes each
   alert -> they stay open, acknowledged, with nothing due for two weeks.
3. Signal round 1 (``/aman`` between ``t0+30m`` and ``t0+60m``; for the 1 % "D" between
   ``t0+55m`` and ``t0+60m``) for every post but A, refreshed at ``t0+60m``.
4. Signal round 2 (between ``t0+90m`` and ``t0+100m``) for every post except the 1 % "D";
   refreshed at ``t0+100m`` -> next deadline >= ``t0+165m``.
5. ``t0+136m``: sweep -> the D posts are reminded to send ``/aman`` (outbox rows).
6. ``t0+140m``: half of D check out (refresh -> opening, grace until ``t0+155m``).
7. ``t1 = t0+160m``: exactly the D posts are due: half go silent, half unstaffed, each
   opening an alert with outbox rows for the kelurahan supervisors.

(a) ``due_pass_ms``: the pass at ``t1`` on fresh copies of the 100k database (a fresh
    ``Watcher`` each time, so its area-tree cache is cold as after a restart), median;
(b) ``idle_pass_ms_100k``: passes with nothing due on 100k posts (median);
(c) ``idle_pass_ms_10k``: the same on 10k posts, interleaved with (b);
(d) ``idle_ratio`` = (b) / (c).

(e) ``due_pass_ms_with_taken``: the pass at ``t1`` on the same 100k city built with one more
    step (between 4 and 5): 1 % more posts ("T") lose their officer at ``t0+105m``, their
    unstaffed alerts open at ``t0+120m`` and are taken at ``t0+130m`` with the default
    ``taken_timeout`` (30m) -> at ``t1`` the 1,000 D posts and the 1,000 taken alerts are
    due (each taker reminded privately with the people to call), median;
(f) ``loop_s``: ``for i in range(10_000_000): s += i`` on this machine (0.3 s on the
    reference machine), to scale the figures.

With ``--storage postgresql://…`` the same runs on PostgreSQL: each city is a database of
its own on that server (seeded with COPY, then ANALYZEd as autovacuum would have), each
measured pass runs on a copy (``CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY``, as the
SQLite file is copied), and every database is dropped at the end. bench/postgres.py reports
(a) from it as ``due_pass_ms_pg`` (goal < 400 ms on the reference machine).

Goals: (a) < 200 ms with 1,000 due, (b) and (c) < 5 ms, (d) < 1.5, (e) < 250 ms.
The last line of output is one JSON object with those figures.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import cProfile
import io
import json
import logging
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import pg_scratch  # noqa: E402
from bench.reference import loop_s  # noqa: E402
from bot.core.clock import FakeClock  # noqa: E402
from bot.core.config import Settings, load_settings  # noqa: E402
from bot.watch.watcher import PASS_LIMIT, Watcher  # noqa: E402
from storage import watch as store  # noqa: E402
from storage.db import Database, is_postgres, to_db  # noqa: E402

# Tuesday 24 November 2026, 19:00 WIB (as in tests/conftest.py).
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=160)
N_KOTA = 5
N_KECAMATAN = 44  # per kota
N_KELURAHAN = 6  # per kecamatan
LURAH_PER_KELURAHAN = 2
OFFICER_TG = 10_000_000
SUPERVISOR_TG = 20_000_000
ADMIN_TG = 30_000_000
CHUNK = 5000  # posts per refresh call (well under SQLite's variable limit)

GOAL_DUE_MS = 200.0
GOAL_IDLE_MS = 5.0
GOAL_RATIO = 1.5
GOAL_DUE_TAKEN_MS = 250.0


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


@dataclass
class City:
    n_posts: int
    path: str  # the SQLite file or the PostgreSQL URL
    set_a: list[int]  # acknowledged unstaffed alerts (open, nothing due)
    set_d: list[int]  # due at T1
    set_d_silent: list[int]
    set_d_unstaffed: list[int]
    kelurahan: int
    supervisors: int
    setup_s: float
    set_t: list[int] = field(default_factory=list)  # taken alerts whose taken_timeout is due


# ------------------------------------------------------------------------------------------
# Seeding (plain sqlite3, executemany)
# ------------------------------------------------------------------------------------------


class _Loader:
    """The seed's statements, run at once: plain sqlite3 on SQLite; on PostgreSQL COPY
    (the VALUES' literals filled in per row), then the identity sequences moved past the
    ids given and the planner's statistics gathered, as autovacuum would have by then."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Sequence[Sequence[Any]]]] = []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.statements.append((sql, rows))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.statements.append((sql, [params]))

    async def load(self, target: str) -> None:
        if not is_postgres(target):
            conn = sqlite3.connect(target, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN")
            for sql, rows in self.statements:
                conn.executemany(sql, rows)
            conn.execute("COMMIT")
            conn.close()
            return
        import asyncpg

        from storage import dialect

        conn = await asyncpg.connect(target)
        try:
            async with conn.transaction():
                for sql, rows in self.statements:
                    found = _INSERT.match(sql)
                    if found is None:
                        await conn.executemany(dialect.query(sql), rows)
                        continue
                    table = found["table"]
                    columns = [c.strip() for c in found["columns"].split(",")]
                    floats = {
                        r[0]
                        for r in await conn.fetch(
                            "SELECT column_name FROM information_schema.columns"
                            " WHERE table_schema = current_schema() AND table_name = $1"
                            " AND data_type = 'double precision'",
                            table,
                        )
                    }
                    values = [v.strip() for v in found["values"].split(",")]
                    records = [_record(values, row) for row in rows]
                    at = [n for n, c in enumerate(columns) if c in floats]
                    for record in records:
                        for n in at:
                            if record[n] is not None:
                                record[n] = float(record[n])
                    await conn.copy_records_to_table(table, records=records, columns=columns)
                for table, column in await conn.fetch(
                    "SELECT table_name, column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND is_identity = 'YES'"
                ):
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                        f" coalesce(max({column}), 0) + 1, false) FROM {table}"
                    )
            await conn.execute("ANALYZE")
        finally:
            await conn.close()


_INSERT = re.compile(
    r"^INSERT INTO (?P<table>\w+) \((?P<columns>[^)]*)\) VALUES \((?P<values>[^()]*)\)$"
)


def _record(values: list[str], row: Sequence[Any]) -> list[Any]:
    given = iter(row)
    return [next(given) if v == "?" else ast.literal_eval(v) for v in values]


async def _seed(target: str, n_posts: int, rng: random.Random) -> tuple[int, int]:
    stamp = to_db(T0 - timedelta(days=1))
    conn = _Loader()
    areas: list[tuple[Any, ...]] = [(1, "31", "DKI Jakarta", "provinsi", None, stamp, stamp)]
    kota_ids: list[int] = []
    kec_ids: list[int] = []
    kel_ids: list[int] = []
    next_id = 2
    for k in range(N_KOTA):
        kota_code = f"31.7{k + 1}"
        kota_id = next_id
        next_id += 1
        kota_ids.append(kota_id)
        areas.append((kota_id, kota_code, f"Kota {k + 1}", "kota", 1, stamp, stamp))
        for c in range(N_KECAMATAN):
            kec_code = f"{kota_code}.{c + 1:02d}"
            kec_id = next_id
            next_id += 1
            kec_ids.append(kec_id)
            areas.append(
                (kec_id, kec_code, f"Kecamatan {k + 1}-{c + 1}", "kecamatan", kota_id, stamp, stamp)
            )
            for lu in range(N_KELURAHAN):
                kel_id = next_id
                next_id += 1
                kel_ids.append(kel_id)
                areas.append(
                    (
                        kel_id,
                        f"{kec_code}.{1001 + lu}",
                        f"Kelurahan {k + 1}-{c + 1}-{lu + 1}",
                        "kelurahan",
                        kec_id,
                        stamp,
                        stamp,
                    )
                )
    conn.executemany(
        "INSERT INTO areas (id, code, name, level, parent_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        areas,
    )

    # Posts: evenly over the kelurahan, new (due now, as storage.watch.make_due leaves them).
    due_now = to_db(T0)
    posts = []
    for i in range(n_posts):
        area = kel_ids[i * len(kel_ids) // n_posts]
        posts.append(
            (
                i + 1,
                f"P{i + 1:06d}",
                f"Posko TPS {i + 1}",
                area,
                -6.2 + rng.uniform(-0.2, 0.2),
                106.8 + rng.uniform(-0.2, 0.2),
                100.0,
                due_now,
                stamp,
                stamp,
            )
        )
    conn.executemany(
        "INSERT INTO posts (id, code, name, area_id, latitude, longitude, radius_m, min_staff,"
        " hours, next_due_at, due_kind, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 1, '24h', ?, 'new', ?, ?)",
        posts,
    )

    # Members: officers (one per post, registered) then supervisors and an admin.
    members: list[tuple[Any, ...]] = []
    roles: list[tuple[int, str]] = []
    assignments: list[tuple[int, int]] = []
    scopes: list[tuple[int, int]] = []
    for i in range(n_posts):
        member_id = i + 1
        language = "en" if i % 20 == 0 else None
        members.append(
            (
                member_id,
                f"off{member_id}",
                f"Petugas {member_id}",
                OFFICER_TG + member_id,
                language,
                stamp,
                stamp,
                stamp,
            )
        )
        roles.append((member_id, "officer"))
        assignments.append((member_id, i + 1))
    member_id = n_posts
    supervisors = 0

    def supervisor(area_id: int) -> None:
        nonlocal member_id, supervisors
        member_id += 1
        supervisors += 1
        language = "en" if member_id % 10 == 0 else None
        members.append(
            (
                member_id,
                f"sup{member_id}",
                f"Pengawas {member_id}",
                SUPERVISOR_TG + member_id,
                language,
                stamp,
                stamp,
                stamp,
            )
        )
        roles.append((member_id, "supervisor"))
        scopes.append((member_id, area_id))

    for kel in kel_ids:
        for _ in range(LURAH_PER_KELURAHAN):
            supervisor(kel)
    for kec in kec_ids:
        supervisor(kec)
    for kota in kota_ids:
        supervisor(kota)
    member_id += 1
    members.append(
        (member_id, "admin", "Ops Kota", ADMIN_TG + member_id, None, stamp, stamp, stamp)
    )
    roles.append((member_id, "admin"))
    conn.executemany(
        "INSERT INTO members (id, ref, name, telegram_id, language, registered_at, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        members,
    )
    conn.executemany("INSERT INTO member_roles (member_id, role) VALUES (?, ?)", roles)
    conn.executemany("INSERT INTO assignments (member_id, post_id) VALUES (?, ?)", assignments)
    conn.executemany("INSERT INTO scopes (member_id, area_id) VALUES (?, ?)", scopes)

    # Every officer checked in ten minutes before t0 (a check-in is a signal too).
    checkin = to_db(T0 - m(10))
    conn.executemany(
        "INSERT INTO shifts (member_id, post_id, started_at, latitude, longitude, accuracy_m,"
        " distance_m, inside_geofence, verified, last_location_at)"
        " VALUES (?, ?, ?, -6.2, 106.8, 10, 5, 1, 1, ?)",
        [(i + 1, i + 1, checkin, checkin) for i in range(n_posts)],
    )
    conn.executemany(
        "INSERT INTO signals (post_id, member_id, kind, at) VALUES (?, ?, 'checkin', ?)",
        [(i + 1, i + 1, checkin) for i in range(n_posts)],
    )
    conn.execute("UPDATE posts SET last_signal_at = ?", (checkin,))
    await conn.load(target)
    return len(kel_ids), supervisors


# ------------------------------------------------------------------------------------------
# Setup story (through the watcher)
# ------------------------------------------------------------------------------------------


def _pairs(rows: Sequence[Any]) -> dict[str, int]:
    return {row[0]: row[1] for row in rows}


def settings_for(target: str) -> Settings:
    storage = {"url": target} if is_postgres(target) else {"path": target}
    return load_settings(None, overrides={"storage": storage})


class Place:
    """Where the cities and their copies live: a temporary folder (SQLite files), or with
    ``server`` a PostgreSQL server, one database each (copied with CREATE DATABASE …
    TEMPLATE), all dropped at the end."""

    def __init__(self, folder: Path, server: str | None) -> None:
        self.folder = folder
        self.server = server
        self._names: dict[str, str] = {}  # URL → database name

    async def new(self, label: str) -> str:
        if self.server is None:
            return str(self.folder / f"{label}.db")
        name = pg_scratch.fresh_name(f"watch_{label}")
        url = await pg_scratch.create(self.server, name)
        self._names[url] = name
        return url

    async def copy(self, source: str, label: str) -> str:
        if self.server is None:
            target = str(self.folder / f"{label}.db")
            shutil.copyfile(source, target)
            return target
        name = pg_scratch.fresh_name(f"watch_{label}")
        url = await pg_scratch.create(self.server, name, template=self._names[source])
        self._names[url] = name
        return url

    async def discard(self, target: str) -> None:
        if self.server is None:
            Path(target).unlink()  # noqa: ASYNC240 (a temporary file; nothing else waits)
        else:
            await pg_scratch.drop(self.server, self._names.pop(target))

    async def close(self) -> None:
        for target in list(self._names):
            await self.discard(target)


async def _sweep_all(watcher: Watcher, now: datetime) -> int:
    total = 0
    while True:
        handled = await watcher.sweep(now)
        total += handled
        if handled < PASS_LIMIT:
            return total


async def _refresh(db: Database, watcher: Watcher, ids: Sequence[int], now: datetime) -> None:
    for start in range(0, len(ids), CHUNK):
        async with db.transaction() as tx:
            await watcher.refresh(tx, ids[start : start + CHUNK], now)


async def _signal_round(
    db: Database,
    watcher: Watcher,
    ids: Sequence[int],
    first: datetime,
    last: datetime,
    rng: random.Random,
) -> None:
    """/aman from each post at a random moment in [first, last]; refreshed at ``last``."""
    span = (last - first).total_seconds()
    rows = []
    for post_id in ids:
        at = to_db(first + timedelta(seconds=rng.uniform(0, span)))
        rows.append((post_id, at))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO signals (post_id, member_id, kind, at) VALUES (?, ?, 'all_clear', ?)",
            [(post_id, post_id, at) for post_id, at in rows],
        )
        await tx.executemany(
            "UPDATE posts SET last_signal_at = ? WHERE id = ?"
            " AND (last_signal_at IS NULL OR last_signal_at < ?)",
            [(at, post_id, at) for post_id, at in rows],
        )
    await _refresh(db, watcher, ids, last)


async def _check_out(db: Database, watcher: Watcher, ids: Sequence[int], now: datetime) -> None:
    stamp = to_db(now)
    async with db.transaction() as tx:
        await tx.executemany(
            "UPDATE shifts SET ended_at = ?, end_reason = 'checkout'"
            " WHERE post_id = ? AND ended_at IS NULL",
            [(stamp, post_id) for post_id in ids],
        )
        await tx.executemany(
            "UPDATE posts SET short_since = ? WHERE id = ? AND short_since IS NULL",
            [(stamp, post_id) for post_id in ids],
        )
    await _refresh(db, watcher, ids, now)


async def _taken_story(db: Database, watcher: Watcher, set_t: list[int]) -> None:
    """T: officers leave at t0+105m, unstaffed alerts open at t0+120m, a supervisor takes
    each at t0+130m (as the button does, with the default 30m taken_timeout) -> the taken
    alerts' follow-up (the taker's reminder) is due at t1."""
    await _check_out(db, watcher, set_t, T0 + m(105))
    opened = await watcher.sweep(T0 + m(120))
    assert opened == len(set_t), (opened, len(set_t))
    taken_at = T0 + m(130)
    timeout = watcher.settings.watch.taken_timeout
    async with db.transaction() as tx:
        alerts = await store.open_alerts(tx, set_t)
        assert len(alerts) == len(set_t)
        lurah = {
            row[0]: row[1]
            for row in await tx.all("SELECT area_id, min(member_id) FROM scopes GROUP BY area_id")
        }
        marks = ",".join("?" * len(set_t))
        area_of = {
            row[0]: row[1]
            for row in await tx.all(f"SELECT id, area_id FROM posts WHERE id IN ({marks})", set_t)
        }
        for post_id, alert in alerts.items():
            taker = lurah[area_of[post_id]]
            assert await store.acknowledge(tx, alert.id, taker, taken_at, taken_at + timeout)
    await _refresh(db, watcher, set_t, taken_at)


async def build_city(place: Place, n_posts: int, seed: int = 7, taken: bool = False) -> City:
    started = time.perf_counter()
    rng = random.Random(seed)
    path = await place.new(f"city_{n_posts}{'_taken' if taken else ''}")
    db = await Database.open(path)
    await db.migrate()
    await db.close()
    kelurahan, supervisors = await _seed(path, n_posts, rng)

    ids = list(range(1, n_posts + 1))
    set_a = [i for i in ids if i % 200 == 50]
    set_d = [i for i in ids if i % 100 == 3]
    set_d_silent = set_d[0::2]
    set_d_unstaffed = set_d[1::2]
    a_or_d = set(set_a) | set(set_d)
    others = [i for i in ids if i not in a_or_d]
    set_t = [i for i in others if i % 100 == 7] if taken else []

    db = await Database.open(path)
    settings = settings_for(path)
    watcher = Watcher(db, settings, FakeClock(T0))
    # 1. New posts: the first look at every one.
    initialised = await _sweep_all(watcher, T0)
    assert initialised == n_posts, (initialised, n_posts)
    # 2. A: officers leave, alerts open after the grace, a supervisor takes each.
    await _check_out(db, watcher, set_a, T0 + m(1))
    opened_a = await watcher.sweep(T0 + m(16))
    assert opened_a == len(set_a), (opened_a, len(set_a))
    async with db.transaction() as tx:
        alerts = await store.open_alerts(tx, set_a)
        assert len(alerts) == len(set_a)
        lurah = {
            row[0]: row[1]
            for row in await tx.all(
                "SELECT s.area_id, min(s.member_id) FROM scopes s GROUP BY s.area_id"
            )
        }
        area_of = {
            row[0]: row[1]
            for row in await tx.all(
                f"SELECT id, area_id FROM posts WHERE id IN ({','.join('?' * len(set_a))})",
                set_a,
            )
        }
        for post_id, alert in alerts.items():
            assert await store.acknowledge(tx, alert.id, lurah[area_of[post_id]], T0 + m(20))
    await _refresh(db, watcher, set_a, T0 + m(20))
    # 3./4. Signal rounds.
    await _signal_round(db, watcher, others, T0 + m(30), T0 + m(60), rng)
    await _signal_round(db, watcher, set_d, T0 + m(55), T0 + m(60), rng)
    await _signal_round(db, watcher, others, T0 + m(90), T0 + m(100), rng)
    if set_t:
        await _taken_story(db, watcher, set_t)
    # 5. D posts reminded.
    reminded = await watcher.sweep(T0 + m(136))
    assert reminded == len(set_d), (reminded, len(set_d))
    # 6. Half of D leave.
    await _check_out(db, watcher, set_d_unstaffed, T0 + m(140))
    # 7. Exactly D due at T1, nothing else.
    async with db.read() as tx:
        due = {
            row[0]
            for row in await tx.all(
                "SELECT id FROM posts WHERE next_due_at IS NOT NULL AND next_due_at <= ?",
                (to_db(T1),),
            )
        }
        states = _pairs(
            await tx.all(
                "SELECT state, count(*) FROM posts GROUP BY state"  # for the summary
            )
        )
        d_states = _pairs(
            await tx.all(
                f"SELECT state, count(*) FROM posts WHERE id IN ({','.join('?' * len(set_d))})"
                " GROUP BY state",
                set_d,
            )
        )
    assert due == set(set_d) | set(set_t), (len(due), len(set_d), len(set_t))
    assert d_states == {"reminded": len(set_d_silent), "opening": len(set_d_unstaffed)}, d_states
    await db.close()  # checkpoints the WAL into the main file: one file to copy
    print(
        f"  built {n_posts:,} posts in {time.perf_counter() - started:.1f} s;"
        f" states {states}; due at t1: {len(due):,}"
    )
    return City(
        n_posts=n_posts,
        path=path,
        set_a=set_a,
        set_d=set_d,
        set_d_silent=set_d_silent,
        set_d_unstaffed=set_d_unstaffed,
        kelurahan=kelurahan,
        supervisors=supervisors,
        setup_s=time.perf_counter() - started,
        set_t=set_t,
    )


# ------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------


@dataclass
class DueResult:
    ms: float
    handled: int
    alerts: dict[str, int]
    outbox: int
    notifications: int
    states: dict[str, int]
    copy: str  # the database the pass ran on


async def _counts_after(
    db: Database, now: datetime
) -> tuple[dict[str, int], int, int, dict[str, int]]:
    stamp = to_db(now)
    async with db.read() as tx:
        alerts = _pairs(
            await tx.all(
                "SELECT kind, count(*) FROM alerts WHERE opened_at = ? AND resolved_at IS NULL"
                " GROUP BY kind",
                (stamp,),
            )
        )
        outbox = int(
            await tx.scalar(
                "SELECT count(*) FROM outbox WHERE created_at = ? AND kind = 'alert'", (stamp,)
            )
        )
        notifications = int(
            await tx.scalar("SELECT count(*) FROM alert_notifications WHERE at = ?", (stamp,))
        )
        states = _pairs(
            await tx.all(
                "SELECT state, count(*) FROM posts WHERE state_since = ? GROUP BY state",
                (stamp,),
            )
        )
    return alerts, outbox, notifications, states


async def _followups(path: str, now: datetime) -> int:
    db = await Database.open(path)
    try:
        async with db.read() as tx:
            return int(
                await tx.scalar(
                    "SELECT count(*) FROM outbox WHERE created_at = ? AND kind = 'alert_followup'",
                    (to_db(now),),
                )
            )
    finally:
        await db.close()


async def due_pass(
    place: Place, city: City, label: str, profile: cProfile.Profile | None = None
) -> DueResult:
    copy = await place.copy(city.path, label)
    db = await Database.open(copy)
    db.checkpoint_elsewhere()  # as the running bot: WAL checkpoints on a worker thread
    watcher = Watcher(db, settings_for(copy), FakeClock(T1))
    # Warm the connection (and the OS cache of the file) with a pass that finds nothing.
    assert await watcher.sweep(T0) == 0
    if profile is not None:
        profile.enable()
    started = time.perf_counter()
    handled = await watcher.sweep(T1)
    ms = (time.perf_counter() - started) * 1000
    if profile is not None:
        profile.disable()
    alerts, outbox, notifications, states = await _counts_after(db, T1)
    await db.close()
    return DueResult(ms, handled, alerts, outbox, notifications, states, copy)


async def idle_passes(
    watchers: dict[str, Watcher], now: datetime, passes: int
) -> dict[str, list[float]]:
    """Passes with nothing due, interleaved between the databases so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in watchers}
    for watcher in watchers.values():  # warm-up
        for _ in range(10):
            assert await watcher.sweep(now) == 0
    for _ in range(passes):
        for name, watcher in watchers.items():
            started = time.perf_counter()
            handled = await watcher.sweep(now)
            times[name].append((time.perf_counter() - started) * 1000)
            assert handled == 0, (name, handled)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    logging.basicConfig(level=logging.ERROR)
    total_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="posko-bench-watch-") as tmp:
        place = Place(Path(tmp), args.storage)
        try:
            return await _measure(place, args, total_started)
        finally:
            await place.close()


async def _measure(place: Place, args: argparse.Namespace, total_started: float) -> dict[str, Any]:
    print(f"Setting up on {'PostgreSQL' if args.storage else 'SQLite'} (not measured)...")
    big = await build_city(place, args.posts)
    small = await build_city(place, args.small)

    # (a) the due pass, on fresh copies
    print(f"\nDue pass at t1 on {big.n_posts:,} posts ({len(big.set_d):,} due):")
    results: list[DueResult] = []
    for rep in range(args.repeats):
        result = await due_pass(place, big, f"due_{rep}")
        results.append(result)
        print(
            f"  run {rep + 1}: {result.ms:7.1f} ms  handled {result.handled:,};"
            f" alerts opened {result.alerts}; outbox alert rows {result.outbox:,};"
            f" notifications {result.notifications:,}; new states {result.states}"
        )
    first = results[0]
    expected_outbox = len(big.set_d) * LURAH_PER_KELURAHAN
    assert first.handled == len(big.set_d)
    assert first.alerts == {
        "silent": len(big.set_d_silent),
        "unstaffed": len(big.set_d_unstaffed),
    }, first.alerts
    assert first.outbox == expected_outbox, (first.outbox, expected_outbox)
    due_ms = statistics.median(r.ms for r in results)

    # (e) the same city with 1,000 taken alerts whose taken_timeout falls due at t1
    with_taken = await build_city(place, args.posts, taken=True)
    due_t = len(with_taken.set_d) + len(with_taken.set_t)
    print(
        f"\nDue pass at t1 on {with_taken.n_posts:,} posts ({due_t:,} due, of which"
        f" {len(with_taken.set_t):,} taken alerts reminding their taker):"
    )
    taken_results: list[DueResult] = []
    for rep in range(args.repeats):
        result = await due_pass(place, with_taken, f"due_taken_{rep}")
        copy = result.copy
        taken_results.append(result)
        followups = await _followups(copy, T1)
        print(
            f"  run {rep + 1}: {result.ms:7.1f} ms  handled {result.handled:,};"
            f" alerts opened {result.alerts}; taker reminders {followups:,}"
        )
        assert result.handled == due_t, (result.handled, due_t)
        assert followups == len(with_taken.set_t), followups
        await place.discard(copy)
    due_taken_ms = statistics.median(r.ms for r in taken_results)

    small_due = await due_pass(place, small, "due_small")
    print(
        f"  (for comparison, {small.n_posts:,} posts with {small_due.handled:,} due:"
        f" {small_due.ms:.1f} ms, outbox alert rows {small_due.outbox:,})"
    )

    profile_text = ""
    if args.profile:
        profiler = cProfile.Profile()
        await due_pass(place, big, "due_profile", profiler)
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        profile_text = buffer.getvalue()

    # (b), (c) idle passes: on the databases just after their due pass (nothing due
    # until the alerts' escalation at t1+20m).
    after = T1 + timedelta(seconds=1)
    dbs = {
        "100k": await Database.open(results[0].copy),
        "10k": await Database.open(small_due.copy),
    }
    watchers = {
        name: Watcher(db, settings_for(target), FakeClock(after))
        for (name, db), target in zip(dbs.items(), (results[0].copy, small_due.copy), strict=True)
    }
    for name, db in dbs.items():
        async with db.read() as tx:
            ahead = await store.next_deadline(tx)
        print(f"  {name}: next deadline after the due pass: {ahead}")
    times = await idle_passes(watchers, after, args.idle_passes)
    for db in dbs.values():
        await db.close()
    idle_big = statistics.median(times["100k"])
    idle_small = statistics.median(times["10k"])
    ratio = idle_big / idle_small

    print(f"\nIdle passes (nothing due), {args.idle_passes} each, interleaved:")
    for name, values in times.items():
        print(
            f"  {name:>5}: median {statistics.median(values):.3f} ms,"
            f" p90 {_pct(values, 0.9):.3f} ms, min {min(values):.3f} ms"
        )

    if profile_text:
        print("\ncProfile of one due pass (100k posts, 1,000 due):")
        print(profile_text)

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print("\nSummary")
    print(
        f"  due pass, {len(big.set_d):,} due of {big.n_posts:,}: {due_ms:.1f} ms"
        f" (median of {len(results)}; goal < {GOAL_DUE_MS:.0f}) {verdict(due_ms < GOAL_DUE_MS)}"
    )
    print(
        f"  idle pass, {big.n_posts:,} posts: {idle_big:.3f} ms"
        f" (goal < {GOAL_IDLE_MS:.0f}) {verdict(idle_big < GOAL_IDLE_MS)}"
    )
    print(
        f"  idle pass, {small.n_posts:,} posts: {idle_small:.3f} ms"
        f" (goal < {GOAL_IDLE_MS:.0f}) {verdict(idle_small < GOAL_IDLE_MS)}"
    )
    print(f"  idle ratio: {ratio:.2f} (goal < {GOAL_RATIO}) {verdict(ratio < GOAL_RATIO)}")
    print(
        f"  due pass with {len(with_taken.set_t):,} taken alerts due ({due_t:,} due):"
        f" {due_taken_ms:.1f} ms (goal < {GOAL_DUE_TAKEN_MS:.0f})"
        f" {verdict(due_taken_ms < GOAL_DUE_TAKEN_MS)}"
    )
    loop = loop_s()
    print(f"  loop_s (10M additions; 0.3 s on the reference machine): {loop:.3f}")
    print(
        f"  city: {big.kelurahan:,} kelurahan, {big.supervisors:,} supervisors;"
        f" setup {big.setup_s + small.setup_s:.1f} s;"
        f" whole run {time.perf_counter() - total_started:.1f} s"
    )
    return {
        "storage": "postgresql" if args.storage else "sqlite",
        "due_pass_ms": round(due_ms, 2),
        "idle_pass_ms_100k": round(idle_big, 4),
        "idle_pass_ms_10k": round(idle_small, 4),
        "idle_ratio": round(ratio, 3),
        "due_pass_ms_with_taken": round(due_taken_ms, 2),
        "loop_s": loop,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5, help="due passes on fresh copies")
    parser.add_argument("--idle-passes", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile one due pass")
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="on PostgreSQL: a postgresql:// URL of a server where the run's databases are"
        " created (and dropped after it)",
    )
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
