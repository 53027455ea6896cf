"""Failover (SPEC §11 "Standby"): two real ``posko run`` processes on one PostgreSQL database,
the leader SIGKILLed ten times under mixed load, each time restarted as the new standby.

The load, the phones and the final checks are the crash-safety test's (tests/test_crash_safety.py,
read its docstring): officers check in, send ``/aman`` and one-shot ``/lapor``, a silent post
raises an alert that climbs from the lurah to the camat, supervisors press "Ambil alih", an
admin sends a circular whose copies are read. Here the bot is two processes sharing the
fake Bot API (served by this test process) and a PostgreSQL schema:

* each kill finds the leader by its ``/healthz`` role, stops it (SIGSTOP), reads what it
  had in flight (outbox rows in 'sending'), then SIGKILLs it; the standby must start
  polling on its own (the takeover time is from the SIGKILL to its first getUpdates), and
  the killed one is started again and must report ``"role": "standby"``;
* a monitor asks both ``/healthz`` every 0.2 s: never do two processes answer "leader" at
  once;
* at the end the database is copied into an SQLite file of the same schema and judged by
  the crash-safety checks: every update delivered has its effect exactly once (the inbox),
  no alert step is notified twice, every outbox row is sent once (duplicates only up to the
  rows in flight at the kills).

The takeover time per kill and its p99 are printed (run with ``-s``), not asserted. Skipped
when no PostgreSQL answers. ``POSKO_CRASH_SEED`` replays a run's random choices.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import IO, Any

import aiohttp
import asyncpg
import pytest

from bot.rehearsal.emulator import FakeBotApi
from storage.db import Database
from tests import backends
from tests import test_crash_safety as crash

ROOT = Path(__file__).resolve().parents[1]
KILLS = 10
KILL_DELAY = (0.3, 2.0)
"""Seconds between the new standby being up and the next kill of the leader."""
STOPPED = 0.05
"""After SIGSTOP: what the stopped leader had already written reaches the server."""
TABLES = (
    "members",
    "posts",
    "shifts",
    "signals",
    "issues",
    "alerts",
    "alert_notifications",
    "outbox",
    "inbox",
    "circulars",
    "circular_recipients",
)
"""What the crash-safety checks read, copied from PostgreSQL into SQLite at the end."""

CONFIG = """\
[telegram]
base_url = "{base_url}"
bot_username = "{username}"
poll_timeout = "1s"

[storage]
url = "{url}"

[http]
port = {port}

[watch]
staff_grace = "1s"
silence_after = "3s"
remind_before = "1s"
escalate_after = "2s"
repeat_every = "30s"
remind_before_open = "0s"
max_sleep = "1s"

[delivery]
per_chat_per_s = 10
request_timeout = "5s"

[log]
level = "WARNING"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replica:
    """One ``posko run`` process with its own config (its /healthz port)."""

    def __init__(self, name: str, config: Path, port: int, token: str, log: IO[bytes]) -> None:
        self.name = name
        self.config = config
        self.port = port
        self.token = token
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.stopped = False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def spawn(self) -> None:
        env = dict(os.environ, POSKO_TELEGRAM__TOKEN=self.token)
        self.stopped = False
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(self.config),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )

    async def role(self, http: aiohttp.ClientSession) -> str | None:
        if not self.alive or self.stopped:
            return None
        try:
            async with http.get(
                f"http://127.0.0.1:{self.port}/healthz", timeout=aiohttp.ClientTimeout(total=3)
            ) as response:
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        return str(body.get("role"))


