"""Tukar piket (SPEC §9) end to end over HTTP against the fake Bot API: /tukar → my slot →
a colleague → ✅ Terima / ❌ Tolak → (with ``swap_approval``) the lurah approves → the slot
changes hands and both are told; cancel, decline, lapse at the slot's start, and every
bad input answered briefly with nothing changed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from storage import roster
from storage.db import Database
from tests.conftest import ADMIN, BUDI, JOHN, LURAH, SARI, T0, AppFactory, Phone
from tests.roster_seed import WEDNESDAY, seed_slots
from tests.test_authorization_matrix import delivered, runtime_of
from tests.test_evidence_e2e import bind_group

SLOT_LABEL = "Rab 25/11 08:00–16:00 KBJ-01"


@pytest.fixture
async def slots(db_path: Path) -> list[int]:
    ids = await seed_slots(
        db_path,
        ("KBJ-01", "budi", WEDNESDAY, "08:00", "16:00"),
        # today 18:00-23:00: already started at 19:00
        ("KBJ-01", "budi", WEDNESDAY - timedelta(days=1), "18:00", "23:00"),
    )
    # Budi came on time to the running slot, so the watcher has no nudge for him.
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await roster.record_arrival(tx, ids[1], T0 - timedelta(hours=1))
            await tx.execute(
                "UPDATE slots SET next_due_at = NULL, due_kind = NULL WHERE id = ?", (ids[1],)
            )
    finally:
        await db.close()
    return ids


async def member_id(app: PoskoApp, ref: str) -> int:
    async with runtime_of(app).database.read() as tx:
        return int(await tx.scalar("SELECT id FROM members WHERE ref = ?", (ref,)))


async def row(app: PoskoApp, sql: str, *params: Any) -> Any:
    async with runtime_of(app).database.read() as tx:
        return await tx.scalar(sql, params)


async def holder(app: PoskoApp, slot_id: int) -> int:
    return int(await row(app, "SELECT member_id FROM slots WHERE id = ?", slot_id))


async def swap_state(app: PoskoApp) -> str | None:
    found = await row(app, "SELECT state FROM swaps ORDER BY id DESC LIMIT 1")
    return None if found is None else str(found)


def toast(answer: Sent) -> str:
    return str(answer.params.get("text") or "")


async def request_to_sari(emu: FakeBotApi, app: PoskoApp, slot_id: int) -> Sent:
    """Budi's /tukar → his Wednesday slot → Sari; returns his 'sent' message."""
    budi = Phone(emu, BUDI)
    menu = await budi.send("/tukar")
    assert "pilih piket" in (menu.text or "")
    labels = dict(budi.buttons(menu))
    assert labels[SLOT_LABEL] == f"tk:s:{slot_id}"
    assert not any(label.startswith("Sel 24/11") for label in labels)  # started: not offered
    picked = await budi.press_and_reply(menu, f"tk:s:{slot_id}")
    assert "Pilih rekan di KBJ-01" in (picked.text or "")
    colleague = dict(budi.buttons(picked))
    assert "Budi Santoso" not in colleague and "John Doe" not in colleague
    sent = await budi.press_and_reply(picked, colleague["Sari Dewi"])
    assert "dikirim ke Sari Dewi" in (sent.text or "")
    return sent


async def test_swap_accepted_hands_the_slot_over(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, slots: list[int]
) -> None:
    async with start_bot() as app:
        await request_to_sari(emu, app, slots[0])
        request = await delivered(emu, app, clock, SARI, "Permintaan tukar piket")
        assert "Budi Santoso" in (request.text or "") and SLOT_LABEL in (request.text or "")
        sari = Phone(emu, SARI)
        accept, decline = (data for _label, data in sari.buttons(request))
        done = await sari.press_and_reply(request, accept)
        assert "kini tugas Bapak/Ibu" in (done.text or "")
        assert sari.buttons(done) == []
        assert await holder(app, slots[0]) == await member_id(app, "sari")
        await delivered(emu, app, clock, BUDI, "kini dipegang Sari Dewi")
        # Sari's /piket shows it now, Budi's does not
        week = await sari.send("/piket")
        assert "Rab 25/11  08:00–16:00  KBJ-01 Posko Kel. Kebon Jeruk" in (week.text or "")
        mine = await Phone(emu, BUDI).send("/piket")
        assert "Rab 25/11" not in (mine.text or "")
        # pressing again (a double tap) or declining now changes nothing
        for data in (accept, decline):
            again = await sari.press(request, data, forge=True)
            assert "sudah selesai" in toast(again)
        assert await holder(app, slots[0]) == await member_id(app, "sari")
        actions = await row(
            app, "SELECT group_concat(action, ',') FROM audit_log WHERE entity = 'swap'"
        )
        assert actions == "swap_request,swap_accept"


