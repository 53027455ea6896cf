"""Who may press a forward's liaison buttons from the group room (issue 10), end to end.

The world: Budi reports money politics at KBJ-01; the lurah forwards it to Bawaslu; the
posko bersama group ROOM, bound to the kecamatan 31.73.01, hears of the forward with the
liaison's buttons (✅ Terima, ↩️ Kembalikan). Each actor, against a fresh bot, presses
✅ Terima on the room's notice.

Allowed: the kecamatan's Bawaslu liaison (the same rule as in private: a liaison of that
agency whose scope covers the post). Refused with a short catalog sentence that shows no
report data, and nothing changed: a stranger, an officer, a supervisor in scope (the
lurah: acting for the agency is not theirs), a camat of another kecamatan, the admin, a
liaison of another agency, a Bawaslu liaison of another kecamatan. A forged forward id is
answered as a stale button.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from tests.agencies_seed import CAMAT_OTHER, LIAISON_IN, LIAISON_OTHER, LIAISON_OUT
from tests.conftest import ADMIN, LURAH, SARI, STRANGER, AppFactory
from tests.test_authorization_matrix import delivered, diff, snapshot
from tests.test_disposisi_e2e import agencies_db, agency_id, forward, query, report_card
from tests.test_evidence_e2e import bind_group

__all__ = ["agencies_db"]

A, R = "allowed", "refused"
ROOM = FakeUser(-100_654, "Posko Kebon Jeruk")
ACTORS: dict[str, tuple[FakeUser, str]] = {
    "stranger": (STRANGER, R),
    "officer": (SARI, R),
    "supervisor_in": (LURAH, R),
    "supervisor_out (camat of another kecamatan)": (CAMAT_OTHER, R),
    "admin": (ADMIN, R),
    "liaison_in": (LIAISON_IN, A),
    "liaison of another agency": (LIAISON_OTHER, R),
    "liaison_out (Bawaslu of another kecamatan)": (LIAISON_OUT, R),
}
_ID = catalog("id")
REFUSALS = (_ID["common.unknown_user"], _ID["disposisi.not_allowed"])
SECRET_WORDS = ("amplop", "TPS 12", "Budi", "KBJ-01")


async def _room_notice(
    emu: FakeBotApi, clock: FakeClock, db_path: Path, app: PoskoApp
) -> tuple[Sent, int]:
    issue_id, _ref, card = await report_card(emu, app, clock, db_path)
    await forward(emu, card, issue_id, await agency_id(db_path, "bawaslu"), "Mohon dicek")
    notice = await delivered(emu, app, clock, ROOM, "diteruskan ke Bawaslu")
    ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
    return notice, int(forward_id)


async def _press(emu: FakeBotApi, user: FakeUser, notice: Sent, data: str) -> str:
    mark = emu.mark()
    emu.press_button(user, notice, data, check=False)
    answer = await emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)
    return str(answer.params.get("text") or "")


@pytest.mark.usefixtures("agencies_db")
@pytest.mark.parametrize("actor", list(ACTORS))
async def test_accept_from_the_room(
    actor: str, emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    user, expected = ACTORS[actor]
    await bind_group(db_path, "31.73.01", ROOM.id)
    async with start_bot() as app:
        notice, forward_id = await _room_notice(emu, clock, db_path, app)
        before = await snapshot(app)
        answer = await _press(emu, user, notice, f"fw:x:{forward_id}:ok")
        after = await snapshot(app)
    ((state,),) = await query(db_path, "SELECT state FROM forwards")
    if expected == A:
        assert state == "diterima", answer
        return
    assert state == "dikirim"
    assert answer in REFUSALS, answer
    assert not [word for word in SECRET_WORDS if word in answer]
    assert diff(before, after) == []


@pytest.mark.usefixtures("agencies_db")
async def test_a_forged_forward_id_from_the_room_is_a_stale_button(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    await bind_group(db_path, "31.73.01", ROOM.id)
    async with start_bot() as app:
        notice, forward_id = await _room_notice(emu, clock, db_path, app)
        for data in (f"fw:x:{forward_id + 99}:ok", f"fw:x:{forward_id}:zz", "fw:x:-1:ok"):
            answer = await _press(emu, LIAISON_IN, notice, data)
            assert answer == _ID["common.stale_button"], (data, answer)
    ((state,),) = await query(db_path, "SELECT state FROM forwards")
    assert state == "dikirim"
