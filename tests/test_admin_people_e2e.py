"""The admin's people in chat, end to end over HTTP: a lost phone moved to a new account."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.cli import main as cli_main
from bot.emulator import FakeBotApi, FakeUser
from bot.presence.registration import invite
from storage.db import Database
from tests.conftest import ADMIN, BUDI, NEWBIE, STRANGER, T0, Phone

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
    # the confirm message lost its buttons once used
    assert await query(db_path, "SELECT rebind FROM invites WHERE code = ?", (code,)) == [(1,)]
    joined = await phone(BUDI_NEW_PHONE).send(f"/start {code}")
    assert "Budi Santoso" in (joined.text or "") and "terdaftar" in (joined.text or "")
    rows = await query(db_path, "SELECT telegram_id FROM members WHERE ref = 'budi'")
    assert rows == [(BUDI_NEW_PHONE.id,)]
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
    assert detail == {"old": BUDI.id, "new": BUDI_NEW_PHONE.id}
    actions = [
        row[0]
        for row in await query(
            db_path, "SELECT action FROM audit_log WHERE action IN ('invite', 'invite_sent')"
        )
    ]
    assert actions == ["invite", "invite_sent"]


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
    config.write_text(f'[storage]\npath = "{db_path}"\n', encoding="utf-8")
    assert cli_main(["invite", "budi", "--rebind", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "rebind" in out
    code = next(line.split()[1] for line in out.splitlines() if line.startswith("code:"))
    rows = asyncio.run(query(db_path, "SELECT rebind FROM invites WHERE code = ?", (code,)))
    assert rows == [(1,)]