async def test_with_approval_the_lurah_approves(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, slots: list[int]
) -> None:
    async with start_bot(roster={"swap_approval": True}) as app:
        await request_to_sari(emu, app, slots[0])
        request = await delivered(emu, app, clock, SARI, "Permintaan tukar piket")
        sari = Phone(emu, SARI)
        waiting = await sari.press_and_reply(request, sari.buttons(request)[0][1])
        assert "persetujuan pengawas" in (waiting.text or "")
        assert await swap_state(app) == "menunggu_persetujuan"
        assert await holder(app, slots[0]) == await member_id(app, "budi")
        await delivered(emu, app, clock, BUDI, "Sari Dewi menerima")
        ask = await delivered(emu, app, clock, LURAH, "menunggu persetujuan")
        assert "Budi Santoso → Sari Dewi" in (ask.text or "")
        lurah = Phone(emu, LURAH)
        approve = next(d for label, d in lurah.buttons(ask) if "Setujui" in label)
        approved = await lurah.press_and_reply(ask, approve)
        assert "Disetujui" in (approved.text or "")
        assert await holder(app, slots[0]) == await member_id(app, "sari")
        await delivered(emu, app, clock, BUDI, "kini dipegang Sari Dewi")
        told = await delivered(emu, app, clock, SARI, "kini tugas Bapak/Ibu")
        assert "/hadir" in (told.text or "")


async def test_declined_and_cancelled_requests_leave_the_slot(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, slots: list[int]
) -> None:
    async with start_bot() as app:
        budi_id = await member_id(app, "budi")
        await request_to_sari(emu, app, slots[0])
        request = await delivered(emu, app, clock, SARI, "Permintaan tukar piket")
        sari = Phone(emu, SARI)
        declined = await sari.press_and_reply(request, sari.buttons(request)[1][1])
        assert "menolak" in (declined.text or "")
        await delivered(emu, app, clock, BUDI, "Sari Dewi menolak")
        assert await swap_state(app) == "ditolak"
        # asked again, then withdrawn by Budi: Sari's old buttons show how it ended
        sent = await request_to_sari(emu, app, slots[0])
        budi = Phone(emu, BUDI)
        ((_label, cancel),) = budi.buttons(sent)
        cancelled = await budi.press_and_reply(sent, cancel)
        assert "dibatalkan" in (cancelled.text or "")
        await delivered(emu, app, clock, SARI, "membatalkan permintaan")
        assert await swap_state(app) == "dibatalkan"
        second = [
            s for s in emu.sent_to(SARI.id, "sendMessage") if "Permintaan tukar" in (s.text or "")
        ][-1]
        mark = emu.mark()
        answer = await sari.press(second, sari.buttons(second)[0][1])
        assert "sudah selesai: dibatalkan" in toast(answer)
        edited = await emu.wait_reply(SARI.id, after=mark, methods={"editMessageText"})
        assert "dibatalkan" in (edited.text or "") and sari.buttons(edited) == []
        assert await holder(app, slots[0]) == budi_id


async def test_unanswered_request_lapses_when_the_slot_starts(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, slots: list[int]
) -> None:
    async with start_bot() as app:
        await request_to_sari(emu, app, slots[0])
        request = await delivered(emu, app, clock, SARI, "Permintaan tukar piket")
        start = await row(app, "SELECT start_at FROM slots WHERE id = ?", slots[0])
        watcher = runtime_of(app).watcher
        assert watcher is not None
        assert (await watcher.next_deadline()) is not None
        clock.set(datetime.fromisoformat(start))
        await watcher.sweep()
        assert await swap_state(app) == "kedaluwarsa"
        await delivered(emu, app, clock, BUDI, "kedaluwarsa")
        await delivered(emu, app, clock, SARI, "kedaluwarsa")
        sari = Phone(emu, SARI)
        late = await sari.press(request, sari.buttons(request)[0][1])
        assert "kedaluwarsa" in toast(late)
        assert await holder(app, slots[0]) == await member_id(app, "budi")


