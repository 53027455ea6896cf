"""The group room hears disposisi (issue 10), end to end over HTTP: a posko bersama group
bound to the kecamatan is told when a report of its subtree is forwarded and of each
outcome (accepted, done with its note, returned with its reason); the notice carries the
liaison's buttons, which only a liaison of that agency in scope may press from the group;
a stranger gets the polite refusal without data and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from tests.agencies_seed import CAMAT_OTHER, LIAISON_IN, LIAISON_OTHER, LIAISON_OUT
from tests.conftest import CAMAT, STRANGER, AppFactory, Phone
from tests.test_authorization_matrix import delivered
from tests.test_disposisi_e2e import agencies_db, agency_id, forward, query, report_card
from tests.test_evidence_e2e import bind_group

__all__ = ["agencies_db"]

ROOM = FakeUser(-100_777, "Posko Kebon Jeruk")
OTHER_ROOM = FakeUser(-100_778, "Posko Kembangan")


async def bind_rooms(db_path: Path) -> None:
    await bind_group(db_path, "31.73.01", ROOM.id)
    await bind_group(db_path, "31.73.02", OTHER_ROOM.id)


def buttons_now(emu: FakeBotApi, sent: Sent) -> list[tuple[str, str]]:
    current = emu.message(sent.chat_id or 0, sent.message_id or 0)
    assert current is not None
    return emu.inline_buttons(current)


async def state(db_path: Path) -> str:
    ((found,),) = await query(db_path, "SELECT state FROM forwards")
    return str(found)


async def press_in_room(emu: FakeBotApi, user: FakeUser, notice: Sent, data: str) -> str:
    """``user`` presses a button of the room's notice; the text of the answer."""
    mark = emu.mark()
    emu.press_button(user, notice, data)
    answer = await emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)
    return str(answer.params.get("text") or "")


@pytest.mark.usefixtures("agencies_db")
async def test_room_hears_forward_accept_and_done_and_its_liaison_acts_from_there(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    await bind_rooms(db_path)
    async with start_bot() as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        await forward(emu, card, issue_id, await agency_id(db_path, "bawaslu"), "Cek amplop")
        notice = await delivered(emu, app, clock, ROOM, "diteruskan ke Bawaslu")
        text = notice.text or ""
        assert f"Laporan {ref} (KBJ-01) diteruskan ke Bawaslu Jakarta Barat" in text
        assert "Lurah Kebon Jeruk" in text and "Cek amplop" in text
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        assert buttons_now(emu, notice) == [
            ("✅ Terima", f"fw:x:{forward_id}:ok"),
            ("↩️ Kembalikan", f"fw:x:{forward_id}:rt"),
        ]

        # strangers, supervisors, another agency's and another kecamatan's liaison: refused
        refusal = await press_in_room(emu, STRANGER, notice, f"fw:x:{forward_id}:ok")
        assert "belum terdaftar" in refusal and ref not in refusal
        for other in (CAMAT, CAMAT_OTHER, LIAISON_OTHER, LIAISON_OUT):
            answer = await press_in_room(emu, other, notice, f"fw:x:{forward_id}:ok")
            assert "di luar wewenang" in answer, (other, answer)
        assert await state(db_path) == "dikirim"

        # the kecamatan's Bawaslu liaison accepts from the room: its buttons follow
        await press_in_room(emu, LIAISON_IN, notice, f"fw:x:{forward_id}:ok")
        assert await state(db_path) == "diterima"
        assert buttons_now(emu, notice) == [
            ("📝 Tindak lanjut", f"fw:x:{forward_id}:pr"),
            ("✔️ Selesai", f"fw:x:{forward_id}:dn"),
            ("↩️ Kembalikan", f"fw:x:{forward_id}:rt"),
        ]
        accepted = await delivered(emu, app, clock, ROOM, "diterima oleh Bawaslu")
        assert ref in (accepted.text or "") and "Rina Bawaslu" in (accepted.text or "")

        # ✔️ Selesai from the room: the note is asked in private, the room hears it
        rina = Phone(emu, LIAISON_IN)
        mark = emu.mark()
        emu.press_button(LIAISON_IN, notice, f"fw:x:{forward_id}:dn")
        await emu.wait_reply(LIAISON_IN.id, after=mark, contains=ref)
        await rina.send("Pelaku sudah diklarifikasi")
        done = await delivered(emu, app, clock, ROOM, "selesai ditangani")
        assert "Pelaku sudah diklarifikasi" in (done.text or "") and ref in (done.text or "")
        assert buttons_now(emu, notice) == []
        assert await state(db_path) == "selesai"

    # a group bound to another kecamatan hears nothing of it
    assert not [s for s in emu.sent if s.chat_id == OTHER_ROOM.id and ref in (s.text or "")]


@pytest.mark.usefixtures("agencies_db")
async def test_room_hears_a_return_with_its_reason(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    await bind_rooms(db_path)
    async with start_bot() as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        await forward(emu, card, issue_id, await agency_id(db_path, "polri"), None)
        notice = await delivered(emu, app, clock, ROOM, "diteruskan ke Polres")
        assert "Catatan: -" in (notice.text or "")
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        agus = Phone(emu, LIAISON_OTHER)
        liaison_card = await delivered(emu, app, clock, LIAISON_OTHER, ref)
        await agus.press_and_reply(liaison_card, f"fw:x:{forward_id}:rt")
        await agus.send("Bukan ranah Polri, mohon ke Bawaslu")
        back = await delivered(emu, app, clock, ROOM, "dikembalikan oleh Polres")
        assert "Alasan: Bukan ranah Polri, mohon ke Bawaslu" in (back.text or "")
        assert f"/laporan {ref}" in (back.text or "")
        assert buttons_now(emu, back) == []
    assert await state(db_path) == "dikembalikan"
