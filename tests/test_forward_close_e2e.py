"""A report that is withdrawn or rejected stops its forwards (issue 10), end to end over
HTTP: its open forwards are closed ('ditutup', no more climbing), the liaisons holding
them are told, and a liaison pressing a button of such a forward gets a short clear answer
while nothing changes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi
from tests.agencies_seed import LIAISON_IN, LIAISON_KOTA, LIAISON_OTHER
from tests.conftest import BUDI, LURAH, AppFactory, Phone
from tests.test_authorization_matrix import delivered, diff, runtime_of, snapshot
from tests.test_disposisi_e2e import agencies_db, agency_id, forward, query, report_card

__all__ = ["agencies_db"]


@pytest.mark.usefixtures("agencies_db")
async def test_a_resolved_report_closes_its_forwards_and_stops_their_climb(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot(watch={"escalate_after": "20m"}) as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        await forward(emu, card, issue_id, await agency_id(db_path, "bawaslu"), None)
        await forward(emu, card, issue_id, await agency_id(db_path, "polri"), "Cek juga")
        rina_card = await delivered(emu, app, clock, LIAISON_IN, ref)
        agus_card = await delivered(emu, app, clock, LIAISON_OTHER, ref)
        bawaslu_id, polri_id = (
            row[0] for row in await query(db_path, "SELECT id FROM forwards ORDER BY id")
        )
        agus = Phone(emu, LIAISON_OTHER)
        await agus.press(agus_card, f"fw:x:{polri_id}:ok")  # one accepted, one not

        # forwarding accepted the report, so Budi can no longer withdraw it; the lurah
        # resolves it at the desk (straight from diterima, with a note)
        lurah = Phone(emu, LURAH)
        await lurah.press(card, f"sv:i:{issue_id}:resolve", forge=True)
        done = await lurah.send("Sudah ditangani bersama Bawaslu dan Polres")
        assert "selesai" in (done.text or "")

        rows = await query(
            db_path, "SELECT state, outcome_note, next_due_at FROM forwards ORDER BY id"
        )
        assert rows == [("ditutup", "resolved", None), ("ditutup", "resolved", None)]
        for liaison, agency in ((LIAISON_IN, "Bawaslu"), (LIAISON_OTHER, "Polres")):
            told = await delivered(emu, app, clock, liaison, "ditutup")
            text = told.text or ""
            assert f"Disposisi laporan {ref} ke {agency}" in text
            assert "sudah selesai ditangani" in text and "/disposisi" in text

        # the liaisons' buttons: a short clear answer, nothing changes
        before = await snapshot(app)
        rina = Phone(emu, LIAISON_IN)
        for phone, sent, data in (
            (rina, rina_card, f"fw:x:{bawaslu_id}:ok"),
            (rina, rina_card, f"fw:x:{bawaslu_id}:rt"),
            (agus, agus_card, f"fw:x:{polri_id}:dn"),
        ):
            answer = await phone.press(sent, data, forge=True)
            text = answer.params.get("text") or ""
            assert f"Disposisi laporan {ref} sudah ditutup" in text, text
            assert "tidak ada yang diubah" in text
        assert diff(before, after := await snapshot(app)) == [], after

        # no more climbing: the kota's Bawaslu liaison never hears of it
        clock.advance(timedelta(minutes=45))
        watcher = runtime_of(app).watcher
        assert watcher is not None
        await watcher.sweep()
        clock.advance(timedelta(minutes=45))
        await watcher.sweep()
        await delivered(emu, app, clock, BUDI, "selesai")  # the outbox has drained
        assert not [s for s in emu.sent_to(LIAISON_KOTA.id) if ref in (s.text or "")]
    events = await query(db_path, "SELECT kind, note FROM forward_events ORDER BY id")
    assert [kind for kind, _ in events].count("climbed") == 0
    assert events[-2:] == [("closed", "resolved"), ("closed", "resolved")]


@pytest.mark.usefixtures("agencies_db")
async def test_a_rejected_report_closes_its_forward_and_a_waiting_note_changes_nothing(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot() as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        await forward(emu, card, issue_id, await agency_id(db_path, "bawaslu"), None)
        rina_card = await delivered(emu, app, clock, LIAISON_IN, ref)
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        rina = Phone(emu, LIAISON_IN)
        await rina.press(rina_card, f"fw:x:{forward_id}:ok")
        # Rina starts a done note; meanwhile the lurah rejects the report
        await rina.press_and_reply(rina_card, f"fw:x:{forward_id}:dn")
        lurah = Phone(emu, LURAH)
        await lurah.press_and_reply(card, f"sv:i:{issue_id}:reject")
        await lurah.send("Bukan pelanggaran, sudah diklarifikasi")
        told = await delivered(emu, app, clock, LIAISON_IN, "ditutup")
        assert "ditolak pengawas" in (told.text or "") and "Lurah Kebon Jeruk" in (told.text or "")
        late = await rina.send("Pelaku sudah diklarifikasi")
        assert f"Disposisi laporan {ref} sudah ditutup" in (late.text or "")
    rows = await query(db_path, "SELECT state, outcome_note FROM forwards")
    assert rows == [("ditutup", "rejected")]
    kinds = [kind for (kind,) in await query(db_path, "SELECT kind FROM forward_events")]
    assert kinds == ["sent", "accepted", "closed"]
