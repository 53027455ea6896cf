"""Scoped powers end to end over HTTP: a camat (and, by default, a kota supervisor) may
/jeda, /siaran and /ekspor within their own subtree only; a lurah may not; ``[powers]``
decides per area level; menus and /bantuan show each person what they have."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import CommandHandler

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from handlers.menu import (
    ADMIN_COMMANDS,
    COMMON_COMMANDS,
    LIAISON_COMMANDS,
    OFFICER_COMMANDS,
    SUPERVISOR_COMMANDS,
)
from storage import areas, members, posts
from storage.areas import AreaRow
from storage.db import Database
from storage.members import MemberRow
from storage.posts import PostRow
from tests.conftest import ADMIN, BUDI, CAMAT, LURAH, T0, AppFactory, Phone
from tests.test_authorization_matrix import delivered

CAMAT2 = FakeUser(2010, "Camat Kembangan")
WALKOT = FakeUser(2020, "Wali Kota")
DEWI = FakeUser(1010, "Dewi")


async def add_second_kecamatan(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await areas.upsert(
                tx,
                [
                    AreaRow("31.73.02", "Kembangan", "kecamatan", "31.73"),
                    AreaRow("31.73.02.1001", "Kembangan Utara", "kelurahan", "31.73.02"),
                ],
                T0,
            )
            post = PostRow("KMB-01", "Posko Kembangan", "31.73.02.1001", None, None, None, 1, "24h")
            await posts.upsert(tx, [post], T0)
            officer, supervisor = ("officer",), ("supervisor",)
            rows = [
                MemberRow("dewi", "Dewi", None, None, officer, ("KMB-01",), (), DEWI.id, None),
                MemberRow(
                    "camat2", "Camat Kembangan", None, None, supervisor, (), ("31.73.02",),
                    CAMAT2.id, None,
                ),
                MemberRow(
                    "walkot", "Wali Kota", None, None, supervisor, (), ("31.73",), WALKOT.id, None
                ),
            ]  # fmt: skip
            await members.upsert(tx, rows, T0)
    finally:
        await db.close()


@pytest.fixture
async def city(db_path: Path) -> Path:
    await add_second_kecamatan(db_path)
    return db_path


@pytest.fixture
async def app(city: Path, start_bot: AppFactory) -> AsyncIterator[PoskoApp]:
    async with start_bot() as running:
        yield running


Phones = Callable[[FakeUser], Phone]


async def query(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql)]
    finally:
        await db.close()


async def paused(db_path: Path) -> dict[str, bool]:
    rows = await query(db_path, "SELECT code, paused_until IS NOT NULL FROM posts")
    return {str(code): bool(flag) for code, flag in rows}


@pytest.mark.usefixtures("app")
async def test_jeda_within_the_subtree_only(phone: Phones, city: Path) -> None:
    answer = await phone(CAMAT).send("/jeda KBJ-01 30")
    assert "dijeda" in (answer.text or "")
    outside = await phone(CAMAT).send("/jeda KMB-01 30")
    assert "tidak ditemukan" in (outside.text or "")  # as if it did not exist: no leak
    other = await phone(CAMAT2).send("/jeda KBJ-02 30")
    assert "tidak ditemukan" in (other.text or "")
    lurah = await phone(LURAH).send("/jeda KBJ-01 30")
    assert "diberi wewenang" in (lurah.text or "")
    kota = await phone(WALKOT).send("/jeda KMB-01 30")
    assert "dijeda" in (kota.text or "")
    assert await paused(city) == {"KBJ-01": True, "KBJ-02": False, "KEC-KBJ": False, "KMB-01": True}


async def draft_and_send(phone: Phone, text: str) -> Sent:
    preview = await phone.send(text)
    send = [data for _label, data in phone.buttons(preview) if data.startswith("cr:ok:")]
    assert send, preview.text
    return await phone.press(preview, send[0])


async def test_camat_siaran_only_inside_the_subtree(
    phone: Phones, city: Path, app: PoskoApp, emu: FakeBotApi, clock: FakeClock
) -> None:
    camat = phone(CAMAT)
    for scope in ("semua", "petugas", "31.73", "31.73.02", "KMB-01"):
        refused = await camat.send(f"/siaran {scope} Rapat koordinasi")
        assert "di luar wilayah" in (refused.text or ""), scope
    assert await query(city, "SELECT COUNT(*) FROM circulars") == [(0,)]
    answer = await draft_and_send(camat, "/siaran 31.73.01.1001 Apel pagi pukul 07.00")
    assert answer.method == "answerCallbackQuery"
    copy = await delivered(emu, app, clock, BUDI, "Apel pagi")
    assert "Apel pagi" in (copy.text or "")
    assert not emu.sent_to(DEWI.id, "sendMessage") or not any(
        "Apel pagi" in (s.text or "") for s in emu.sent_to(DEWI.id)
    )
    recipients = await query(
        city,
        "SELECT m.ref FROM circular_recipients r JOIN members m ON m.id = r.member_id ORDER BY 1",
    )
    assert recipients == [("budi",), ("lurah",), ("sari",)]
    # the report's next step is the camat's own: /siaran_status of their circular
    mark = emu.mark()
    emu.send_text(CAMAT, "/siaran_status")
    report = await emu.wait_reply(CAMAT.id, after=mark, contains="Apel pagi")
    assert "#1" in (report.text or "")
    refused = await phone(CAMAT2).send("/siaran_status 1")
    assert "tidak ditemukan" in (refused.text or "") and "Apel" not in (refused.text or "")
    # a post below the subtree is fine too; the other camat cannot send there
    mark = emu.mark()
    emu.send_text(CAMAT, "/siaran KBJ-02 Cek logistik")
    assert await emu.wait_reply(CAMAT.id, after=mark, contains="KBJ-02")
    other = await phone(CAMAT2).send("/siaran KBJ-02 Cek logistik")
    assert "di luar wilayah" in (other.text or "")
    # a forged confirm of the camat's draft by the other camat is refused
    drafts = await query(city, "SELECT id FROM circulars WHERE status = 'draft'")
    assert drafts
    forged = await phone(CAMAT2).press(
        await phone(CAMAT2).send("/bantuan"), f"cr:ok:{drafts[0][0]}", forge=True
    )
    assert "Hanya pembuat edaran" in str(forged.params.get("text"))
    status = await query(city, f"SELECT status FROM circulars WHERE id = {drafts[0][0]}")
    assert status == [("draft",)]
    lurah = await phone(LURAH).send("/siaran 31.73.01.1001 Halo")
    assert "diberi wewenang" in (lurah.text or "")


async def issue_refs(emu: FakeBotApi, user: FakeUser) -> list[str]:
    mark = emu.mark()
    emu.send_text(user, "/ekspor laporan csv")
    sent = await emu.wait_reply(user.id, after=mark, methods={"sendDocument"}, timeout=10)
    data = next(iter(sent.files.values()))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return sorted(row["nomor laporan"] for row in rows)


@pytest.mark.usefixtures("app")
async def test_ekspor_contains_only_the_subtree(phone: Phones, emu: FakeBotApi, city: Path) -> None:
    assert "KBJ-01/" in ((await phone(BUDI).send("/lapor logistik Kotak suara kurang")).text or "")
    assert "KMB-01/" in ((await phone(DEWI).send("/lapor logistik Tinta habis")).text or "")
    assert await issue_refs(emu, CAMAT) == ["KBJ-01/0001"]
    assert await issue_refs(emu, CAMAT2) == ["KMB-01/0001"]
    assert await issue_refs(emu, WALKOT) == ["KBJ-01/0001", "KMB-01/0001"]
    assert await issue_refs(emu, ADMIN) == ["KBJ-01/0001", "KMB-01/0001"]
    lurah = await phone(LURAH).send("/ekspor laporan csv")
    assert "diberi wewenang" in (lurah.text or "")
    audit = await query(city, "SELECT detail FROM audit_log WHERE action = 'export' ORDER BY id")
    assert ['"subtree": true' in str(row[0]) for row in audit] == [True, True, True, False]


async def test_powers_follow_the_config(
    phone: Phones, city: Path, start_bot: AppFactory, emu: FakeBotApi
) -> None:
    powers: dict[str, Any] = {"jeda": ["kelurahan"], "siaran": [], "ekspor": ["kota"]}
    async with start_bot(powers=powers):
        assert "dijeda" in ((await phone(LURAH).send("/jeda KBJ-01 30")).text or "")
        for text in ("/jeda KBJ-02 30", "/siaran 31.73.01 Halo", "/ekspor laporan csv"):
            refused = await phone(CAMAT).send(text)
            assert "diberi wewenang" in (refused.text or ""), text
        mark = emu.mark()
        emu.send_text(WALKOT, "/ekspor laporan csv")
        await emu.wait_reply(WALKOT.id, after=mark, methods={"sendDocument"}, timeout=10)
        helped = await phone(LURAH).send("/bantuan")
        assert "/jeda" in (helped.text or "") and "/siaran" not in (helped.text or "")
    assert (await paused(city))["KBJ-01"] and not (await paused(city))["KBJ-02"]


@pytest.mark.usefixtures("app")
async def test_bantuan_and_menu_show_each_person_their_commands(
    phone: Phones, emu: FakeBotApi
) -> None:
    camat_help = (await phone(CAMAT).send("/bantuan")).text or ""
    for command in ("/pantau", "/jeda", "/siaran", "/siaran_status", "/ekspor", "/batal"):
        assert f"{command} —" in camat_help, command
    for command in ("/petugas", "/jam", "/undang", "/grup"):
        assert f"{command} —" not in camat_help, command
    lurah_help = (await phone(LURAH).send("/bantuan")).text or ""
    assert "/pantau —" in lurah_help and "/jeda —" not in lurah_help
    admin_help = (await phone(ADMIN).send("/bantuan")).text or ""
    for command in ADMIN_COMMANDS:
        assert f"/{command} —" in admin_help, command
    mark = emu.mark()
    emu.send_text(CAMAT, "/start")
    menu = await emu.wait_for(
        lambda s: (
            s.method == "setMyCommands" and s.params.get("scope", {}).get("chat_id") == CAMAT.id
        ),
        after=mark,
    )
    names = [command["command"] for command in menu.params["commands"]]
    assert {"jeda", "siaran", "ekspor"} <= set(names) and "petugas" not in names


def test_every_command_is_in_some_menu(app: PoskoApp) -> None:
    """/bantuan lists a person's menu: every command the bot answers must be in one."""
    menus = set(OFFICER_COMMANDS) | set(SUPERVISOR_COMMANDS) | set(ADMIN_COMMANDS)
    menus |= set(LIAISON_COMMANDS) | set(COMMON_COMMANDS) | {"start"}
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                names = set(handler.commands)
                assert names & menus, f"/{sorted(names)[0]} is in no menu and no /bantuan"
