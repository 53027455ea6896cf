"""A guided report half-written when the bot stops is finished after it starts again."""

from __future__ import annotations

from pathlib import Path

from bot.rehearsal.emulator import FakeBotApi
from storage.db import Database
from tests.conftest import BUDI, AppFactory, Phone


async def test_guided_report_survives_restart(
    emu: FakeBotApi, db_path: Path, start_bot: AppFactory
) -> None:
    budi = Phone(emu, BUDI)
    async with start_bot():
        ask = await budi.send("/lapor")
        severity = await budi.press_and_reply(ask, "rp:cat:bencana")
        text = await budi.press_and_reply(severity, "rp:sev:darurat")
        assert text.text
        await budi.send("Banjir 50 cm di depan TPS 3")
        first = await budi.photo()
        assert "(1)" in (first.text or "")
    async with start_bot():
        second = await budi.photo()
        assert "(2)" in (second.text or "")
        summary = await budi.press_and_reply(second, "rp:next")
        assert "Banjir 50 cm" in (summary.text or "")
        filed = await budi.press_and_reply(summary, "rp:send")
        assert "KBJ-01/0001" in (filed.text or "")
    db = await Database.open(db_path)
    async with db.read() as tx:
        assert await tx.scalar("SELECT count(*) FROM issue_photos") == 2
        assert await tx.scalar("SELECT severity FROM issues") == "darurat"
        assert await tx.scalar("SELECT count(*) FROM drafts") == 0
    await db.close()
