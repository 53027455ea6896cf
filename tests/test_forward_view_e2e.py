"""``/laporan REF`` and ``/laporanku REF`` show a report's forwards (issue 10), end to end
over HTTP: each forward with its agency, state and who accepted it when, and the forward
events in the timeline (who, what, when in WIB); for supervisors in scope and for the
reporter, never for a camat of another kecamatan or a liaison."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock, day_hhmm
from bot.rehearsal.emulator import FakeBotApi
from tests.agencies_seed import CAMAT_OTHER, LIAISON_IN
from tests.conftest import BUDI, LURAH, AppFactory, Phone
from tests.test_authorization_matrix import delivered
from tests.test_disposisi_e2e import agencies_db, agency_id, forward, query, report_card

__all__ = ["agencies_db"]


@pytest.mark.usefixtures("agencies_db")
async def test_one_report_view_lists_forwards_and_their_events(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot() as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        sent_at = day_hhmm(clock.now())
        await forward(emu, card, issue_id, await agency_id(db_path, "bawaslu"), "Mohon dicek")
        rina_card = await delivered(emu, app, clock, LIAISON_IN, ref)
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        clock.advance(timedelta(minutes=7))
        accepted_at = day_hhmm(clock.now())
        rina = Phone(emu, LIAISON_IN)
        await rina.press(rina_card, f"fw:x:{forward_id}:ok")
        await rina.press_and_reply(rina_card, f"fw:x:{forward_id}:pr")
        await rina.send("Tim Bawaslu sudah ke lokasi")
        await forward(emu, card, issue_id, await agency_id(db_path, "polri"), None)

        lurah = Phone(emu, LURAH)
        budi = Phone(emu, BUDI)
        for phone, command in ((lurah, "/laporan"), (budi, "/laporanku")):
            shown = await phone.send(f"{command} {ref}")
            text = shown.text or ""
            assert "➡️ Disposisi:" in text, text
            assert (
                f"• Bawaslu Jakarta Barat: diterima · diteruskan {sent_at} oleh Lurah Kebon"
                f" Jeruk · diterima {accepted_at} oleh Rina Bawaslu"
            ) in text, text
            assert "• Polres Metro Jakarta Barat: dikirim · " in text
            assert "belum diterima" in text
            timeline = text[text.index("Riwayat") :]
            assert (
                f"{sent_at} · Lurah Kebon Jeruk · diteruskan ke Bawaslu Jakarta Barat: Mohon dicek"
            ) in timeline
            assert f"{accepted_at} · Rina Bawaslu · diterima Bawaslu Jakarta Barat" in timeline
            assert (
                "Rina Bawaslu · tindak lanjut Bawaslu Jakarta Barat: Tim Bawaslu sudah ke lokasi"
            ) in timeline
            assert "diteruskan ke Polres Metro Jakarta Barat" in timeline
            # the timeline is in time order: the report first, the second forward last
            assert timeline.index("Bawaslu sudah ke lokasi") < timeline.index("Polres")

        # out of scope and liaisons: no forward shown
        other = await Phone(emu, CAMAT_OTHER).send(f"/laporan {ref}")
        assert "tidak ditemukan" in (other.text or "") and "Bawaslu" not in (other.text or "")
        refused = await rina.send(f"/laporan {ref}")
        assert "bukan untuk penghubung" in (refused.text or "")


@pytest.mark.usefixtures("agencies_db")
async def test_a_report_never_forwarded_shows_no_forwards_section(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot() as app:
        _issue_id, ref, _card = await report_card(emu, app, clock, db_path)
        shown = await Phone(emu, LURAH).send(f"/laporan {ref}")
        assert "Riwayat" in (shown.text or "") and "Disposisi" not in (shown.text or "")
