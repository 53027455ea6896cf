"""A circular to 10,000 officers against the fake Bot API enforcing Telegram's limits,
and the /peta picture for 3,000 posts.

    .venv/bin/python bench/broadcast.py            # first ~1,800 deliveries (~1 minute)
    .venv/bin/python bench/broadcast.py --full     # all 10,000 (~6 minutes)

The real bot (``bot.core.app.build_application`` + ``handlers.circulars.register``/``start_jobs``,
``running(app)``) talks over HTTP to ``bot.rehearsal.emulator.FakeBotApi``, which answers 429 to
anything above 30 messages/s overall or 1/s per chat. A temporary SQLite database holds a
city of 100 kelurahan with 3,000 posts (two thirds with coordinates) and 10,000
registered officers. The admin sends ``/siaran petugas ...`` and presses ✅ Kirim, exactly
as a person would: ``--think`` seconds after the preview arrives (a person reads it first;
the preview is a direct reply, which the sender's limiter does not see, so a press within
the same second could let the first burst of copies plus the preview exceed 30 in one
second).

* ``first_delivery_ms``: the press (the moment the callback update is injected) → the
  first copy recorded by the emulator. It includes the confirm transaction that writes
  the 10,000 outbox and recipient rows.
* ``rate_per_s``: copies delivered over the measured window, first → last arrival
  (``--count`` deliveries; all of them with ``--full``). The delivery report's edits go
  through the same sender and take a slot every ~2 s.
* ``n_429``: 429 answers the emulator gave (any method).
* ``peta_ms``: ``bot.insight.map_picture.render_map`` for the 3,000 posts (median of ``--peta-runs``
  renders; the module import is not counted), null when the renderer is missing.

Goals: rate_per_s >= 29, n_429 = 0, first_delivery_ms < 1000, peta_ms < 2000.
The last line of output is one JSON object:
``{"rate_per_s": ..., "n_429": ..., "first_delivery_ms": ..., "peta_ms": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.reference import loop_s  # noqa: E402
from bot.core.app import build_application, running  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.config import load_settings  # noqa: E402
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent  # noqa: E402
from handlers import circulars  # noqa: E402
from storage import areas, members, posts  # noqa: E402
from storage.areas import AreaRow  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.members import MemberRow  # noqa: E402
from storage.posts import PostRow  # noqa: E402

OFFICERS = 10_000
POSTS = 3_000
KECAMATAN = 10
KELURAHAN_PER_KECAMATAN = 10
FIRST_CHAT = 5_000_000
ADMIN = FakeUser(4_900_000, "Admin")
GLOBAL_PER_S = 30
TEXT = (
    "Edaran netralitas ASN: mohon seluruh petugas menjaga netralitas selama masa tenang "
    "dan melaporkan pelanggaran melalui /lapor. Terima kasih."
)
STATES = ("staffed", "staffed", "staffed", "reminded", "silent", "unstaffed", "closed", "paused")


async def seed(path: Path, rng: random.Random) -> None:
    now = datetime.now(UTC)
    area_rows = [
        AreaRow("31", "DKI Jakarta", "provinsi", None),
        AreaRow("31.73", "Kota Jakarta Barat", "kota", "31"),
    ]
    kelurahan: list[str] = []
    for k in range(1, KECAMATAN + 1):
        kec = f"31.73.{k:02d}"
        area_rows.append(AreaRow(kec, f"Kecamatan {k}", "kecamatan", "31.73"))
        for j in range(1, KELURAHAN_PER_KECAMATAN + 1):
            code = f"{kec}.{1000 + j}"
            area_rows.append(AreaRow(code, f"Kelurahan {k}-{j}", "kelurahan", kec))
            kelurahan.append(code)
    post_rows = []
    for i in range(POSTS):
        placed = i % 3 != 0
        post_rows.append(
            PostRow(
                f"P-{i:04d}",
                f"Posko {i}",
                kelurahan[i % len(kelurahan)],
                -6.10 - rng.random() * 0.25 if placed else None,
                106.70 + rng.random() * 0.25 if placed else None,
                100 if placed else None,
                1,
                "24h",
            )
        )
    member_rows = [
        MemberRow(
            f"p{i:05d}",
            f"Petugas {i:05d}",
            None,
            None,
            ("officer",),
            (f"P-{i % POSTS:04d}",),
            (),
            FIRST_CHAT + i,
            "en" if i % 10 == 0 else None,
        )
        for i in range(OFFICERS)
    ]
    member_rows.append(MemberRow("ops", "Ops Kota", None, None, ("admin",), (), (), ADMIN.id, None))
    db = await Database.open(path)
    try:
        await db.migrate()
        async with db.transaction() as tx:
            await areas.upsert(tx, area_rows, now)
            await posts.upsert(tx, post_rows, now)
            await members.upsert(tx, member_rows, now)
    finally:
        await db.close()


def settings_for(emu: FakeBotApi, path: Path) -> Any:
    return load_settings(
        None,
        overrides={
            "telegram": {
                "token": emu.token,
                "base_url": emu.base_url,
                "bot_username": emu.bot_username,
                "poll_timeout": "1s",
            },
            "storage": {"path": str(path)},
            # Nobody checks in during the bench: keep the watcher from alerting.
            "watch": {"staff_grace": "12h", "silence_after": "12h", "escalate_after": "12h"},
            "delivery": {"global_per_s": GLOBAL_PER_S, "per_chat_per_s": 1},
        },
    )


def is_copy(record: Sent) -> bool:
    return (
        record.method == "sendMessage"
        and record.chat_id is not None
        and FIRST_CHAT <= record.chat_id < FIRST_CHAT + OFFICERS
    )


async def measure_broadcast(
    emu: FakeBotApi, path: Path, count: int, settle: float, think: float
) -> tuple[float, float, int, str]:
    app = build_application(settings_for(emu, path), SystemClock())
    circulars.register(app)
    async with running(app, poll_timeout=timedelta(seconds=1)):
        await circulars.start_jobs(app)
        await asyncio.sleep(settle)  # the watcher's first pass over the 3,000 posts
        mark = emu.mark()
        emu.send_text(ADMIN, f"/siaran petugas {TEXT}")
        preview = await emu.wait_reply(ADMIN.id, after=mark, timeout=30)
        print(f"preview: {(preview.text or '').splitlines()[1]}")
        confirm = next(data for label, data in emu.inline_buttons(preview) if "Kirim" in label)
        await asyncio.sleep(think)
        mark = emu.mark()
        pressed = time.monotonic()
        emu.press_button(ADMIN, preview, confirm)
        seen = 0

        def counted(record: Sent) -> bool:
            nonlocal seen
            seen += is_copy(record)
            return seen >= count

        await emu.wait_for(counted, timeout=count / GLOBAL_PER_S * 2 + 60, after=mark)
        arrivals = [r.at for r in emu.sent[mark:] if is_copy(r)][:count]
        answered = next(
            (r.at for r in emu.sent[mark:] if r.method == "answerCallbackQuery"), float("nan")
        )
        first_ms = (arrivals[0] - pressed) * 1000
        window = arrivals[-1] - arrivals[0]
        rate = (len(arrivals) - 1) / window if window > 0 else 0.0
        edits = [
            r for r in emu.sent[mark:] if r.method == "editMessageText" and r.chat_id == ADMIN.id
        ]
        print(
            f"confirm: button answered after {(answered - pressed) * 1000:.0f} ms, "
            f"first copy after {first_ms:.0f} ms"
        )
        print(
            f"rate: {len(arrivals)} copies in {window:.1f} s (first → last) = {rate:.2f}/s "
            f"(limit {GLOBAL_PER_S}/s); report edits meanwhile: {len(edits)}"
        )
        last_report = edits[-1].text if edits else ""
        if count >= OFFICERS:  # everything sent: the report must end with the final figures
            final = await emu.wait_for(
                lambda r: (
                    r.method == "editMessageText"
                    and r.chat_id == ADMIN.id
                    and "selesai" in (r.text or "")
                ),
                timeout=15,
                after=mark,
            )
            last_report = final.text or ""
        sender = app.bot_data["runtime"].sender
        stats = sender.stats() if sender is not None else {}
    print(f"sender: {stats}")
    return rate, first_ms, emu.n_429, last_report or ""


async def measure_peta(path: Path, runs: int, rng: random.Random) -> tuple[float | None, str]:
    try:
        mapview = importlib.import_module("bot.insight.map_picture")
        render_map = mapview.render_map
        map_point = mapview.MapPoint
    except (ImportError, AttributeError) as exc:
        return None, f"bot.insight.map_picture not available ({exc})"
    db = await Database.open(path)
    try:
        async with db.read() as tx:
            rows = await tx.all(
                "SELECT p.code, p.name, a.name, p.latitude, p.longitude"
                " FROM posts p JOIN areas a ON a.id = p.area_id ORDER BY p.id"
            )
    finally:
        await db.close()
    points = [map_point(row[0], row[1], row[2], rng.choice(STATES), row[3], row[4]) for row in rows]
    now = datetime.now(UTC)
    timings: list[float] = []
    size = 0
    for _ in range(runs):
        started = time.perf_counter()
        picture = await asyncio.to_thread(render_map, points, "Peta posko · Jakarta Barat", now)
        timings.append((time.perf_counter() - started) * 1000)
        size = len(picture)
    note = (
        f"{len(points)} posts, renders {', '.join(f'{t:.0f}' for t in timings)} ms, "
        f"PNG {size // 1024} KiB"
    )
    return statistics.median(timings), note


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="measure all 10,000 deliveries")
    parser.add_argument("--count", type=int, default=1_800, help="deliveries to measure")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before /siaran")
    parser.add_argument("--think", type=float, default=1.5, help="seconds to read the preview")
    parser.add_argument("--peta-runs", type=int, default=3)
    args = parser.parse_args()
    count = OFFICERS if args.full else max(2, min(args.count, OFFICERS))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="posko-broadcast-") as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        await seed(path, rng)
        print(f"seeded {OFFICERS} officers, {POSTS} posts in {time.perf_counter() - started:.1f} s")
        async with FakeBotApi() as emu:
            emu.enforce_rate_limits(global_per_s=GLOBAL_PER_S, per_chat_per_s=1)
            rate, first_ms, n_429, report = await measure_broadcast(
                emu, path, count, args.settle, args.think
            )
        if args.full:
            print(f"last report:\n{report}")
        peta_ms, note = await measure_peta(path, args.peta_runs, rng)
        print(f"peta: {note}")
    result = {
        "rate_per_s": round(rate, 2),
        "n_429": n_429,
        "first_delivery_ms": round(first_ms, 1),
        "peta_ms": None if peta_ms is None else round(peta_ms, 1),
        "loop_s": loop_s(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
