"""Who may see a report whole and act in the group room (issue 10), end to end.

The world: Budi reports from KBJ-01 with two photos and a location; the posko bersama group
ROOM is bound to kelurahan 31.73.01.1001 and receives the card with its evidence. Each
actor then, against a fresh bot:

1. sends ``/laporan <ref>`` in private (card, timeline, album, pin);
2. presses 📎 (``sv:e:<id>``) — the real button where they have one, forged otherwise;
3. sends ``/pantau`` in the room;
4. presses ✅ Terima on the room's card.

Allowed: the lurah of 31.73.01.1001 (in scope) and the admin. Refused with a catalog
sentence, with no photo, pin or report words shown and nothing changed: a stranger, an
officer of the post, a camat of another kecamatan (out of scope).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from tests.conftest import ADMIN, BUDI, LURAH, SARI, STRANGER, AppFactory, Phone
from tests.test_authorization_followup import CAMAT_OTHER, other_kecamatan
from tests.test_authorization_matrix import runtime_of
from tests.test_evidence_e2e import PHOTOS, bind_group, evidence_for, file_report

A, R = "allowed", "refused"
ROOM = -100_321
ACTORS: dict[str, tuple[FakeUser, str]] = {
    "stranger": (STRANGER, R),
    "officer": (SARI, R),
    "supervisor_in": (LURAH, A),
    "supervisor_out (camat of another kecamatan)": (CAMAT_OTHER, R),
    "admin": (ADMIN, A),
}
_ID = catalog("id")
REFUSAL_PREFIXES = tuple(
    _ID[key].split("{")[0][:30]
    for key in (
        "common.unknown_user",
        "desk.only_supervisors",
        "desk.not_allowed",
        "desk.unknown_ref",
        "pantau.no_scope",
    )
)
SECRET_WORDS = ("TPS 12", "Budi Santoso", "Posko Kel. Kebon Jeruk")
MEDIA = ("sendMediaGroup", "sendLocation", "sendPhoto")

__all__ = ["other_kecamatan"]  # the fixture, imported for use here


def is_refusal(text: str | None) -> bool:
    return bool(text) and any((text or "").startswith(p) for p in REFUSAL_PREFIXES)


def outputs(emu: FakeBotApi, start: int, chats: set[int]) -> list[Sent]:
    return [s for s in emu.sent[start:] if s.chat_id in chats or s.method == "answerCallbackQuery"]


async def issue_status(app: PoskoApp) -> tuple[str, int | None]:
    async with runtime_of(app).database.read() as tx:
        row = await tx.one("SELECT status, assignee_id FROM issues")
    assert row is not None
    return str(row[0]), row[1]


async def forge(emu: FakeBotApi, app: PoskoApp, user: FakeUser, data: str) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("·", callback_data="noop")]])
    carrier = await app.bot.send_message(user.id, "·", reply_markup=markup)
    message = {"chat": {"id": user.id}, "message_id": carrier.message_id}
    emu.press_button(user, message, data, check=False)


async def answer_after(emu: FakeBotApi, mark: int) -> Sent:
    return await emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)


@pytest.mark.parametrize("actor_name", list(ACTORS))
async def test_report_whole_and_the_room(
    actor_name: str,
    emu: FakeBotApi,
    start_bot: AppFactory,
    clock: FakeClock,
    db_path: Path,
    other_kecamatan: Path,
) -> None:
    user, expected = ACTORS[actor_name]
    await bind_group(db_path, "31.73.01.1001", ROOM)
    async with start_bot() as app:
        ref = await file_report(emu, Phone(emu, BUDI), text="Kotak suara TPS 12 dibuka")
        room_card, _, _ = await evidence_for(emu, clock, ROOM, ref)
        issue_id = next(
            int(d.split(":")[2]) for _, d in emu.inline_buttons(room_card) if "accept" in d
        )
        problems: list[str] = []

        # 1. /laporan <ref> in private
        mark = emu.mark()
        emu.send_text(user, f"/laporan {ref}")
        first = await emu.wait_reply(user.id, after=mark)
        if expected == A:
            whole = await emu.wait_reply(user.id, after=mark, contains="Riwayat")
            album = await emu.wait_for(
                lambda s: s.method == "sendMediaGroup" and s.chat_id == user.id, after=mark
            )
            got = [m["photo"][-1]["file_id"] for m in album.result]
            if ref not in (whole.text or "") or got != list(PHOTOS):
                problems.append(f"/laporan REF incomplete: {whole.text!r} {got}")
        else:
            if not is_refusal(first.text):
                problems.append(f"/laporan REF not refused: {first.text!r}")

        # 2. 📎: the real button for those who saw a listing, else forged
        mark = emu.mark()
        listed = next(
            (
                s
                for s in reversed(emu.sent_to(user.id, "sendMessage"))
                if any(d == f"sv:e:{issue_id}" for _, d in emu.inline_buttons(s))
            ),
            None,
        )
        if listed is not None:
            emu.press_button(user, listed, f"sv:e:{issue_id}")
        else:
            await forge(emu, app, user, f"sv:e:{issue_id}")
        answer = await answer_after(emu, mark)
        if expected == A:
            await emu.wait_for(
                lambda s: s.method == "sendMediaGroup" and s.chat_id == user.id, after=mark
            )
        elif not is_refusal(answer.params.get("text")):
            problems.append(f"📎 not refused: {answer.params.get('text')!r}")

        # 3. /pantau in the room
        mark = emu.mark()
        emu.send_text(user, "/pantau", chat_id=ROOM, chat_type="supergroup")
        shown = await emu.wait_reply(ROOM, after=mark)
        if expected == A:
            shown = await emu.wait_reply(ROOM, after=mark, contains="KBJ-01")
            if "KBJ-02" in (shown.text or ""):
                problems.append("room /pantau shows KBJ-02, outside the room's area")
        elif not is_refusal(shown.text):
            problems.append(f"room /pantau not refused: {shown.text!r}")

        # 4. ✅ Terima pressed on the room's card
        mark = emu.mark()
        before = await issue_status(app)
        emu.press_button(user, room_card, f"sv:i:{issue_id}:accept")
        answer = await answer_after(emu, mark)
        after = await issue_status(app)
        if expected == A:
            if after[0] != "diterima":
                problems.append(f"accept in the room did nothing: {after}")
        else:
            if after != before:
                problems.append(f"refused accept changed the issue: {before} → {after}")
            if not is_refusal(answer.params.get("text")):
                problems.append(f"accept not refused: {answer.params.get('text')!r}")

        if expected == R:
            # nothing of the report reached a refused actor: no photo, no pin, no words
            leaked = [
                s
                for s in emu.sent
                if s.chat_id == user.id
                and (s.method in MEDIA or any(w in (s.text or "") for w in SECRET_WORDS))
            ]
            leaked += [
                s
                for s in emu.sent
                if s.method == "answerCallbackQuery"
                and any(w in (s.params.get("text") or "") for w in SECRET_WORDS)
            ]
            if leaked:
                problems.append(f"leaked to a refused actor: {[s.method for s in leaked]}")
    assert not problems, "\n".join(problems)
