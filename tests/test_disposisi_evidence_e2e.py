"""Evidence travels with a forwarded report (issue 10, SPEC §8), end to end over HTTP: the
liaison's card, the first one and the one that climbed, is followed by the report's
photos as one album (re-sent by file_id) and its location as one map pin."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from tests.agencies_seed import LIAISON_IN, LIAISON_KOTA, LIAISON_OTHER
from tests.conftest import BUDI, LURAH, MONAS, AppFactory, Phone
from tests.test_authorization_matrix import runtime_of
from tests.test_disposisi_e2e import agencies_db, agency_id, forward, query
from tests.test_evidence_e2e import PHOTOS, album_file_ids, evidence_for, file_report

__all__ = ["agencies_db"]  # the fixture, imported for pytest to find


def evidence_calls(emu: FakeBotApi, user: FakeUser) -> list[str]:
    return [
        s.method
        for s in emu.sent_to(user.id)
        if s.method in ("sendPhoto", "sendMediaGroup", "sendLocation", "sendVideo")
    ]


@pytest.mark.usefixtures("agencies_db")
async def test_liaison_cards_bring_album_and_pin_also_when_the_forward_climbs(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot(watch={"escalate_after": "20m"}) as app:
        ref = await file_report(emu, Phone(emu, BUDI))
        lurah_card, _, _ = await evidence_for(emu, clock, LURAH.id, ref)
        ((issue_id,),) = await query(db_path, "SELECT id FROM issues WHERE ref = ?", (ref,))
        await forward(emu, lurah_card, issue_id, await agency_id(db_path, "bawaslu"), None)

        # the kecamatan's Bawaslu liaison: card, then album and pin of the same report
        card, album, pin = await evidence_for(emu, clock, LIAISON_IN.id, ref)
        assert "Disposisi untuk Bawaslu" in (card.text or "")
        assert album_file_ids(album) == list(PHOTOS)
        assert ref in (album.text or "")
        assert pin.result["location"]["latitude"] == pytest.approx(MONAS[0], abs=1e-5)
        assert pin.result["location"]["longitude"] == pytest.approx(MONAS[1], abs=1e-5)
        assert evidence_calls(emu, LIAISON_IN) == ["sendMediaGroup", "sendLocation"]

        # nobody accepts: the forward climbs to the kota's liaison, evidence and all
        mark = emu.mark()
        clock.advance(timedelta(minutes=21))
        watcher = runtime_of(app).watcher
        assert watcher is not None
        await watcher.sweep()
        card, album, pin = await evidence_for(emu, clock, LIAISON_KOTA.id, ref)
        assert card.index > mark and "belum diterima" in (card.text or "")
        assert album_file_ids(album) == list(PHOTOS)
        assert pin.result["location"]["latitude"] == pytest.approx(MONAS[0], abs=1e-5)
        assert evidence_calls(emu, LIAISON_KOTA) == ["sendMediaGroup", "sendLocation"]
        # the climb sends nothing again to the first liaison, nothing to another agency
        assert evidence_calls(emu, LIAISON_IN) == ["sendMediaGroup", "sendLocation"]
        assert evidence_calls(emu, LIAISON_OTHER) == []
