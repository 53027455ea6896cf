"""Outbox sender throughput and alert latency against the fake Bot API (SPEC §5).

    .venv/bin/python bench/delivery.py              # 600 bulk messages (~20 s) + alert probe
    .venv/bin/python bench/delivery.py --n 300 --backlog 2000 --alerts 3

The emulator enforces Telegram's limits (30/s overall, 1/s per chat, 20/min per group)
and answers 429 to anything above them; the sender runs with the same limits.

1. Rate: ``--n`` bulk messages to distinct private chats are queued, then the sender is
   started and drains them. Achieved rate = messages / (arrival of the last one at the
   emulator − start of the sender), compared with the configured 30/s.
2. Alert delay: ``--backlog`` bulk messages are queued and the sender is left draining
   them; then ``--alerts`` alerts are queued one at a time (each in its own transaction,
   followed by ``wake()``). Delay = arrival at the emulator − the moment just before the
   alert's transaction began. The figure is the worst of them.

429s are counted both by the sender and by the emulator. The last line of output is one
JSON object: ``{"rate_ratio": ..., "n_429": ..., "alert_delay_ms": ...}``.
Goals: rate_ratio >= 0.97, n_429 = 0, alert_delay_ms < 1000.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import telegram  # noqa: E402

from bench.reference import loop_s  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.config import DeliverySettings  # noqa: E402
from bot.core.transport import AiohttpRequest  # noqa: E402
from bot.delivery.sender import Sender  # noqa: E402
from bot.rehearsal.emulator import FakeBotApi, Sent  # noqa: E402
from storage import outbox  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.outbox import Priority  # noqa: E402

GLOBAL_PER_S = 30.0
PER_CHAT_PER_S = 1.0
PER_GROUP_PER_MIN = 20.0
RATE_CHATS = 1_000_000
BACKLOG_CHATS = 2_000_000
ALERT_CHATS = 3_000_000


async def queue_bulk(db: Database, clock: SystemClock, first_chat: int, n: int) -> None:
    async with db.transaction() as tx:
        now = clock.now()
        for i in range(n):
            await outbox.enqueue(
                tx, first_chat + i, f"Edaran {i}", now, kind="circular", priority=Priority.BULK
            )


async def measure_rate(
    db: Database, emu: FakeBotApi, sender: Sender, clock: SystemClock, n: int
) -> float:
    await queue_bulk(db, clock, RATE_CHATS, n)
    mark = emu.mark()
    started = time.monotonic()
    await sender.start()
    seen = 0

    def counted(record: Sent) -> bool:
        nonlocal seen
        seen += record.chat_id is not None and record.chat_id >= RATE_CHATS
        return seen >= n

    await emu.wait_for(counted, timeout=n / GLOBAL_PER_S * 2 + 30, after=mark)
    arrivals = [r.at for r in emu.sent[mark:] if r.chat_id and r.chat_id >= RATE_CHATS]
    elapsed = max(arrivals) - started
    rate = len(arrivals) / elapsed
    steady = (len(arrivals) - 1) / (max(arrivals) - min(arrivals))
    print(
        f"rate: {len(arrivals)} messages in {elapsed:.2f} s = {rate:.2f}/s "
        f"(configured {GLOBAL_PER_S:g}/s, ratio {rate / GLOBAL_PER_S:.3f}); "
        f"first→last arrival {steady:.2f}/s"
    )
    return rate / GLOBAL_PER_S


def _to_chat(chat_id: int, record: Sent) -> bool:
    return record.chat_id == chat_id


async def measure_alerts(
    db: Database, emu: FakeBotApi, sender: Sender, clock: SystemClock, backlog: int, alerts: int
) -> float:
    await queue_bulk(db, clock, BACKLOG_CHATS, backlog)
    sender.wake()
    await asyncio.sleep(1.5)  # let it settle into draining the backlog at the limit
    delays: list[float] = []
    rng = random.Random(7)
    for k in range(alerts):
        chat = ALERT_CHATS + k
        mark = emu.mark()
        before = time.monotonic()
        async with db.transaction() as tx:
            await outbox.enqueue(
                tx, chat, f"ALARM {k}", clock.now(), kind="alert", priority=Priority.ALERT
            )
        sender.wake()
        received = await emu.wait_for(functools.partial(_to_chat, chat), timeout=10, after=mark)
        delays.append((received.at - before) * 1000)
        await asyncio.sleep(0.3 + rng.random() * 0.5)
    async with db.read() as tx:
        pending = (await outbox.status_counts(tx)).get("pending", 0)
    print(
        f"alerts: {alerts} queued behind {backlog} bulk ({pending} still pending at the end); "
        f"delays ms: {', '.join(f'{d:.1f}' for d in delays)}; worst {max(delays):.1f} ms"
    )
    return max(delays)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=600, help="bulk messages for the rate run")
    parser.add_argument("--backlog", type=int, default=5000, help="bulk queued before alerts")
    parser.add_argument("--alerts", type=int, default=5, help="alerts to time")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    settings = DeliverySettings(
        global_per_s=GLOBAL_PER_S,
        per_chat_per_s=PER_CHAT_PER_S,
        per_group_per_min=PER_GROUP_PER_MIN,
    )
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="posko-bench-") as folder:
        db = await Database.open(Path(folder) / "posko.db")
        await db.migrate()
        async with FakeBotApi() as emu:
            emu.enforce_rate_limits(
                global_per_s=GLOBAL_PER_S,
                per_chat_per_s=PER_CHAT_PER_S,
                per_group_per_min=PER_GROUP_PER_MIN,
            )
            bot = telegram.Bot(emu.token, base_url=emu.base_url, request=AiohttpRequest())
            async with bot:
                sender = Sender(db, bot, settings, clock)
                try:
                    ratio = await measure_rate(db, emu, sender, clock, args.n)
                    alert_ms = await measure_alerts(
                        db, emu, sender, clock, args.backlog, args.alerts
                    )
                finally:
                    await sender.stop()
            n_429 = max(sender.n_429, emu.n_429)
            print(
                f"429s: sender counted {sender.n_429}, emulator answered {emu.n_429}; "
                f"sender stats {sender.stats()}"
            )
        await db.close()
    print(
        json.dumps(
            {
                "rate_ratio": round(ratio, 4),
                "n_429": n_429,
                "alert_delay_ms": round(alert_ms, 1),
                "loop_s": loop_s(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
