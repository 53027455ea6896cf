"""Follow-through, end to end over HTTP with second-scale durations and the real clock:
an alert names the post's people (phones only in the supervisor's private chat), the
taker gets them with 📣 Panggil petugas, the officers are called, the taker is reminded,
and the alert climbs to the camat as "diambil alih oleh …, belum pulih"."""

from __future__ import annotations

from pathlib import Path

from bot.rehearsal.emulator import FakeBotApi
from tests.conftest import ADMIN, BUDI, CAMAT, LURAH, MONAS, SARI, AppFactory, Phone, db_write

FAST = {
    "staff_grace": "1s",
    "silence_after": "60s",
    "remind_before": "0s",
    "escalate_after": "30s",
    "repeat_every": "60s",
    "remind_before_open": "0s",
    "taken_timeout": "2s",
    "max_sleep": "1s",
}
BUDI_PHONE = "+6281234567890"
SARI_PHONE = "+6285511112222"


async def give_phones(db_path: Path) -> None:
    await db_write(db_path, "UPDATE members SET phone = ? WHERE ref = 'budi'", (BUDI_PHONE,))
    await db_write(db_path, "UPDATE members SET phone = ? WHERE ref = 'sari'", (SARI_PHONE,))


async def test_taken_alert_calls_officers_reminds_and_climbs(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    await give_phones(db_path)
    group = -100777
    lurah, budi = Phone(emu, LURAH), Phone(emu, BUDI)
    async with start_bot(real_time=True, watch=FAST):
        admin = Phone(emu, ADMIN)
        for code in ("KBJ-02", "KEC-KBJ"):
            paused = await admin.send(f"/jeda {code} 2h")
            assert "dijeda" in (paused.text or "")
        mark = emu.mark()
        emu.send_text(ADMIN, "/grup 31.73.01.1001", chat_id=group, chat_type="supergroup")
        bound = await emu.wait_reply(group, after=mark)
        assert "menerima peringatan" in (bound.text or "")
        # the alert: names and phones in the lurah's private chat, names only in the group
        alert = await emu.wait_reply(LURAH.id, contains="posko kosong", timeout=8)
        text = alert.text or ""
        assert "Tidak ada petugas yang hadir sejak" in text
        assert "Budi Santoso" in text and BUDI_PHONE in text and SARI_PHONE in text
        in_group = await emu.wait_reply(group, contains="posko kosong", timeout=8)
        assert "Budi Santoso" in (in_group.text or "")
        assert BUDI_PHONE not in (in_group.text or "") and SARI_PHONE not in (in_group.text or "")
        # take it: the people to call and the 📣 button
        mark = emu.mark()
        await lurah.press(alert, emu.inline_buttons(alert)[0][1])
        mine = await emu.wait_reply(LURAH.id, contains="Bapak/Ibu mengambil alih", after=mark)
        assert BUDI_PHONE in (mine.text or "")
        ((label, data),) = emu.inline_buttons(mine)
        assert label == "📣 Panggil petugas"
        answer = await lurah.press(mine, data)
        assert "Panggilan dikirim ke 2 petugas KBJ-01" in (answer.params.get("text") or "")
        for officer in (BUDI.id, SARI.id):
            call = await emu.wait_reply(officer, contains="📣 Pengawas Lurah Kebon Jeruk")
            assert "kabar dari KBJ-01: /hadir atau /aman" in (call.text or "")
            assert BUDI_PHONE not in (call.text or "")
        again = await lurah.press(mine, data)
        assert "kurang dari semenit" in (again.params.get("text") or "")
        # not recovered: the taker is reminded, then the camat hears of it
        reminder = await emu.wait_reply(
            LURAH.id, contains="belum pulih sejak Bapak/Ibu ambil alih", timeout=8, after=mark
        )
        assert "KBJ-01" in (reminder.text or "") and SARI_PHONE in (reminder.text or "")
        assert emu.inline_buttons(reminder)[0][0] == "📣 Panggil petugas"
        to_camat = await emu.wait_reply(
            CAMAT.id, contains="iambil alih oleh Lurah Kebon Jeruk pukul", timeout=8
        )
        assert "belum pulih" in (to_camat.text or "") and "KBJ-01" in (to_camat.text or "")
        assert emu.inline_buttons(to_camat)[0][0] == "✋ Ambil alih"
        # the camat can take it over from /pantau too (the message may have scrolled away);
        # the lurah, who already holds it, is not offered a take of his own alert
        mark = emu.mark()
        emu.send_text(CAMAT, "/pantau")
        listed = await emu.wait_reply(CAMAT.id, contains="Peringatan terbuka", after=mark)
        assert "✋ KBJ-01" in [label for label, _ in emu.inline_buttons(listed)]
        mark = emu.mark()
        emu.send_text(LURAH, "/pantau KBJ-01")
        own = await emu.wait_reply(LURAH.id, contains="🏠 KBJ-01", after=mark)
        assert "✋ Ambil alih" not in [label for label, _ in emu.inline_buttons(own)]
        # Budi arrives: everyone alerted hears the post recovered; 📣 now says so
        checked_in = await budi.location(*MONAS)
        assert "Hadir tercatat" in (checked_in.text or "")
        for chat in (LURAH.id, CAMAT.id):
            recovered = await emu.wait_reply(chat, contains="pulih:", timeout=5)
            assert "KBJ-01" in (recovered.text or "")
        late = await lurah.press(mine, data)
        assert "sudah pulih" in (late.params.get("text") or "")


async def test_accepted_report_left_reminds_assignee_then_level_above(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    budi, lurah = Phone(emu, BUDI), Phone(emu, LURAH)
    async with start_bot(
        real_time=True, watch={"max_sleep": "1s"}, reports={"follow_up_after": "2s"}
    ):
        filed = await budi.send("/lapor logistik Kotak suara TPS 7 belum datang")
        assert "KBJ-01/" in (filed.text or "")
        card = await emu.wait_reply(LURAH.id, contains="TPS 7", timeout=8)
        accept = next(data for label, data in emu.inline_buttons(card) if "Terima" in label)
        mark = emu.mark()
        await lurah.press(card, accept)
        reminder = await emu.wait_reply(
            LURAH.id, contains="masih diterima sejak", timeout=8, after=mark
        )
        assert "TPS 7" in (reminder.text or "")
        labels = [label for label, _ in emu.inline_buttons(reminder)]
        assert labels == ["🛠️ Tangani", "✔️ Selesai", "❌ Tolak", "➡️ Teruskan"]
        # acting from the reminder itself works, and restarts the clock
        mark = emu.mark()
        await lurah.press(reminder, emu.inline_buttons(reminder)[0][1])
        again = await emu.wait_reply(
            LURAH.id, contains="masih ditangani sejak", timeout=8, after=mark
        )
        labels = [label for label, _ in emu.inline_buttons(again)]
        assert labels == ["✔️ Selesai", "❌ Tolak", "➡️ Teruskan"]
        above = await emu.wait_reply(CAMAT.id, contains="belum selesai", timeout=8, after=mark)
        text = above.text or ""
        assert "ditangani oleh Lurah Kebon Jeruk" in text and "TPS 7" in text
        labels = [label for label, _ in emu.inline_buttons(above)]
        assert labels == ["✔️ Selesai", "❌ Tolak", "➡️ Teruskan"]


async def test_taken_in_a_group_the_phones_go_to_the_takers_private_chat(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    await give_phones(db_path)
    group = -100778
    async with start_bot(real_time=True, watch=FAST):
        admin = Phone(emu, ADMIN)
        for code in ("KBJ-02", "KEC-KBJ"):
            await admin.send(f"/jeda {code} 2h")
        mark = emu.mark()
        emu.send_text(ADMIN, "/grup 31.73.01.1001", chat_id=group, chat_type="supergroup")
        await emu.wait_reply(group, after=mark)
        alert = await emu.wait_reply(group, contains="posko kosong", timeout=8)
        mark = emu.mark()
        await Phone(emu, LURAH).press(alert, emu.inline_buttons(alert)[0][1])
        in_group = await emu.wait_reply(group, contains="diambil alih oleh Lurah", after=mark)
        private = await emu.wait_reply(LURAH.id, contains="Bapak/Ibu mengambil alih", after=mark)
        assert BUDI_PHONE in (private.text or "") and SARI_PHONE in (private.text or "")
        assert emu.inline_buttons(private)[0][0] == "📣 Panggil petugas"
        group_texts = [sent.text or "" for sent in emu.sent_to(group)]
        assert in_group.text in group_texts
        assert not any(BUDI_PHONE in text or SARI_PHONE in text for text in group_texts)
