"""Piket end to end over HTTP with second-scale durations and the real clock: the rostered
officers are reminded before their slot, the one who does not come is nudged, the
check-in reply names the slot, the lurah's unstaffed alert names the absent officer with
her phone, and /pantau shows how many are rostered and how many are in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.clock import hhmm
from bot.rehearsal.emulator import FakeBotApi
from bot.roster.slots import first_step
from storage import roster
from storage.db import Database
from tests.conftest import ADMIN, BUDI, LURAH, MONAS, SARI, AppFactory, Phone

FAST = {
    "staff_grace": "1s",
    "silence_after": "10m",
    "remind_before": "1m",
    "escalate_after": "10m",
    "repeat_every": "10m",
    "remind_before_open": "0s",
    "max_sleep": "1s",
}
ROSTER = {"remind_before": "3s", "late_after": "2s"}
LEAD = timedelta(seconds=8)  # the bot starts and the posts settle before the slots start


async def _roster(db_path: Path, start: datetime, end: datetime) -> str:
    """Budi and Sari on KBJ-01 from ``start``; the post needs nobody outside the roster."""
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await tx.execute("UPDATE posts SET min_staff = 0 WHERE code = 'KBJ-01'")
            await tx.execute("UPDATE members SET phone = '081298765432' WHERE ref = 'sari'")
            post = int(await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'"))
            rows = []
            for ref in ("budi", "sari"):
                member = int(await tx.scalar("SELECT id FROM members WHERE ref = ?", (ref,)))
                step = first_step(start, end, datetime.now(UTC), timedelta(seconds=3))
                assert step is not None
                rows.append((post, member, start, end, None, step.at, step.kind))
            await roster.insert_slots(tx, rows)
    finally:
        await db.close()
    return f"{hhmm(start)}–{hhmm(end)}"


async def test_piket_reminds_nudges_and_names_the_absent(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + LEAD
    span = await _roster(db_path, start, start + timedelta(minutes=30))
    budi, lurah = Phone(emu, BUDI), Phone(emu, LURAH)
    async with start_bot(real_time=True, watch=FAST, roster=ROSTER):
        admin = Phone(emu, ADMIN)
        for code in ("KBJ-02", "KEC-KBJ"):
            paused = await admin.send(f"/jeda {code} 2h")
            assert "dijeda" in (paused.text or "")
        reminded = await emu.wait_reply(SARI.id, contains="Pengingat piket", timeout=15)
        assert f"KBJ-01 {span}" in (reminded.text or "") and "/hadir" in (reminded.text or "")
        checked_in = await budi.location(*MONAS)
        assert "Hadir tercatat" in (checked_in.text or "")
        assert f"Piket {span}" in (checked_in.text or "")
        nudged = await emu.wait_reply(SARI.id, contains="belum tercatat hadir", timeout=15)
        assert f"KBJ-01 {span}" in (nudged.text or "")
        alert = await emu.wait_reply(LURAH.id, contains="Piket belum hadir", timeout=15)
        text = alert.text or ""
        assert "KBJ-01" in text and "Sari Dewi 081298765432" in text and "1 dari 2" in text
        absent = next(line for line in text.splitlines() if line.startswith("❗"))
        assert "Sari Dewi" in absent and "Budi Santoso" not in absent  # he is in
        overview = await lurah.send("/pantau")
        if "piket" not in (overview.text or ""):  # the open alert list comes first
            overview = await emu.wait_reply(LURAH.id, contains="piket 2", timeout=5)
        assert "piket 2, hadir 1" in (overview.text or "")
        detail = await lurah.send("/pantau KBJ-01")
        assert "Piket hari ini" in (detail.text or "")
        assert "Sari Dewi · belum hadir" in (detail.text or "")
        assert "Budi Santoso · hadir" in (detail.text or "")
