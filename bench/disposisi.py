"""Evidence figures of issue 10 (the disposisi benchmark, evidence part):

    .venv/bin/python bench/disposisi.py               # 1,000 reports, 2,000 photos
    .venv/bin/python bench/disposisi.py --reports 200 # a quicker look

* ``evidence_calls_per_card``: Bot API calls that leave, per recipient, beyond the card
  itself, when a report with 2 photos and a location is announced (the real
  ``announce_new_issue`` queues it; the real outbox sender sends it to the fake Bot API,
  which enforces Telegram's limits). Goal: ≤ 2 (one album, one map pin).
* ``zip_export_s``: ``export_zip`` of ``--reports`` reports with two photos each, every
  photo fetched from the emulator with getFile and a download, written into the zip with
  the issues sheet. Goal: < 60 s on the reference machine (``loop_s`` ≈ 0.3 s).
* ``loop_s``: the reference loop (bench/reference.py) on this machine.

Forwarding to liaisons (``forward_to_liaison_ms``) belongs to the agencies part of the
issue and is not measured here. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import Bot  # noqa: E402

from bench.reference import loop_s  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.config import load_settings  # noqa: E402
from bot.delivery.sender import Sender  # noqa: E402
from bot.exchange.evidence_zip import bot_fetch, export_zip  # noqa: E402
from bot.exchange.export import Period  # noqa: E402
from bot.rehearsal.emulator import FakeBotApi  # noqa: E402
from bot.reports.desk import announce_new_issue  # noqa: E402
from storage import areas, issues, members, posts  # noqa: E402
from storage.areas import AreaRow  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.members import MemberRow  # noqa: E402
from storage.posts import PostRow  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LURAH_ID, GROUP_ID = 2001, -100_2001
PHOTO = b"\xff\xd8\xff\xe0" + b"x" * 60_000 + b"\xff\xd9"  # a ~60 kB "photo"


async def seed(path: Path) -> None:
    db = await Database.open(path)
    await db.migrate()
    async with db.transaction() as tx:
        await areas.upsert(
            tx,
            [
                AreaRow("31", "DKI Jakarta", "provinsi", None),
                AreaRow("31.73", "Kota Jakarta Barat", "kota", "31"),
                AreaRow("31.73.01", "Kebon Jeruk", "kecamatan", "31.73"),
                AreaRow("31.73.01.1001", "Kebon Jeruk", "kelurahan", "31.73.01"),
            ],
            NOW,
        )
        await posts.upsert(
            tx,
            [PostRow("KBJ-01", "Posko Kebon Jeruk", "31.73.01.1001", -6.19, 106.77, 100, 1, "24h")],
            NOW,
        )
        await members.upsert(
            tx,
            [
                MemberRow("budi", "Budi", None, None, ("officer",), ("KBJ-01",), (), 1001, None),
                MemberRow(
                    "lurah", "Lurah", None, None, ("supervisor",), (), ("31.73.01.1001",),
                    LURAH_ID, None,
                ),
            ],
            NOW,
        )  # fmt: skip
        kelurahan = await areas.by_code(tx, "31.73.01.1001")
        assert kelurahan is not None
        await areas.set_group_chat(tx, kelurahan.id, GROUP_ID, None, NOW)
    await db.close()


async def new_issue(db: Database, photos: list[str], *, announce: bool) -> None:
    async with db.transaction() as tx:
        post = await posts.by_code(tx, "KBJ-01")
        reporter = await members.by_ref(tx, "budi")
        assert post is not None and reporter is not None
        issue = await issues.create(
            tx,
            issues.NewIssue(
                post.id, post.code, reporter.id, "logistik", "sedang", "Kotak suara rusak",
                photos, -6.19, 106.77,
            ),
            NOW,
        )  # fmt: skip
        if announce:
            await announce_new_issue(tx, issue, NOW)


async def evidence_calls(emu: FakeBotApi, db: Database, bot: Bot) -> float:
    """Calls per recipient beyond the card for one announced report (2 photos + a pin)."""
    photos = [f"bench-card-{n}" for n in (1, 2)]
    for file_id in photos:
        emu._files.new_photo(PHOTO, file_id)
    mark = emu.mark()
    await new_issue(db, photos, announce=True)
    settings = load_settings(None, overrides={"storage": {"path": ":memory:"}})
    sender = Sender(db, bot, settings.delivery, SystemClock())
    for _ in range(20):  # the per-chat limit lets one message a second into each chat
        await sender.drain_once()
        async with db.read() as tx:
            left = await tx.scalar("SELECT count(*) FROM outbox WHERE status != 'sent'")
        if not left:
            break
        await asyncio.sleep(0.5)
    per_chat = [
        len([s for s in emu.sent[mark:] if s.chat_id == chat and s.error_code is None])
        for chat in (LURAH_ID, GROUP_ID)
    ]
    return sum(count - 1 for count in per_chat) / len(per_chat)


async def zip_export(emu: FakeBotApi, db: Database, db_path: Path, bot: Bot, reports: int) -> float:
    for n in range(reports):
        photos = [f"bench-zip-{n}-{k}" for k in (1, 2)]
        for file_id in photos:
            emu._files.new_photo(PHOTO, file_id)
        await new_issue(db, photos, announce=False)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bukti.zip"
        started = time.perf_counter()
        result = await export_zip(db_path, Period(), out, "id", bot_fetch(bot))
        elapsed = time.perf_counter() - started
        with zipfile.ZipFile(out) as archive:
            photos_in_zip = sum(name.startswith("photos/") for name in archive.namelist())
    assert result.missing == 0 and photos_in_zip == 2 * reports + 2, (result, photos_in_zip)
    return elapsed


async def main(reports: int) -> dict[str, float]:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bench.db"
        await seed(db_path)
        db = await Database.open(db_path)
        try:
            async with FakeBotApi() as emu:
                emu.enforce_rate_limits(global_per_s=30, per_chat_per_s=1)
                async with Bot(
                    emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url
                ) as bot:
                    calls = await evidence_calls(emu, db, bot)
                    print(f"evidence_calls_per_card: {calls:g}", flush=True)
                    seconds = await zip_export(emu, db, db_path, bot, reports)
                    print(f"zip_export_s: {seconds:.2f} ({reports} reports)", flush=True)
        finally:
            await db.close()
    return {
        "evidence_calls_per_card": calls,
        "zip_export_s": round(seconds, 2),
        "reports": reports,
        "photos": 2 * reports,
        "loop_s": loop_s(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    args = parser.parse_args()
    figures = asyncio.run(main(args.reports))
    print(json.dumps(figures))
