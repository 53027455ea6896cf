"""Who may press "📣 Panggil petugas" (issue 9), end to end through the fake Bot API.

The lurah of 31.73.01.1001 takes KBJ-01's unstaffed alert with the real button and gets the
📣 button. Then each actor presses it: the lurah with the real button, everyone else with a
forged callback from a tampered client. Allowed: the taker, a supervisor whose scope covers
KBJ-01 (the camat of Kebon Jeruk), the admin. Refused, with a catalog sentence and no call
queued: a stranger, an officer of the post, a camat of another kecamatan."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from bot.watch.texts import CALL_PREFIX
from storage import areas, members
from storage.areas import AreaRow
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import ADMIN, CAMAT, LURAH, SARI, STRANGER, T0, AppFactory, Phone
from tests.test_authorization_matrix import ask, delivered, runtime_of

A, R = "allowed", "refused"
CAMAT_OTHER = FakeUser(2010, "Camat Kembangan")

ACTORS: dict[str, tuple[FakeUser, str]] = {
    "stranger": (STRANGER, R),
    "officer": (SARI, R),
    "supervisor_in (the taker)": (LURAH, A),
    "supervisor_in (camat above, not the taker)": (CAMAT, A),
    "supervisor_out (camat of another kecamatan)": (CAMAT_OTHER, R),
    "admin": (ADMIN, A),
}
REFUSALS = {catalog("id")["common.unknown_user"], catalog("id")["followup.call_not_yours"]}


@pytest.fixture
async def other_kecamatan(db_path: Path) -> Path:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await areas.upsert(tx, [AreaRow("31.73.02", "Kembangan", "kecamatan", "31.73")], T0)
            await members.upsert(
                tx,
                [
                    MemberRow(
                        "camat2",
                        "Camat Kembangan",
                        None,
                        "+6281100000000",
                        ("supervisor",),
                        (),
                        ("31.73.02",),
                        CAMAT_OTHER.id,
                        None,
                    )
                ],
                T0,
            )
    finally:
        await db.close()
    return db_path


async def calls(app: PoskoApp) -> int:
    async with runtime_of(app).database.read() as tx:
        return int(await tx.scalar("SELECT count(*) FROM outbox WHERE kind = 'alert_call'"))


async def press(emu: FakeBotApi, app: PoskoApp, user: FakeUser, mine: Sent, data: str) -> Sent:
    mark = emu.mark()
    if user.id == LURAH.id:
        emu.press_button(user, mine, data)
    else:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("·", callback_data="noop")]])
        carrier = await app.bot.send_message(user.id, "·", reply_markup=markup)
        ref = {"chat": {"id": user.id}, "message_id": carrier.message_id}
        emu.press_button(user, ref, data, check=False)
    return await emu.wait_for(
        lambda sent: sent.method == "answerCallbackQuery" and sent.index >= mark, after=mark
    )


@pytest.mark.parametrize("actor", list(ACTORS))
async def test_who_may_call_the_officers(
    actor: str,
    emu: FakeBotApi,
    start_bot: AppFactory,
    clock: FakeClock,
    other_kecamatan: Path,
) -> None:
    user, expected = ACTORS[actor]
    async with start_bot() as app:
        watcher = runtime_of(app).watcher
        assert watcher is not None
        await watcher.sweep()
        for code in ("KBJ-02", "KEC-KBJ"):
            await ask(emu, ADMIN, f"/jeda {code} 2h", "dijeda")
        clock.advance(timedelta(minutes=16))
        await watcher.sweep()
        alert = await delivered(emu, app, clock, LURAH, "posko kosong")
        mark = emu.mark()
        await Phone(emu, LURAH).press(alert, emu.inline_buttons(alert)[0][1])
        mine = await emu.wait_reply(LURAH.id, contains="Bapak/Ibu mengambil alih", after=mark)
        ((_label, data),) = emu.inline_buttons(mine)
        assert data.startswith(CALL_PREFIX)
        before = await calls(app)
        answer = await press(emu, app, user, mine, data)
        text = str(answer.params.get("text") or "")
        after = await calls(app)
        if expected == A:
            assert "Panggilan dikirim" in text, text
            assert after == before + 2  # Budi and Sari, both on Telegram
        else:
            assert text in REFUSALS, text
            assert after == before
            # nothing about the post leaks in the refusal
            assert "KBJ-01" not in text and "+62" not in text
