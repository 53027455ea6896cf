"""Disposisi end to end over HTTP against the fake Bot API (issue 10, SPEC §8): the lurah
forwards Budi's report to Bawaslu, the kecamatan's Bawaslu liaison accepts it, writes a
progress note and finishes it, and Budi and the lurah hear of every step; a return with a
reason; the climb of an unaccepted forward; and the refusals that change nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, Sent
from storage.db import Database
from tests.agencies_seed import (
    LIAISON_IN,
    LIAISON_KOTA,
    LIAISON_OTHER,
    LIAISON_OUT,
    seed_agencies,
)
from tests.conftest import BUDI, LURAH, MONAS, AppFactory, Phone
from tests.test_authorization_matrix import delivered, diff, runtime_of, snapshot
from tests.test_evidence_e2e import PHOTOS, album_file_ids, evidence_for, file_report

ID = catalog("id")


@pytest.fixture
async def agencies_db(db_path: Path) -> Path:
    await seed_agencies(db_path)
    return db_path


async def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql, params)]
    finally:
        await db.close()


async def report_card(
    emu: FakeBotApi, app: Any, clock: FakeClock, db_path: Path
) -> tuple[int, str, Sent]:
    """Budi reports money politics at KBJ-01; the lurah gets the card (outbox)."""
    await Phone(emu, BUDI).send("/lapor politik_uang Ada bagi-bagi amplop di TPS 12")
    ((issue_id, ref),) = await query(db_path, "SELECT id, ref FROM issues")
    card = await delivered(emu, app, clock, LURAH, ref)
    return issue_id, ref, card


def now_buttons(emu: FakeBotApi, sent: Sent) -> list[tuple[str, str]]:
    """The buttons a message carries now (after the bot's edits)."""
    current = emu.message(sent.chat_id or 0, sent.message_id or 0)
    assert current is not None
    return emu.inline_buttons(current)


async def agency_id(db_path: Path, code: str) -> int:
    ((found,),) = await query(db_path, "SELECT id FROM agencies WHERE code = ?", (code,))
    return int(found)


async def forward(
    emu: FakeBotApi, card: Sent, issue_id: int, agency: int, note: str | None
) -> Sent:
    """The lurah presses ➡️ Teruskan, picks the agency and writes the note (or none)."""
    lurah = Phone(emu, LURAH)
    assert ("➡️ Teruskan", f"fw:s:{issue_id}") in lurah.buttons(card)
    picker = await lurah.press_and_reply(card, f"fw:s:{issue_id}")
    await lurah.press(picker, f"fw:a:{issue_id}:{agency}")
    asked = emu.message(LURAH.id, picker.message_id or 0)
    assert asked is not None and "Mohon tulis catatan" in asked["text"]
    if note is None:
        await lurah.press(picker, f"fw:n:{issue_id}:{agency}")
        done = emu.message(LURAH.id, picker.message_id or 0)
        assert done is not None
        return picker
    return await lurah.send(note)


@pytest.mark.usefixtures("agencies_db")
async def test_forward_accept_progress_done_with_reporter_and_supervisor_told(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot() as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        bawaslu = await agency_id(db_path, "bawaslu")
        lurah = Phone(emu, LURAH)
        picker = await lurah.press_and_reply(card, f"fw:s:{issue_id}")
        # the routed agency for politik_uang comes first, marked; the others follow
        labels = [label for label, _ in lurah.buttons(picker)]
        assert labels[0] == "⭐ Bawaslu Jakarta Barat"
        assert sorted(labels[1:]) == ["KPU Jakarta Barat", "Polres Metro Jakarta Barat"]
        pressed = await lurah.press(picker, f"fw:a:{issue_id}:{bawaslu}")
        assert pressed.params.get("text") is None, pressed.params
        assert now_buttons(emu, picker) == [("Tanpa catatan", f"fw:n:{issue_id}:{bawaslu}")]
        sent = await lurah.send("Mohon dicek, ada foto amplop")
        assert f"Laporan {ref} diteruskan ke Bawaslu Jakarta Barat" in (sent.text or "")
        assert "Rina Bawaslu" in (sent.text or "")
        # forwarding a new report accepts it: the lurah took it on (no withdrawal now)
        status = await query(
            db_path, "SELECT status, assignee_id FROM issues WHERE id = ?", (issue_id,)
        )
        assert status[0][0] == "diterima" and status[0][1] is not None

        # the liaison nearest up the tree (the kecamatan's Bawaslu) gets the card
        liaison_card = await delivered(emu, app, clock, LIAISON_IN, ref)
        text = liaison_card.text or ""
        assert "Bawaslu Jakarta Barat" in text and "Lurah Kebon Jeruk" in text
        assert "Mohon dicek, ada foto amplop" in text and "bagi-bagi amplop" in text
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        rina = Phone(emu, LIAISON_IN)
        assert rina.buttons(liaison_card) == [
            ("✅ Terima", f"fw:x:{forward_id}:ok"),
            ("↩️ Kembalikan", f"fw:x:{forward_id}:rt"),
        ]
        told = await delivered(emu, app, clock, BUDI, "diteruskan ke Bawaslu")
        assert ref in (told.text or "")
        for other in (LIAISON_OUT, LIAISON_OTHER, LIAISON_KOTA):
            assert not [s for s in emu.sent_to(other.id) if ref in (s.text or "")]

        # ✅ Terima: the card now offers the next steps; Budi and the lurah are told
        answer = await rina.press(liaison_card, f"fw:x:{forward_id}:ok")
        assert "diterima" in (answer.params.get("text") or "")
        assert now_buttons(emu, liaison_card) == [
            ("📝 Tindak lanjut", f"fw:x:{forward_id}:pr"),
            ("✔️ Selesai", f"fw:x:{forward_id}:dn"),
            ("↩️ Kembalikan", f"fw:x:{forward_id}:rt"),
        ]
        await delivered(emu, app, clock, BUDI, "diterima oleh Bawaslu Jakarta Barat (Rina Bawaslu)")
        await delivered(emu, app, clock, LURAH, "diterima oleh Bawaslu Jakarta Barat")

        # 📝 Tindak lanjut, then ✔️ Selesai, each with its note
        prompt = await rina.press_and_reply(liaison_card, f"fw:x:{forward_id}:pr")
        assert "tindak lanjut" in (prompt.text or "")
        noted = await rina.send("Tim Bawaslu sudah ke lokasi")
        assert "tercatat" in (noted.text or "")
        await delivered(emu, app, clock, BUDI, "Tim Bawaslu sudah ke lokasi")
        await delivered(emu, app, clock, LURAH, "Tim Bawaslu sudah ke lokasi")
        await rina.press_and_reply(liaison_card, f"fw:x:{forward_id}:dn")
        finished = await rina.send("Pelaku sudah diklarifikasi")
        assert "selesai" in (finished.text or "")
        await delivered(emu, app, clock, BUDI, "selesai ditangani Bawaslu Jakarta Barat")
        await delivered(emu, app, clock, LURAH, "Pelaku sudah diklarifikasi")
        assert now_buttons(emu, liaison_card) == []  # nothing left to do on it
        # the recap counts it for the agency
        mark = emu.mark()
        emu.send_text(LURAH, "/rekap")
        recap = await emu.wait_reply(LURAH.id, after=mark, contains="Disposisi ke instansi")
        assert "Bawaslu Jakarta Barat: 1 diteruskan · 1 selesai · 0 kembali" in (recap.text or "")

    rows = await query(db_path, "SELECT state, outcome_note FROM forwards")
    assert rows == [("selesai", "Pelaku sudah diklarifikasi")]
    events = await query(db_path, "SELECT kind, note FROM forward_events ORDER BY id")
    assert events == [
        ("sent", "Mohon dicek, ada foto amplop"),
        ("accepted", None),
        ("progress", "Tim Bawaslu sudah ke lokasi"),
        ("done", "Pelaku sudah diklarifikasi"),
    ]


@pytest.mark.usefixtures("agencies_db")
async def test_return_with_reason_reaches_the_supervisor_who_can_forward_again(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot() as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        polri = await agency_id(db_path, "polri")
        await forward(emu, card, issue_id, polri, None)
        agus = Phone(emu, LIAISON_OTHER)
        liaison_card = await delivered(emu, app, clock, LIAISON_OTHER, ref)
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        await agus.press_and_reply(liaison_card, f"fw:x:{forward_id}:rt")
        back = await agus.send("Bukan ranah Polri, mohon ke Bawaslu")
        assert "dikembalikan" in (back.text or "")
        told = await delivered(emu, app, clock, LURAH, "Bukan ranah Polri")
        assert "dikembalikan oleh Polres Metro Jakarta Barat" in (told.text or "")
        assert f"/laporan {ref}" in (told.text or "")
        await delivered(emu, app, clock, BUDI, "Bukan ranah Polri")
        # returned: it may be forwarded to Polri again (a new forward)
        again = await forward(emu, card, issue_id, polri, "Mohon dicek lagi")
        assert "diteruskan ke Polres" in (again.text or "")
    rows = await query(db_path, "SELECT state, outcome_note FROM forwards ORDER BY id")
    assert rows == [("dikembalikan", "Bukan ranah Polri, mohon ke Bawaslu"), ("dikirim", None)]


@pytest.mark.usefixtures("agencies_db")
async def test_an_unaccepted_forward_climbs_to_the_agency_one_level_up(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot(watch={"escalate_after": "20m"}) as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        await forward(emu, card, issue_id, await agency_id(db_path, "bawaslu"), None)
        await delivered(emu, app, clock, LIAISON_IN, ref)
        assert not [s for s in emu.sent_to(LIAISON_KOTA.id) if ref in (s.text or "")]
        clock.advance(timedelta(minutes=21))
        watcher = runtime_of(app).watcher
        assert watcher is not None
        await watcher.sweep()
        climbed = await delivered(emu, app, clock, LIAISON_KOTA, ref)
        assert "belum diterima" in (climbed.text or "")
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        dedi = Phone(emu, LIAISON_KOTA)
        await dedi.press(climbed, f"fw:x:{forward_id}:ok")
        await delivered(emu, app, clock, LURAH, "(Dedi Bawaslu Kota)")
    assert await query(db_path, "SELECT state, step FROM forwards") == [("diterima", 1)]


@pytest.mark.usefixtures("agencies_db")
async def test_refusals_change_nothing(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    async with start_bot() as app:
        issue_id, ref, card = await report_card(emu, app, clock, db_path)
        lurah = Phone(emu, LURAH)
        # KPU has no liaison anywhere: refused, naming the admin step that fixes it
        picker = await lurah.press_and_reply(card, f"fw:s:{issue_id}")
        before = await snapshot(app)
        kpu = await agency_id(db_path, "kpu")
        answer = await lurah.press(picker, f"fw:a:{issue_id}:{kpu}")
        refusal = answer.params.get("text") or ""
        assert "Belum ada penghubung KPU Jakarta Barat" in refusal
        assert "posko import members" in refusal
        assert diff(before, await snapshot(app)) == []
        # a note over 1,000 characters is refused and the note is still awaited
        bawaslu = await agency_id(db_path, "bawaslu")
        await lurah.press(picker, f"fw:a:{issue_id}:{bawaslu}")
        long = await lurah.send("x" * 1001)
        assert "terlalu panjang" in (long.text or "")
        assert await query(db_path, "SELECT id FROM forwards") == []
        await lurah.send("Catatan singkat")
        liaison_card = await delivered(emu, app, clock, LIAISON_IN, ref)
        ((forward_id,),) = await query(db_path, "SELECT id FROM forwards")
        # the same agency twice while open
        answer = await lurah.press(picker, f"fw:a:{issue_id}:{bawaslu}", forge=True)
        assert "sudah diteruskan" in (answer.params.get("text") or "")
        # another agency's liaison, an out-of-scope liaison, the reporter: forged presses
        for user in (LIAISON_OTHER, LIAISON_OUT, BUDI):
            before = await snapshot(app)
            answer = await Phone(emu, user).press(liaison_card, f"fw:x:{forward_id}:ok", forge=True)
            assert answer.params.get("text") == ID["disposisi.not_allowed"], user
            assert diff(before, await snapshot(app)) == []
        # forged and stale callback data
        for data in (f"fw:x:{forward_id}:zz", "fw:x:abc:ok", "fw:x:99999:ok", "fw:s:", "fw:a:1"):
            answer = await Phone(emu, LIAISON_IN).press(liaison_card, data, forge=True)
            assert answer.params.get("text") == ID["common.stale_button"], data
        # a liaison cannot forward
        answer = await Phone(emu, LIAISON_IN).press(card, f"fw:s:{issue_id}", forge=True)
        assert answer.params.get("text") == ID["disposisi.not_allowed"]
        # finishing before accepting: the card's buttons are what the state allows
        answer = await Phone(emu, LIAISON_IN).press(
            liaison_card, f"fw:x:{forward_id}:dn", forge=True
        )
        assert "sudah dikirim" in (answer.params.get("text") or "")
    assert await query(db_path, "SELECT state FROM forwards") == [("dikirim",)]


@pytest.mark.usefixtures("agencies_db")
async def test_the_liaison_gets_the_photos_and_the_pin_with_the_card(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, db_path: Path
) -> None:
    """SPEC §8, evidence travels: the forwarded card brings its album and its map pin."""
    async with start_bot() as app:
        ref = await file_report(emu, Phone(emu, BUDI))
        ((issue_id,),) = await query(db_path, "SELECT id FROM issues WHERE ref = ?", (ref,))
        card = await delivered(emu, app, clock, LURAH, ref)
        await forward(emu, card, int(issue_id), await agency_id(db_path, "bawaslu"), None)
        _, album, pin = await evidence_for(emu, clock, LIAISON_IN.id, ref)
        assert album_file_ids(album) == list(PHOTOS)
        assert pin.result["location"]["latitude"] == pytest.approx(MONAS[0], abs=1e-5)
