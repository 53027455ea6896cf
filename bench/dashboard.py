"""The command room's server side under load (SPEC §10): events to 200 open screens,
the post board for 3,000 posts, and what open streams cost the bot.

    .venv/bin/python bench/dashboard.py             # default run (about a minute)
    .venv/bin/python bench/dashboard.py --quick     # smoke run

Three processes, reusing bench/updates.py's machinery: its child runs the fake Bot API
and the officers' load (1,000 officers on 250 posts); this process runs the real bot
with ``[web]`` on, over a city of 3,000 posts; a third process holds 200 open
``/api/events`` streams (an admin's session, so every event reaches every stream).

* ``api_posts_ms``: ``GET /api/posts`` for 3,000 posts over HTTP, median of 20 (p99 too),
  with the bot idle; target < 100 ms on the reference machine (``loop_s`` ≈ 0.3).
* ``event_to_screen_ms``: p99 over the events of a step at an ordinary pace (30 updates
  per second, ``--event-rate``), from the hub's publish
  (right after COMMIT) to the moment the last of the 200 streams read it; both ends
  read ``time.monotonic()``, one clock for every process on Linux.
* ``first_paint_ms``: the map page in headless Chromium (Debian's ``/usr/bin/chromium``
  driven by Playwright), from navigation start to two frames after the last of the
  3,000 pins is placed (the page's ``data-map-painted``), median of 5 loads after one
  warm-up load, bot idle; target < 2,000 ms on the reference machine. ``null`` when
  chromium cannot start. ``--paint-only`` stops after it.
* ``updates_ratio``: the bot's update throughput (answered updates per second under an
  offered rate above its capacity) with the 200 streams open ÷ with none; target ≥ 0.9.
  The stream readers share this machine's CPUs with the bot, which counts against it.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.reference import loop_s  # noqa: E402
from bench.updates import _recv, emulator_main, percentile  # noqa: E402

N_POSTS = 3000
N_STREAMS = 200
ADMIN_ID = 99_000_001


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def add_posts(db_path: Path) -> None:
    """The city of bench/updates.py grown to 3,000 posts (the extra ones have no
    officers: they sit unstaffed, as posts often do), and an admin to look at it."""
    from storage import members, posts
    from storage.db import Database
    from storage.members import MemberRow
    from storage.posts import PostRow

    now = datetime.now(UTC)
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            kelurahan = [
                str(row[0])
                for row in await tx.all("SELECT code FROM areas WHERE level = 'kelurahan'")
            ]
            have = int(await tx.scalar("SELECT count(*) FROM posts"))
            rows = [
                PostRow(
                    f"X{n:04d}",
                    f"Posko {n}",
                    kelurahan[n % len(kelurahan)],
                    -6.1 - (n // 60) * 0.004,
                    106.7 + (n % 60) * 0.004,
                    100,
                    1,
                    "24h",
                )
                for n in range(N_POSTS - have)
            ]
            await posts.upsert(tx, rows, now)
            await members.upsert(
                tx,
                [MemberRow("ops", "Ops Kota", None, None, ("admin",), (), (), ADMIN_ID, None)],
                now,
            )
    finally:
        await db.close()


# --- the screens' process ---------------------------------------------------------------------


def screens_main(conn: Any, url: str, token: str, count: int) -> None:
    try:
        asyncio.run(_screens(conn, url, token, count))
    except BaseException:
        with contextlib.suppress(Exception):
            conn.send(("error", traceback.format_exc()))
        raise


async def _screens(conn: Any, url: str, token: str, count: int) -> None:
    import aiohttp

    seen: dict[str, list[float]] = {}
    opened = 0
    ready = asyncio.Event()

    async def watch(session: aiohttp.ClientSession) -> None:
        nonlocal opened
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(f"{url}/api/events", headers=headers) as response:
            assert response.status == 200, response.status
            await response.content.readline()  # "retry: ...": the stream is open
            opened += 1
            if opened == count:
                ready.set()
            # Chunks, not lines: 200 readers in one process must not be the bottleneck.
            rest = b""
            async for chunk in response.content.iter_any():
                now = time.monotonic()
                text = rest + chunk
                cut = text.rfind(b"\n")
                rest, text = text[cut + 1 :], text[: cut + 1]
                for line in text.split(b"\n"):
                    if line.startswith(b"id: "):
                        # [received by how many, when the last one read it]
                        mark = seen.setdefault(line[4:].decode(), [0, 0.0])
                        mark[0] += 1
                        mark[1] = now

    timeout = aiohttp.ClientTimeout(total=None)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = [asyncio.create_task(watch(session)) for _ in range(count)]
        await asyncio.wait_for(ready.wait(), 60)
        conn.send(("ok", {"open": opened}))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(("ok", {"seen": seen}))


# --- the browser ------------------------------------------------------------------------------

PAINT_LOADS = 5


async def first_paint(url: str, token: str) -> list[float] | None:
    """Load times of the map page with every post drawn, in headless Chromium."""
    from urllib.parse import urlsplit

    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return None
    if not os.access("/usr/bin/chromium", os.X_OK):
        return None
    from tests.browser_helpers import FLAGS

    host = urlsplit(url)
    timings: list[float] = []
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            for load in range(PAINT_LOADS + 1):
                context = await browser.new_context(viewport={"width": 1920, "height": 1080})
                cookie = {"name": "posko_session", "value": token, "path": "/"}
                await context.add_cookies([{**cookie, "domain": host.hostname or ""}])
                page = await context.new_page()
                await page.goto(url + "/")
                await page.wait_for_selector("body[data-map-painted]", timeout=60_000)
                painted = float(await page.evaluate("document.body.dataset.mapPainted"))
                pins = await page.evaluate("window.poskoRoom.map.markers.size")
                assert pins == N_POSTS, pins
                if load:  # the first load warms the server and the browser's caches
                    timings.append(painted)
                await context.close()
        finally:
            await browser.close()
    return timings


# --- the bot ----------------------------------------------------------------------------------


async def bot_main(conn: Any, db_path: Path, args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp

    from bot.core.app import build_application, running
    from bot.core.config import load_settings
    from bot.web.auth import start_session
    from storage import members

    loop = asyncio.get_running_loop()

    async def ask(*cmd: Any) -> Any:
        conn.send(cmd)
        return await loop.run_in_executor(None, _recv, conn, 180.0)

    info = await loop.run_in_executor(None, _recv, conn, 120.0)
    await add_posts(db_path)
    port = free_port()
    settings = load_settings(
        None,
        overrides={
            "telegram": {
                "token": info["token"],
                "base_url": info["base_url"],
                "base_file_url": info["base_file_url"],
                "bot_username": info["bot_username"],
                "poll_timeout": "1s",
            },
            "storage": {"path": str(db_path)},
            "web": {"port": port},
        },
    )
    app = build_application(settings, None)
    out: dict[str, Any] = {}
    async with running(app, poll_timeout=timedelta(seconds=1)):
        runtime = app.bot_data["runtime"]
        room = runtime.web
        async with runtime.database.read() as tx:
            admin = await members.by_telegram_id(tx, ADMIN_ID)
        assert admin is not None
        started = await start_session(runtime.database, admin, "app", runtime.clock.now(), None)
        headers = {"Authorization": f"Bearer {started.token}"}
        timings: list[float] = []
        async with aiohttp.ClientSession(headers=headers) as http:
            for _ in range(20):
                begin = time.perf_counter()
                async with http.get(f"{room.url}/api/posts") as response:
                    body = await response.read()
                    assert response.status == 200
                timings.append((time.perf_counter() - begin) * 1000)
        shown = len(json.loads(body)["posts"])
        assert shown == N_POSTS, shown
        timings.sort()
        out["api_posts_ms"] = round(statistics.median(timings), 1)
        out["api_posts_p99_ms"] = round(percentile(timings, 99), 1)
        out["api_posts_kb"] = round(len(body) / 1024, 1)
        print(
            f"GET /api/posts: {shown} posts, {out['api_posts_kb']} KB, median"
            f" {out['api_posts_ms']} ms, p99 {out['api_posts_p99_ms']} ms",
            flush=True,
        )

        paints = await first_paint(room.url, started.token)
        out["first_paint_ms"] = round(statistics.median(paints)) if paints else None
        out["first_paint_max_ms"] = round(max(paints)) if paints else None
        print(f"map page, {N_POSTS} posts, first paint: {paints} ms", flush=True)
        if args.paint_only:
            return out

        warm = await ask("warmup", args.warmup_rate, 200.0, 0.0 if args.quick else 2.0)
        if not warm["ok"] or warm["bad"]:
            raise RuntimeError(f"warm-up failed: {warm}")
        alone = await ask("step", 0, args.rate, args.duration, 0.5)
        await asyncio.sleep(args.pause)
        print(
            f"no streams: offered {args.rate:.0f}/s, achieved {alone['achieved']:.0f}/s,"
            f" p99 {alone['p99']:.0f} ms",
            flush=True,
        )

        published: dict[str, float] = {}
        room.hub.listeners.append(lambda event: published.__setitem__(event.id, time.monotonic()))
        ctx = mp.get_context("spawn")
        screens_conn, child_conn = ctx.Pipe()
        screens = ctx.Process(
            target=screens_main,
            args=(child_conn, room.url, started.token, args.streams),
            name="screens",
            daemon=True,
        )
        screens.start()
        try:
            opened = await loop.run_in_executor(None, _recv, screens_conn, 90.0)
            print(f"{opened['open']} event streams open", flush=True)
            # Screens at an ordinary pace: how soon a change is on every screen.
            published.clear()
            await ask("step", 1, args.event_rate, args.duration, 0.5)
            await asyncio.sleep(args.pause)
            measured = dict(published)
            dropped_calm = room.hub.dropped
            # Then the bot flat out with the screens open: what they cost it.
            watched = await ask("step", 2, args.rate, args.duration, 0.5)
            await asyncio.sleep(args.pause)
            screens_conn.send(("stop",))
            seen = (await loop.run_in_executor(None, _recv, screens_conn, 60.0))["seen"]
        finally:
            screens.join(10)
            if screens.is_alive():
                screens.terminate()
        print(
            f"{args.streams} streams: offered {args.rate:.0f}/s, achieved"
            f" {watched['achieved']:.0f}/s, p99 {watched['p99']:.0f} ms",
            flush=True,
        )
        delays = sorted(
            (seen[event_id][1] - at) * 1000
            for event_id, at in measured.items()
            if event_id in seen and seen[event_id][0] == args.streams
        )
        partial = sum(1 for event_id in measured if seen.get(event_id, [0])[0] < args.streams)
        print(
            f"events at {args.event_rate:.0f} updates/s: {len(measured)} published,"
            f" {len(delays)} reached all {args.streams} streams, {partial} did not;"
            f" streams dropped as too slow: {dropped_calm} then, {room.hub.dropped}"
            " by the end of the flat-out step",
            flush=True,
        )
        out["event_to_screen_ms"] = round(percentile(delays, 99), 1) if delays else None
        out["event_to_screen_p50_ms"] = round(percentile(delays, 50), 1) if delays else None
        out["events"] = len(measured)
        out["streams_dropped"] = room.hub.dropped
        out["updates_ratio"] = (
            round(watched["achieved"] / alone["achieved"], 3) if alone["achieved"] else None
        )
        out["updates_per_s_alone"] = round(alone["achieved"])
        out["updates_per_s_streams"] = round(watched["achieved"])
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="offered updates/s, above the bot's capacity (1000)",
    )
    parser.add_argument(
        "--event-rate",
        type=float,
        default=30.0,
        help="offered updates/s while event delays are measured (30)",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per step (5)")
    parser.add_argument("--streams", type=int, default=N_STREAMS)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--warmup-rate", type=float, default=400.0)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--quick", action="store_true", help="short steps (smoke run)")
    parser.add_argument(
        "--paint-only", action="store_true", help="stop after first_paint_ms (no load steps)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 2.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = mp.get_context("spawn")
    parent_conn, child_conn = ctx.Pipe()
    with tempfile.TemporaryDirectory(prefix="posko-dashboard-") as tmp:
        db_path = Path(tmp) / "posko.db"
        child = ctx.Process(
            target=emulator_main,
            args=(child_conn, str(db_path), os.getpid(), args.seed),
            name="fake-bot-api",
            daemon=True,
        )
        child.start()
        print(
            f"bench: {N_POSTS} posts, {args.streams} event streams; {os.cpu_count()} CPUs",
            flush=True,
        )
        try:
            outcome = asyncio.run(bot_main(parent_conn, db_path, args))
        finally:
            with contextlib.suppress(Exception):
                parent_conn.send(("stop",))
                _recv(parent_conn, 10.0)
            child.join(10)
            if child.is_alive():
                child.terminate()
    summary = {
        "event_to_screen_ms": outcome.get("event_to_screen_ms"),
        "api_posts_ms": outcome["api_posts_ms"],
        "updates_ratio": outcome.get("updates_ratio"),
        "first_paint_ms": outcome.get("first_paint_ms"),
        "loop_s": loop_s(),
        **{
            key: value
            for key, value in outcome.items()
            if key not in ("event_to_screen_ms", "api_posts_ms", "updates_ratio", "first_paint_ms")
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
