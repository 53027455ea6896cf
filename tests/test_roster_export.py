"""Piket data out (SPEC §9, §6): ``posko export roster|attendance`` to CSV and XLSX, and
/ekspor piket|kehadiran in the bot. One row per slot, WIB dates and times, the area path.

The slots are those of tests/test_attendance_recap.py, plus KEC-KBJ's weekday roster
(mon-fri 08:00-16:00, written by the planner on Monday morning) whose Wednesday is
replaced by a dated night slot 22:00-06:00.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.core.app import PoskoApp, build_application, running
from bot.core.cli import main
from bot.core.clock import FakeClock
from bot.core.config import RosterSettings
from bot.exchange.export import Period, export
from bot.rehearsal.emulator import FakeBotApi
from bot.roster.planning import RosterPlan, write
from bot.roster.slots import Pattern, PlannedSlot, span
from storage.db import Database
from tests.conftest import ADMIN, Phone, make_settings, seed_city
from tests.test_attendance_recap import at, scope_of, seed_all
from tests.test_export import BOM, KBJ_01_AREA

WEDNESDAY = date(2026, 11, 25)
SLOT_HEADER = [
    "kode posko",
    "nama posko",
    "kode kota",
    "kota",
    "kode kecamatan",
    "kecamatan",
    "kode kelurahan",
    "kelurahan",
    "ref petugas",
    "petugas",
    "tanggal (WIB)",
    "mulai piket (WIB)",
    "selesai piket (WIB)",
    "sumber jadwal",
]
ATTENDANCE_HEADER = [
    *SLOT_HEADER,
    "datang (WIB)",
    "terlambat (menit)",
    "pulang awal (WIB)",
    "kehadiran",
]


async def seed_roster(path: Path) -> None:
    await seed_all(path)
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            post = int(await tx.scalar("SELECT id FROM posts WHERE code = 'KEC-KBJ'"))
            john = int(await tx.scalar("SELECT id FROM members WHERE ref = 'john'"))
            night = PlannedSlot(post, john, *span(WEDNESDAY, 22 * 60, 6 * 60))
            plan = RosterPlan(
                post_ids=[post],
                patterns=[Pattern(post, john, 0b0011111, 8 * 60, 16 * 60)],
                dated=[night],
                dated_days={(post, WEDNESDAY)},
            )
            await write(tx, plan, at(7, day=23), RosterSettings())
    finally:
        await db.close()


@pytest.fixture
async def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "data" / "posko.db"
    await seed_city(database)
    await seed_roster(database)
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\npath = "{database.as_posix()}"\n', encoding="utf-8")
    # the command line judges running slots at the wall clock: here, 19:00 WIB that day
    monkeypatch.setattr("bot.core.cli.SystemClock", lambda: FakeClock(at(19)))
    return path


def run(config: Path, *args: str) -> int:
    return main(["export", *args, "--config", str(config)])


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


TUESDAY = ("--since", "2026-11-24", "--until", "2026-11-24")


def test_roster_to_csv_one_row_per_slot_in_wib(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "piket.csv"
    assert run(config, "roster", *TUESDAY, "-o", str(out)) == 0
    assert "10 roster (csv)" in capsys.readouterr().out
    rows = read_csv(out)
    assert list(rows[0]) == SLOT_HEADER
    assert [(r["kode posko"], r["mulai piket (WIB)"]) for r in rows] == [
        ("KBJ-01", "07:00"),
        ("KBJ-02", "08:00"),
        ("KEC-KBJ", "08:00"),
        ("KBG-01", "09:00"),
        ("KBJ-01", "11:00"),
        ("KBJ-02", "12:00"),
        ("KBJ-01", "15:00"),
        ("KBJ-01", "18:00"),
        ("KBJ-01", "18:30"),
        ("KBJ-01", "20:00"),
    ]
    assert rows[0] == {
        "kode posko": "KBJ-01",
        "nama posko": "Posko Kel. Kebon Jeruk",
        **KBJ_01_AREA,
        "ref petugas": "budi",
        "petugas": "Budi Santoso",
        "tanggal (WIB)": "2026-11-24",  # 07:00 WIB: 00:00 UTC, the same day
        "mulai piket (WIB)": "07:00",
        "selesai piket (WIB)": "11:00",
        "sumber jadwal": "tanggal",
    }
    weekly = rows[2]
    assert (weekly["ref petugas"], weekly["selesai piket (WIB)"]) == ("john", "16:00")
    assert weekly["sumber jadwal"] == "mingguan (mon-fri)"
    # a kecamatan post has no kelurahan; the other kecamatan's post has its own path
    assert (weekly["kode kecamatan"], weekly["kelurahan"]) == ("31.73.01", "")
    kembangan = rows[3]
    assert (kembangan["kecamatan"], kembangan["kelurahan"]) == ("Kembangan", "Kembangan Utara")
    # Wednesday: the dated night slot replaces the weekday row, and ends the next morning
    out_wed = tmp_path / "rabu.csv"
    wednesday = ("--since", "2026-11-25", "--until", "2026-11-25")
    assert run(config, "piket", *wednesday, "-o", str(out_wed)) == 0
    (night,) = read_csv(out_wed)
    assert (night["tanggal (WIB)"], night["mulai piket (WIB)"], night["selesai piket (WIB)"]) == (
        "2026-11-25",
        "22:00",
        "06:00",
    )
    assert night["sumber jadwal"] == "tanggal"


def test_attendance_to_csv_with_outcomes_as_of_now(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "kehadiran.csv"
    assert run(config, "attendance", *TUESDAY, "--format", "csv", "-o", str(out)) == 0
    rows = read_csv(out)
    assert list(rows[0]) == ATTENDANCE_HEADER

    def cells(row: dict[str, str]) -> tuple[str, ...]:
        return (
            row["kode posko"],
            row["mulai piket (WIB)"],
            row["datang (WIB)"],
            row["terlambat (menit)"],
            row["pulang awal (WIB)"],
            row["kehadiran"],
        )

    assert [cells(row) for row in rows] == [
        ("KBJ-01", "07:00", "2026-11-24 06:55", "0", "", "hadir"),
        ("KBJ-02", "08:00", "", "", "", "tidak_hadir"),
        ("KEC-KBJ", "08:00", "", "", "", "tidak_hadir"),  # ended, not closed: judged now
        ("KBG-01", "09:00", "2026-11-24 08:50", "0", "", "hadir"),
        ("KBJ-01", "11:00", "2026-11-24 11:12", "12", "2026-11-24 14:00", "terlambat"),
        # the stored outcome stands; the check-in written after the end is shown as it is
        ("KBJ-02", "12:00", "", "", "", "tidak_hadir"),
        ("KBJ-01", "15:00", "", "", "", "tidak_hadir"),
        ("KBJ-01", "18:00", "2026-11-24 18:05", "5", "", "terlambat"),
        ("KBJ-01", "18:30", "", "", "", "belum_hadir"),
        ("KBJ-01", "20:00", "", "", "", "belum_mulai"),
    ]
    assert rows[0]["sumber jadwal"] == "tanggal" and rows[2]["sumber jadwal"].startswith("mingguan")


def test_attendance_to_xlsx_with_real_wib_times(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "kehadiran.xlsx"
    assert run(config, "kehadiran", *TUESDAY, "-o", str(out)) == 0  # format from the suffix
    sheet = load_workbook(out).active
    assert sheet is not None
    assert sheet.title == "Kehadiran"
    header = [cell.value for cell in sheet[1]]
    assert header == ATTENDANCE_HEADER
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:R11"
    rows = [
        dict(zip(header, (cell.value for cell in row), strict=True))
        for row in sheet.iter_rows(min_row=2)
    ]
    late = rows[4]
    assert late["datang (WIB)"] == datetime(2026, 11, 24, 11, 12)  # a real date, in WIB
    assert late["pulang awal (WIB)"] == datetime(2026, 11, 24, 14, 0)
    assert (late["terlambat (menit)"], late["kehadiran"]) == (12, "terlambat")
    arrived = sheet.cell(row=6, column=header.index("datang (WIB)") + 1)
    assert arrived.is_date and arrived.number_format == "yyyy-mm-dd hh:mm"
    assert (late["kode kelurahan"], late["mulai piket (WIB)"]) == ("31.73.01.1001", "11:00")
    assert [row["kehadiran"] for row in rows][-2:] == ["belum_hadir", "belum_mulai"]


def test_roster_to_xlsx_in_english(tmp_path: Path, config: Path) -> None:
    database = tmp_path / "data" / "posko.db"
    out = tmp_path / "roster.xlsx"
    count = export(database, "roster", Period(WEDNESDAY, WEDNESDAY), "xlsx", out, "en", now=at(19))
    assert count == 1  # Wednesday: the dated night slot only
    sheet = load_workbook(out).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    assert header[-4:] == ["date (WIB)", "slot start (WIB)", "slot end (WIB)", "roster source"]
    (night,) = sheet.iter_rows(min_row=2, values_only=True)
    assert night[0] == "KEC-KBJ" and night[-4:] == ("2026-11-25", "22:00", "06:00", "dated")


async def test_a_supervisors_reach_narrows_the_rows(config: Path, tmp_path: Path) -> None:
    database = tmp_path / "data" / "posko.db"
    db = await Database.open(database)
    try:
        kembangan = await scope_of(db, "31.73.02")
    finally:
        await db.close()
    out = tmp_path / "kbg.csv"
    period = Period(date(2026, 11, 24), date(2026, 11, 24))
    assert export(database, "attendance", period, "csv", out, "id", kembangan, at(19)) == 1
    (row,) = read_csv(out)
    assert (row["kode posko"], row["kehadiran"]) == ("KBG-01", "hadir")


def test_unknown_kind_names_the_new_ones(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "jadwalku", "-o", "x.csv") == 2
    assert "roster or attendance" in capsys.readouterr().err


# --- the bot --------------------------------------------------------------------------------


@pytest.fixture
async def exporting_bot(
    emu: FakeBotApi, db_path: Path, clock: FakeClock
) -> AsyncIterator[PoskoApp]:
    from handlers.export import register

    await seed_roster(db_path)
    app = build_application(make_settings(emu, db_path), clock)
    register(app)
    async with running(app):
        yield app


@pytest.mark.usefixtures("exporting_bot")
async def test_admin_gets_attendance_and_roster_from_ekspor(emu: FakeBotApi) -> None:
    mark = emu.mark()
    emu.send_text(ADMIN, "/ekspor kehadiran 2026-11-24 csv")
    sent = await emu.wait_reply(ADMIN.id, after=mark, methods={"sendDocument"}, timeout=10)
    assert sent.result["document"]["file_name"] == "posko-attendance-2026-11-24.csv"
    data = next(iter(sent.files.values()))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(rows) == 10
    # the bot's clock (19:00 WIB) judges the running slots
    assert [row["kehadiran"] for row in rows][-3:] == ["terlambat", "belum_hadir", "belum_mulai"]
    assert "Kehadiran piket" in (sent.text or "") and "10 baris" in (sent.text or "")
    mark = emu.mark()
    emu.send_text(ADMIN, "/ekspor piket 2026-11-25")
    sent = await emu.wait_reply(ADMIN.id, after=mark, methods={"sendDocument"}, timeout=10)
    assert sent.result["document"]["file_name"] == "posko-roster-2026-11-24.xlsx"
    assert "Jadwal piket" in (sent.text or "")
    usage = await Phone(emu, ADMIN).send("/ekspor")
    assert "piket" in (usage.text or "") and "kehadiran" in (usage.text or "")
