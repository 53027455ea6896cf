"""Data export (SPEC §6): ``posko export`` to CSV and XLSX, and /ekspor in the bot."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.core.app import PoskoApp, build_application, running
from bot.core.cli import main
from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi
from storage.db import Database, Tx, to_db
from tests.conftest import ADMIN, BUDI, LURAH, Phone, make_settings, seed_city

BOM = b"\xef\xbb\xbf"


def utc(day: int, hour: int, minute: int = 0) -> str | None:
    """A stored timestamp for ``day`` November 2026 at HH:MM **UTC**."""
    return to_db(datetime(2026, 11, day, hour, minute, tzinfo=UTC))


MEMBER = "(SELECT id FROM members WHERE ref = ?)"
POST = "(SELECT id FROM posts WHERE code = ?)"
AREA = "(SELECT id FROM areas WHERE code = ?)"

# Two days in WIB (UTC+7): Monday 23 and Tuesday 24 November 2026. Rows are inserted out
# of order, and two sit right at the WIB midnight whose UTC date is the day before.
SHIFTS = [
    # ref, post, start, end, reason, distance, inside, verified
    ("john", "KEC-KBJ", utc(23, 17, 10), None, None, None, None, 0),  # 24/11 00:10 WIB, open
    ("budi", "KBJ-01", utc(23, 1), utc(23, 9, 30), "checkout", 12.4, 1, 1),  # 08:00-16:30
    ("sari", "KBJ-02", utc(23, 16, 30), utc(24, 0, 5), "auto_closed", 250.6, 0, 0),  # 23:30
]
ISSUES = [
    # ref, post, reporter, category, severity, text, lat, lon, status, assignee, created, updated
    (
        "KEC-KBJ/0001",
        "KEC-KBJ",
        "john",
        "lainnya",
        "rendah",
        '=HYPERLINK("http://evil.example","klik")',
        None,
        None,
        "ditolak",
        "camat",
        utc(24, 11),  # 24/11 18:00 WIB
        utc(24, 11, 30),
    ),
    (
        "KBJ-01/0001",
        "KBJ-01",
        "budi",
        "keamanan",
        "tinggi",
        "Kerumunan di depan TPS 05",
        -6.1754,
        106.8272,
        "selesai",
        "lurah",
        utc(23, 3, 15),  # 23/11 10:15 WIB
        utc(23, 5, 40),
    ),
    (
        "KBJ-02/0001",
        "KBJ-02",
        "sari",
        "logistik",
        "sedang",
        'Kotak suara "cadangan" kurang, 2 unit\nmohon dikirim',
        None,
        None,
        "baru",
        None,
        utc(24, 2),  # 24/11 09:00 WIB
        utc(24, 2),
    ),
]
EVENTS = [
    # issue ref, at, actor, from, to, note
    ("KBJ-01/0001", utc(23, 3, 15), "budi", None, "baru", None),
    ("KBJ-01/0001", utc(23, 4), "lurah", "baru", "diterima", None),
    ("KBJ-01/0001", utc(23, 5, 40), "lurah", "diterima", "selesai", "Sudah ditertibkan Satpol PP"),
    ("KEC-KBJ/0001", utc(24, 11), "john", None, "baru", None),
    ("KEC-KBJ/0001", utc(24, 11, 30), "camat", "baru", "ditolak", "Bukan laporan lapangan"),
    ("KBJ-02/0001", utc(24, 2), "sari", None, "baru", None),
]
ALERTS = [
    # post, kind, opened, step, step area, acked by, acked at, resolved, resolution
    ("KEC-KBJ", "unstaffed", utc(24, 14), 0, "31.73.01", None, None, None, None),  # still open
    (
        "KBJ-02",
        "unstaffed",
        utc(23, 23),
        0,
        "31.73.01.1002",
        None,
        None,
        utc(23, 23, 40),
        "staffed",
    ),
    (
        "KBJ-01",
        "silent",
        utc(23, 13),  # 23/11 20:00 WIB
        1,
        "31.73.01",
        "camat",
        utc(23, 13, 7),
        utc(23, 13, 25),
        "signal",
    ),
]


# KBJ-01/0001 went to two agencies (issue 10): Bawaslu accepted and finished it, Polri
# sent it back without accepting. agency, forwarded, accepted, closed, state, note
FORWARDS = [
    ("bawaslu", utc(23, 3, 30), utc(23, 3, 45), utc(23, 5), "selesai", "Sudah diklarifikasi"),
    ("polri", utc(23, 4), None, utc(23, 4, 20), "dikembalikan", "Bukan ranah Polri"),
]


async def seed_forwards(tx: Tx) -> None:
    await tx.executemany(
        "INSERT INTO agencies (code, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
        [
            ("bawaslu", "Bawaslu Jakarta Barat", utc(22, 0), utc(22, 0)),
            ("polri", "Polres Metro Jakarta Barat", utc(22, 0), utc(22, 0)),
        ],
    )
    for code, sent, accepted, closed, state, note in FORWARDS:
        await tx.execute(
            "INSERT INTO forwards (issue_id, agency_id, forwarded_at, area_id, state,"
            " accepted_at, closed_at, outcome_note) VALUES ((SELECT id FROM issues WHERE"
            f" ref = 'KBJ-01/0001'), (SELECT id FROM agencies WHERE code = ?), ?, {AREA},"
            " ?, ?, ?, ?)",
            (code, sent, "31.73.01", state, accepted, closed, note),
        )


async def seed_records(path: Path) -> None:
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            for ref, post, start, end, reason, distance, inside, verified in SHIFTS:
                await tx.execute(
                    "INSERT INTO shifts (member_id, post_id, started_at, ended_at, end_reason,"
                    f" distance_m, inside_geofence, verified) VALUES ({MEMBER}, {POST},"
                    " ?, ?, ?, ?, ?, ?)",
                    (ref, post, start, end, reason, distance, inside, verified),
                )
            for issue in ISSUES:
                await tx.execute(
                    "INSERT INTO issues (ref, post_id, reporter_id, category, severity, text,"
                    " latitude, longitude, status, assignee_id, created_at, updated_at)"
                    f" VALUES (?, {POST}, {MEMBER}, ?, ?, ?, ?, ?, ?, {MEMBER}, ?, ?)",
                    issue,  # the columns in the order of the tuples above
                )
            await tx.executemany(
                "INSERT INTO issue_photos (issue_id, position, file_id)"
                " VALUES ((SELECT id FROM issues WHERE ref = 'KBJ-01/0001'), ?, ?)",
                [(0, "photo-a"), (1, "photo-b")],
            )
            for ref, at, actor, before, after, note in EVENTS:
                await tx.execute(
                    "INSERT INTO issue_events (issue_id, at, actor_id, kind, from_status,"
                    " to_status, note) VALUES ((SELECT id FROM issues WHERE ref = ?), ?,"
                    f" {MEMBER}, ?, ?, ?, ?)",
                    [
                        ref,
                        at,
                        actor,
                        "created" if before is None else "status",
                        before,
                        after,
                        note,
                    ],
                )
            await seed_forwards(tx)
            for post, kind, opened, step, area, acker, acked, resolved, resolution in ALERTS:
                await tx.execute(
                    "INSERT INTO alerts (post_id, kind, opened_at, step, step_area_id, acked_by,"
                    f" acked_at, resolved_at, resolution) VALUES ({POST}, ?, ?, ?, {AREA},"
                    f" {MEMBER}, ?, ?, ?)",
                    (post, kind, opened, step, area, acker, acked, resolved, resolution),
                )
    finally:
        await db.close()


@pytest.fixture
async def config(tmp_path: Path) -> Path:
    """A config file whose database holds the sample city and two days of records."""
    database = tmp_path / "data" / "posko.db"
    await seed_city(database)
    await seed_records(database)
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\npath = "{database.as_posix()}"\n', encoding="utf-8")
    return path


def run(config: Path, *args: str) -> int:
    return main(["export", *args, "--config", str(config)])


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(BOM)  # Excel needs it to read UTF-8
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


KBJ_01_AREA = {
    "kode kota": "31.73",
    "kota": "Kota Jakarta Barat",
    "kode kecamatan": "31.73.01",
    "kecamatan": "Kebon Jeruk",
    "kode kelurahan": "31.73.01.1001",
    "kelurahan": "Kebon Jeruk",
}


# --- the command line ---------------------------------------------------------------------


def test_shifts_to_csv_in_wib_with_the_area_path(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shifts.csv"
    assert run(config, "shifts", "-o", str(out)) == 0
    assert "3 shifts" in capsys.readouterr().out
    rows = read_csv(out)
    assert list(rows[0]) == [
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
        "mulai (WIB)",
        "selesai (WIB)",
        "durasi (menit)",
        "cara berakhir",
        "jarak ke posko (m)",
        "dalam radius posko",
        "terverifikasi",
    ]
    assert [row["ref petugas"] for row in rows] == ["budi", "sari", "john"]  # by start time
    budi, sari, john = rows
    assert budi == {
        "kode posko": "KBJ-01",
        "nama posko": "Posko Kel. Kebon Jeruk",
        **KBJ_01_AREA,
        "ref petugas": "budi",
        "petugas": "Budi Santoso",
        "mulai (WIB)": "2026-11-23 08:00",
        "selesai (WIB)": "2026-11-23 16:30",
        "durasi (menit)": "510",
        "cara berakhir": "pulang",
        "jarak ke posko (m)": "12",
        "dalam radius posko": "ya",
        "terverifikasi": "ya",
    }
    assert (sari["mulai (WIB)"], sari["selesai (WIB)"]) == ("2026-11-23 23:30", "2026-11-24 07:05")
    assert (sari["durasi (menit)"], sari["cara berakhir"]) == ("455", "ditutup otomatis")
    assert (sari["jarak ke posko (m)"], sari["dalam radius posko"]) == ("251", "tidak")
    assert sari["kode kelurahan"] == "31.73.01.1002" and sari["kelurahan"] == "Sukabumi Utara"
    # a kecamatan post has no kelurahan; an open shift has no end yet
    assert (john["kode kecamatan"], john["kode kelurahan"], john["kelurahan"]) == (
        "31.73.01",
        "",
        "",
    )
    assert john["mulai (WIB)"] == "2026-11-24 00:10"
    assert (john["selesai (WIB)"], john["durasi (menit)"]) == ("", "")
    assert (john["cara berakhir"], john["dalam radius posko"]) == ("masih bertugas", "")


def test_dates_are_whole_days_in_wib(config: Path, tmp_path: Path) -> None:
    def refs(kind: str, *period: str) -> list[str]:
        out = tmp_path / f"{kind}-{'-'.join(period) or 'all'}.csv"
        assert run(config, kind, *period, "-o", str(out)) == 0
        rows = read_csv(out)
        key = {"shifts": "ref petugas", "issues": "nomor laporan", "alerts": "kode posko"}[kind]
        return [row[key] for row in rows]

    # 24/11 00:10 WIB is the 24th although it is still the 23rd in UTC; 23:30 WIB is the 23rd
    assert refs("shifts", "--since", "2026-11-24", "--until", "2026-11-24") == ["john"]
    assert refs("shifts", "--until", "2026-11-23") == ["budi", "sari"]
    assert refs("issues", "--since", "2026-11-24") == ["KBJ-02/0001", "KEC-KBJ/0001"]
    assert refs("issues", "--since", "2026-11-23", "--until", "2026-11-23") == ["KBJ-01/0001"]
    assert refs("alerts", "--since", "2026-11-24") == ["KBJ-02", "KEC-KBJ"]
    assert refs("alerts", "--since", "2026-11-25") == []
    assert refs("alerts") == ["KBJ-01", "KBJ-02", "KEC-KBJ"]


def test_issues_to_csv_with_history_and_awkward_text(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "laporan.csv"
    assert run(config, "laporan", "-o", str(out)) == 0
    first, second, third = read_csv(out)
    assert first == {
        "nomor laporan": "KBJ-01/0001",
        "kode posko": "KBJ-01",
        "nama posko": "Posko Kel. Kebon Jeruk",
        **KBJ_01_AREA,
        "ref pelapor": "budi",
        "pelapor": "Budi Santoso",
        "kategori": "Keamanan",
        "tingkat": "tinggi",
        "status": "selesai",
        "isi laporan": "Kerumunan di depan TPS 05",
        "jumlah foto": "2",
        "lintang": "-6.1754",
        "bujur": "106.8272",
        "dibuat (WIB)": "2026-11-23 10:15",
        "perubahan terakhir (WIB)": "2026-11-23 12:40",
        "penanggung jawab": "Lurah Kebon Jeruk",
        "catatan penyelesaian": "Sudah ditertibkan Satpol PP",
        # its forwards, one cell each, the agencies joined with "; " (issue 10)
        "diteruskan ke instansi": "Bawaslu Jakarta Barat; Polres Metro Jakarta Barat",
        "diteruskan (WIB)": "2026-11-23 10:30; 2026-11-23 11:00",
        "diterima instansi (WIB)": "2026-11-23 10:45; -",
        "selesai instansi (WIB)": "2026-11-23 12:00; -",
        "hasil disposisi": "selesai: Sudah diklarifikasi; dikembalikan: Bukan ranah Polri",
    }
    never = ("diteruskan ke instansi", "diteruskan (WIB)", "hasil disposisi")
    assert [second[key] for key in never] == ["", "", ""]  # never forwarded
    assert second["isi laporan"] == 'Kotak suara "cadangan" kurang, 2 unit\nmohon dikirim'
    assert (second["jumlah foto"], second["lintang"], second["penanggung jawab"]) == ("0", "", "")
    assert second["catatan penyelesaian"] == ""  # still open: nothing resolved it
    assert third["catatan penyelesaian"] == "Bukan laporan lapangan"
    # a report that starts like a formula stays text when Excel opens the file
    assert third["isi laporan"] == "'" + ISSUES[0][5]


def test_alerts_to_csv_with_response_times(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.csv"
    assert run(config, "alerts", "--format", "csv", "-o", str(out)) == 0
    silent, unstaffed, still_open = read_csv(out)
    assert silent == {
        "kode posko": "KBJ-01",
        "nama posko": "Posko Kel. Kebon Jeruk",
        **KBJ_01_AREA,
        "jenis peringatan": "posko senyap",
        "dibuka (WIB)": "2026-11-23 20:00",
        "langkah eskalasi": "2",
        "wilayah terakhir diberi tahu": "Kebon Jeruk",
        "diambil alih oleh": "Camat Kebon Jeruk",
        "diambil alih (WIB)": "2026-11-23 20:07",
        "menit sampai diambil alih": "7",
        "pulih (WIB)": "2026-11-23 20:25",
        "menit sampai pulih": "25",
        "penyebab pulih": "ada kabar dari petugas",
    }
    assert unstaffed["dibuka (WIB)"] == "2026-11-24 06:00"
    assert (unstaffed["langkah eskalasi"], unstaffed["diambil alih oleh"]) == ("1", "")
    assert (unstaffed["menit sampai pulih"], unstaffed["penyebab pulih"]) == (
        "40",
        "petugas sudah hadir",
    )
    assert (still_open["pulih (WIB)"], still_open["menit sampai pulih"]) == ("", "")


def test_issues_to_xlsx_ready_for_the_city_office(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "laporan.xlsx"
    assert run(config, "issues", "-o", str(out)) == 0  # the format follows the suffix
    sheet = load_workbook(out).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["nomor laporan", "kode posko", "nama posko"]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:AA4"
    assert sheet.max_row == 4 and len(header) == 27
    rows = [
        dict(zip(header, (cell.value for cell in row), strict=True))
        for row in sheet.iter_rows(min_row=2)
    ]
    assert [row["nomor laporan"] for row in rows] == ["KBJ-01/0001", "KBJ-02/0001", "KEC-KBJ/0001"]
    first = rows[0]
    assert first["dibuat (WIB)"] == datetime(2026, 11, 23, 10, 15)  # a real date, in WIB
    assert first["perubahan terakhir (WIB)"] == datetime(2026, 11, 23, 12, 40)
    created = sheet.cell(row=2, column=header.index("dibuat (WIB)") + 1)
    assert created.is_date and created.number_format == "yyyy-mm-dd hh:mm"
    assert (first["jumlah foto"], first["lintang"], first["bujur"]) == (2, -6.1754, 106.8272)
    assert (first["kode kelurahan"], first["kelurahan"]) == ("31.73.01.1001", "Kebon Jeruk")
    assert first["catatan penyelesaian"] == "Sudah ditertibkan Satpol PP"
    assert header[-5:] == [
        "diteruskan ke instansi",
        "diteruskan (WIB)",
        "diterima instansi (WIB)",
        "selesai instansi (WIB)",
        "hasil disposisi",
    ]
    assert first["diteruskan ke instansi"] == "Bawaslu Jakarta Barat; Polres Metro Jakarta Barat"
    assert first["selesai instansi (WIB)"] == "2026-11-23 12:00; -"
    assert first["hasil disposisi"] == (
        "selesai: Sudah diklarifikasi; dikembalikan: Bukan ranah Polri"
    )
    assert rows[1]["diteruskan ke instansi"] is None
    assert rows[1]["isi laporan"] == ISSUES[2][5]  # quotes, comma and a line break intact
    formula_like = sheet.cell(row=4, column=header.index("isi laporan") + 1)
    assert formula_like.value == ISSUES[0][5] and formula_like.data_type == "s"
    widths = {
        name: sheet.column_dimensions[cell.column_letter].width
        for name, cell in zip(header, sheet[1], strict=True)
    }
    assert widths["dibuat (WIB)"] >= 16  # a whole date and time shows
    assert widths["isi laporan"] > widths["jumlah foto"]
    assert max(widths.values()) <= 60


def test_shifts_to_xlsx_with_an_empty_filter_range(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "kosong.dat"
    args = ("shifts", "--since", "2026-12-01", "--format", "xlsx", "-o", str(out))
    assert run(config, *args) == 0
    sheet = load_workbook(io.BytesIO(out.read_bytes())).active
    assert sheet is not None
    assert sheet.max_row == 1 and sheet["K1"].value == "mulai (WIB)"
    assert sheet.auto_filter.ref == "A1:Q1"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("issues", "--since", "2026-13-01"), "--since '2026-13-01' is not a date"),
        (("issues", "--until", "24-11-2026"), "--until '24-11-2026' is not a date"),
        (
            ("issues", "--since", "2026-11-24", "--until", "2026-11-23"),
            "--until 2026-11-23 is before --since 2026-11-24",
        ),
        (("tps",), "unknown export 'tps'"),
        (("alerts", "--format", "pdf"), "unknown format 'pdf'"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    words: str,
) -> None:
    out = tmp_path / "out.csv"
    assert run(config, *args, "-o", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("posko: ") and words in err
    assert len(err.splitlines()) == 1
    assert not out.exists()


def test_unwritable_output_exits_2(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder" / "out.csv"
    assert run(config, "shifts", "-o", str(missing)) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"posko: cannot write {missing}: folder {missing.parent} does not exist"
    assert run(config, "shifts", "-o", str(tmp_path)) == 2
    assert "it is a folder" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # (root may write anywhere)
            assert run(config, "shifts", "-o", str(locked / "out.csv")) == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith(f"posko: cannot write {locked / 'out.csv'}: ")
            assert len(err.splitlines()) == 1
    finally:
        locked.chmod(0o700)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_failed_export_leaves_an_old_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{(tmp_path / "none.db").as_posix()}"\n', "utf-8")
    out = tmp_path / "out.csv"
    out.write_text("yesterday's export", encoding="utf-8")
    assert run(config, "shifts", "-o", str(out)) == 2
    assert "database not found" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "yesterday's export"
    assert not (tmp_path / "none.db").exists()  # an export never creates a database
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "out.csv"]


# --- the bot --------------------------------------------------------------------------------


@pytest.fixture
async def exporting_bot(
    emu: FakeBotApi, db_path: Path, clock: FakeClock
) -> AsyncIterator[PoskoApp]:
    from handlers.export import register

    await seed_records(db_path)
    app = build_application(make_settings(emu, db_path), clock)
    register(app)
    register(app)  # harmless twice
    async with running(app):
        yield app


@pytest.mark.usefixtures("exporting_bot")
async def test_admin_gets_issues_as_a_csv_document(emu: FakeBotApi) -> None:
    mark = emu.mark()
    emu.send_text(ADMIN, "/ekspor issues csv")
    sent = await emu.wait_reply(ADMIN.id, after=mark, methods={"sendDocument"}, timeout=10)
    document = sent.result["document"]
    assert document["file_name"] == "posko-issues-2026-11-24.csv"
    data = next(iter(sent.files.values()))
    assert data.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    # the default period is the last 7 days in WIB: 18-24 November
    assert [row["nomor laporan"] for row in rows] == ["KBJ-01/0001", "KBJ-02/0001", "KEC-KBJ/0001"]
    assert rows[0]["dibuat (WIB)"] == "2026-11-23 10:15"
    assert rows[0]["kode kelurahan"] == "31.73.01.1001"
    assert "3 baris" in (sent.text or "") and "18/11/2026" in (sent.text or "")


@pytest.mark.usefixtures("exporting_bot")
async def test_admin_gets_alerts_as_xlsx_by_default_and_with_dates(emu: FakeBotApi) -> None:
    mark = emu.mark()
    emu.send_text(ADMIN, "/export peringatan 2026-11-24")
    sent = await emu.wait_reply(ADMIN.id, after=mark, methods={"sendDocument"}, timeout=10)
    assert sent.result["document"]["file_name"] == "posko-alerts-2026-11-24.xlsx"
    sheet = load_workbook(io.BytesIO(next(iter(sent.files.values())))).active
    assert sheet is not None
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["KBJ-02", "KEC-KBJ"]
    assert sheet.freeze_panes == "A2"


async def test_bad_dates_in_the_bot_are_explained(exporting_bot: PoskoApp, emu: FakeBotApi) -> None:
    admin = Phone(emu, ADMIN)
    bad = await admin.send("/ekspor laporan 2026-02-30")
    assert "2026-02-30" in (bad.text or "") and "TTTT-BB-HH" in (bad.text or "")
    backwards = await admin.send("/ekspor laporan 2026-11-24 2026-11-20")
    assert "lebih awal" in (backwards.text or "")
    usage = await admin.send("/ekspor")
    assert "/ekspor JENIS" in (usage.text or "")
    unknown = await admin.send("/ekspor tps")
    assert "/ekspor JENIS" in (unknown.text or "")


@pytest.mark.parametrize("user", [BUDI, LURAH], ids=["officer", "supervisor"])
async def test_officers_and_supervisors_are_refused(
    exporting_bot: PoskoApp, emu: FakeBotApi, user: object
) -> None:
    from bot.rehearsal.emulator import FakeUser

    assert isinstance(user, FakeUser)
    mark = emu.mark()
    refused = await Phone(emu, user).send("/ekspor laporan csv")
    assert "khusus admin" in (refused.text or "")
    assert not [s for s in emu.sent[mark:] if s.method == "sendDocument"]


@pytest.mark.parametrize("word", ["0001-01-01", "9999-12-31", "31/12/1899"])
def test_days_far_off_are_refused(word: str) -> None:
    from bot.exchange.export import ExportError, parse_day

    with pytest.raises(ExportError, match="not a date"):
        parse_day(word)