class Pair:
    """The two processes, seen by the phones (crash.Load) as one bot: ``unanswered`` and
    ``done`` as crash.BotProcess has them, ``kills`` for the final checks."""

    def __init__(self, emu: FakeBotApi, url: str, replicas: list[Replica]) -> None:
        self.emu = emu
        self.url = url
        self.replicas = replicas
        self.kills: list[crash.Kill] = []
        self.takeovers: list[float] = []
        self.restart_seconds: list[float] = []
        self.two_leaders: list[str] = []
        self._done: set[int] = set()
        self._conn: Any = None
        self._lock = asyncio.Lock()  # one asyncpg connection: one statement at a time

    async def open(self) -> None:
        self._conn = await asyncpg.connect(self.url)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def fetch(self, sql: str) -> list[Any]:
        async with self._lock:
            return list(await self._conn.fetch(sql))

    async def sending(self) -> frozenset[int]:
        rows = await self.fetch("SELECT id FROM outbox WHERE status = 'sending'")
        return frozenset(int(row[0]) for row in rows)

    async def refresh_done(self) -> frozenset[int]:
        rows = await self.fetch("SELECT update_id FROM inbox WHERE state = 'done'")
        self._done = {int(row[0]) for row in rows}
        return frozenset(self._done)

    async def follow_inbox(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.refresh_done()
            await asyncio.sleep(0.03)

    def unanswered(self, update_id: int, injected_at: float) -> bool:
        return any(k.at > injected_at and update_id in k.done for k in self.kills)

    def done(self, update_id: int) -> bool:
        return update_id in self._done

    async def until(self, replica: Replica, role: str, http: aiohttp.ClientSession) -> float:
        """Seconds until ``replica`` answers /healthz with ``role``."""
        started = time.monotonic()
        while (found := await replica.role(http)) != role:
            if not replica.alive:
                raise AssertionError(
                    f"{replica.name} exited with {replica.proc and replica.proc.returncode}"
                )
            if time.monotonic() - started > 30:
                raise AssertionError(f"{replica.name} is {found!r}, not {role!r}, after 30 s")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def leader(self, http: aiohttp.ClientSession) -> Replica:
        """The one replica answering "leader"; a busy machine may leave /healthz unanswered
        for a moment (asked again for up to 30 s), but two leaders fail at once."""
        started = time.monotonic()
        while True:
            roles = {r.name: await r.role(http) for r in self.replicas}
            leaders = [r for r in self.replicas if roles[r.name] == "leader"]
            assert len(leaders) <= 1, f"two leaders: {roles}"
            if leaders:
                return leaders[0]
            if time.monotonic() - started > 30:
                raise AssertionError(f"no leader after 30 s: roles {roles}")
            await asyncio.sleep(0.1)

    async def watch_roles(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            roles = await asyncio.gather(*(r.role(http) for r in self.replicas))
            if roles.count("leader") > 1:
                self.two_leaders.append(f"{time.monotonic():.2f}: {roles}")
            await asyncio.sleep(0.2)

    async def kill_leader(self, http: aiohttp.ClientSession) -> None:
        victim = await self.leader(http)
        survivor = next(r for r in self.replicas if r is not victim)
        assert victim.proc is not None
        victim.stopped = True
        victim.proc.send_signal(signal.SIGSTOP)
        await asyncio.sleep(STOPPED)
        in_flight = await self.sending()
        polls = self.emu.n_requests["getUpdates"]
        victim.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await victim.proc.wait()
        await asyncio.sleep(crash.SETTLE)
        done = await self.refresh_done()
        loop = asyncio.get_running_loop()
        self.kills.append(crash.Kill(loop.time(), self.emu.acknowledged_update_id, in_flight, done))
        while self.emu.n_requests["getUpdates"] <= polls:
            if time.monotonic() - killed_at > 30:
                raise AssertionError(f"{survivor.name} did not take over within 30 s")
            await asyncio.sleep(0.01)
        self.takeovers.append(time.monotonic() - killed_at)
        restarted = time.monotonic()
        await victim.spawn()
        await self.until(victim, "standby", http)
        self.restart_seconds.append(time.monotonic() - restarted)

    async def terminate(self) -> list[int]:
        codes = []
        for replica in self.replicas:
            assert replica.proc is not None
            replica.proc.send_signal(signal.SIGTERM)
            codes.append(await asyncio.wait_for(replica.proc.wait(), 30))
        return codes

    def kill_all(self) -> None:
        for replica in self.replicas:
            if replica.alive and replica.proc is not None:
                replica.proc.kill()


async def _quiescent(pair: Pair, limit: float = 30.0) -> None:
    """Nothing pending or in flight, and no row added, for a second."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    last: tuple[int, int] | None = None
    quiet_since = loop.time()
    while loop.time() < deadline:
        (row,) = await pair.fetch(
            "SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')),"
            " coalesce(max(id), 0) FROM outbox"
        )
        busy = int(row[0])
        state = (busy, int(row[1]))
        if state != last or busy:
            last, quiet_since = state, loop.time()
        elif loop.time() - quiet_since >= 1.0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the outbox did not drain within {limit:g}s: {last}")


async def _copy_to_sqlite(url: str, target: Path) -> None:
    """The PostgreSQL rows the checks read, in an SQLite file of the same schema."""
    db = await Database.open(target)
    await db.migrate()
    await db.close()
    source = await asyncpg.connect(url)
    out = sqlite3.connect(target)
    try:
        for table in TABLES:
            rows = await source.fetch(f"SELECT * FROM {table}")
            out.execute(f"DELETE FROM {table}")
            if not rows:
                continue
            columns = list(rows[0].keys())
            marks = ", ".join("?" for _ in columns)
            out.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(row) for row in rows],
            )
        out.commit()
    finally:
        out.close()
        await source.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


async def test_leader_killed_ten_times_standby_takes_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await backends.admin_url()
    if admin is None:
        pytest.skip(backends.why_not())
    monkeypatch.setattr(crash, "KILLS", KILLS)
    seed = int(os.environ.get("POSKO_CRASH_SEED", str(time.time_ns() % 2**32)))
    rng = random.Random(seed)
    url = await backends.empty(admin, 7)
    await crash._seed(url)  # type: ignore[arg-type]
    started = time.monotonic()
    log_path = tmp_path / "bots.log"
    stop_watching = asyncio.Event()
    async with FakeBotApi() as emu, aiohttp.ClientSession() as http:
        emu.block_chat(crash.BLOCKED.id)
        emu.delay_next("sendMessage", crash.LATENCY, count=10**9)
        with log_path.open("ab") as log:
            replicas = []
            for name in ("a", "b"):
                port = _free_port()
                config = tmp_path / f"config-{name}.toml"
                config.write_text(
                    CONFIG.format(
                        base_url=emu.base_url, username=emu.bot_username, url=url, port=port
                    ),
                    encoding="utf-8",
                )
                replicas.append(Replica(name, config, port, emu.token, log))
            pair = Pair(emu, url, replicas)
            await pair.open()
            load = crash.Load(emu, pair, rng)  # type: ignore[arg-type]
            watchers: list[asyncio.Task[None]] = []
            try:
                first, second = replicas
                await first.spawn()
                await pair.until(first, "leader", http)
                await second.spawn()
                await pair.until(second, "standby", http)
                watchers = [
                    asyncio.create_task(pair.follow_inbox(stop_watching)),
                    asyncio.create_task(pair.watch_roles(http, stop_watching)),
                ]
                drivers = [
                    asyncio.create_task(load.silent_officer()),
                    *(asyncio.create_task(load.officer(u, w)) for u, w in crash.OFFICERS),
                    asyncio.create_task(load.supervisor(crash.CAMAT, (1.0, 3.0))),
                    asyncio.create_task(load.supervisor(crash.LURAH, (4.0, 6.0))),
                ]
                circular = await load.circular(f"siaran{seed}")
                phases = {"warm": round(time.monotonic() - started, 1)}
                for _ in range(KILLS):
                    await asyncio.sleep(rng.uniform(*KILL_DELAY))
                    await pair.kill_leader(http)
                phases["kills"] = round(time.monotonic() - started, 1)
                await asyncio.sleep(1.0)
                load.stop.set()
                await asyncio.gather(*drivers)
                for code in ("KBJ-01", "KBJ-02", "KEC-KBJ"):
                    await load.admin(f"/jeda {code} 1h", "jeda", code)
                await _quiescent(pair)
                await pair.refresh_done()
                phases["quiet"] = round(time.monotonic() - started, 1)
                stop_watching.set()
                await asyncio.gather(*watchers)
                codes = await pair.terminate()
                phases["end"] = round(time.monotonic() - started, 1)
            except BaseException:
                stop_watching.set()
                for task in watchers:
                    task.cancel()
                pair.kill_all()
                raise
            finally:
                await pair.close()
        tail = log_path.read_text(errors="replace")[-3000:]
        assert codes == [0, 0], tail
        assert not pair.two_leaders, f"two leaders at once: {pair.two_leaders[:5]}"
        assert len(pair.takeovers) == KILLS
        copy = tmp_path / "judged.db"
        await _copy_to_sqlite(url, copy)
        figures = crash._check(emu, pair, load, copy)  # type: ignore[arg-type]
    takeovers = [round(s, 2) for s in pair.takeovers]
    figures.update(
        seed=seed,
        circular=circular,
        takeover_s=takeovers,
        takeover_s_p99=round(_p99(pair.takeovers), 2),
        standby_restart_s_max=round(max(pair.restart_seconds), 2),
        phases=phases,
        wall_s=round(time.monotonic() - started, 1),
    )
    print()
    for key, value in figures.items():
        print(f"failover {key}: {value}")
    print(json.dumps({"test": "failover", **figures}, sort_keys=True))
