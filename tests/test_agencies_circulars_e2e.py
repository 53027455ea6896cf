"""Circulars to a partner agency (issue 10, SPEC §8): ``/siaran <agency code> <text>``
reaches that agency's liaisons and no one else; the liaison marks it read; a camat with
the siaran power cannot address an agency (it lies beyond any subtree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi
from tests.agencies_seed import (
    LIAISON_IN,
    LIAISON_KOTA,
    LIAISON_OTHER,
    LIAISON_OUT,
    seed_agencies,
)
from tests.conftest import ADMIN, BUDI, CAMAT, LURAH, Phone
from tests.test_circulars_e2e import Starter, copies, jump_clock, query, start_circulars

__all__ = ["jump_clock", "start_circulars"]


@pytest.fixture
async def agencies_db(db_path: Path) -> Path:
    await seed_agencies(db_path)
    return db_path


@pytest.mark.usefixtures("agencies_db")
async def test_circular_to_an_agency_reaches_its_liaisons_only(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    admin = Phone(emu, ADMIN)
    async with start_circulars():
        preview = await admin.send("/siaran bawaslu Rapat koordinasi pengawasan pukul 20.00")
        text = preview.text or ""
        assert "3 penerima" in text  # the three registered Bawaslu liaisons
        assert "penghubung Bawaslu Jakarta Barat (bawaslu)" in text
        await admin.press(preview, admin.buttons(preview)[0][1])
        for user in (LIAISON_IN, LIAISON_KOTA, LIAISON_OUT):
            copy = await emu.wait_reply(user.id, contains="Rapat koordinasi", timeout=5)
            assert copy.text == "📢 Edaran #1\n\nRapat koordinasi pengawasan pukul 20.00"
        for user in (LIAISON_OTHER, BUDI, LURAH, CAMAT):
            assert not copies(emu, user.id, "Rapat koordinasi")
        # a liaison marks it read like anyone else
        copy = copies(emu, LIAISON_IN.id, "Rapat koordinasi")[0]
        thanks = await Phone(emu, LIAISON_IN).press(copy, "cr:r:1")
        assert "Terima kasih" in (thanks.params.get("text") or "")
    read = await query(
        db_path,
        "SELECT m.ref FROM circular_recipients c JOIN members m ON m.id = c.member_id"
        " WHERE c.read_at IS NOT NULL",
    )
    assert read == [("bws-kbj",)]


@pytest.mark.usefixtures("agencies_db")
async def test_a_camat_cannot_address_an_agency(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    async with start_circulars():
        reply = await Phone(emu, CAMAT).send("/siaran bawaslu Mohon hadir")
        expected = catalog("id")["power.siaran_outside"].format(scope="bawaslu")
        assert reply.text == expected
    assert await query(db_path, "SELECT id FROM circulars") == []
