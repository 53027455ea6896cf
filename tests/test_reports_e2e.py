"""Field reports, end to end (issue 9): drafts that survive a check-in, media with
captions, officer corrections, supervisor reopen, fast paths and the wording around them.

The bot is the real Application polling the fake Bot API over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from storage.db import Database
from tests.conftest import BUDI, CAMAT, LURAH, MONAS, SARI, Phone

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


async def _to_attach(officer: Phone, text: str = "Kotak suara TPS 12 belum datang") -> None:
    ask = await officer.send("/lapor")
    if any(data.startswith("rp:post:") for _, data in officer.buttons(ask)):
        post = next(data for _, data in officer.buttons(ask) if data.startswith("rp:post:"))
        ask = await officer.press_and_reply(ask, post)
    assert "pilih kategori" in (ask.text or "")
    severity = await officer.press_and_reply(ask, "rp:cat:logistik")
    attach_text = await officer.press_and_reply(severity, "rp:sev:tinggi")
    assert "uraian" in (attach_text.text or "")
    attach = await officer.send(text)
    assert "foto" in (attach.text or "")


# --- 1. a check-in does not throw away a half-written report ------------------------------


async def test_check_in_choice_keeps_the_report_draft(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    sari = phone(SARI)  # two posts: the check-in asks which one
    await _to_attach(sari)
    await sari.send("/hadir")
    choose = await sari.location(*MONAS)
    ci = [data for _, data in sari.buttons(choose) if data.startswith("ci:")]
    assert ci, choose.text
    checked_in = await sari.press_and_reply(choose, ci[0])
    assert "KBJ-01" in (checked_in.text or "")
    mark = emu.mark()
    resumed = await sari.send("/lapor")
    assert "belum selesai" in (resumed.text or "")
    await emu.wait_reply(SARI.id, after=mark, contains="Lanjut")
    photo = await sari.photo()
    assert "(1)" in (photo.text or "")
    summary = await sari.press_and_reply(photo, "rp:next")
    assert "Kotak suara TPS 12" in (summary.text or "")
    filed = await sari.press_and_reply(summary, "rp:send")
    assert "/0001" in (filed.text or "")
    rows = await query(db_path, "SELECT text, severity FROM issues")
    assert rows == [("Kotak suara TPS 12 belum datang", "tinggi")]
    assert await query(db_path, "SELECT count(*) FROM shifts WHERE ended_at IS NULL") == [(1,)]
    assert await query(db_path, "SELECT count(*) FROM drafts") == [(0,)]


# --- 2. photos with captions, pictures and videos as files, albums ------------------------


def _send_video(emu: FakeBotApi, user: FakeUser, caption: str | None = None) -> dict[str, object]:
    """A video message (the emulator has no helper for one): built like its other messages."""
    extra: dict[str, object] = {
        "video": {
            "file_id": "video-1",
            "file_unique_id": "uvideo-1",
            "width": 640,
            "height": 480,
            "duration": 5,
            "mime_type": "video/mp4",
        }
    }
    if caption is not None:
        extra["caption"] = caption
    message = emu._user_message(user, extra, None, "private", None, None)
    return dict(emu.send_raw({"message": message}))


async def test_captions_files_and_videos_are_attached(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    await _to_attach(budi, "Banjir di depan TPS")
    first = await budi.photo(caption="Air setinggi lutut")
    assert "(1)" in (first.text or "") and "Keterangan" in (first.text or "")
    mark = emu.mark()
    emu.send_document(BUDI, "foto.jpg", b"\xff\xd8\xff\xe0jpeg\xff\xd9", "image/jpeg")
    as_file = await emu.wait_reply(BUDI.id, after=mark)
    assert "(2)" in (as_file.text or "")
    mark = emu.mark()
    _send_video(emu, BUDI, caption="Video jalan menuju TPS")
    video = await emu.wait_reply(BUDI.id, after=mark)
    assert "(3)" in (video.text or "")
    mark = emu.mark()
    emu.send_document(BUDI, "surat.pdf", b"%PDF-1.4", "application/pdf")
    pdf = await emu.wait_reply(BUDI.id, after=mark)
    assert "Mohon kirim foto atau video" in (pdf.text or "")
    summary = await budi.press_and_reply(pdf, "rp:next")
    assert "Foto: 3" in (summary.text or "") and "Air setinggi lutut" in (summary.text or "")
    await budi.press_and_reply(summary, "rp:send")
    assert await query(db_path, "SELECT text FROM issues") == [
        ("Banjir di depan TPS\nAir setinggi lutut\nVideo jalan menuju TPS",)
    ]
    kinds = await query(db_path, "SELECT kind FROM issue_photos ORDER BY position")
    assert kinds == [("photo",), ("image",), ("video",)]


async def test_album_has_one_reply_counting_every_photo(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    await _to_attach(budi)
    mark = emu.mark()
    emu.send_photo(BUDI, media_group_id="album1", caption="Tiga sudut TPS")
    for _ in range(2):
        last = emu.send_photo(BUDI, media_group_id="album1")
    await emu.wait_acknowledged(last["update_id"])
    emu.send_text(BUDI, "/status")  # same person: handled after the album
    await emu.wait_reply(BUDI.id, after=mark, contains="Bertugas")
    replies = [s for s in emu.sent[mark:] if s.method == "sendMessage" and "Foto" in (s.text or "")]
    assert len(replies) == 1
    assert replies[0].message_id is not None
    shown = emu.message(BUDI.id, replies[0].message_id)
    assert shown is not None and "(3)" in str(shown.get("text"))
    draft = await query(db_path, "SELECT data FROM drafts WHERE slot = 'conversation'")
    data = json.loads(str(draft[0][0]))
    assert len(data["photos"]) == 3 and data["text"].endswith("\nTiga sudut TPS")


async def test_photos_beyond_the_limit_are_refused_once_per_album(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    await _to_attach(budi)
    mark = emu.mark()
    for _ in range(11):
        last = emu.send_photo(BUDI, media_group_id="album-big")
    await emu.wait_acknowledged(last["update_id"])
    emu.send_text(BUDI, "/status")
    await emu.wait_reply(BUDI.id, after=mark, contains="Bertugas")
    refusals = [s for s in emu.sent[mark:] if "Maksimal 10" in (s.text or "")]
    assert len(refusals) == 1
    draft = await query(db_path, "SELECT data FROM drafts WHERE slot = 'conversation'")
    assert len(json.loads(str(draft[0][0]))["photos"]) == 10


# --- 3. the officer's corrections -----------------------------------------------------------


FIX_NOTICES = (
    "SELECT chat_id, json_extract(payload, '$.text') FROM outbox"
    " WHERE kind = 'issue_fix' ORDER BY id"
)


def _button(officer: Phone, message: Sent, suffix: str) -> str:
    found = [data for _, data in officer.buttons(message) if data.endswith(suffix)]
    assert found, (suffix, officer.buttons(message))
    return found[0]


async def test_officer_corrects_notes_and_withdraws_a_new_report(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    filed = await budi.send("/lapor logistik kotak suara kurang dua")
    assert "KBJ-01/0001" in (filed.text or "")
    issue_id = int((await query(db_path, "SELECT id FROM issues"))[0][0])
    announced = await emu.wait_for(
        lambda s: s.method == "sendMessage" and s.chat_id == LURAH.id and "0001" in (s.text or "")
    )
    listing = await budi.send("/laporanku")
    assert "/laporanku KBJ-01/0001" in (listing.text or "")
    shown = await budi.send("/laporanku kbj-01/0001")
    text = shown.text or ""
    assert "Riwayat" in text and "laporan dibuat" in text and "Budi Santoso" in text
    severities = await budi.press_and_reply(shown, _button(budi, shown, ":sev"))
    assert "tingkat keparahan baru" in (severities.text or "")
    changed = await budi.press_and_reply(severities, f"rf:{issue_id}:sev:tinggi")
    assert "diubah menjadi Tinggi" in (changed.text or "")
    categories = await budi.press_and_reply(shown, _button(budi, shown, ":cat"))
    recat = await budi.press_and_reply(categories, f"rf:{issue_id}:cat:keamanan")
    assert "Keamanan" in (recat.text or "")
    ask_note = await budi.press_and_reply(shown, _button(budi, shown, ":note"))
    assert "catatan tambahan" in (ask_note.text or "")
    too_long = await budi.send("x" * 600)
    assert "terlalu panjang" in (too_long.text or "")
    noted = await budi.send("Sudah tiga jam belum datang")
    assert "Catatan ditambahkan" in (noted.text or "")
    assert await query(db_path, "SELECT category, severity, status FROM issues") == [
        ("keamanan", "tinggi", "baru")
    ]
    notices = await query(db_path, FIX_NOTICES)
    assert [chat for chat, _ in notices] == [LURAH.id] * 3
    assert "Sedang → Tinggi" in str(notices[0][1])
    assert "Sudah tiga jam" in str(notices[2][1])

    confirm = await budi.press_and_reply(shown, _button(budi, shown, ":wd"))
    assert "Tarik laporan KBJ-01/0001?" in (confirm.text or "")
    withdrawn = await budi.press_and_reply(confirm, f"rf:{issue_id}:wdy")
    assert "ditarik" in (withdrawn.text or "")
    rows = await query(db_path, "SELECT status, withdrawn_at IS NOT NULL, next_due_at FROM issues")
    assert rows == [("ditolak", 1, None)]
    told = await query(
        db_path,
        "SELECT chat_id, json_extract(payload, '$.text') FROM outbox WHERE kind = 'issue_fix'",
    )
    assert "ditarik oleh pelapornya" in str(told[-1][1]) and told[-1][0] == LURAH.id

    # A supervisor acting on the withdrawn report: a clear answer, nothing changes.
    stale = await phone(LURAH).press(announced, f"sv:i:{issue_id}:accept")
    assert "ditarik oleh Budi Santoso" in (stale.params.get("text") or "")
    assert await query(db_path, "SELECT status, assignee_id FROM issues") == [("ditolak", None)]

    # No more corrections; the history tells all of it.
    late = await budi.press(shown, f"rf:{issue_id}:sev:rendah", forge=True)
    assert "tidak bisa dikoreksi" in (late.params.get("text") or "")
    final = await budi.send("/laporanku KBJ-01/0001")
    text = final.text or ""
    assert "ditarik pelapor" in text and "catatan: Sudah tiga jam" in text
    assert "tingkat Sedang → Tinggi" in text and "kategori Logistik → Keamanan" in text
    assert budi.buttons(final) == []
    mine = await budi.send("/laporanku")
    assert "ditarik" in (mine.text or "")


async def test_corrections_need_a_new_report_of_ones_own(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    await budi.send("/lapor logistik kotak suara kurang")
    issue_id = int((await query(db_path, "SELECT id FROM issues"))[0][0])
    unknown = await budi.send("/laporanku KBJ-01/9999")
    assert "tidak ditemukan" in (unknown.text or "")
    sari = phone(SARI)  # same post, not the reporter
    other = await sari.send("/laporanku KBJ-01/0001")
    assert "tidak ditemukan" in (other.text or "")
    shown = await budi.send("/laporanku KBJ-01/0001")
    forged = await sari.press(shown, f"rf:{issue_id}:wdy", forge=True)
    assert "laporan sendiri" in (forged.params.get("text") or "")
    garbage = await budi.press(shown, f"rf:{issue_id}:sev:nuklir", forge=True)
    assert "tidak berlaku" in (garbage.params.get("text") or "")
    await emu.wait_for(
        lambda s: s.method == "sendMessage" and s.chat_id == LURAH.id and "0001" in (s.text or "")
    )
    accepted = await phone(LURAH).press(
        await emu.wait_for(lambda s: s.chat_id == LURAH.id and "0001" in (s.text or "")),
        f"sv:i:{issue_id}:accept",
    )
    assert "diterima" in (accepted.params.get("text") or "")
    late = await budi.press(shown, f"rf:{issue_id}:wd")
    assert "sudah diterima" in (late.params.get("text") or "")
    assert await query(db_path, "SELECT status FROM issues") == [("diterima",)]
    # accepted, it can still be added to (SPEC §8, the reporter's follow-up): a note only
    again = await budi.send("/laporanku KBJ-01/0001")
    assert "masih bisa menambah catatan" in (again.text or "")
    assert [label for label, _ in budi.buttons(again)] == ["📝 Tambah catatan", "📷 Tambah foto"]
    await budi.press_and_reply(again, f"rf:{issue_id}:note")
    noted = await budi.send("Kotak datang 1 dari 3")
    assert "Catatan ditambahkan" in (noted.text or "")
    assert await query(db_path, "SELECT status FROM issues") == [("diterima",)]
    # ... and photos: the 📷 step takes what he sends next, until /batal
    again = await budi.send("/laporanku KBJ-01/0001")
    asked = await budi.press_and_reply(again, f"rf:{issue_id}:ph")
    assert "Mohon kirim foto atau video untuk laporan KBJ-01/0001" in (asked.text or "")
    first = await budi.photo(file_id="follow-up-1")
    assert "Foto ditambahkan ke laporan KBJ-01/0001 (1 foto)" in (first.text or "")
    second = await budi.photo(file_id="follow-up-2")
    assert "(2 foto)" in (second.text or "")
    done = await budi.send("/batal")
    assert "Selesai menambah foto" in (done.text or "")
    stored = await query(db_path, "SELECT file_id FROM issue_photos ORDER BY position")
    assert [row[0] for row in stored] == ["follow-up-1", "follow-up-2"]
    # the lurah, who had the report, hears of each photo and gets the photo itself
    photo_notes = await query(
        db_path,
        "SELECT chat_id, method FROM outbox WHERE ref_type = 'issue' AND chat_id = ?"
        " AND (kind = 'issue_fix' AND json_extract(payload, '$.text') LIKE '📷%'"
        " OR method = 'sendPhoto') ORDER BY id",
        (LURAH.id,),
    )
    assert [method for _, method in photo_notes] == ["sendMessage", "sendPhoto"] * 2
    # a photo after /batal is not added to the report any more
    stray = await budi.photo(file_id="stray")
    assert "Foto ditambahkan" not in (stray.text or "")


# --- 4. supervisors: resolve straight from accepted, reopen with a reason -------------------


async def _card(lurah: Phone, emu: FakeBotApi, ref: str) -> Sent:
    mark = emu.mark()
    emu.send_text(LURAH, f"/laporan {ref}")
    return await emu.wait_reply(LURAH.id, after=mark, contains=ref, methods=("sendMessage",))


async def test_resolve_from_accepted_and_reopen(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi, lurah = phone(BUDI), phone(LURAH)
    await budi.send("/lapor logistik kotak suara kurang")
    issue_id = int((await query(db_path, "SELECT id FROM issues"))[0][0])
    await emu.wait_for(lambda s: s.chat_id == LURAH.id and "Laporan baru" in (s.text or ""))
    card = await _card(lurah, emu, "KBJ-01/0001")
    await lurah.press(card, f"sv:i:{issue_id}:accept")
    card = await _card(lurah, emu, "KBJ-01/0001")
    assert f"sv:i:{issue_id}:resolve" in [data for _, data in lurah.buttons(card)]
    ask = await lurah.press_and_reply(card, f"sv:i:{issue_id}:resolve")
    assert "catatan penyelesaian" in (ask.text or "")
    done = await lurah.send("Kotak suara sudah dikirim dari gudang")
    assert "selesai" in (done.text or "")
    assert await query(db_path, "SELECT status FROM issues") == [("selesai",)]

    card = await _card(lurah, emu, "KBJ-01/0001")
    assert [data for _, data in lurah.buttons(card)] == [f"sv:i:{issue_id}:reopen"]
    ask = await lurah.press_and_reply(card, f"sv:i:{issue_id}:reopen")
    assert "alasan membuka lagi" in (ask.text or "")
    empty = await lurah.send("   ")
    assert "alasan membuka lagi" in (empty.text or "")
    done = await lurah.send("Ternyata kurang satu kotak lagi")
    assert "dibuka lagi" in (done.text or "")
    assert await query(db_path, "SELECT status FROM issues") == [("ditangani",)]
    notices = await query(
        db_path,
        "SELECT chat_id, json_extract(payload, '$.text') FROM outbox"
        " WHERE kind = 'issue_status' ORDER BY id",
    )
    assert notices[-1][0] == BUDI.id
    assert "dibuka lagi oleh Lurah Kebon Jeruk" in str(notices[-1][1])
    assert "Ternyata kurang satu kotak" in str(notices[-1][1])

    # Rejected, then reopened: back to accepted.
    card = await _card(lurah, emu, "KBJ-01/0001")
    await lurah.press_and_reply(card, f"sv:i:{issue_id}:reject")
    await lurah.send("Sudah ditangani kecamatan")
    card = await _card(lurah, emu, "KBJ-01/0001")
    await lurah.press_and_reply(card, f"sv:i:{issue_id}:reopen")
    await lurah.send("Kecamatan minta kelurahan yang tangani")
    assert await query(db_path, "SELECT status FROM issues") == [("diterima",)]
    history = await budi.send("/laporanku KBJ-01/0001")
    text = history.text or ""
    assert "status menjadi selesai: Kotak suara sudah dikirim" in text
    assert "status menjadi diterima: Kecamatan minta kelurahan" in text


# --- 5. fast paths ----------------------------------------------------------------------------


async def test_darurat_alerts_at_once_and_says_its_severity(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    usage = await budi.send("/darurat")
    assert "Contoh: /darurat" in (usage.text or "")
    filed = await budi.send("/darurat banjir setinggi lutut di TPS 3")
    assert "DARURAT KBJ-01/0001" in (filed.text or "") and "/laporanku KBJ-01/0001" in (
        filed.text or ""
    )
    second = await budi.send("/lapor darurat keamanan massa berkumpul di depan TPS 5")
    assert "DARURAT KBJ-01/0002" in (second.text or "") and "Keamanan" in (second.text or "")
    rows = await query(db_path, "SELECT ref, category, severity, text FROM issues ORDER BY id")
    assert rows == [
        ("KBJ-01/0001", "lainnya", "darurat", "banjir setinggi lutut di TPS 3"),
        ("KBJ-01/0002", "keamanan", "darurat", "massa berkumpul di depan TPS 5"),
    ]
    # announced at once to the lurah and, one step up, the camat, ahead of other traffic
    announced = await query(
        db_path,
        "SELECT chat_id, priority FROM outbox WHERE kind = 'issue_new' AND ref_id = 1"
        " ORDER BY chat_id",
    )
    assert [chat for chat, _ in announced] == [LURAH.id, CAMAT.id]
    assert all(priority == 0 for _, priority in announced)
    await emu.wait_for(lambda s: s.chat_id == CAMAT.id and "DARURAT" in (s.text or ""))
    empty = await budi.send("/lapor darurat")
    assert "Contoh: /darurat" in (empty.text or "")


async def test_one_shot_without_category_keeps_the_text(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    sedang = await budi.send("/lapor logistik surat suara kurang")
    assert "tingkat Sedang" in (sedang.text or "")
    ask = await budi.send("/lapor kotak suara TPS 7 rusak engselnya")
    assert "sudah disimpan" in (ask.text or "") and "Sedang" in (ask.text or "")
    assert ("Logistik", "rp:cat:logistik") in budi.buttons(ask)
    busy = await budi.send("/lapor lagi satu hal")
    assert "belum selesai" in (busy.text or "")
    filed = await budi.press_and_reply(ask, "rp:cat:logistik")
    assert "KBJ-01/0002" in (filed.text or "") and "tingkat Sedang" in (filed.text or "")
    rows = await query(db_path, "SELECT category, severity, text FROM issues WHERE id = 2")
    assert rows == [("logistik", "sedang", "kotak suara TPS 7 rusak engselnya")]
    assert await query(db_path, "SELECT count(*) FROM drafts") == [(0,)]
    too_long = await budi.send("/lapor " + "x" * 5000)
    assert "terlalu panjang" in (too_long.text or "")
    assert await query(db_path, "SELECT count(*) FROM drafts") == [(0,)]


async def test_one_shot_without_category_asks_the_post_first(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    sari = phone(SARI)  # two posts, not on duty
    ask = await sari.send("/lapor spanduk calon dipasang di pagar posko")
    posts = [data for _, data in sari.buttons(ask) if data.startswith("rp:post:")]
    assert len(posts) == 2
    category = await sari.press_and_reply(ask, posts[1])
    assert "pilih kategori" in (category.text or "")
    filed = await sari.press_and_reply(category, "rp:cat:apk")
    assert "KBJ-02/0001" in (filed.text or "") and "Sedang" in (filed.text or "")
    rows = await query(db_path, "SELECT category, text FROM issues")
    assert rows == [("apk", "spanduk calon dipasang di pagar posko")]


async def _listing(emu: FakeBotApi, user: FakeUser, text: str, refs: set[str]) -> list[str]:
    """The first lines of the cards a /laporan answer lists, in order, once all ``refs``
    have arrived."""
    mark = emu.mark()
    emu.send_text(user, text)
    await emu.wait_reply(user.id, after=mark, contains="Laporan di wilayah")
    for ref in refs:
        await emu.wait_reply(user.id, after=mark, contains=f"🆕 {ref} · ")
    return [
        (s.text or "").splitlines()[0]
        for s in emu.sent_to(user.id, "sendMessage")
        if s.index >= mark and (s.text or "").startswith("🆕")
    ]


async def test_laporan_filters_most_severe_first(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi, sari = phone(BUDI), phone(SARI)
    await budi.send("/lapor logistik kotak suara kurang")
    await budi.send("/darurat kebakaran gudang logistik")
    choose = await sari.location(-6.2, 106.77)
    kbj02 = next(data for label, data in sari.buttons(choose) if "KBJ-02" in label)
    await sari.press_and_reply(choose, kbj02)  # on duty at KBJ-02
    await sari.send("/lapor dpt nama ganda di DPT")
    cards = await _listing(emu, CAMAT, "/laporan", {"KBJ-01/0001", "KBJ-01/0002", "KBJ-02/0001"})
    assert cards == ["🆕 KBJ-01/0002 · baru", "🆕 KBJ-02/0001 · baru", "🆕 KBJ-01/0001 · baru"]
    urgent = await _listing(emu, CAMAT, "/laporan darurat", {"KBJ-01/0002"})
    assert urgent == ["🆕 KBJ-01/0002 · baru"]
    one_post = await _listing(emu, CAMAT, "/laporan kbj-02", {"KBJ-02/0001"})
    assert one_post == ["🆕 KBJ-02/0001 · baru"]
    unknown = await phone(CAMAT).send("/laporan KBJ-99")
    assert "tidak dikenal" in (unknown.text or "")
    outside = await phone(LURAH).send("/laporan KBJ-02")  # not in the lurah's kelurahan
    assert "Tidak ada laporan (posko KBJ-02)" in (outside.text or "")
    usage = await phone(LURAH).send("/laporan darurat kemarin")
    assert "tingkat" in (usage.text or "").lower() and "KBJ-01" in (usage.text or "")


# --- 6. wording --------------------------------------------------------------------------------


async def test_officer_wording(phone: Phones, emu: FakeBotApi) -> None:
    budi = phone(BUDI)
    pointer = await budi.send("/laporan")
    assert "/lapor membuat" in (pointer.text or "") and "/laporanku" in (pointer.text or "")
    ask = await budi.send("/lapor")
    severity = await budi.press_and_reply(ask, "rp:cat:logistik")
    text = await budi.press_and_reply(severity, "rp:sev:rendah")
    assert text.text
    attach = await budi.send("Spanduk sobek")
    assert "📎 lalu Lokasi" in (attach.text or "") and "video" in (attach.text or "")
    filed_text = await budi.press_and_reply(
        await budi.press_and_reply(attach, "rp:next"), "rp:send"
    )
    assert "tingkat Rendah" in (filed_text.text or "")


async def test_darurat_of_an_officer_of_several_posts_asks_the_post(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    sari = phone(SARI)  # two posts, on duty at none: the text is kept, the post asked
    ask = await sari.send("/darurat pohon tumbang menutup jalan ke TPS 2")
    assert "sudah disimpan" in (ask.text or "") and "Darurat" in (ask.text or "")
    kbj02 = next(data for label, data in sari.buttons(ask) if "KBJ-02" in label)
    filed = await sari.press_and_reply(ask, kbj02)
    assert "DARURAT KBJ-02/0001" in (filed.text or "")
    rows = await query(db_path, "SELECT ref, category, severity, text FROM issues")
    assert rows == [("KBJ-02/0001", "lainnya", "darurat", "pohon tumbang menutup jalan ke TPS 2")]
    assert await query(db_path, "SELECT count(*) FROM drafts") == [(0,)]
    one_shot = await sari.send("/lapor logistik tinta kurang")
    first = next(data for label, data in sari.buttons(one_shot) if "KBJ-01" in label)
    filed = await sari.press_and_reply(one_shot, first)
    assert "KBJ-01/0001" in (filed.text or "") and "tingkat Sedang" in (filed.text or "")


async def test_officer_note_waits_for_a_report_being_written_and_can_be_cancelled(
    phone: Phones, emu: FakeBotApi, db_path: Path
) -> None:
    budi = phone(BUDI)
    await budi.send("/lapor logistik kotak suara kurang")
    shown = await budi.send("/laporanku KBJ-01/0001")
    note = next(data for _, data in budi.buttons(shown) if data.endswith(":note"))
    await budi.send("/lapor")  # a new report being written holds the conversation
    busy = await budi.press(shown, note)
    assert "sedang menulis laporan" in (busy.params.get("text") or "")
    await budi.send("/batal")
    ask = await budi.press_and_reply(shown, note)
    assert "catatan tambahan" in (ask.text or "")
    dropped = await budi.send("/batal")
    assert "Catatan dibatalkan" in (dropped.text or "")
    assert await query(db_path, "SELECT count(*) FROM issue_events WHERE kind = 'note'") == [(0,)]
    assert await query(db_path, "SELECT count(*) FROM drafts") == [(0,)]
