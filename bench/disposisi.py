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
* ``forward_to_liaison_ms`` (p50, p99, max): the real bot (``build_application`` +
  ``running``) polls the emulator, which enforces Telegram's limits (30 messages/s, 1/s
  per chat). A city of 300 kelurahan (30 kecamatan of 10, one post and one officer each,
  a camat and a Bawaslu liaison per kecamatan, one at the kota) holds ``--reports``
  money-politics reports with 2 photos and a location each (stored, not announced, so
  the outbox starts idle). Each report is forwarded by its camat pressing through the
  real handlers: ➡️ Teruskan (injected on the camat's chat), ⭐ Bawaslu, Tanpa catatan.
  Measured: the last press (the moment its callback update is injected) → the emulator's
  record of the sendMessage carrying the card to the kecamatan's liaison. The forwards
  go one after another, at most ``--forward-rate`` a second, so the outbox carries only
  their own traffic (card, album, pin, the reporter's notice). Goal: p99 < 1,000 ms.
* ``loop_s``: the reference loop (bench/reference.py) on this machine.

The last line of output is one JSON object with all the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import Bot  # noqa: E402

from bench.reference import loop_s  # noqa: E402
from bot.core.app import build_application, running  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.config import load_settings  # noqa: E402
from bot.delivery.sender import Sender  # noqa: E402
from bot.exchange.evidence_zip import bot_fetch, export_zip  # noqa: E402
from bot.exchange.export import Period  # noqa: E402
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent  # noqa: E402
from bot.reports.desk import announce_new_issue  # noqa: E402
from storage import agencies, areas, issues, members, posts  # noqa: E402
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


# --- forward_to_liaison_ms ----------------------------------------------------------------

KECAMATAN, KELURAHAN_PER_KECAMATAN = 30, 10
CAMAT0, LIAISON0, OFFICER0, LIAISON_KOTA = 20_000, 30_000, 40_000, 39_999
SMALL_PHOTO = b"\xff\xd8\xff\xe0" + b"x" * 2_000 + b"\xff\xd9"


def _kec(k: int) -> str:
    return f"31.73.{k + 1:02d}"


def _kel(k: int, j: int) -> str:
    return f"{_kec(k)}.{1001 + j}"


def _post(k: int, j: int) -> str:
    return f"P{k + 1:02d}-{j + 1:02d}"


async def seed_city(path: Path) -> None:
    """300 kelurahan with a post and an officer each; a camat and a Bawaslu liaison per
    kecamatan and a Bawaslu liaison at the kota."""
    area_rows = [
        AreaRow("31", "DKI Jakarta", "provinsi", None),
        AreaRow("31.73", "Kota Jakarta Barat", "kota", "31"),
    ]
    post_rows: list[PostRow] = []
    member_rows: list[MemberRow] = [
        MemberRow(
            "bws-kota", "Bawaslu Kota", None, None, ("liaison",), (), ("31.73",),
            LIAISON_KOTA, None, "bawaslu",
        )
    ]  # fmt: skip
    for k in range(KECAMATAN):
        area_rows.append(AreaRow(_kec(k), f"Kec. {k + 1}", "kecamatan", "31.73"))
        member_rows += [
            MemberRow(
                f"camat-{k}", f"Camat {k + 1}", None, None, ("supervisor",), (), (_kec(k),),
                CAMAT0 + k, None,
            ),
            MemberRow(
                f"bws-{k}", f"Bawaslu Kec. {k + 1}", None, None, ("liaison",), (), (_kec(k),),
                LIAISON0 + k, None, "bawaslu",
            ),
        ]  # fmt: skip
        for j in range(KELURAHAN_PER_KECAMATAN):
            area_rows.append(AreaRow(_kel(k, j), f"Kel. {k + 1}.{j + 1}", "kelurahan", _kec(k)))
            post_rows.append(
                PostRow(_post(k, j), f"Posko {k + 1}.{j + 1}", _kel(k, j), -6.19, 106.77,
                        100, 1, "24h")
            )  # fmt: skip
            member_rows.append(
                MemberRow(
                    f"o-{k}-{j}", f"Petugas {k + 1}.{j + 1}", None, None, ("officer",),
                    (_post(k, j),), (), OFFICER0 + k * 100 + j, None,
                )
            )  # fmt: skip
    db = await Database.open(path)
    try:
        await db.migrate()
        async with db.transaction() as tx:
            await areas.upsert(tx, area_rows, NOW)
            await posts.upsert(tx, post_rows, NOW)
            await agencies.upsert(
                tx, [("bawaslu", "Bawaslu"), ("kpu", "KPU"), ("polri", "Polri")], NOW
            )
            await members.upsert(tx, member_rows, NOW)
    finally:
        await db.close()


async def file_reports(path: Path, emu: FakeBotApi, count: int) -> list[tuple[int, int]]:
    """``count`` money-politics reports with 2 photos and a location, spread over the
    posts; (issue id, kecamatan index) of each."""
    made: list[tuple[int, int]] = []
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            for n in range(count):
                k, j = n % KECAMATAN, (n // KECAMATAN) % KELURAHAN_PER_KECAMATAN
                post = await posts.by_code(tx, _post(k, j))
                reporter = await members.by_ref(tx, f"o-{k}-{j}")
                assert post is not None and reporter is not None
                photos = [f"fw-{n}-{m}" for m in (1, 2)]
                for file_id in photos:
                    emu._files.new_photo(SMALL_PHOTO, file_id)
                issue = await issues.create(
                    tx,
                    issues.NewIssue(
                        post.id, post.code, reporter.id, "politik_uang", "sedang",
                        "Pembagian amplop dekat TPS", photos, -6.19, 106.77,
                    ),
                    NOW,
                )  # fmt: skip
                made.append((issue.id, k))
    finally:
        await db.close()
    return made


def forward_settings(emu: FakeBotApi, path: Path) -> Any:
    return load_settings(
        None,
        overrides={
            "telegram": {
                "token": emu.token,
                "base_url": emu.base_url,
                "base_file_url": emu.base_file_url,
                "bot_username": emu.bot_username,
                "poll_timeout": "1s",
            },
            "storage": {"path": str(path)},
            # Nobody checks in during the bench: keep the watcher from alerting, and the
            # forwards from climbing.
            "watch": {"staff_grace": "12h", "silence_after": "12h", "escalate_after": "12h"},
            # The daily recap to 60 supervisors and liaisons would fill the outbox (and,
            # at the global limit, push a camat's direct reply into a 429): not tonight.
            "recap": {"time": "23:59"},
            "log": {"level": "WARNING"},
        },
    )


def _button(emu: FakeBotApi, message: Sent, part: str) -> tuple[dict[str, Any], str]:
    assert message.chat_id is not None and message.message_id is not None
    current = emu.message(message.chat_id, message.message_id)
    assert current is not None, message
    for label, data in emu.inline_buttons(current):
        if part in label:
            return current, data
    raise RuntimeError(f"no button {part!r} on {message}")


async def forward_to_liaison(reports: int, rate: float) -> list[float]:
    """Milliseconds from the last press to the liaison's card, one per forward."""
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "forward.db"
        await seed_city(path)
        async with FakeBotApi() as emu:
            made = await file_reports(path, emu, reports)
            emu.enforce_rate_limits(global_per_s=30, per_chat_per_s=1)
            app = build_application(forward_settings(emu, path), SystemClock())
            camats = [FakeUser(CAMAT0 + k, f"Camat {k + 1}") for k in range(KECAMATAN)]
            async with running(app):
                anchors: list[Sent] = []
                for camat in camats:  # a bot message in each camat's chat to tap on
                    mark = emu.mark()
                    emu.send_text(camat, "/bantuan")
                    anchors.append(await emu.wait_reply(camat.id, after=mark, timeout=30))
                    await asyncio.sleep(1.0 / 20)
                await asyncio.sleep(1.1)  # the per-chat windows of the anchors pass
                interval = 1.0 / rate
                for n, (issue_id, k) in enumerate(made):
                    started = time.monotonic()
                    camat, liaison = camats[k], LIAISON0 + k
                    mark = emu.mark()
                    emu.press_button(camat, anchors[k], f"fw:s:{issue_id}", check=False)
                    pick = await emu.wait_reply(
                        camat.id, after=mark, contains="instansi", timeout=30
                    )
                    message, data = _button(emu, pick, "Bawaslu")
                    mark = emu.mark()
                    emu.press_button(camat, message, data)
                    ask = await emu.wait_reply(camat.id, after=mark, contains="catatan", timeout=30)
                    message, data = _button(emu, ask, "Tanpa catatan")
                    mark = emu.mark()
                    pressed = time.monotonic()
                    emu.press_button(camat, message, data)
                    card = await emu.wait_for(_card_to(liaison), after=mark, timeout=60)
                    latencies.append((card.at - pressed) * 1000)
                    if (n + 1) % 100 == 0:
                        print(f"  {n + 1} forwarded, last {latencies[-1]:.0f} ms", flush=True)
                    await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
                rejected = sum(1 for r in emu.sent if r.error_code == 429)
                print(f"forwards: {len(latencies)}, 429 answers: {rejected}", flush=True)
    return latencies


def _card_to(chat_id: int) -> Callable[[Sent], bool]:
    return lambda record: record.method == "sendMessage" and record.chat_id == chat_id


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def main(reports: int, forward_rate: float = 4.0) -> dict[str, float]:
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
    latencies = await forward_to_liaison(reports, forward_rate)
    p50, p99 = statistics.median(latencies), _percentile(latencies, 0.99)
    print(
        f"forward_to_liaison_ms: p50 {p50:.0f}, p99 {p99:.0f}, max {max(latencies):.0f}",
        flush=True,
    )
    return {
        "evidence_calls_per_card": calls,
        "zip_export_s": round(seconds, 2),
        "forward_to_liaison_ms": round(p99, 1),
        "forward_to_liaison_p50_ms": round(p50, 1),
        "forward_to_liaison_max_ms": round(max(latencies), 1),
        "forwards": len(latencies),
        "reports": reports,
        "photos": 2 * reports,
        "loop_s": loop_s(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument(
        "--forward-rate", type=float, default=4.0, help="forwards a second at most (default 4)"
    )
    args = parser.parse_args()
    figures = asyncio.run(main(args.reports, args.forward_rate))
    print(json.dumps(figures))
