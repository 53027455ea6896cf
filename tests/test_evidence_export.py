"""Exports with evidence (issue 10): a zip of the issues sheet and every photo fetched with
getFile from the (fake) Bot API, by /ekspor laporan foto and by the command line; a file
the API no longer has is listed in the sheet, not fatal."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.core.app import PoskoApp, build_application, running
from bot.core.cli import main
from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi
from tests.conftest import ADMIN, BUDI, SARI, Phone, make_settings, storage_toml
from tests.test_export import seed_records

PHOTO_A = b"\xff\xd8\xff\xe0photo-a-bytes\xff\xd9"


def telegram_section(emu: FakeBotApi) -> dict[str, str]:
    return {
        "token": emu.token,
        "base_url": emu.base_url,
        "base_file_url": emu.base_file_url,
        "bot_username": emu.bot_username,
        "poll_timeout": "1s",
    }


@pytest.fixture
async def zip_bot(emu: FakeBotApi, db_path: Path, clock: FakeClock) -> AsyncIterator[PoskoApp]:
    # KBJ-01/0001 holds photo-a (the API has it) and photo-b (the API does not)
    await seed_records(db_path)
    emu.send_photo(BUDI, file_id="photo-a", content=PHOTO_A)
    app = build_application(make_settings(emu, db_path, telegram=telegram_section(emu)), clock)
    async with running(app):
        yield app


def sheet_rows(data: bytes) -> dict[str, dict[str, object]]:
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(cell) for cell in rows[0]]
    return {str(row[0]): dict(zip(header, row, strict=True)) for row in rows[1:]}


def check_zip(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
        assert names == ["issues.xlsx", "photos/KBJ-01-0001-1.jpg"]
        assert archive.read("photos/KBJ-01-0001-1.jpg") == PHOTO_A
        rows = sheet_rows(archive.read("issues.xlsx"))
    assert sorted(rows) == ["KBJ-01/0001", "KBJ-02/0001", "KEC-KBJ/0001"]
    first = rows["KBJ-01/0001"]
    assert first["jumlah foto"] == 2
    assert first["berkas foto"] == "photos/KBJ-01-0001-1.jpg"
    missing = str(first["foto tidak tersedia"])
    assert missing.startswith("2: ") and "file" in missing.lower()
    assert rows["KBJ-02/0001"]["berkas foto"] is None
    # the agency columns travel in the zip's sheet too (issue 10)
    assert first["diteruskan ke instansi"] == "Bawaslu Jakarta Barat; Polres Metro Jakarta Barat"
    assert first["diterima instansi (WIB)"] == "2026-11-23 10:45; -"
    assert first["hasil disposisi"] == (
        "selesai: Sudah diklarifikasi; dikembalikan: Bukan ranah Polri"
    )
    assert rows["KBJ-02/0001"]["diteruskan ke instansi"] is None
    assert rows["KBJ-02/0001"]["foto tidak tersedia"] is None


@pytest.mark.usefixtures("zip_bot")
async def test_admin_gets_issues_with_photos_as_a_zip(emu: FakeBotApi) -> None:
    mark = emu.mark()
    emu.send_text(ADMIN, "/ekspor laporan foto")
    sent = await emu.wait_reply(ADMIN.id, after=mark, methods={"sendDocument"}, timeout=15)
    assert sent.result["document"]["file_name"] == "posko-issues-2026-11-24.zip"
    assert "1 foto" in (sent.text or "") and "1 tidak bisa diambil" in (sent.text or "")
    check_zip(next(iter(sent.files.values())))
    # photos were fetched with getFile, never re-uploaded from the chat
    assert emu.n_requests.get("getFile", 0) == 2


@pytest.mark.usefixtures("zip_bot")
async def test_officers_get_no_zip_and_nothing_is_fetched(emu: FakeBotApi) -> None:
    refused = await Phone(emu, SARI).send("/ekspor laporan foto")
    assert "khusus" in (refused.text or "") or "admin" in (refused.text or "")
    assert not emu.sent_to(SARI.id, "sendDocument")
    assert emu.n_requests.get("getFile", 0) == 0


async def test_command_line_writes_the_zip(
    emu: FakeBotApi, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_records(db_path)
    emu.send_photo(BUDI, file_id="photo-a", content=PHOTO_A)
    config = tmp_path / "config.toml"
    config.write_text(
        f"{storage_toml(db_path)}"
        f'[telegram]\nbase_url = "{emu.base_url}"\nbase_file_url = "{emu.base_file_url}"\n',
        encoding="utf-8",
    )
    out = tmp_path / "bukti.zip"
    argv = ["export", "issues", "--with-photos", "-o", str(out), "--config", str(config)]
    # without the token the photos cannot be fetched: one clear line, exit 2
    monkeypatch.delenv("POSKO_TELEGRAM__TOKEN", raising=False)
    assert await asyncio.to_thread(main, argv) == 2
    assert not out.exists()
    monkeypatch.setenv("POSKO_TELEGRAM__TOKEN", emu.token)
    assert await asyncio.to_thread(main, argv) == 0
    check_zip(out.read_bytes())
    # --with-photos goes with issues only
    bad = ["export", "alerts", "--with-photos", "-o", str(tmp_path / "x.zip"), "--config"]
    assert await asyncio.to_thread(main, [*bad, str(config)]) == 2
