"""A silent post, end to end with second-scale durations and the real clock: the
kelurahan supervisor is alerted, the alert climbs to the kecamatan, the camat takes it
with the button, and the post recovers on /aman."""

from __future__ import annotations

from pathlib import Path

from bot.rehearsal.emulator import FakeBotApi, Sent
from tests.conftest import ADMIN, BUDI, CAMAT, LURAH, MONAS, AppFactory, Phone, db_rows

FAST = {
    "staff_grace": "1s",
    "silence_after": "3s",
    "remind_before": "1s",
    "escalate_after": "2s",
    "repeat_every": "30s",
    "remind_before_open": "0s",
    "max_sleep": "1s",
}


def about(post: str, words: str) -> object:
    def match(sent: Sent) -> bool:
        return post in (sent.text or "") and words in (sent.text or "")

    return match


async def test_silent_post_climbs_is_taken_and_recovers(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    budi, camat = Phone(emu, BUDI), Phone(emu, CAMAT)
    async with start_bot(real_time=True, watch=FAST):
        admin = Phone(emu, ADMIN)
        # keep the other posts quiet so that only KBJ-01's story is told
        for code in ("KBJ-02", "KEC-KBJ"):
            paused = await admin.send(f"/jeda {code} 2h")
            assert "dijeda" in (paused.text or "")
        checked_in = await budi.location(*MONAS)
        assert "Hadir tercatat" in (checked_in.text or "")
        reminder = await emu.wait_reply(BUDI.id, contains="⏰ Mohon kirim /aman", timeout=8)
        assert "KBJ-01" in (reminder.text or "")
        to_lurah = await emu.wait_reply(LURAH.id, contains="senyap", timeout=8)
        assert "KBJ-01" in (to_lurah.text or "") and "Budi Santoso" in (to_lurah.text or "")
        assert emu.inline_buttons(to_lurah)[0][0] == "✋ Ambil alih"
        to_camat = await emu.wait_reply(CAMAT.id, contains="diteruskan", timeout=8)
        assert "KBJ-01" in (to_camat.text or "")
        answer = await camat.press(to_camat, emu.inline_buttons(to_camat)[0][1])
        assert answer.method == "answerCallbackQuery"
        mine = await emu.wait_reply(CAMAT.id, contains="Bapak/Ibu mengambil alih")
        assert "KBJ-01" in (mine.text or "")
        told = await emu.wait_reply(LURAH.id, contains="diambil alih oleh Camat Kebon Jeruk")
        assert "KBJ-01" in (told.text or "")
        # a second press by the lurah: already taken
        late = await Phone(emu, LURAH).press(to_lurah, emu.inline_buttons(to_lurah)[0][1])
        assert "Camat Kebon Jeruk" in (late.params.get("text") or "")
        ok = await budi.send("/aman")
        assert "Situasi aman" in (ok.text or "")
        for chat in (LURAH.id, CAMAT.id):
            recovered = await emu.wait_reply(chat, contains="pulih", timeout=5)
            assert "KBJ-01" in (recovered.text or "")


async def test_area_group_chat_receives_alerts(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    group = -100777
    async with start_bot(real_time=True, watch=FAST):
        admin = Phone(emu, ADMIN)
        for code in ("KBJ-02", "KEC-KBJ"):
            await admin.send(f"/jeda {code} 2h")
        mark = emu.mark()
        emu.send_text(ADMIN, "/grup 31.73.01.1001", chat_id=group, chat_type="supergroup")
        # the alert may reach the group at any moment now: each answer is waited for by name
        await emu.wait_reply(group, after=mark, contains="menerima peringatan")
        refused_mark = emu.mark()
        emu.send_text(BUDI, "/grup 31.73.01.1001", chat_id=group, chat_type="supergroup")
        await emu.wait_reply(group, after=refused_mark, contains="khusus admin")
        alert = await emu.wait_reply(group, contains="posko kosong", timeout=8)
        assert "KBJ-01" in (alert.text or "")
        assert emu.inline_buttons(alert)[0][0] == "✋ Ambil alih"
        # the lurah in the group takes it from there
        answer = await Phone(emu, LURAH).press(alert, emu.inline_buttons(alert)[0][1])
        assert answer.method == "answerCallbackQuery"
        taken = await emu.wait_reply(group, contains="diambil alih oleh Lurah Kebon Jeruk")
        assert "KBJ-01" in (taken.text or "")
        # the group hears it once (the direct answer), not again through the outbox
        queued = await db_rows(
            db_path,
            "SELECT count(*) FROM outbox WHERE kind = 'alert_taken' AND chat_id = ?",
            (group,),
        )
        assert queued == [(0,)]
