"""Field reports, end to end (issue 9): drafts that survive a check-in, media with
captions, officer corrections, supervisor reopen, fast paths and the wording around them.

The bot is the real Application polling the fake Bot API over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.emulator import FakeBotApi, FakeUser
from storage.db import Database
from tests.conftest import BUDI, MONAS, SARI, Phone

pytestmark = pytest.mark.usefixtures("bot")

Phones = Callable[[FakeUser], Phone]


async def query(
    db_path: Path, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql, params)]
    finally:
        await db.close()


async def _to_attach(officer: Phone, text: str = "Kotak suara TPS 12 belum datang") -> None:
    ask = await officer.send("/lapor")
    if any(data.startswith("rp:post:") for _, data in officer.buttons(ask)):
        post = next(data for _, data in officer.buttons(ask) if data.startswith("rp:post:"))
        ask = await officer.press_and_reply(ask, post)
    assert "pilih kategori" in (ask.text or "")
    severity = await officer.press_and_reply(ask, "rp:cat:logistik")
    attach_text = await officer.press_and_reply(severity, "rp:sev:tinggi")
    assert "uraian" in (attach_text.text or "")
    attach = await officer.send(text)
    assert "foto" in (attach.text or "")


# --- 1. a check-in does not throw away a half-written report ------------------------------


async def test_check_in_choice_keeps_the_report_draft(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    sari = phone(SARI)  # two posts: the check-in asks which one
    await _to_attach(sari)
    await sari.send("/hadir")
    choose = await sari.location(*MONAS)
    ci = [data for _, data in sari.buttons(choose) if data.startswith("ci:")]
    assert ci, choose.text
    checked_in = await sari.press_and_reply(choose, ci[0])
    assert "KBJ-01" in (checked_in.text or "")
    mark = emu.mark()
    resumed = await sari.send("/lapor")
    assert "belum selesai" in (resumed.text or "")
    await emu.wait_reply(SARI.id, after=mark, contains="Lanjut")
    photo = await sari.photo()
    assert "(1)" in (photo.text or "")
    summary = await sari.press_and_reply(photo, "rp:next")
    assert "Kotak suara TPS 12" in (summary.text or "")
    filed = await sari.press_and_reply(summary, "rp:send")
    assert "/0001" in (filed.text or "")
    rows = await query(db_path, "SELECT text, severity FROM issues")
    assert rows == [("Kotak suara TPS 12 belum datang", "tinggi")]
    assert await query(db_path, "SELECT count(*) FROM shifts WHERE ended_at IS NULL") == [(1,)]
    assert await query(db_path, "SELECT count(*) FROM drafts") == [(0,)]