async def forged(emu: FakeBotApi, app: PoskoApp, user: FakeUser, data: str) -> str:
    """A press from a tampered client, on a message of the bot carrying another button."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("·", callback_data="noop")]])
    carrier = await app.bot.send_message(user.id, "·", reply_markup=markup)
    ref = {"chat": {"id": user.id}, "message_id": carrier.message_id}
    mark = emu.mark()
    emu.press_button(user, ref, data, check=False)
    answer = await emu.wait_for(
        lambda sent: sent.method == "answerCallbackQuery" and sent.index >= mark, after=mark
    )
    return toast(answer)


async def test_bad_input_gets_a_short_answer_and_changes_nothing(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, slots: list[int], db_path: Path
) -> None:
    await bind_group(db_path, "31.73.01.1001", -100_777)
    async with start_bot() as app:
        budi_id, sari_id, john_id = [await member_id(app, r) for r in ("budi", "sari", "john")]
        wednesday, started = slots
        cases = {
            f"tk:m:{wednesday}:{john_id}": "tidak ditugaskan di KBJ-01",  # not at the post
            f"tk:m:{wednesday}:{budi_id}": "diri sendiri",
            f"tk:s:{started}": "sudah dimulai",
            f"tk:m:{started}:{sari_id}": "sudah dimulai",
            "tk:m:999999:1": "tidak berlaku",
            "tk:x:abc:a": "tidak berlaku",
            "tk:x:1:zz": "tidak berlaku",
            "tk:" + "9" * 60: "tidak berlaku",
            "pk:1:99999999": "tidak berlaku",
        }
        for data, expected in cases.items():
            text = await forged(emu, app, BUDI, data)
            assert expected in text, (data, text)
            assert len(text) < 200
        assert await row(app, "SELECT count(*) FROM swaps") == 0
        # someone else's slot, and someone else's swap
        assert "not for you" in await forged(emu, app, JOHN, f"tk:s:{wednesday}")  # English
        await request_to_sari(emu, app, wednesday)
        swap_id = await row(app, "SELECT id FROM swaps")
        for user, data in ((JOHN, f"tk:x:{swap_id}:a"), (BUDI, f"tk:x:{swap_id}:a"),
                           (SARI, f"tk:x:{swap_id}:c"), (ADMIN, f"tk:x:{swap_id}:d")):  # fmt: skip
            text = await forged(emu, app, user, data)
            assert "bukan untuk" in text or "not for you" in text, (user, data)
        # a second request for the same slot while one is open
        assert "sudah diminta" in await forged(emu, app, BUDI, f"tk:m:{wednesday}:{sari_id}")
        # approval is not asked for (swap_approval is off): approving is not a step now
        assert "tidak berlaku sekarang" in await forged(emu, app, LURAH, f"tk:x:{swap_id}:y")
        assert await swap_state(app) == "diminta"
        assert await holder(app, wednesday) == budi_id
        # piket is personal: not in a group (bound to the kelurahan, so the bot is heard)
        mark = emu.mark()
        emu.send_text(BUDI, "/tukar", chat_id=-100_777, chat_type="supergroup")
        refusal = await emu.wait_reply(-100_777, after=mark)
        assert "chat pribadi" in (refusal.text or "")
        emu.send_text(BUDI, "/piket", chat_id=-100_777, chat_type="supergroup")
        refusal = await emu.wait_reply(-100_777, after=mark + 1, contains="pribadi")
        assert "KBJ-01" not in (refusal.text or "")
        # 5,000 characters after /tukar: the same list, nothing else
        menu = await Phone(emu, BUDI).send("/tukar " + "x" * 5000)
        assert "pilih piket" in (menu.text or "")
        assert clock.now() < datetime.fromisoformat(
            await row(app, "SELECT start_at FROM slots WHERE id = ?", wednesday)
        )
