"""`posko demo` runs the scripted evening end to end and prints a readable transcript."""

from __future__ import annotations

import io

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
    ):
        assert event in transcript, event
    assert "recovered: ya" in transcript and "circular: ya" in transcript
