"""`posko demo` runs the scripted evening end to end and prints a readable transcript."""

from __future__ import annotations

import asyncio
import contextlib
import io

import pytest

from bot.rehearsal import demo
from bot.rehearsal.demo import run_demo


async def test_demo_tells_the_whole_story() -> None:
    out = io.StringIO()
    assert await run_demo(out) == 0
    transcript = out.getvalue()
    for event in (
        "Hadir tercatat di KBJ-01",  # check-ins
        "Laporan KBJ-02/0001 terkirim",  # a report with a photo
        "Foto diterima (1)",
        "Mohon kirim /aman untuk KBJ-01",  # the reminder before silence
        "bot → Lurah Kebon Jeruk: 🔕 PERINGATAN: posko senyap",  # the alert
        "diteruskan ke Kec. Kebon Jeruk",  # the climb
        "Camat Kebon Jeruk → bot: [tekan: ✋ Ambil alih]",  # taken with the button
        "diambil alih oleh Camat Kebon Jeruk",
        "KBJ-01 (Posko Kel. Kebon Jeruk) pulih",  # the recovery
        "Camat Kebon Jeruk → bot: [tekan: ✅ Terima]",  # the report triaged
        "📢 Edaran #1",  # the circular and its receipts
        "[tekan: ✅ Sudah dibaca]",
        "Ringkasan / summary",
        # the disposisi scene (issue 10): a money-politics report with photos and a pin
        "Sari Dewi → bot: [tekan: Politik uang]",
        "Camat Kebon Jeruk → bot: [tekan: ➡️ Teruskan]",
        "Camat Kebon Jeruk → bot: [tekan: ⭐ Bawaslu Jakarta Barat]",  # suggested first
        "bot → Hendra Gunawan: ➡️ Disposisi untuk Bawaslu Jakarta Barat",
        "bot → Hendra Gunawan: [📷 2 foto]",  # the album
        "bot → Hendra Gunawan: [📍 -6.21",  # the map pin
        "bot → Dewi Lestari: ⬆️ Disposisi untuk Bawaslu Jakarta Barat",
        "bot → Dewi Lestari: [📷 2 foto]",
        "bot → Dewi Lestari: [📍 -6.21",
        "Dewi Lestari → bot: [tekan: ✅ Terima]",
        "bot → Sari Dewi: ✅ Laporan KBJ-02/0002 diterima oleh Bawaslu Jakarta Barat",
        "bot → Camat Kebon Jeruk: 📝 Tindak lanjut Bawaslu Jakarta Barat",
        "bot → Sari Dewi: ✔️ Laporan KBJ-02/0002 selesai ditangani Bawaslu Jakarta Barat",
        "bot → Camat Kebon Jeruk: ✔️ Laporan KBJ-02/0002 selesai ditangani",
        # the piket scene (issue 11): reminded, nudged, named in the alert, a swap accepted
        "bot → Wati Lestari: ⏰ Pengingat piket PLM-02",
        "📋 Piket",
        "bot → Dodi Prasetyo: ⚠️ Piket PLM-01",
        "❗ Piket belum hadir: Dodi Prasetyo 0812-3456-7890",
        "Rina Wati → bot: [tekan: ✅ Terima]",
        "kini dipegang Rina Wati",
    ):
        assert event in transcript, event
    for event in ("piket_reminded", "piket_nudged", "piket_absent_named", "piket_swapped"):
        assert f"{event}: ya" in transcript, event
    assert "recovered: ya" in transcript and "circular: ya" in transcript
    for event in ("forwarded", "forward_climbed", "forward_accepted", "forward_done"):
        assert f"{event}: ya" in transcript, event
    assert "liaison_evidence: ya" in transcript
    # the kecamatan liaison never pressed anything: the forward climbed, it was not taken
    assert "Hendra Gunawan → bot" not in transcript


async def test_demo_web_waits_calmly_for_a_late_page_and_stays_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`posko demo --web` with nobody opening the page for a while: the officers are in
    and keep sending /aman meanwhile, so no alert opens and the script's waits never
    match an old alert; after the script the evening stays alive until stopped."""
    monkeypatch.setattr(demo, "WEB_WAIT_S", 8.0)  # longer than staff_grace (4 s)
    out = io.StringIO()
    task = asyncio.create_task(run_demo(out, web_port=0))
    try:
        for _ in range(3000):  # the scripted evening takes about a minute and a half
            if "tetap menyala" in out.getvalue() or task.done():
                break
            await asyncio.sleep(0.1)
        assert not task.done(), out.getvalue()[-3000:]
        kept = out.getvalue()
        assert "tetap menyala" in kept, kept[-3000:]
        waited = kept[kept.index("Menunggu halaman") : kept.index("Sari melaporkan")]
        assert "PERINGATAN" not in waited and "/aman untuk" not in waited
        assert "alert_climbed: ya" in kept and "recovered: ya" in kept
        for _ in range(300):  # the rounds go on after the script
            if out.getvalue().count("Budi Santoso → bot: /aman") > kept.count(
                "Budi Santoso → bot: /aman"
            ):
                break
            await asyncio.sleep(0.1)
        assert out.getvalue().count("Budi Santoso → bot: /aman") > kept.count(
            "Budi Santoso → bot: /aman"
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
