"""The group room (issue 10), end to end: a posko bersama group bound to an area hears, for
its whole subtree, every new report with its evidence, every alert when it opens, takes and
outcomes; its registered members act from it under their own authorization; strangers get
a polite refusal; /pantau, /peta and /rekap answer there for the group's area, without
phone numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from tests.conftest import (
    ADMIN,
    BUDI,
    CAMAT,
    LURAH,
    MONAS,
    STRANGER,
    AppFactory,
    Phone,
    db_rows,
    db_write,
)
from tests.test_alerts_e2e import FAST
from tests.test_evidence_e2e import (
    PHOTOS,
    album_file_ids,
    bind_group,
    evidence_for,
    file_report,
    ticking,
)

Phones = Callable[[FakeUser], Phone]
ROOM = -100_999
KECAMATAN = "31.73.01"
BUDI_PHONE = "081234567890"


def in_room(emu: FakeBotApi, user: FakeUser, text: str, chat_id: int = ROOM) -> int:
    mark = emu.mark()
    emu.send_text(user, text, chat_id=chat_id, chat_type="supergroup")
    return mark


async def test_room_hears_reports_of_its_subtree_takes_and_outcomes(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path, phone: Phones, clock: FakeClock
) -> None:
    # bound to the kecamatan: a 'tinggi' report of a kelurahan post reaches only the lurah
    # on the ladder, but the kecamatan's group hears it too, with its evidence
    await bind_group(db_path, KECAMATAN, ROOM)
    async with start_bot():
        ref = await file_report(emu, phone(BUDI))
        card, album, pin = await evidence_for(emu, clock, ROOM, ref)
        assert album_file_ids(album) == list(PHOTOS)
        assert pin.result["location"]["latitude"] > -7
        assert not [s for s in emu.sent if s.chat_id == CAMAT.id and ref in (s.text or "")]
        # a stranger in the group presses Terima: refused, nothing shown, nothing changed
        mark = emu.mark()
        emu.press_button(STRANGER, card, emu.inline_buttons(card)[0][1])
        refusal = await emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)
        assert "belum terdaftar" in (refusal.params.get("text") or "")
        assert ref not in (refusal.params.get("text") or "")
        assert await _status(db_path) == "baru"
        # the camat, a member of the group, accepts from the group under their own scope
        mark = emu.mark()
        emu.press_button(CAMAT, card, next(d for _, d in emu.inline_buttons(card) if "accept" in d))
        await emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)
        assert await _status(db_path) == "diterima"
        # the lurah (private card) hears who took it
        await ticking(
            emu,
            clock,
            lambda s: s.chat_id == LURAH.id and "diterima oleh Camat" in (s.text or ""),
        )
        # the lurah resolves from the private card: the room hears 'selesai' with the note
        lurah_card = next(
            s for s in emu.sent_to(LURAH.id, "sendMessage") if "Laporan baru" in (s.text or "")
        )
        lurah = phone(LURAH)
        mark = emu.mark()
        emu.press_button(LURAH, lurah_card, lurah_card_resolve(emu, lurah_card), check=False)
        await emu.wait_reply(LURAH.id, after=mark, contains="catatan")
        await lurah.send("Kotak suara sudah disegel ulang")
        done = await ticking(
            emu, clock, lambda s: s.chat_id == ROOM and "selesai" in (s.text or "").lower()
        )
        assert ref in (done.text or "") and "Kotak suara sudah disegel ulang" in (done.text or "")
        assert "Lurah Kebon Jeruk" in (done.text or "")


def lurah_card_resolve(emu: FakeBotApi, card: Sent) -> str:
    """The card shows Terima/Tolak while new; once accepted its resolve button is the
    callback ``sv:i:<id>:resolve`` (the card in the lurah's chat was not refreshed)."""
    accept = next(d for _, d in emu.inline_buttons(card) if d.endswith(":accept"))
    return accept.removesuffix(":accept") + ":resolve"


async def _status(db_path: Path) -> str:
    ((status,),) = await db_rows(db_path, "SELECT status FROM issues")
    return str(status)


async def test_room_hears_an_alert_when_it_opens_and_who_takes_it(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    await bind_group(db_path, KECAMATAN, ROOM)
    async with start_bot(real_time=True, watch=FAST):
        admin = Phone(emu, ADMIN)
        for code in ("KBJ-02", "KEC-KBJ"):
            await admin.send(f"/jeda {code} 2h")
        await Phone(emu, BUDI).location(*MONAS)
        to_lurah = await emu.wait_reply(LURAH.id, contains="senyap", timeout=8)
        # the kecamatan room hears the alert when it opens, not only once it climbs
        opened = await emu.wait_reply(ROOM, contains="senyap", timeout=3)
        assert "KBJ-01" in (opened.text or "")
        assert "diteruskan" not in (opened.text or "")
        assert emu.inline_buttons(opened)[0][0] == "✋ Ambil alih"
        assert BUDI_PHONE not in (opened.text or "")
        climbed = await emu.wait_reply(CAMAT.id, contains="diteruskan", timeout=8)
        assert "KBJ-01" in (climbed.text or "")
        await asyncio.sleep(0.5)
        # it heard the alert once: the climb goes to the camat, not again to the room
        assert [s for s in emu.sent_to(ROOM, "sendMessage") if "senyap" in (s.text or "")] == [
            opened
        ]
        await Phone(emu, LURAH).press(to_lurah, emu.inline_buttons(to_lurah)[0][1])
        taken = await emu.wait_reply(ROOM, contains="diambil alih oleh Lurah Kebon Jeruk")
        assert "KBJ-01" in (taken.text or "")


async def test_pantau_peta_rekap_in_a_bound_room_are_scoped_and_without_phones(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    await db_write(db_path, "UPDATE members SET phone = ? WHERE ref = 'budi'", (BUDI_PHONE,))
    await bind_group(db_path, "31.73.01.1001", ROOM)
    async with start_bot():
        mark = in_room(emu, CAMAT, "/pantau")
        overview = await emu.wait_reply(ROOM, after=mark, contains="KBJ-01")
        assert "KBJ-02" not in (overview.text or ""), "outside the room's area"
        assert "Kebon Jeruk" in (overview.text or "")
        assert not any(d.startswith("sv:d:") for _, d in emu.inline_buttons(overview))
        mark = in_room(emu, CAMAT, "/pantau KBJ-01")
        detail = await emu.wait_reply(ROOM, after=mark, contains="KBJ-01")
        assert "Budi Santoso" in (detail.text or "") and BUDI_PHONE not in (detail.text or "")
        # in private the same supervisor sees the phone
        private = await Phone(emu, CAMAT).send("/pantau KBJ-01")
        assert BUDI_PHONE in (private.text or "")
        mark = in_room(emu, CAMAT, "/pantau KBJ-02")
        outside = await emu.wait_reply(ROOM, after=mark)
        assert "tidak ada di wilayah" in (outside.text or "")
        assert "Sukabumi" not in (outside.text or "")
        mark = in_room(emu, CAMAT, "/rekap")
        recap = await emu.wait_reply(ROOM, after=mark)
        assert "Kebon Jeruk" in (recap.text or "") and "KBJ-02" not in (recap.text or "")
        assert BUDI_PHONE not in (recap.text or "")
        mark = in_room(emu, CAMAT, "/peta")
        picture = await emu.wait_reply(ROOM, after=mark, methods=("sendPhoto",), contains="🗺️")
        assert "Kebon Jeruk" in (picture.text or "")
        # an officer in the room: the supervisors-only answer, no overview
        mark = in_room(emu, BUDI, "/pantau")
        officer = await emu.wait_reply(ROOM, after=mark, contains="pengawas")
        assert "KBJ-01" not in (officer.text or "")
        # a stranger: the polite refusal, no data
        mark = in_room(emu, STRANGER, "/pantau")
        stranger = await emu.wait_reply(ROOM, after=mark, contains="Maaf")
        assert "belum terdaftar" in (stranger.text or "") and "KBJ" not in (stranger.text or "")
        # other commands stay private, and an unbound group gets no overview at all
        mark = in_room(emu, CAMAT, "/laporan")
        await emu.wait_reply(ROOM, after=mark, contains="chat pribadi")
        mark = in_room(emu, CAMAT, "/pantau", chat_id=-100_424242)
        unbound = await emu.wait_reply(-100_424242, after=mark)
        assert "chat pribadi" in (unbound.text or "") and "KBJ" not in (unbound.text or "")
