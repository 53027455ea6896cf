"""Officers on the bot, end to end: the real Application polling the fake Bot API over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.presence.registration import invite
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from storage.db import Database
from tests.conftest import BUDI, JOHN, MONAS, NEWBIE, SARI, STRANGER, Phone

pytestmark = pytest.mark.usefixtures("bot")

Phones = Callable[[FakeUser], Phone]


async def query(
    db_path: Path, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql, params)]
    finally:
        await db.close()


async def new_invite(db_path: Path, clock: FakeClock, ref: str = "newbie") -> str:
    db = await Database.open(db_path)
    try:
        invitation = await invite(db, ref, clock.now(), timedelta(days=7))
        assert invitation is not None
        return invitation.code
    finally:
        await db.close()


# --- registration -------------------------------------------------------------------------


async def test_register_with_invite_code(
    phone: Phones, db_path: Path, clock: FakeClock, emu: FakeBotApi
) -> None:
    code = await new_invite(db_path, clock)
    reply = await phone(NEWBIE).send(f"/start {code}")
    assert "Anggota Baru" in (reply.text or "")
    assert "terdaftar" in (reply.text or "")
    rows = await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'newbie'")
    assert rows == [(NEWBIE.id,)]
    menu = await emu.wait_for(
        lambda s: (
            s.method == "setMyCommands" and s.params.get("scope", {}).get("chat_id") == NEWBIE.id
        )
    )
    names = [command["command"] for command in menu.params["commands"]]
    assert "hadir" in names and "lapor" in names and "siaran" not in names
    # now recognised on any command
    status = await phone(NEWBIE).send("/status")
    assert "KBJ-02" in (status.text or "")


async def test_used_code_is_refused(phone: Phones, db_path: Path, clock: FakeClock) -> None:
    code = await new_invite(db_path, clock)
    await phone(NEWBIE).send(f"/start {code}")
    reply = await phone(STRANGER).send(f"/start {code}")
    assert "sudah dipakai" in (reply.text or "")
    rows = await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'newbie'")
    assert rows == [(NEWBIE.id,)]


async def test_expired_code_is_refused(phone: Phones, db_path: Path, clock: FakeClock) -> None:
    code = await new_invite(db_path, clock)
    clock.advance(timedelta(days=8))
    reply = await phone(NEWBIE).send(f"/start {code}")
    assert "kedaluwarsa" in (reply.text or "")
    assert await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'newbie'") == [(None,)]


async def test_unknown_code_is_refused(phone: Phones) -> None:
    reply = await phone(NEWBIE).send("/start NOSUCHCODE")
    assert "tidak dikenal" in (reply.text or "")
    reply = await phone(NEWBIE).send("/start <script>")
    assert "tidak dikenal" in (reply.text or "")


async def test_imported_telegram_id_is_recognised_without_code(phone: Phones) -> None:
    reply = await phone(BUDI).send("/start")
    assert "Budi Santoso" in (reply.text or "")


@pytest.mark.parametrize(
    "text",
    [
        "/hadir",
        "/pulang",
        "/aman",
        "/lapor",
        "/lapor logistik kurang",
        "/laporanku",
        "/status",
        "/bantuan",
        "/start",
        "halo",
        "/siaran semua tes",
        "x" * 5000,
    ],
)
async def test_unknown_user_is_refused_on_every_command(phone: Phones, text: str) -> None:
    reply = await phone(STRANGER).send(text)
    assert "belum terdaftar" in (reply.text or "")
    assert "KBJ" not in (reply.text or "")


async def test_unknown_user_location_photo_and_button(phone: Phones, emu: FakeBotApi) -> None:
    stranger = phone(STRANGER)
    reply = await stranger.location(*MONAS)
    assert "belum terdaftar" in (reply.text or "")
    reply = await stranger.photo()
    assert "belum terdaftar" in (reply.text or "")
    # a callback from a message the stranger never got: forged
    fake_message = await phone(BUDI).send("/bantuan")
    answer = await stranger.press(fake_message, "rp:send", forge=True)
    assert "belum terdaftar" in (answer.params.get("text") or "")


async def test_english_member_gets_english(phone: Phones) -> None:
    reply = await phone(JOHN).send("/status")
    assert "On duty" in (reply.text or "")
    english_stranger = FakeUser(8888, "Eve", language_code="en-GB")
    reply = await phone(english_stranger).send("/hadir")
    assert "not registered" in (reply.text or "")


# --- check in / out -----------------------------------------------------------------------


async def test_check_in_inside_geofence(phone: Phones, db_path: Path) -> None:
    budi = phone(BUDI)
    ask = await budi.send("/hadir")
    keyboard = ask.params["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_location"] is True
    reply = await budi.location(MONAS[0] + 0.0003, MONAS[1], horizontal_accuracy=10)
    assert "Hadir tercatat di KBJ-01" in (reply.text or "")
    assert "di dalam area" in (reply.text or "")
    rows = await query(db_path, "SELECT inside_geofence, verified, round(distance_m) FROM shifts")
    assert rows == [(1, 1, 33.0)]
    signals = await query(db_path, "SELECT kind FROM signals")
    assert signals == [("checkin",)]


async def test_check_in_outside_geofence_is_unverified(phone: Phones, db_path: Path) -> None:
    reply = await phone(BUDI).location(MONAS[0] + 0.01, MONAS[1])
    assert "di luar area" in (reply.text or "")
    assert await query(db_path, "SELECT inside_geofence, verified FROM shifts") == [(0, 0)]


async def test_inaccurate_location_is_unverified(phone: Phones, db_path: Path) -> None:
    reply = await phone(BUDI).location(*MONAS, horizontal_accuracy=500)
    assert "kurang akurat" in (reply.text or "")
    assert await query(db_path, "SELECT inside_geofence, verified FROM shifts") == [(1, 0)]


async def test_forwarded_location_is_refused(phone: Phones, db_path: Path) -> None:
    reply = await phone(BUDI).location(*MONAS, forward_from=SARI)
    assert "diteruskan" in (reply.text or "")
    assert await query(db_path, "SELECT count(*) FROM shifts") == [(0,)]


async def test_live_location_and_its_edits(
    phone: Phones, emu: FakeBotApi, db_path: Path, clock: FakeClock
) -> None:
    budi = phone(BUDI)
    mark = emu.mark()
    live = emu.send_location(BUDI, MONAS[0] + 0.01, MONAS[1], live_period=3600)
    reply = await emu.wait_reply(BUDI.id, after=mark)
    assert "di luar area" in (reply.text or "")
    clock.advance(timedelta(minutes=6))
    update = emu.edit_location(BUDI, live["message"], MONAS[0], MONAS[1], horizontal_accuracy=5)
    await emu.wait_acknowledged(update["update_id"])
    await budi.send("/status")  # same user: processed after the edit
    rows = await query(db_path, "SELECT verified, inside_geofence, round(distance_m) FROM shifts")
    assert rows == [(1, 1, 0.0)]
    kinds = await query(db_path, "SELECT kind FROM signals ORDER BY id")
    assert kinds == [("checkin",), ("live_location",)]
    # edits are silent: the only replies are to the live location and to /status
    assert len([s for s in emu.sent[mark:] if s.method == "sendMessage"]) == 2
    # walking away: the latest position decides, the check-in is no longer verified
    away = emu.edit_location(
        BUDI, live["message"], MONAS[0] + 0.02, MONAS[1], horizontal_accuracy=5
    )
    await emu.wait_acknowledged(away["update_id"])
    await budi.send("/status")
    rows = await query(db_path, "SELECT verified, inside_geofence FROM shifts")
    assert rows == [(0, 0)]


async def test_check_in_again_is_idempotent(phone: Phones, db_path: Path) -> None:
    budi = phone(BUDI)
    await budi.location(*MONAS)
    reply = await budi.location(*MONAS)
    assert "sudah bertugas" in (reply.text or "")
    assert await query(db_path, "SELECT count(*) FROM shifts") == [(1,)]
    again = await budi.send("/hadir")
    assert "sudah bertugas" in (again.text or "")


async def test_two_posts_pick_with_buttons(phone: Phones, db_path: Path) -> None:
    sari = phone(SARI)
    ask = await sari.location(-6.2001, 106.7701)
    buttons = sari.buttons(ask)
    assert len(buttons) == 2
    assert buttons[0][0].startswith("KBJ-02") and "terdekat" in buttons[0][0]
    reply = await sari.press_and_reply(ask, buttons[0][1])
    assert "Hadir tercatat di KBJ-02" in (reply.text or "")
    rows = await query(db_path, "SELECT p.code FROM shifts s JOIN posts p ON p.id = s.post_id")
    assert rows == [("KBJ-02",)]


async def test_forged_post_choice_changes_nothing(phone: Phones, db_path: Path) -> None:
    sari = phone(SARI)
    ask = await sari.location(-6.2001, 106.7701)
    kec_id = (await query(db_path, "SELECT id FROM posts WHERE code = 'KEC-KBJ'"))[0][0]
    reply = await sari.press_and_reply(ask, f"ci:{kec_id}", forge=True)
    assert "tidak berlaku" in (reply.text or "")
    assert await query(db_path, "SELECT count(*) FROM shifts") == [(0,)]
    answer = await sari.press(ask, "ci:abc", forge=True)
    assert "tidak berlaku" in (answer.params.get("text") or "")


async def test_check_out(phone: Phones, db_path: Path, clock: FakeClock) -> None:
    budi = phone(BUDI)
    not_yet = await budi.send("/pulang")
    assert "belum tercatat hadir" in (not_yet.text or "")
    await budi.location(*MONAS)
    clock.advance(timedelta(hours=2, minutes=5))
    reply = await budi.send("/pulang")
    assert "2 jam 5 menit" in (reply.text or "")
    # the post is open around the clock and Budi was its only officer: he is told so
    assert "⚠️ KBJ-01 kini tanpa petugas" in (reply.text or "")
    assert await query(db_path, "SELECT end_reason FROM shifts") == [("checkout",)]


async def test_check_out_leaving_a_colleague_on_duty_warns_nothing(
    phone: Phones, db_path: Path
) -> None:
    budi, sari = phone(BUDI), phone(SARI)
    await budi.location(*MONAS)
    ask = await sari.location(*MONAS)
    kbj01 = (await query(db_path, "SELECT id FROM posts WHERE code = 'KBJ-01'"))[0][0]
    await sari.press_and_reply(ask, f"ci:{kbj01}")
    reply = await budi.send("/pulang")
    assert "selesai" in (reply.text or "") and "tanpa petugas" not in (reply.text or "")


async def test_wrong_post_moves_with_pindah_posko(
    phone: Phones, db_path: Path, emu: FakeBotApi
) -> None:
    sari = phone(SARI)
    ids = dict(await query(db_path, "SELECT code, id FROM posts"))
    ask = await sari.location(*MONAS)
    await sari.press_and_reply(ask, f"ci:{ids['KBJ-01']}")
    mark = emu.mark()
    emu.send_text(SARI, "/hadir")
    offer = await emu.wait_reply(SARI.id, after=mark, contains="Salah posko")
    assert sari.buttons(offer) == [("🔁 Pindah ke KBJ-02", f"mv:{ids['KBJ-02']}")]
    moved = await sari.press_and_reply(offer, f"mv:{ids['KBJ-02']}")
    assert "Hadir tercatat di KBJ-02" in (moved.text or "")
    assert "Tugas di KBJ-01 diakhiri" in (moved.text or "")
    rows = await query(
        db_path,
        "SELECT p.code, s.end_reason, s.inside_geofence FROM shifts s"
        " JOIN posts p ON p.id = s.post_id ORDER BY s.id",
    )
    # judged again against KBJ-02's own geofence, from where she last was
    assert rows == [("KBJ-01", "replaced", 1), ("KBJ-02", None, 0)]
    assert "⚠️ KBJ-01 kini tanpa petugas" in (moved.text or "")  # she was its only officer
    # far from KBJ-02 too: she is offered the way back at once
    back = await emu.wait_for(
        lambda r: r.chat_id == SARI.id and r.index > moved.index and "Salah posko" in (r.text or "")
    )
    assert sari.buttons(back) == [("🔁 Pindah ke KBJ-01", f"mv:{ids['KBJ-01']}")]
    # a forged move to a post that is not hers changes nothing
    mark = emu.mark()
    emu.press_button(SARI, offer, f"mv:{ids['KEC-KBJ']}", check=False)
    forged = await emu.wait_reply(SARI.id, after=mark, contains="tidak berlaku")
    assert "/hadir" in (forged.text or "")
    assert len(await query(db_path, "SELECT id FROM shifts")) == 2
    # Budi has one post: no offer to move
    budi = phone(BUDI)
    await budi.location(*MONAS)
    mark = emu.mark()
    emu.send_text(BUDI, "/hadir")
    await emu.wait_reply(BUDI.id, after=mark, contains="sudah bertugas")
    await budi.send("/status")
    assert not [s for s in emu.sent[mark:] if "Salah posko" in (s.text or "")]
    # a move pressed after checking out is refused with the next step
    await sari.send("/pulang")
    late = await sari.press(offer, f"mv:{ids['KBJ-01']}", forge=True)
    assert "tidak bertugas" in (late.params.get("text") or "")


async def test_all_clear(phone: Phones, db_path: Path) -> None:
    budi = phone(BUDI)
    reply = await budi.send("/aman")
    assert "belum tercatat hadir" in (reply.text or "")
    await budi.location(*MONAS)
    reply = await budi.send("/aman jalan lancar")
    assert "Situasi aman di KBJ-01" in (reply.text or "")
    assert await query(db_path, "SELECT kind, note FROM signals WHERE kind = 'all_clear'") == [
        ("all_clear", "jalan lancar")
    ]
    long_note = await budi.send("/aman " + "x" * 600)
    assert "terlalu panjang" in (long_note.text or "")


# --- reports ------------------------------------------------------------------------------


async def _guided_to_attach(budi: Phone) -> None:
    ask = await budi.send("/lapor")
    assert "pilih kategori" in (ask.text or "")
    severity = await budi.press_and_reply(ask, "rp:cat:logistik")
    assert "keparahan" in (severity.text or "")
    text = await budi.press_and_reply(severity, "rp:sev:tinggi")
    assert "uraian" in (text.text or "")
    attach = await budi.send("Kotak suara TPS 12 belum datang")
    assert "foto" in (attach.text or "")


async def test_guided_report_with_photos(phone: Phones, emu: FakeBotApi, db_path: Path) -> None:
    budi = phone(BUDI)
    await _guided_to_attach(budi)
    first = await budi.photo()
    assert "(1)" in (first.text or "")
    second = await budi.photo()
    assert "(2)" in (second.text or "")
    located = await budi.location(-6.18, 106.83)
    assert "Lokasi kejadian" in (located.text or "")
    summary = await budi.press_and_reply(located, "rp:next")
    assert "Foto: 2" in (summary.text or "") and "Logistik" in (summary.text or "")
    filed = await budi.press_and_reply(summary, "rp:send")
    assert "KBJ-01/0001" in (filed.text or "")
    rows = await query(db_path, "SELECT ref, category, severity, status, latitude FROM issues")
    assert rows == [("KBJ-01/0001", "logistik", "tinggi", "baru", -6.18)]
    assert await query(db_path, "SELECT count(*) FROM issue_photos") == [(2,)]
    assert await query(db_path, "SELECT kind FROM signals") == [("issue",)]
    assert await query(db_path, "SELECT count(*) FROM drafts") == [(0,)]


async def test_album_gets_one_reply(phone: Phones, emu: FakeBotApi, db_path: Path) -> None:
    budi = phone(BUDI)
    await _guided_to_attach(budi)
    mark = emu.mark()
    # Telegram delivers an album as one message per photo sharing a media_group_id.
    for _ in range(2):
        emu.send_photo(BUDI, media_group_id="album1")
    last = emu.send_photo(BUDI, media_group_id="album1")
    await emu.wait_acknowledged(last["update_id"])
    emu.send_text(BUDI, "/status")  # same person: handled after the album
    await emu.wait_reply(BUDI.id, after=mark, contains="Bertugas")
    replies = [
        s
        for s in emu.sent[mark:]
        if s.method == "sendMessage" and "Foto diterima" in (s.text or "")
    ]
    assert len(replies) == 1  # later photos of the album update it (tests/test_reports_e2e.py)
    draft = await query(db_path, "SELECT data FROM drafts")
    assert len(json.loads(str(draft[0][0]))["photos"]) == 3


async def test_cancel_at_any_step(phone: Phones, db_path: Path) -> None:
    budi = phone(BUDI)
    ask = await budi.send("/lapor")
    reply = await budi.send("/batal")
    assert "dibatalkan" in (reply.text or "")
    await _guided_to_attach(budi)
    reply = await budi.send("/batal")
    assert "dibatalkan" in (reply.text or "")
    stale = await budi.press(ask, "rp:cat:logistik")
    assert "tidak berlaku" in (stale.params.get("text") or "")
    assert await query(db_path, "SELECT count(*) FROM issues") == [(0,)]
    ask = await budi.send("/lapor")
    cancelled = await budi.press_and_reply(ask, "rp:cancel")
    assert "dibatalkan" in (cancelled.text or "")


async def test_wrong_input_in_the_flow(phone: Phones) -> None:
    budi = phone(BUDI)
    ask = await budi.send("/lapor")
    nudge = await budi.send("ini teks, bukan tombol")
    assert "pilih kategori" in (nudge.text or "").lower()
    forged = await budi.press(ask, "rp:cat:nuklir", forge=True)
    assert "tidak berlaku" in (forged.params.get("text") or "")
    severity = await budi.press_and_reply(ask, "rp:cat:keamanan")
    text = await budi.press_and_reply(severity, "rp:sev:darurat")
    too_long = await budi.send("x" * 5000)
    assert "terlalu panjang" in (too_long.text or "")
    assert text.text


async def test_one_shot_report(phone: Phones, db_path: Path) -> None:
    budi = phone(BUDI)
    reply = await budi.send("/lapor logistik surat suara kurang 20 lembar")
    assert "KBJ-01/0001" in (reply.text or "")
    reply = await budi.send("/lapor netral camat ikut kampanye")
    assert "KBJ-01/0002" in (reply.text or "")
    rows = await query(db_path, "SELECT ref, category, severity, text FROM issues ORDER BY id")
    assert rows[0] == ("KBJ-01/0001", "logistik", "sedang", "surat suara kurang 20 lembar")
    assert rows[1][1] == "netralitas_asn"
    bad = await budi.send("/lapor nuklir bocor")  # no category: the text is kept (test_reports_e2e)
    assert "pilih kategori" in (bad.text or "")
    empty = await budi.send("/lapor logistik")
    assert "tidak boleh kosong" in (empty.text or "")
    assert await query(db_path, "SELECT count(*) FROM issues") == [(2,)]


async def test_my_reports_and_status(phone: Phones, db_path: Path) -> None:
    budi = phone(BUDI)
    empty = await budi.send("/laporanku")
    assert "belum pernah" in (empty.text or "")
    await budi.location(*MONAS)
    await budi.send("/lapor keamanan ada keributan kecil")
    await budi.send("/aman")
    mine = await budi.send("/laporanku")
    assert "KBJ-01/0001" in (mine.text or "") and "Keamanan" in (mine.text or "")
    status = await budi.send("/status")
    text = status.text or ""
    assert "KBJ-01" in text and "Budi Santoso (sejak 19:00)" in text
    assert "situasi aman 19:00 oleh Budi Santoso" in text
    assert "Laporan terbuka: 1" in text


async def test_help_lists_officer_commands(phone: Phones) -> None:
    reply = await phone(BUDI).send("/bantuan")
    text = reply.text or ""
    for command in ("/hadir", "/pulang", "/aman", "/lapor", "/laporanku", "/status"):
        assert command in text
    english = await phone(JOHN).send("/help")
    assert "check in" in (english.text or "")


async def test_bad_input_gets_a_clear_reply(phone: Phones, emu: FakeBotApi) -> None:
    budi = phone(BUDI)
    assert "tidak dipahami" in ((await budi.send("asdfgh")).text or "")
    assert "tidak dikenal" in ((await budi.send("/teleport")).text or "")
    assert "tidak dipahami" in ((await budi.send("x" * 5000)).text or "")
    mark = emu.mark()
    emu.send_text(BUDI, "/hadir", chat_id=-100123, chat_type="supergroup")
    group = await emu.wait_reply(-100123, after=mark)
    assert "chat pribadi" in (group.text or "") and "https://t.me/" in (group.text or "")
    mark = emu.mark()
    emu.send_document(BUDI, "data.csv", b"a,b\n", "text/csv")
    doc = await emu.wait_reply(BUDI.id, after=mark)
    assert "tidak diproses" in (doc.text or "")


async def test_edited_text_is_not_processed(phone: Phones, emu: FakeBotApi, db_path: Path) -> None:
    budi = phone(BUDI)
    await budi.location(*MONAS)
    sent = emu.send_text(BUDI, "/aman")
    await emu.wait_reply(BUDI.id)
    mark = emu.mark()
    emu.edit_text(BUDI, sent["message"], "/pulang")
    reply = await emu.wait_reply(BUDI.id, after=mark)
    assert "diubah" in (reply.text or "")
    assert await query(db_path, "SELECT count(*) FROM shifts WHERE ended_at IS NULL") == [(1,)]


async def test_location_during_an_unfinished_report_still_checks_in(
    phone: Phones, db_path: Path
) -> None:
    budi = phone(BUDI)
    await budi.send("/lapor")  # left at the category step
    reply = await budi.location(*MONAS)
    assert "Hadir tercatat di KBJ-01" in (reply.text or "")
    assert await query(db_path, "SELECT count(*) FROM shifts") == [(1,)]
    resumed = await budi.send("/lapor")  # the draft is kept and resumed, not thrown away
    assert "belum selesai" in (resumed.text or "")


async def test_hadir_then_location_checks_in_even_at_the_attach_step(
    phone: Phones, db_path: Path
) -> None:
    budi = phone(BUDI)
    await _guided_to_attach(budi)
    await budi.send("/hadir")
    reply = await budi.location(*MONAS)
    assert "Hadir tercatat" in (reply.text or "")
    await budi.emu.wait_reply(BUDI.id, after=0, contains="belum selesai")
    attached = await budi.location(-6.18, 106.83)  # now the report's location
    assert "Lokasi kejadian" in (attached.text or "")
    assert await query(db_path, "SELECT count(*) FROM shifts") == [(1,)]


async def test_hadir_for_a_supervisor_offers_no_location_button(phone: Phones) -> None:
    from tests.conftest import LURAH

    reply = await phone(LURAH).send("/hadir")
    assert "untuk petugas posko" in (reply.text or "")
    assert "keyboard" not in (reply.params.get("reply_markup") or {})


async def test_an_emergency_behind_an_unfinished_report_says_how_to_send_it(
    phone: Phones, db_path: Path
) -> None:
    sari = phone(SARI)  # two posts, on duty at none
    ask = await sari.send("/lapor")
    kbj01 = (await query(db_path, "SELECT id FROM posts WHERE code = 'KBJ-01'"))[0][0]
    await sari.press_and_reply(ask, f"rp:post:{kbj01}")  # the report now holds the slot
    refused = await sari.send("/darurat Banjir makin tinggi di TPS 3")
    text = refused.text or ""
    assert "belum terkirim" in text and "/batal" in text and "/hadir" in text
    assert await query(db_path, "SELECT count(*) FROM issues") == [(0,)]
    assert await query(db_path, "SELECT kind FROM drafts") == [("report",)]  # nothing lost
    await sari.send("/batal")
    again = await sari.send("/darurat Banjir makin tinggi di TPS 3")
    assert "posko" in (again.text or "")  # now it asks which post, keeping the text


async def test_the_app_language_is_remembered_for_messages_the_bot_sends_itself(
    emu: FakeBotApi, db_path: Path, phone: Phones
) -> None:
    """A member with no language of their own whose Telegram is English: alerts, forwards
    and circulars (sent later, not as a reply) follow the app's language too."""
    english_budi = FakeUser(BUDI.id, "Budi", language_code="en")
    reply = await phone(english_budi).send("/status")
    assert "KBJ-01" in (reply.text or "")
    rows = await query(db_path, "SELECT language, client_language FROM members WHERE ref = 'budi'")
    assert rows == [(None, "en")]
