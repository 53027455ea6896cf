"""The admin's people in chat, end to end over HTTP: a lost phone moved to a new account."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.cli import main as cli_main
from bot.presence.registration import invite
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from storage.db import Database
from tests.conftest import ADMIN, BUDI, MONAS, NEWBIE, STRANGER, T0, Phone, storage_toml

Phones = Callable[[FakeUser], Phone]

BUDI_NEW_PHONE = FakeUser(5001, "Budi (HP baru)")


async def query(
    db_path: Path, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql, params)]
    finally:
        await db.close()


def code_in(text: str) -> str:
    for line in text.splitlines():
        if line.startswith(("Kode:", "Code:")):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no code in {text!r}")


async def rebind_code(phone: Phones, ref: str = "budi") -> str:
    admin = phone(ADMIN)
    ask = await admin.send(f"/undang {ref}")
    assert "sudah terdaftar" in (ask.text or "")
    rebind = [data for _label, data in admin.buttons(ask) if data.startswith("ad:rb:")]
    assert len(rebind) == 1
    created = await admin.press_and_reply(ask, rebind[0])
    assert "akun Telegram lama" in (created.text or "")
    return code_in(created.text or "")


@pytest.mark.usefixtures("bot")
async def test_lost_phone_moves_the_member_to_the_new_account(
    phone: Phones, db_path: Path, emu: FakeBotApi
) -> None:
    old = phone(BUDI)
    assert "KBJ-01" in ((await old.send("/status")).text or "")  # the old phone works
    code = await rebind_code(phone)
    # a notice still waiting for the old phone (a circular queued for later, say)
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO outbox (chat_id, kind, method, payload, not_before, created_at)"
                " VALUES (?, 'test', 'sendMessage', '{\"text\": \"Apel pagi\"}',"
                " '2100-01-01T00:00:00+00:00', '2026-11-27T12:00:00+00:00')",
                (BUDI.id,),
            )
    finally:
        await db.close()
    # the confirm message lost its buttons once used
    assert await query(db_path, "SELECT rebind FROM invites WHERE code = ?", (code,)) == [(1,)]
    joined = await phone(BUDI_NEW_PHONE).send(f"/start {code}")
    assert "Budi Santoso" in (joined.text or "") and "terdaftar" in (joined.text or "")
    rows = await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'budi'")
    assert rows == [(BUDI_NEW_PHONE.id,)]
    cleared = await emu.wait_for(lambda s: s.method == "deleteMyCommands")
    assert cleared.params.get("scope", {}).get("chat_id") == BUDI.id  # the old chat's menu
    # the new phone is Budi now; the old one is a stranger at once (no cache delay)
    assert "KBJ-01" in ((await phone(BUDI_NEW_PHONE).send("/status")).text or "")
    refused = await old.send("/status")
    assert "belum terdaftar" in (refused.text or "") or "tidak dikenal" in (refused.text or "")
    assert "KBJ-01" not in (refused.text or "")
    audit = await query(
        db_path, "SELECT action, actor_id, detail FROM audit_log WHERE action = 'rebind'"
    )
    assert len(audit) == 1
    detail = json.loads(str(audit[0][2]))
    assert detail == {"old": BUDI.id, "new": BUDI_NEW_PHONE.id, "readdressed": 1}
    # what waited for the lost phone now waits for the new one
    waiting = await query(db_path, "SELECT chat_id FROM outbox WHERE kind = 'test'")
    assert waiting == [(BUDI_NEW_PHONE.id,)]
    actions = [
        row[0]
        for row in await query(
            db_path, "SELECT action FROM audit_log WHERE action IN ('invite', 'invite_sent')"
        )
    ]
    assert actions == ["invite"]  # one row, in the transaction that made the code
    (detail_text,) = await query(db_path, "SELECT detail FROM audit_log WHERE action = 'invite'")
    assert json.loads(str(detail_text[0]))["via"] == "bot"


@pytest.mark.usefixtures("bot")
async def test_plain_invite_of_a_registered_member_asks_first_and_cancel_changes_nothing(
    phone: Phones, db_path: Path
) -> None:
    admin = phone(ADMIN)
    ask = await admin.send("/undang budi")
    assert "sudah terdaftar" in (ask.text or "")
    assert await query(db_path, "SELECT code FROM invites") == []
    answer = await admin.press(ask, "ad:no")
    assert "Dibatalkan" in str(answer.params.get("text"))
    assert await query(db_path, "SELECT code FROM invites") == []
    assert await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'budi'") == [
        (BUDI.id,)
    ]


@pytest.mark.usefixtures("bot")
async def test_a_rebind_code_is_single_use_and_cannot_take_a_registered_account(
    phone: Phones, db_path: Path
) -> None:
    code = await rebind_code(phone)
    moved = await phone(NEWBIE).send(f"/start {code}")  # an unregistered account takes it
    assert "Budi Santoso" in (moved.text or "")
    again = await phone(STRANGER).send(f"/start {code}")
    assert "sudah dipakai" in (again.text or "")
    rows = await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'budi'")
    assert rows == [(NEWBIE.id,)]


@pytest.mark.usefixtures("bot")
async def test_ordinary_code_for_a_registered_member_still_refuses_another_account(
    phone: Phones, db_path: Path
) -> None:
    db = await Database.open(db_path)
    try:
        invitation = await invite(db, "budi", T0, timedelta(days=1))
        assert invitation is not None
    finally:
        await db.close()
    reply = await phone(BUDI_NEW_PHONE).send(f"/start {invitation.code}")
    assert "akun lain" in (reply.text or "")
    assert await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'budi'") == [
        (BUDI.id,)
    ]


@pytest.mark.usefixtures("bot")
async def test_forged_rebind_buttons(phone: Phones, db_path: Path) -> None:
    admin = phone(ADMIN)
    ask = await admin.send("/undang budi")
    for data in ("ad:rb:abc", "ad:rb:99999999", "ad:rb:²", "ad:zz"):
        answer = await admin.press(ask, data, forge=True)
        assert "tidak berlaku" in str(answer.params.get("text")) or "kedaluwarsa" in str(
            answer.params.get("text")
        ), answer.params
    assert await query(db_path, "SELECT code FROM invites") == []


def test_cli_invite_rebind(
    tmp_path: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POSKO_TELEGRAM__TOKEN", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(storage_toml(db_path), encoding="utf-8")
    assert cli_main(["invite", "budi", "--rebind", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "rebind" in out
    code = next(line.split()[1] for line in out.splitlines() if line.startswith("code:"))
    rows = asyncio.run(query(db_path, "SELECT rebind FROM invites WHERE code = ?", (code,)))
    assert rows == [(1,)]


# --- /petugas ---------------------------------------------------------------------------------

ANDI = FakeUser(5002, "Andi")
NIP = "199001012015031001"


async def save(admin: Phone, preview: Sent) -> Sent:
    saves = [data for _label, data in admin.buttons(preview) if data.startswith("ad:ok:")]
    assert len(saves) == 1, admin.buttons(preview)
    return await admin.press_and_reply(preview, saves[0])


async def posts_of(db_path: Path, ref: str) -> list[str]:
    rows = await query(
        db_path,
        "SELECT p.code FROM assignments a JOIN posts p ON p.id = a.post_id"
        " JOIN members m ON m.id = a.member_id WHERE m.ref = ? ORDER BY p.code",
        (ref,),
    )
    return [str(row[0]) for row in rows]


@pytest.mark.usefixtures("bot")
async def test_petugas_alone_shows_usage_with_examples(phone: Phones) -> None:
    usage = await phone(ADMIN).send("/petugas")
    text = usage.text or ""
    for word in ("/petugas tambah", "/petugas tugaskan", "/petugas pindah", "/petugas lepas"):
        assert word in text
    assert "contoh" in text


@pytest.mark.usefixtures("bot")
async def test_add_an_officer_invite_and_the_officer_checks_in(
    phone: Phones, db_path: Path
) -> None:
    admin = phone(ADMIN)
    preview = await admin.send(f"/petugas tambah andi KBJ-01 {NIP} 0812-3456-7890 Andi Wijaya")
    text = preview.text or ""
    assert "Andi Wijaya" in text and NIP in text and "KBJ-01" in text
    assert await query(db_path, "SELECT id FROM members WHERE ref = 'andi'") == []  # not yet
    saved = await save(admin, preview)
    assert "tersimpan" in (saved.text or "") and "/undang andi" in (saved.text or "")
    rows = await query(
        db_path, "SELECT name, nip, phone, telegram_id FROM members WHERE ref = 'andi'"
    )
    assert rows == [("Andi Wijaya", NIP, "081234567890", None)]
    assert await posts_of(db_path, "andi") == ["KBJ-01"]
    roles = await query(
        db_path,
        "SELECT role FROM member_roles r JOIN members m ON m.id = r.member_id WHERE m.ref = 'andi'",
    )
    assert roles == [("officer",)]
    audit = await query(db_path, "SELECT actor_id FROM audit_log WHERE action = 'staff_add'")
    assert len(audit) == 1 and audit[0][0] is not None
    # the next step is offered right there: the invite button
    invite_buttons = [d for _l, d in admin.buttons(saved) if d.startswith("ad:iv:")]
    assert len(invite_buttons) == 1
    created = await admin.press_and_reply(saved, invite_buttons[0])
    code = code_in(created.text or "")
    andi = phone(ANDI)
    joined = await andi.send(f"/start {code}")
    assert "Andi Wijaya" in (joined.text or "")
    ask = await andi.send("/hadir")
    assert ask.params["reply_markup"]["keyboard"][0][0]["request_location"] is True
    checked_in = await andi.location(MONAS[0], MONAS[1], horizontal_accuracy=10)
    assert "Hadir tercatat di KBJ-01" in (checked_in.text or "")


@pytest.mark.usefixtures("bot")
async def test_assign_move_and_remove_with_confirmation(phone: Phones, db_path: Path) -> None:
    admin = phone(ADMIN)
    preview = await admin.send("/petugas tugaskan budi kbj-02")
    assert "KBJ-01 → KBJ-01, KBJ-02" in (preview.text or "")
    assert await posts_of(db_path, "budi") == ["KBJ-01"]
    assert "kini bertugas" in ((await save(admin, preview)).text or "")
    assert await posts_of(db_path, "budi") == ["KBJ-01", "KBJ-02"]

    preview = await admin.send("/petugas pindah budi KBJ-02 KEC-KBJ")
    assert "dipindah dari KBJ-02 ke KEC-KBJ" in (preview.text or "")
    await save(admin, preview)
    assert await posts_of(db_path, "budi") == ["KBJ-01", "KEC-KBJ"]

    preview = await admin.send("/petugas lepas budi KEC-KBJ")
    await save(admin, preview)
    assert await posts_of(db_path, "budi") == ["KBJ-01"]
    actions = await query(
        db_path, "SELECT action FROM audit_log WHERE action LIKE 'staff_%' ORDER BY id"
    )
    assert actions == [("staff_assign",), ("staff_move",), ("staff_unassign",)]
    # the officer's last post cannot be removed, exactly as members.csv refuses it
    refused = await admin.send("/petugas lepas budi KBJ-01")
    assert "minimal satu posko" in (refused.text or "")
    assert not admin.buttons(refused)
    assert await posts_of(db_path, "budi") == ["KBJ-01"]


@pytest.mark.usefixtures("bot")
async def test_moving_an_officer_on_duty_closes_that_duty_and_tells_them(
    phone: Phones, db_path: Path
) -> None:
    budi, admin = phone(BUDI), phone(ADMIN)
    await budi.location(*MONAS)  # on duty at KBJ-01
    preview = await admin.send("/petugas tugaskan budi KBJ-02")
    await save(admin, preview)
    preview = await admin.send("/petugas pindah budi KBJ-01 KEC-KBJ")
    saved = await save(admin, preview)
    assert "sedang bertugas di KBJ-01" in (saved.text or "")
    rows = await query(db_path, "SELECT end_reason FROM shifts")
    assert rows == [("auto_closed",)]
    told = await query(
        db_path,
        "SELECT payload FROM outbox WHERE chat_id = ? AND kind = 'staff_change'",
        (BUDI.id,),
    )
    last = json.loads(str(told[-1][0]))["text"]
    assert "kini: KEC-KBJ, KBJ-02" in last and "Tugas Bapak/Ibu di KBJ-01" in last
    not_on_duty = await budi.send("/aman")
    assert "belum tercatat hadir" in (not_on_duty.text or "")


@pytest.mark.usefixtures("bot")
async def test_cancel_double_tap_and_stale_confirm(phone: Phones, db_path: Path) -> None:
    admin = phone(ADMIN)
    preview = await admin.send("/petugas tugaskan budi KBJ-02")
    drop = next(d for _l, d in admin.buttons(preview) if d.startswith("ad:x:"))
    save_data = next(d for _l, d in admin.buttons(preview) if d.startswith("ad:ok:"))
    answer = await admin.press(preview, drop)
    assert "Dibatalkan" in str(answer.params.get("text"))
    late = await admin.press(preview, save_data, forge=True)
    assert "tidak berlaku" in str(late.params.get("text"))
    assert await posts_of(db_path, "budi") == ["KBJ-01"]
    # saved once only, however often it is pressed
    preview = await admin.send("/petugas tugaskan budi KBJ-02")
    save_data = next(d for _l, d in admin.buttons(preview) if d.startswith("ad:ok:"))
    await save(admin, preview)
    again = await admin.press(preview, save_data, forge=True)
    assert "tidak berlaku" in str(again.params.get("text"))
    assert await posts_of(db_path, "budi") == ["KBJ-01", "KBJ-02"]


@pytest.mark.usefixtures("bot")
async def test_petugas_bad_input(phone: Phones, db_path: Path) -> None:
    admin = phone(ADMIN)
    before = await query(db_path, "SELECT COUNT(*) FROM staff_changes")
    for text in (
        "/petugas halo",
        "/petugas tambah andi KBJ-01",
        "/petugas pindah budi KBJ-01",
        "/petugas " + "x" * 5000,
    ):
        usage = await admin.send(text)
        assert "/petugas tambah" in (usage.text or ""), text
    unknown = await admin.send("/petugas tugaskan siapa KBJ-01")
    assert "tidak ditemukan" in (unknown.text or "")
    exists = await admin.send("/petugas tambah budi KBJ-01 - - Budi Lain")
    assert "sudah dipakai" in (exists.text or "")
    already = await admin.send("/petugas tugaskan budi KBJ-01")
    assert "sudah bertugas" in (already.text or "")
    not_there = await admin.send("/petugas lepas budi KBJ-02")
    assert "tidak bertugas" in (not_there.text or "")
    bad = await admin.send("/petugas tambah andi NOPE 12345 abc Andi")
    text = bad.text or ""
    assert "NIP harus 18 angka" in text and "nomor HP" in text and "NOPE" in text
    assert await query(db_path, "SELECT COUNT(*) FROM staff_changes") == before
    assert await query(db_path, "SELECT id FROM members WHERE ref = 'andi'") == []
    # another admin's (or a forged) change id is stale
    for data in ("ad:ok:999", "ad:ok:abc", "ad:x:999", "ad:iv:999999", "ad:iv:-1"):
        answer = await admin.press(bad, data, forge=True)
        assert "tidak berlaku" in str(answer.params.get("text")), data
