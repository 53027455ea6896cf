"""Officer update throughput at a latency: the figure PERFORMANCE-NOTES.md asks for.

    .venv/bin/python bench/updates.py                 # default run (< 2 minutes)
    .venv/bin/python bench/updates.py --quick         # smoke run: one short step
    .venv/bin/python bench/updates.py --rates 400,500 --duration 8
    .venv/bin/python bench/updates.py --profile /tmp/bot.prof   # cProfile of the bot's loop
    .venv/bin/python bench/updates.py --inbox-overhead --rates 300,350,...  # inbox on vs off

Two processes, so that the bot is measured alone:

* the child runs the fake Bot API (``bot.rehearsal.emulator.FakeBotApi``), seeds the temporary
  SQLite database (1,000 registered officers on 250 posts), offers updates on a fixed
  schedule (open loop: never waits for replies) and times the replies;
* the parent (this process) runs the real bot, ``bot.core.app.build_application`` +
  ``running(app, poll_timeout=1s)``, against it over HTTP, exactly as in production.

Latency of an update = ``Sent.at`` of the ``sendMessage`` reply to that chat (replies are
matched to updates per chat, in order) minus the update's *scheduled* send time, so a
generator running late counts against the bot, never for it. Every officer first checks
in once (warm-up, excluded with a short mixed warm-up after it); then each step offers a
steady rate of 40 % check-ins (location near the post), 40 % ``/aman`` and 20 % one-shot
``/lapor logistik ...`` from random officers. The first ``--settle`` seconds of each step
are left out of the percentiles. The figure is the highest offered rate whose p99 stays
under 100 ms with every reply present and correct, as every lower rate's did: a step that
fails is run once more and fails when it fails twice (one stall of a two-core machine
shared with the load generator decides a 6 s step otherwise; ``--no-second-chance``), and
the steps stop at the first that fails. The bot runs on the event loop ``posko run`` uses
(bot.core.loop: uvloop where installed). RSS is the bot process's peak up to
the end of that step (``ru_maxrss``, or psutil's 100 ms samples if higher). A second
table shows where the CPU went (bot event-loop thread vs. its aiosqlite thread, the
emulator, and other processes on the machine, which make the figures pessimistic).

The last line of output is one JSON object:
``{"updates_per_s": ..., "p50_ms": ..., "p99_ms": ..., "rss_mb": ..., "loop_s": ...}``.

``--storage postgresql://…`` runs the bot (and seeds) on PostgreSQL, in a database created
on that server for the run and dropped after it (session settings in the URL's query, e.g.
``?synchronous_commit=off``, apply to the bot's connections). With ``--vs-sqlite`` the
whole measurement runs on SQLite first, then on PostgreSQL, and adds
``updates_ratio_pg`` = updates/s on PostgreSQL ÷ on SQLite (bench/postgres.py uses it).

``--no-inbox`` runs the bot with ``[telegram] inbox = false``. ``--inbox-overhead`` runs
the whole measurement twice, without the durable inbox and then with it (each on a fresh
database), and adds ``inbox_overhead`` = updates/s with ÷ without, and
``inbox_cpu_ratio`` = the bot's CPU per update without ÷ with, at the highest rate both
passed (steadier than the rate ratio on a busy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.reference import loop_s  # noqa: E402
from bot.core import loop as event_loop  # noqa: E402

N_OFFICERS = 1000
N_POSTS = 250
FIRST_TELEGRAM_ID = 100_000
P99_GOAL_MS = 100.0
MIX = (("checkin", 0.4), ("aman", 0.4), ("lapor", 0.2))
# What each kind of reply must say; a reply without it is an error reply or out of order.
EXPECT = {
    "checkin": ("Hadir tercatat", "sudah bertugas"),
    "aman": ("Situasi aman",),
    "lapor": ("terkirim",),
}


# ------------------------------------------------------------------------------------------
# The city
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostSpec:
    code: str
    area: str
    lat: float
    lon: float
    radius: float


def make_city() -> tuple[list[Any], list[PostSpec], list[Any]]:
    """Areas (provinsi > 5 kota > 25 kecamatan > 250 kelurahan), posts and officers."""
    from storage.areas import AreaRow
    from storage.members import MemberRow

    areas = [AreaRow("31", "DKI Jakarta", "provinsi", None)]
    kelurahan: list[str] = []
    for k in range(5):
        kota = f"31.7{k + 1}"
        areas.append(AreaRow(kota, f"Kota {k + 1}", "kota", "31"))
        for c in range(5):
            kec = f"{kota}.{c + 1:02d}"
            areas.append(AreaRow(kec, f"Kecamatan {k + 1}-{c + 1}", "kecamatan", kota))
            for v in range(10):
                kel = f"{kec}.{1001 + v}"
                areas.append(AreaRow(kel, f"Kelurahan {k + 1}-{c + 1}-{v + 1}", "kelurahan", kec))
                kelurahan.append(kel)
    posts = [
        PostSpec(
            code=f"P{n:03d}",
            area=kelurahan[n],
            lat=-6.30 + (n // 16) * 0.01,
            lon=106.70 + (n % 16) * 0.01,
            radius=100.0 + 50.0 * (n % 5),
        )
        for n in range(N_POSTS)
    ]
    officers = [
        MemberRow(
            f"of{i:04d}",
            f"Petugas {i}",
            None,
            None,
            ("officer",),
            (posts[i % N_POSTS].code,),
            (),
            FIRST_TELEGRAM_ID + i,
            None,
        )
        for i in range(N_OFFICERS)
    ]
    return areas, posts, officers


async def seed(db_path: str, areas: list[Any], posts: list[PostSpec], officers: list[Any]) -> None:
    from storage import areas as area_store
    from storage import members
    from storage import posts as post_store
    from storage.db import Database
    from storage.posts import PostRow

    now = datetime.now(UTC)
    db = await Database.open(db_path)
    try:
        await db.migrate()
        async with db.transaction() as tx:
            await area_store.upsert(tx, areas, now)
            await post_store.upsert(
                tx,
                [
                    PostRow(p.code, f"Posko {p.code}", p.area, p.lat, p.lon, p.radius, 1, "24h")
                    for p in posts
                ],
                now,
            )
            await members.upsert(tx, officers, now)
    finally:
        await db.close()


# ------------------------------------------------------------------------------------------
# Child process: fake Bot API, load generator, reply timing
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Offered:
    kind: str
    at: float  # scheduled send time, time.monotonic()
    step: int
    post: str


@dataclass(slots=True)
class Answer:
    kind: str
    offered: float
    replied: float
    ok: bool


@dataclass
class StepLog:
    answers: list[Answer] = field(default_factory=list)
    offered: int = 0
    lags: list[float] = field(default_factory=list)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


class Load:
    def __init__(self, emu: Any, posts: list[PostSpec], bot_pid: int, seed_value: int) -> None:
        import psutil

        from bot.rehearsal.emulator import FakeUser

        self.emu = emu
        self.posts = posts
        self.users = [
            FakeUser(FIRST_TELEGRAM_ID + i, f"Petugas{i}", language_code="id")
            for i in range(N_OFFICERS)
        ]
        self.post_of = [posts[i % N_POSTS] for i in range(N_OFFICERS)]
        self.waiting: dict[int, deque[Offered]] = {u.id: deque() for u in self.users}
        self.logs: dict[int, StepLog] = {}
        self.scan_pos = 0
        self.unexpected = 0
        self.rng = random.Random(seed_value)
        self.bot = psutil.Process(bot_pid)
        self.me = psutil.Process()
        self.lapor_seq = 0

    # ------------------------------------------------------------------ offering

    def _offer(self, i: int, kind: str, step: int, at: float) -> None:
        user = self.users[i]
        post = self.post_of[i]
        # Queued before the update exists, so its reply always finds it.
        self.waiting[user.id].append(Offered(kind, at, step, post.code))
        if kind == "checkin":
            # ~10-20 m north-east of the post, well inside its radius, good accuracy.
            jitter = 0.0001 + self.rng.random() * 0.00005
            self.emu.send_location(
                user, post.lat + jitter, post.lon + jitter, horizontal_accuracy=12.0
            )
        elif kind == "aman":
            self.emu.send_text(user, "/aman")
        else:
            self.lapor_seq += 1
            self.emu.send_text(
                user,
                f"/lapor logistik Surat suara kurang {self.lapor_seq % 50 + 1} lembar di TPS "
                f"{self.lapor_seq % 30 + 1:03d}",
            )

    async def _run_schedule(self, step: int, plan: list[tuple[float, int, str]]) -> float:
        """Offer ``plan`` [(offset s, officer index, kind)] on time; returns the start time."""
        log = self.logs.setdefault(step, StepLog())
        start = time.monotonic() + 0.05
        n = len(plan)
        i = 0
        while i < n:
            now = time.monotonic()
            while i < n and start + plan[i][0] <= now:
                at = start + plan[i][0]
                self._offer(plan[i][1], plan[i][2], step, at)
                log.lags.append(now - at)
                i += 1
            self.collect()
            if i < n:
                await asyncio.sleep(max(0.0, start + plan[i][0] - time.monotonic()))
        log.offered += n
        return start

    def collect(self) -> None:
        sent = self.emu.sent
        end = len(sent)
        for k in range(self.scan_pos, end):
            rec = sent[k]
            if rec.method != "sendMessage":
                continue
            queue = self.waiting.get(rec.chat_id)
            if queue is None:
                continue
            if not queue:
                self.unexpected += 1
                continue
            offered = queue.popleft()
            text = rec.text or ""
            ok = offered.post in text and any(m in text for m in EXPECT[offered.kind])
            self.logs.setdefault(offered.step, StepLog()).answers.append(
                Answer(offered.kind, offered.at, rec.at, ok)
            )
        self.scan_pos = end

    def outstanding(self) -> int:
        return sum(len(q) for q in self.waiting.values())

    async def drain(self, limit: float) -> bool:
        deadline = time.monotonic() + limit
        while True:
            self.collect()
            if self.outstanding() == 0:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ phases

    def _mixed_plan(self, rate: float, duration: float) -> list[tuple[float, int, str]]:
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        n = max(1, round(rate * duration))
        chosen = self.rng.choices(kinds, weights, k=n)
        return [(j / rate, self.rng.randrange(N_OFFICERS), chosen[j]) for j in range(n)]

    async def warmup(
        self, checkin_rate: float, mixed_rate: float, mixed_s: float
    ) -> dict[str, Any]:
        t0 = time.monotonic()
        order = list(range(N_OFFICERS))
        self.rng.shuffle(order)
        plan = [(j / checkin_rate, i, "checkin") for j, i in enumerate(order)]
        await self._run_schedule(-1, plan)
        first_ok = await self.drain(60.0)
        if mixed_s > 0:
            await self._run_schedule(-2, self._mixed_plan(mixed_rate, mixed_s))
        ok = await self.drain(60.0) and first_ok
        answers = self.logs[-1].answers + self.logs.get(-2, StepLog()).answers
        return {
            "ok": ok,
            "offered": self.logs[-1].offered + self.logs.get(-2, StepLog()).offered,
            "answered": len(answers),
            "bad": sum(not a.ok for a in answers),
            "seconds": time.monotonic() - t0,
        }

    async def step(self, step: int, rate: float, duration: float, settle: float) -> dict[str, Any]:
        plan = self._mixed_plan(rate, duration)
        rss_samples: list[int] = []

        async def sample_rss() -> None:
            while True:
                rss_samples.append(self.bot.memory_info().rss)
                await asyncio.sleep(0.1)

        sampler = asyncio.get_running_loop().create_task(sample_rss())
        threads0, sys0 = self._threads(self.bot), self._system_busy()
        requests0 = dict(self.emu.n_requests)
        bot_cpu0, my_cpu0, wall0 = self._cpu(self.bot), self._cpu(self.me), time.monotonic()
        start = await self._run_schedule(step, plan)
        drain_timeout = max(10.0, duration * 2)
        complete = await self.drain(drain_timeout)
        threads2, bot_cpu2, wall2 = self._threads(self.bot), self._cpu(self.bot), time.monotonic()
        sys2, my_cpu2 = self._system_busy(), self._cpu(self.me)
        requests = {k: v - requests0.get(k, 0) for k, v in self.emu.n_requests.items()}
        sampler.cancel()
        main_tid = self.bot.pid
        main_cpu = threads2.get(main_tid, 0.0) - threads0.get(main_tid, 0.0)
        other_cpu = sum(v - threads0.get(k, 0.0) for k, v in threads2.items() if k != main_tid)
        log = self.logs[step]
        measured = [a for a in log.answers if a.offered >= start + settle]
        lat = sorted((a.replied - a.offered) * 1000 for a in measured)
        by_kind: dict[str, list[float]] = {}
        for a in measured:
            by_kind.setdefault(a.kind, []).append((a.replied - a.offered) * 1000)
        first = min((a.offered for a in log.answers), default=start)
        last = max((a.replied for a in log.answers), default=start)
        lags = sorted(x * 1000 for x in log.lags)
        return {
            "rate": rate,
            "duration": duration,
            "offered": log.offered,
            "answered": len(log.answers),
            "missing": log.offered - len(log.answers),
            "bad": sum(not a.ok for a in log.answers),
            "complete": complete,
            "measured": len(lat),
            "achieved": len(log.answers) / (last - first) if last > first else 0.0,
            "p50": percentile(lat, 50),
            "p90": percentile(lat, 90),
            "p99": percentile(lat, 99),
            "max": lat[-1] if lat else float("nan"),
            "p99_by_kind": {k: percentile(sorted(v), 99) for k, v in by_kind.items()},
            "gen_lag_p99": percentile(lags, 99),
            "rss_sampled_mb": max(rss_samples, default=0) / 2**20,
            # CPU over the whole step, offering and draining, in % of one core.
            "bot_cpu": 100 * (bot_cpu2 - bot_cpu0) / (wall2 - wall0),
            "emu_cpu": 100 * (my_cpu2 - my_cpu0) / (wall2 - wall0),
            "cpu_ms_per_update": 1000 * (bot_cpu2 - bot_cpu0) / max(1, len(log.answers)),
            "main_thread_cpu": 100 * main_cpu / (wall2 - wall0),
            "other_threads_cpu": 100 * other_cpu / (wall2 - wall0),
            # Everything else on the machine (other processes), in % of one CPU.
            "foreign_cpu": 100
            * ((sys2 - sys0) - (bot_cpu2 - bot_cpu0) - (my_cpu2 - my_cpu0))
            / (wall2 - wall0),
            "unexpected": self.unexpected,
            "requests": requests,
            "updates_per_poll": len(log.answers) / max(1, requests.get("getUpdates", 0)),
        }

    @staticmethod
    def _system_busy() -> float:
        import psutil

        times = psutil.cpu_times()
        # guest time is already part of user time on Linux; steal counts as lost to others.
        busy = ("user", "nice", "system", "irq", "softirq", "steal")
        return float(sum(getattr(times, name, 0.0) for name in busy))

    @staticmethod
    def _threads(proc: Any) -> dict[int, float]:
        return {t.id: t.user_time + t.system_time for t in proc.threads()}

    @staticmethod
    def _cpu(proc: Any) -> float:
        times = proc.cpu_times()
        return float(times.user + times.system)


def emulator_main(conn: Any, db_path: str, bot_pid: int, seed_value: int) -> None:
    """Entry point of the child process."""
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_emulator(conn, db_path, bot_pid, seed_value))
    except BaseException:
        with contextlib.suppress(Exception):
            conn.send(("error", traceback.format_exc()))
        raise


async def _emulator(conn: Any, db_path: str, bot_pid: int, seed_value: int) -> None:
    from bot.rehearsal.emulator import FakeBotApi

    areas, posts, officers = make_city()
    await seed(db_path, areas, posts, officers)
    loop = asyncio.get_running_loop()
    async with FakeBotApi() as emu:
        conn.send(
            (
                "ready",
                {
                    "token": emu.token,
                    "base_url": emu.base_url,
                    "base_file_url": emu.base_file_url,
                    "bot_username": emu.bot_username,
                },
            )
        )
        load = Load(emu, posts, bot_pid, seed_value)
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            name = cmd[0]
            if name == "stop":
                break
            try:
                if name == "warmup":
                    result = await load.warmup(*cmd[1:])
                elif name == "step":
                    result = await load.step(*cmd[1:])
                else:
                    raise ValueError(f"unknown command {name!r}")
                conn.send(("ok", result))
            except Exception:
                conn.send(("error", traceback.format_exc()))
        conn.send(("stopped", {"requests": dict(emu.n_requests)}))


# ------------------------------------------------------------------------------------------
# Parent process: the bot
# ------------------------------------------------------------------------------------------


def _recv(conn: Any, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no answer from the emulator process within {timeout:.0f}s")
    kind, payload = conn.recv()
    if kind == "error":
        raise RuntimeError(f"emulator process failed:\n{payload}")
    return payload


class LogCounter(logging.Handler):
    """Counts what the bot logs at WARNING and above; ERROR and above is also printed.

    The bot would write every one of these lines in production; counting them keeps the
    table readable and is reported at the end, so nothing is hidden.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[(record.levelname, record.name, str(record.msg))] += 1
        if record.levelno >= logging.ERROR:
            sys.stderr.write(self.format(record) + "\n")


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bot_main(
    conn: Any, db_path: str, args: argparse.Namespace, inbox: bool = True
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()

    async def ask(*cmd: Any) -> Any:
        conn.send(cmd)
        return await loop.run_in_executor(None, _recv, conn, 180.0)

    info = await loop.run_in_executor(None, _recv, conn, 120.0)

    from bot.core.app import build_application, running
    from bot.core.config import load_settings
    from storage.db import is_postgres

    settings = load_settings(
        None,
        overrides={
            "telegram": {
                "token": info["token"],
                "base_url": info["base_url"],
                "base_file_url": info["base_file_url"],
                "bot_username": info["bot_username"],
                "poll_timeout": "1s",
                "inbox": inbox,
            },
            "storage": {"url": db_path} if is_postgres(db_path) else {"path": db_path},
        },
    )
    app = build_application(settings, None)
    rss_start = peak_rss_mb()
    steps: list[dict[str, Any]] = []
    profiler = None
    async with running(app, poll_timeout=timedelta(seconds=1), freeze_startup=True):
        rss_idle = peak_rss_mb()
        warm = await ask("warmup", args.warmup_rate, 200.0, 0.0 if args.quick else 2.0)
        print(
            f"warm-up: {warm['offered']} updates ({N_OFFICERS} first check-ins"
            f" at {args.warmup_rate:.0f}/s, then a mixed 200/s), {warm['answered']} replies,"
            f" {warm['bad']} bad, {warm['seconds']:.1f}s",
            flush=True,
        )
        if not warm["ok"] or warm["bad"]:
            raise RuntimeError(f"warm-up failed: {warm}")
        print(HEADER, flush=True)
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        stop_reason = ""
        runs = 0

        async def run_step(rate: float) -> dict[str, Any]:
            nonlocal runs
            runs += 1
            result: dict[str, Any] = await ask("step", runs, rate, args.duration, args.settle)
            await asyncio.sleep(args.pause)
            result["rss_peak_mb"] = max(peak_rss_mb(), result["rss_sampled_mb"])
            result["passed"] = (
                result["complete"]
                and result["bad"] == 0
                and result["missing"] == 0
                and result["p99"] < P99_GOAL_MS
            )
            return result

        for rate in args.rates:
            result = await run_step(rate)
            if not result["passed"] and args.second_chance and result["p99"] < 1000:
                # One stall of a machine shared with the fake Bot API (and the database)
                # decides a step otherwise: a step fails when it fails twice.
                print(_row(result) + " (run again)", flush=True)
                result = await run_step(rate)
                result["second_run"] = True
            steps.append(result)
            print(_row(result), flush=True)
            if not args.keep_going and not result["passed"]:
                stop_reason = (
                    f"stopped after {rate:.0f}/s failed: a rate above it that passed would not"
                    " count (use --keep-going to run them)"
                )
                break
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
    return {
        "steps": steps,
        "rss_start": rss_start,
        "rss_idle": rss_idle,
        "stop_reason": stop_reason,
    }


HEADER = (
    f"{'offered/s':>9} {'achieved/s':>10} {'answered':>11} {'p50 ms':>8} {'p90 ms':>8} "
    f"{'p99 ms':>8} {'max ms':>8} {'peak RSS MB':>11}  result"
)
DIAG_HEADER = (
    f"{'offered/s':>9} {'bot CPU':>7} {'loop/db thr':>11} {'CPU ms/upd':>10} {'emu CPU':>7} "
    f"{'other CPU':>9} {'upd/poll':>8} {'gen late p99':>12}  p99 ms by kind"
)


def _row(r: dict[str, Any]) -> str:
    notes = []
    if r["missing"]:
        notes.append(f"{r['missing']} missing")
    if r["bad"]:
        notes.append(f"{r['bad']} bad replies")
    if r["unexpected"]:
        notes.append(f"{r['unexpected']} replies matched no update so far")
    return (
        f"{r['rate']:>9.0f} {r['achieved']:>10.0f} {r['answered']:>5}/{r['offered']:<5} "
        f"{r['p50']:>8.1f} {r['p90']:>8.1f} {r['p99']:>8.1f} {r['max']:>8.1f} "
        f"{r['rss_peak_mb']:>11.1f}  {'PASS' if r['passed'] else 'fail'}"
        + (f" ({', '.join(notes)})" if notes else "")
    )


def _diag_row(r: dict[str, Any]) -> str:
    kinds = " ".join(f"{k} {v:.0f}" for k, v in sorted(r["p99_by_kind"].items()))
    threads = f"{r['main_thread_cpu']:.0f}/{r['other_threads_cpu']:.0f}%"
    return (
        f"{r['rate']:>9.0f} {r['bot_cpu']:>6.0f}% {threads:>11} {r['cpu_ms_per_update']:>10.2f} "
        f"{r['emu_cpu']:>6.0f}% {max(0.0, r['foreign_cpu']):>8.0f}% "
        f"{r['updates_per_poll']:>8.1f} {r['gen_lag_p99']:>9.1f} ms  {kinds}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates",
        type=lambda s: [float(x) for x in s.replace(" ", "").split(",") if x],
        default=None,
        help="offered rates in updates/s, comma-separated (default 200,300,...,800)",
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per step (6)")
    parser.add_argument("--quick", action="store_true", help="one short step (smoke run)")
    parser.add_argument(
        "--settle", type=float, default=1.0, help="seconds at the start of a step left out (1)"
    )
    parser.add_argument("--pause", type=float, default=0.5, help="idle seconds between steps")
    parser.add_argument("--warmup-rate", type=float, default=400.0, help="first check-ins/s")
    parser.add_argument("--keep-going", action="store_true", help="no early stop")
    parser.add_argument(
        "--second-chance",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run a failed step once more; it fails when it fails twice (on)",
    )
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the bot's loop over the steps")
    parser.add_argument("--no-inbox", action="store_true", help="run without the durable inbox")
    parser.add_argument(
        "--inbox-overhead", action="store_true", help="measure without, then with the inbox"
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="run the bot on PostgreSQL: a postgresql:// URL of a server where a database"
        " is created for the run and dropped after it",
    )
    parser.add_argument(
        "--vs-sqlite",
        action="store_true",
        help="with --storage: measure on SQLite, then on PostgreSQL (updates_ratio_pg)",
    )
    args = parser.parse_args(argv)
    if args.storage is not None and not args.storage.startswith(("postgresql://", "postgres://")):
        parser.error("--storage takes a postgresql:// URL (SQLite is the default)")
    if args.vs_sqlite and (args.storage is None or args.inbox_overhead):
        parser.error("--vs-sqlite needs --storage and goes without --inbox-overhead")
    if args.quick:
        args.rates = args.rates or [200.0]
        args.duration = args.duration or 3.0
        args.settle = min(args.settle, 0.5)
    args.rates = args.rates or [200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0]
    args.duration = args.duration or 6.0
    return args


def measure(
    args: argparse.Namespace, logs: LogCounter, inbox: bool, storage: str | None = None
) -> dict[str, Any]:
    """One whole run (warm-up and steps) on a fresh database: a temporary SQLite file, or
    with ``storage`` (a postgresql:// URL) a database created on that server for the run
    and dropped after it; prints its tables."""
    with tempfile.TemporaryDirectory(prefix="posko-bench-") as tmp:
        if storage is None:
            return _measure(args, logs, inbox, str(Path(tmp) / "posko.db"), "SQLite")
    from bench import pg_scratch

    name = pg_scratch.fresh_name("updates")
    target = asyncio.run(pg_scratch.create(storage, name))
    try:
        return _measure(args, logs, inbox, target, "PostgreSQL")
    finally:
        asyncio.run(pg_scratch.drop(storage, name))


def _measure(
    args: argparse.Namespace, logs: LogCounter, inbox: bool, db_path: str, backend: str
) -> dict[str, Any]:
    logs.counts.clear()
    ctx = mp.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe()
    child = ctx.Process(
        target=emulator_main,
        args=(child_conn, db_path, os.getpid(), args.seed),
        name="fake-bot-api",
        daemon=True,
    )
    child.start()
    print(
        f"bench: {N_OFFICERS} officers on {N_POSTS} posts; bot in pid {os.getpid()},"
        f" fake Bot API + load generator in pid {child.pid}; {os.cpu_count()} CPUs;"
        f" steps {', '.join(f'{r:.0f}' for r in args.rates)}/s x {args.duration:.0f}s"
        f" (first {args.settle:g}s of each left out); mix "
        + ", ".join(f"{int(w * 100)}% {k}" for k, w in MIX)
        + f"; durable inbox {'on' if inbox else 'off'}; {backend}",
        flush=True,
    )
    try:
        outcome = event_loop.run(bot_main(parent_conn, db_path, args, inbox))
    finally:
        with contextlib.suppress(Exception):
            parent_conn.send(("stop",))
            _recv(parent_conn, 10.0)
        child.join(10)
        if child.is_alive():
            child.terminate()
            child.join(5)

    steps = outcome["steps"]
    print()
    print("diagnostics (CPU in % of one core over each step, offering and draining):")
    print(DIAG_HEADER)
    for step in steps:
        print(_diag_row(step))
    print(
        "  bot CPU = the bot process (event loop thread / aiosqlite + other threads);"
        " emu = fake Bot API + load generator process; other = everything else on the"
        " machine; upd/poll = updates per getUpdates call; gen late = how late the"
        " generator offered updates (counted in the latency)"
    )
    busiest = max((step["foreign_cpu"] for step in steps), default=0.0)
    if busiest > 25:
        print(
            f"  WARNING: other processes used up to {busiest:.0f}% of a core during the steps;"
            f" on this {os.cpu_count()}-CPU machine the figures are pessimistic"
        )
    print()
    print(
        f"bot process RSS: {outcome['rss_start']:.1f} MB after imports/build, "
        f"{outcome['rss_idle']:.1f} MB once running, peak {peak_rss_mb():.1f} MB "
        "(bot only: the fake Bot API runs in its own process)"
    )
    print(
        "latency = fake server's record of the sendMessage reply - scheduled send time; "
        f"goal p99 < {P99_GOAL_MS:.0f} ms with every reply present"
    )
    if outcome["stop_reason"]:
        print(outcome["stop_reason"])
    for (level, name, msg), count in logs.counts.most_common(5):
        print(f"bot logged {count} x {level} {name}: {msg!r}")
    print(flush=True)
    return outcome


def sustained(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps below the first that failed: a rate passed above a failed one is luck."""
    held: list[dict[str, Any]] = []
    for step in sorted(steps, key=lambda s: s["rate"]):
        if not step["passed"]:
            break
        held.append(step)
    return held


def summarise(steps: list[dict[str, Any]]) -> dict[str, Any]:
    passed = sustained(steps)
    if passed:
        best = passed[-1]
        return {
            "updates_per_s": round(best["rate"]),
            "p50_ms": round(best["p50"], 1),
            "p99_ms": round(best["p99"], 1),
            "rss_mb": round(best["rss_peak_mb"], 1),
            "second_runs": [round(s["rate"]) for s in steps if s.get("second_run")],
        }
    return {
        "updates_per_s": 0,
        "p50_ms": None,
        "p99_ms": None,
        "rss_mb": round(peak_rss_mb(), 1),
        "second_runs": [round(s["rate"]) for s in steps if s.get("second_run")],
    }


def inbox_figures(without: list[dict[str, Any]], with_: list[dict[str, Any]]) -> dict[str, Any]:
    off, on = summarise(without)["updates_per_s"], summarise(with_)["updates_per_s"]
    figures: dict[str, Any] = {
        "updates_per_s_no_inbox": off,
        "inbox_overhead": round(on / off, 3) if off else None,
    }
    # The highest rate both passed, else (a machine too busy to pass any) the highest both ran.
    passed = {s["rate"] for s in without if s["passed"]} & {s["rate"] for s in with_ if s["passed"]}
    both = sorted(passed or {s["rate"] for s in without} & {s["rate"] for s in with_})
    if both:
        rate = both[-1]
        figures["inbox_cpu_rate"] = rate
        cpu_off = next(s["cpu_ms_per_update"] for s in without if s["rate"] == rate)
        cpu_on = next(s["cpu_ms_per_update"] for s in with_ if s["rate"] == rate)
        figures["inbox_cpu_ratio"] = round(cpu_off / cpu_on, 3) if cpu_on else None
        figures["inbox_cpu_ms_per_update"] = {"off": round(cpu_off, 3), "on": round(cpu_on, 3)}
    return figures


def storage_figures(on_sqlite: list[dict[str, Any]], on_pg: list[dict[str, Any]]) -> dict[str, Any]:
    """PostgreSQL ÷ SQLite at p99 < 100 ms, and the p99 of each at the highest rate both
    passed (the bot's own CPU is no fair ratio here: PostgreSQL's work is in its server)."""
    lite, pg = summarise(on_sqlite)["updates_per_s"], summarise(on_pg)["updates_per_s"]
    figures: dict[str, Any] = {
        "updates_per_s_sqlite": lite,
        "updates_ratio_pg": round(pg / lite, 3) if lite else None,
    }
    passed = {s["rate"] for s in on_sqlite if s["passed"]} & {
        s["rate"] for s in on_pg if s["passed"]
    }
    if passed:
        rate = max(passed)
        figures["p99_ms_at"] = {
            "rate": rate,
            "sqlite": round(next(s["p99"] for s in on_sqlite if s["rate"] == rate), 1),
            "postgresql": round(next(s["p99"] for s in on_pg if s["rate"] == rate), 1),
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs = LogCounter()
    root = logging.getLogger()
    root.handlers[:] = [logs]
    root.setLevel(logging.WARNING)
    extra: dict[str, Any] = {}
    inbox = not args.no_inbox
    if args.inbox_overhead:
        without = measure(args, logs, False, args.storage)["steps"]
        steps = measure(args, logs, True, args.storage)["steps"]
        extra = inbox_figures(without, steps)
    elif args.vs_sqlite:
        on_sqlite = measure(args, logs, inbox)["steps"]
        steps = measure(args, logs, inbox, args.storage)["steps"]
        extra = storage_figures(on_sqlite, steps)
    else:
        steps = measure(args, logs, inbox, args.storage)["steps"]
    if args.storage is not None:
        extra["storage"] = "postgresql"
    summary = summarise(steps)
    summary.update(extra)
    summary["loop_s"] = loop_s()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
