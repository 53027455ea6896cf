"""/rekap and /peta end to end through the fake Bot API, and the daily recap job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from bot.core.app import PoskoApp, build_application, running
from bot.core.clock import WIB, FakeClock
from bot.core.runtime import Runtime
from bot.insight.map_picture import COLOURS, png_size, rgb
from bot.rehearsal.emulator import FakeBotApi, Sent
from handlers.common import PoskoContext
from handlers.recap import daily_tick, register, start_jobs
from storage.db import Database, to_db
from tests.conftest import ADMIN, BUDI, CAMAT, LURAH, MONAS, Phone, make_settings

PHOTO = ("sendPhoto",)


def wib_time(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=WIB).astimezone(UTC)


@pytest.fixture
async def app(emu: FakeBotApi, db_path: Path, clock: FakeClock) -> AsyncIterator[PoskoApp]:
    # Budi held KBJ-01 08:00-12:00 today: 4 of the 19 open hours up to 19:00 WIB.
    db = await Database.open(db_path)
    async with db.transaction() as tx:
        budi = await tx.scalar("SELECT id FROM members WHERE ref = 'budi'")
        post = await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'")
        await tx.execute(
            "INSERT INTO shifts (member_id, post_id, started_at, ended_at, end_reason)"
            " VALUES (?, ?, ?, ?, 'checkout')",
            (budi, post, to_db(wib_time(8)), to_db(wib_time(12))),
        )
    await db.close()
    application = build_application(make_settings(emu, db_path), clock)
    register(application)
    register(application)  # harmless twice
    async with running(application, poll_timeout=timedelta(seconds=1)):
        await start_jobs(application)
        yield application


def colours(sent: Sent) -> dict[str, int]:
    data = sent.files["photo"]
    image = (imread(BytesIO(data), format="png")[:, :, :3] * 255).round()
    found = {}
    for group, colour in COLOURS.items():
        target = np.array(rgb(colour), dtype=float)
        found[group] = int((np.abs(image - target).max(axis=2) <= 8).sum())
    return found


async def test_rekap_for_a_supervisor_is_text_and_chart_of_their_subtree(
    emu: FakeBotApi, app: PoskoApp
) -> None:
    lurah = Phone(emu, LURAH)
    text = await lurah.send("/rekap")
    body = text.text or ""
    assert text.method == "sendMessage"
    assert "Rekap 24/11/2026 · Kebon Jeruk" in body
    assert "Data s.d. 19:00 WIB · 1 dari 1 posko buka" in body
    assert "Terisi 21% dari jam buka" in body  # 4 h of 19 h
    assert "KBJ-01" in body and "KBJ-02" not in body and "KEC-KBJ" not in body
    assert len(body.splitlines()) <= 25
    photo = await emu.wait_reply(LURAH.id, methods=PHOTO, after=text.index)
    assert photo.files["photo"][:8] == b"\x89PNG\r\n\x1a\n"
    width, _ = png_size(photo.files["photo"])
    assert width == 1080
    assert "Rekap 24/11/2026" in (photo.text or "")
    # the camat sees the whole kecamatan
    camat = await Phone(emu, CAMAT).send("/rekap")
    assert "3 dari 3 posko buka" in (camat.text or "")
    assert "KEC-KBJ" in (camat.text or "") and "KBJ-02" in (camat.text or "")
    await emu.wait_reply(CAMAT.id, methods=PHOTO, after=camat.index)


async def test_rekap_dates_and_refusals(emu: FakeBotApi, app: PoskoApp) -> None:
    refused = await Phone(emu, BUDI).send("/rekap")
    assert "hanya untuk pengawas dan admin" in (refused.text or "")
    assert not emu.sent_to(BUDI.id, "sendPhoto")
    refused_map = await Phone(emu, BUDI).send("/peta")
    assert "hanya untuk pengawas dan admin" in (refused_map.text or "")
    admin = Phone(emu, ADMIN)
    yesterday = await admin.send("/rekap kemarin")
    assert "Rekap 23/11/2026 · semua wilayah" in (yesterday.text or "")
    assert "3 dari 3 posko buka hari itu" in (yesterday.text or "")
    await emu.wait_reply(ADMIN.id, methods=PHOTO, after=yesterday.index)
    future = await admin.send("/rekap 2026-12-01")
    assert "belum tiba" in (future.text or "")
    bad = await admin.send("/rekap besok")
    assert "Format: /rekap" in (bad.text or "")
    english = await admin.send("/recap 2026-11-24")
    assert "semua wilayah" in (english.text or "")
    await emu.wait_reply(ADMIN.id, methods=PHOTO, after=english.index)


async def test_peta_is_a_png_coloured_by_state(emu: FakeBotApi, app: PoskoApp) -> None:
    budi, admin = Phone(emu, BUDI), Phone(emu, ADMIN)
    checked_in = await budi.location(*MONAS)
    assert "Hadir tercatat" in (checked_in.text or "")  # KBJ-01 staffed: green
    paused = await admin.send("/jeda KBJ-02 2h")  # KBJ-02 paused: blue
    assert "dijeda" in (paused.text or "")
    # KEC-KBJ: open, nobody yet: red
    camat_map = await Phone(emu, CAMAT).send("/peta")
    assert camat_map.method == "sendPhoto"
    assert png_size(camat_map.files["photo"]) == (1080, 1350)
    found = colours(camat_map)
    assert found["ok"] > 500 and found["paused"] > 500 and found["unstaffed"] > 500
    assert found["silent"] < 50 and found["closed"] < 50
    caption = camat_map.text or ""
    assert "Kebon Jeruk" in caption and "19:00 WIB" in caption
    assert "aman 1" in caption and "jeda 1" in caption
    # the lurah's map holds only KBJ-01
    lurah_map = await Phone(emu, LURAH).send("/peta")
    found = colours(lurah_map)
    assert found["ok"] > 500 and found["paused"] < 50 and found["unstaffed"] < 50


async def test_daily_recap_is_queued_once_per_person(
    emu: FakeBotApi, app: PoskoApp, clock: FakeClock
) -> None:
    runtime: Runtime = app.bot_data["runtime"]
    context = PoskoContext(app)
    await daily_tick(context)  # 19:00 WIB: not yet
    assert await _recap_rows(runtime) == []
    clock.set(wib_time(21, 5))
    await daily_tick(context)
    await daily_tick(context)
    rows = await _recap_rows(runtime)
    assert sorted(row[0] for row in rows) == [LURAH.id, CAMAT.id, ADMIN.id]
    to_admin = await emu.wait_reply(ADMIN.id, contains="Rekap harian 24/11/2026", after=0)
    assert "semua wilayah" in (to_admin.text or "")
    # the lurah had an alert a moment ago: one message a second per chat, on the bot's clock
    for _ in range(10):
        if any("Rekap harian" in (s.text or "") for s in emu.sent_to(LURAH.id)):
            break
        clock.advance(timedelta(seconds=2))
        runtime.sender.wake()
        await asyncio.sleep(0.2)
    sent = await emu.wait_reply(LURAH.id, contains="Rekap harian 24/11/2026", after=0)
    assert "Kebon Jeruk" in (sent.text or "") and "KBJ-02" not in (sent.text or "")
    jobs = app.job_queue.get_jobs_by_name("recap.daily") if app.job_queue else ()
    assert len(jobs) == 1


async def _recap_rows(runtime: Runtime) -> list[Any]:
    async with runtime.database.read() as tx:
        return list(await tx.all("SELECT chat_id, status FROM outbox WHERE kind = 'recap'"))
