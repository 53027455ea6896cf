"""Paid broadcast (SPEC §11): a circular to 10,000 officers at ``paid_per_s = 1000``.

    .venv/bin/python bench/paid.py                 # 10,000 copies (~15 s with the seeding)
    .venv/bin/python bench/paid.py --count 5000 --in-process

A temporary SQLite city (bench/broadcast.py's: 100 kelurahan, 3,000 posts, 10,000
officers) gets a circular to every officer, drafted and confirmed by the admin through
``bot.circulars.circular`` (the rules /siaran runs: one transaction queues every copy).
The outbox sender (``[delivery] paid_broadcast = true``, ``paid_per_s = 1000``,
``global_per_s = 30``) then drains it to ``FakeBotApi``, which enforces Telegram's limits:
429 above 30/s for ordinary messages, above 1000/s for all, above 1/s per chat, and bills
0.1 Star per paid message. Half-way through, one alert is queued to a separate chat.

The emulator runs in a child process by default: Telegram is another machine, and on a
2-core box the fake server answering a thousand requests a second would otherwise take
its CPU from the bot being measured. ``--in-process`` runs it in the bot's own loop.

* ``paid_rate_per_s``: paid copies recorded by the emulator over first → last arrival.
* ``paid_429s``: 429 answers the emulator gave (any method); goal 0.
* ``stars``: Stars the emulator charged; must equal copies × 0.1.
* ``alert_ms``: the alert's commit → its arrival at the emulator, behind the bulk.
* ``cpu_us_per_msg``: this process's CPU time per copy while draining (the bot's cost).

Goal: paid_rate_per_s >= 950 with paid_429s = 0. Last line: one JSON object with
``loop_s``, ``paid_rate_per_s``, ``paid_429s`` and the figures above.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import telegram  # noqa: E402

from bench.broadcast import ADMIN, FIRST_CHAT, OFFICERS, seed  # noqa: E402
from bench.reference import loop_s  # noqa: E402
from bot.circulars import circular  # noqa: E402
from bot.circulars.circular import ConfirmStatus, DraftStatus  # noqa: E402
from bot.core import loop as event_loop  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.config import DeliverySettings  # noqa: E402
from bot.core.transport import AiohttpRequest  # noqa: E402
from bot.delivery.sender import Sender  # noqa: E402
from bot.rehearsal.emulator import FakeBotApi  # noqa: E402
from storage import members, outbox  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.outbox import Priority  # noqa: E402

PAID_PER_S = 1000.0
GLOBAL_PER_S = 30.0
ALERT_CHAT = 7_000_000
TEXT = "Edaran: mohon seluruh petugas hadir apel pukul 06.30 WIB. Terima kasih."


# --------------------------------------------------------------------------------------------
# The emulator's side (also run as a child process: ``bench/paid.py --serve``)
# --------------------------------------------------------------------------------------------


def enforce(emu: FakeBotApi) -> None:
    emu.enforce_rate_limits(
        global_per_s=GLOBAL_PER_S, per_chat_per_s=1, per_group_per_min=20, paid_per_s=PAID_PER_S
    )


def figures(emu: FakeBotApi) -> dict[str, Any]:
    paid = [
        r.at
        for r in emu.sent
        if r.method == "sendMessage" and r.params.get("allow_paid_broadcast") is True
    ]
    alert = next((r.at for r in emu.sent if r.chat_id == ALERT_CHAT), None)
    return {
        "paid": len(paid),
        "first": min(paid, default=None),
        "last": max(paid, default=None),
        "alert_at": alert,
        "n_429": emu.n_429,
        "stars": emu.stars_charged,
        "rejected": len(emu.rejected),
        "cpu_s": time.process_time(),
    }


async def serve() -> None:
    """Run the emulator until stdin closes; answer ``figures`` with one JSON line."""
    async with FakeBotApi() as emu:
        enforce(emu)
        print(json.dumps({"url": emu.base_url, "token": emu.token}), flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            if line.strip() == "figures":
                print(json.dumps(figures(emu)), flush=True)


class Remote:
    """The emulator in a child process (time.monotonic is shared by processes on Linux)."""

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._child.stdout is not None
        hello = json.loads(self._child.stdout.readline())
        self.base_url: str = hello["url"]
        self.token: str = hello["token"]

    def figures(self) -> dict[str, Any]:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write("figures\n")
        self._child.stdin.flush()
        result: dict[str, Any] = json.loads(self._child.stdout.readline())
        return result

    def close(self) -> None:
        assert self._child.stdin is not None
        self._child.stdin.close()
        self._child.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# The bot's side
# --------------------------------------------------------------------------------------------


async def queue_circular(db: Database, clock: SystemClock) -> int:
    async with db.read() as tx:
        admin = await members.by_telegram_id(tx, ADMIN.id)
    assert admin is not None
    drafted = await circular.draft(db, admin, f"petugas {TEXT}", clock.now())
    assert drafted.status is DraftStatus.READY, drafted
    confirmed = await circular.confirm(db, admin, drafted.circular_id, clock.now(), "id", None)
    assert confirmed.status is ConfirmStatus.SENT, confirmed
    return drafted.count


async def drain(
    db: Database, base_url: str, token: str, count: int, clock: SystemClock
) -> tuple[float, float, dict[str, Any]]:
    """Run the sender until ``count`` copies are out; returns (CPU s, alert queued at,
    sender stats)."""
    settings = DeliverySettings(
        global_per_s=GLOBAL_PER_S, paid_broadcast=True, paid_per_s=PAID_PER_S
    )
    bot = telegram.Bot(token, base_url=base_url, request=AiohttpRequest())
    alert_queued = float("nan")
    async with bot:
        sender = Sender(db, bot, settings, clock)
        db.on_outbox.append(sender.wake)
        cpu = time.process_time()
        await sender.start()
        drained: float | None = None
        try:
            # Done when every copy is out, and the alert and the author's report too.
            while drained is None or sender.sent - sender.paid_sent < 2:
                await asyncio.sleep(0.05)
                if alert_queued != alert_queued and sender.paid_sent >= count // 2:
                    alert_queued = time.monotonic()
                    async with db.transaction() as tx:
                        await outbox.enqueue(
                            tx,
                            ALERT_CHAT,
                            "🚨 ALARM",
                            clock.now(),
                            kind="alert",
                            priority=Priority.ALERT,
                        )
                if drained is None and sender.paid_sent >= count:
                    drained = time.process_time() - cpu
        finally:
            await sender.stop()
    assert drained is not None
    return drained, alert_queued, sender.stats()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-process", action="store_true", help="emulator in this process")
    parser.add_argument("--count", type=int, default=OFFICERS, help="officers to reach")
    args = parser.parse_args()
    if args.serve:
        await serve()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="posko-paid-") as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        await seed(path, random.Random(7))
        db = await Database.open(path)
        if args.count < OFFICERS:
            async with db.transaction() as tx:
                await tx.execute(
                    "UPDATE members SET telegram_id = NULL WHERE telegram_id >= ?",
                    (FIRST_CHAT + args.count,),
                )
        count = await queue_circular(db, clock)
        print(f"seeded and queued {count} copies in {time.perf_counter() - started:.1f} s")
        if args.in_process:
            async with FakeBotApi() as emu:
                enforce(emu)
                cpu, alert_queued, stats = await drain(db, emu.base_url, emu.token, count, clock)
                seen = figures(emu)
        else:
            remote = Remote()
            try:
                cpu, alert_queued, stats = await drain(
                    db, remote.base_url, remote.token, count, clock
                )
                seen = remote.figures()
            finally:
                remote.close()
        await db.close()
    window = seen["last"] - seen["first"]
    rate = (seen["paid"] - 1) / window if window > 0 else 0.0
    alert_ms = (seen["alert_at"] - alert_queued) * 1000 if seen["alert_at"] else None
    print(f"sender: {stats}")
    print(
        f"emulator: {seen['paid']} paid copies in {window:.2f} s = {rate:.0f}/s, "
        f"{seen['n_429']} 429s, {seen['rejected']} refused, {seen['stars']:g} Stars charged; "
        f"alert after {alert_ms or float('nan'):.0f} ms; bot CPU {cpu / count * 1e6:.0f} µs/copy"
    )
    if not args.in_process:
        print(f"emulator process CPU: {seen['cpu_s'] / count * 1e6:.0f} µs/copy (with startup)")
    assert abs(seen["stars"] - seen["paid"] * 0.1) < 1e-6, "Stars must be copies × 0.1"
    result = {
        "paid_rate_per_s": round(rate, 1),
        "paid_429s": seen["n_429"],
        "copies": seen["paid"],
        "stars": seen["stars"],
        "alert_ms": None if alert_ms is None else round(alert_ms, 1),
        "cpu_us_per_msg": round(cpu / count * 1e6),
        "in_process": args.in_process,
        "loop_s": loop_s(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(event_loop.run(main()))  # the loop posko run uses (uvloop where installed)
