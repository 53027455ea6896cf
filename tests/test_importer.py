"""CSV import (SPEC §6) against a real SQLite database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.exchange.csv_file import ImportFailed
from bot.exchange.importer import ImportSummary, Kind, import_csv
from bot.watch.schedule import parse_hours
from storage import areas, members, posts
from storage.db import Database

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

# Children before their parents on purpose: the importer orders them.
AREAS_CSV = """\
code,name,level,parent_code
31.73.01.1001,Kembangan Selatan,kelurahan,31.73.01
31.73.02.1001,Duri Kepa,kelurahan,31.73.02
31.73.01,Kembangan,kecamatan,31.73
31.73.02,Kebon Jeruk,kecamatan,31.73
31.73,Jakarta Barat,kota,31
31,DKI Jakarta,provinsi,
"""

# Columns in another order than the SPEC's, plus one watch override column.
POSTS_CSV = """\
name,code,area_code,latitude,longitude,radius_m,min_staff,hours,silence_after
Posko Kota,KOTA-01,31.73,-6.1682,106.7589,150,2,24h,60m
Desk Kembangan,KBG-01,31.73.01,,,,,"mon-fri 08:00-16:00; sat,sun 08:00-12:00",
Posko Duri Kepa,DRK-01,31.73.02.1001, -6.18 ,106.78,,0,22:00-06:00,
"""

MEMBERS_CSV = """\
ref,name,nip,phone,roles,posts,areas,telegram_id,language
ASN-001,Budi Santoso,198501012010011001,0812-3456-7890,officer,KBG-01,,1001,
ASN-002,Siti Aminah,19850101 201001 2 002,+62 812 1111 2222,petugas;pengawas,kota-01;DRK-01,\
31.73.02,,en
LRH-001,Ibu Lurah,,,supervisor,,31.73.02.1001;31.73.02,1003,id
ADM-001,Tim Operasi,,,admin,,,1004,
"""

TABLES = ("areas", "posts", "members", "member_roles", "assignments", "scopes", "audit_log")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "posko.db")
    await database.migrate()
    yield database
    await database.close()


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    target = tmp_path / name
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, encoding="utf-8")
    return target


async def load_city(db: Database, tmp_path: Path) -> None:
    await import_csv(db, "areas", write(tmp_path, "areas.csv", AREAS_CSV), NOW)
    await import_csv(db, "posts", write(tmp_path, "posts.csv", POSTS_CSV), NOW)
    await import_csv(db, "members", write(tmp_path, "members.csv", MEMBERS_CSV), NOW)


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    async with db.read() as tx:
        return {
            table: [tuple(row) for row in await tx.all(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in TABLES
        }


async def count(db: Database, table: str) -> int:
    async with db.read() as tx:
        return int(await tx.scalar(f"SELECT count(*) FROM {table}"))


# --- a good city ---------------------------------------------------------------------


async def test_good_city_is_imported(db: Database, tmp_path: Path) -> None:
    summary = await import_csv(db, "areas", write(tmp_path, "areas.csv", AREAS_CSV), NOW)
    assert summary == ImportSummary("areas", created=6, updated=0)
    summary = await import_csv(db, "posts", write(tmp_path, "posts.csv", POSTS_CSV), NOW)
    assert summary == ImportSummary("posts", created=3, updated=0)
    summary = await import_csv(db, "members", write(tmp_path, "members.csv", MEMBERS_CSV), NOW)
    assert summary == ImportSummary("members", created=4, updated=0)

    async with db.read() as tx:
        kelurahan = await areas.by_code(tx, "31.73.01.1001")
        assert kelurahan is not None and kelurahan.level == "kelurahan"
        chain = [area.code for area in await areas.path(tx, kelurahan.id)]
        assert chain == ["31", "31.73", "31.73.01", "31.73.01.1001"]

        kota = await posts.by_code(tx, "KOTA-01")
        assert kota is not None
        assert (kota.latitude, kota.longitude, kota.radius_m) == (-6.1682, 106.7589, 150.0)
        assert kota.min_staff == 2
        assert kota.hours == "24h"
        assert kota.watch_policy == {"silence_after": "60m"}

        desk = await posts.by_code(tx, "KBG-01")
        assert desk is not None
        assert (desk.latitude, desk.longitude, desk.radius_m) == (None, None, None)
        assert desk.min_staff == 1
        assert desk.hours == str(parse_hours("mon-fri 08:00-16:00; sat,sun 08:00-12:00"))
        assert desk.watch_policy == {}

        duri = await posts.by_code(tx, "DRK-01")
        assert duri is not None
        assert (duri.latitude, duri.longitude, duri.radius_m) == (-6.18, 106.78, None)
        assert duri.min_staff == 0
        assert duri.hours == str(parse_hours("22:00-06:00"))

        officer = await members.by_ref(tx, "ASN-001")
        assert officer is not None
        assert officer.roles == frozenset({"officer"})
        assert officer.telegram_id == 1001
        assert officer.language is None
        assert [p.code for p in await posts.assigned_to(tx, officer.id)] == ["KBG-01"]

        both = await members.by_ref(tx, "ASN-002")
        assert both is not None
        assert both.roles == frozenset({"officer", "supervisor"})
        assert both.telegram_id is None
        assert both.language == "en"
        assert [p.code for p in await posts.assigned_to(tx, both.id)] == ["DRK-01", "KOTA-01"]
        scope = await members.scope_area_ids(tx, both.id)
        stored_area = await areas.by_code(tx, "31.73.02")
        assert stored_area is not None and scope == [stored_area.id]

        lurah = await members.by_ref(tx, "LRH-001")
        assert lurah is not None and lurah.roles == frozenset({"supervisor"})
        assert len(await members.scope_area_ids(tx, lurah.id)) == 2

        admin = await members.by_ref(tx, "ADM-001")
        assert admin is not None and admin.roles == frozenset({"admin"})

        row = await tx.one("SELECT nip, phone FROM members WHERE ref = 'ASN-001'")
        assert row is not None and tuple(row) == ("198501012010011001", "081234567890")
        row = await tx.one("SELECT nip, phone FROM members WHERE ref = 'ASN-002'")
        assert row is not None and tuple(row) == ("198501012010012002", "+6281211112222")

        audits = await tx.all("SELECT action, entity, entity_id, detail FROM audit_log ORDER BY id")
    assert [(a[0], a[1], a[2]) for a in audits] == [
        ("import", "areas", "areas.csv"),
        ("import", "posts", "posts.csv"),
        ("import", "members", "members.csv"),
    ]
    assert json.loads(audits[0][3])["created"] == 6


async def test_reimport_updates_and_counts(db: Database, tmp_path: Path) -> None:
    await load_city(db, tmp_path)

    areas_again = AREAS_CSV.replace("Kebon Jeruk", "Kebon Jeruk (baru)") + (
        "31.73.02.1002,Kelapa Dua,kelurahan,31.73.02\n"
    )
    summary = await import_csv(db, "areas", write(tmp_path, "areas.csv", areas_again), NOW)
    assert summary == ImportSummary("areas", created=1, updated=6)

    posts_again = """\
code,name,area_code,latitude,longitude,radius_m,min_staff,hours
KBG-01,Desk Kembangan,31.73.01,-6.19,106.74,75,3,07:00-19:00
KLD-01,Posko Kelapa Dua,31.73.02.1002,,,,,
"""
    summary = await import_csv(db, "posts", write(tmp_path, "posts.csv", posts_again), NOW)
    assert summary == ImportSummary("posts", created=1, updated=1)

    members_again = """\
ref,name,nip,phone,roles,posts,areas,telegram_id,language
ASN-001,Budi Santoso,,,officer;supervisor,KLD-01,31.73.02.1002,,id
ASN-003,Rina,,,officer,KLD-01,,1005,
"""
    summary = await import_csv(db, "members", write(tmp_path, "members.csv", members_again), NOW)
    assert summary == ImportSummary("members", created=1, updated=1)

    assert await count(db, "areas") == 7
    assert await count(db, "posts") == 4
    assert await count(db, "members") == 5
    assert await count(db, "audit_log") == 6
    async with db.read() as tx:
        area = await areas.by_code(tx, "31.73.02")
        assert area is not None and area.name == "Kebon Jeruk (baru)"
        desk = await posts.by_code(tx, "KBG-01")
        assert desk is not None
        assert (desk.latitude, desk.radius_m, desk.min_staff) == (-6.19, 75.0, 3)
        assert desk.hours == "07:00-19:00"
        kota = await posts.by_code(tx, "KOTA-01")  # not in the file: left alone
        assert kota is not None and kota.watch_policy == {"silence_after": "60m"}
        budi = await members.by_ref(tx, "ASN-001")
        assert budi is not None
        assert budi.roles == frozenset({"officer", "supervisor"})
        assert budi.telegram_id == 1001  # an empty cell keeps the registered account
        assert budi.language == "id"
        assert [p.code for p in await posts.assigned_to(tx, budi.id)] == ["KLD-01"]


async def test_bom_blank_lines_spaces_and_quotes_are_accepted(db: Database, tmp_path: Path) -> None:
    text = (
        "\ufeff Code , NAME ,level,parent_code\r\n"
        "\r\n"
        '31, "DKI\nJakarta" ,provinsi,\r\n'
        " , , , \r\n"
        "31.73,  Jakarta Barat  ,KOTA,31\r\n"
    )
    summary = await import_csv(db, "areas", write(tmp_path, "areas.csv", text), NOW)
    assert summary == ImportSummary("areas", created=2, updated=0)
    async with db.read() as tx:
        assert await areas.codes(tx) == {"31": "provinsi", "31.73": "kota"}
        kota = await areas.by_code(tx, "31.73")
        assert kota is not None and kota.name == "Jakarta Barat"


async def test_semicolon_separated_file_from_indonesian_spreadsheet(
    db: Database, tmp_path: Path
) -> None:
    await load_city(db, tmp_path)
    text = (
        "code;name;area_code;latitude;longitude;radius_m;min_staff;hours\n"
        "KBJ-01;Posko Kebon Jeruk;31.73.02;-6,19;106,77;100;1;"
        '"mon-fri 08:00-16:00; sat 08:00-12:00"\n'
    )
    summary = await import_csv(db, "posts", write(tmp_path, "posts.csv", text), NOW)
    assert summary.created == 1
    async with db.read() as tx:
        post = await posts.by_code(tx, "KBJ-01")
        assert post is not None and (post.latitude, post.longitude) == (-6.19, 106.77)


async def test_a_city_without_provinsi_may_start_at_kota(db: Database, tmp_path: Path) -> None:
    text = "code,name,level,parent_code\n31.73.01,Kembangan,kecamatan,31.73\n31.73,Jakbar,kota,\n"
    summary = await import_csv(db, "areas", write(tmp_path, "areas.csv", text), NOW)
    assert summary.created == 2


# --- bad files: nothing is written ---------------------------------------------------

AREAS_HEADER = "code,name,level,parent_code\n"
# Line 2 adds an area and line 3 renames one: neither may be written when a later row fails.
AREAS_GOOD = (
    AREAS_HEADER + "31.73.02.1002,Kelapa Dua,kelurahan,31.73.02\n31.73,Jakbar Baru,kota,31\n"
)
POSTS_HEADER = "code,name,area_code,latitude,longitude,radius_m,min_staff,hours\n"
POSTS_GOOD = POSTS_HEADER + "NEW-01,Posko Baru,31.73.01,,,,,\nKBG-01,Renamed,31.73.01,,,,5,\n"
MEMBERS_HEADER = "ref,name,nip,phone,roles,posts,areas,telegram_id,language\n"
MEMBERS_GOOD = MEMBERS_HEADER + "NEW-1,Baru,,,officer,KBG-01,,2001,\nASN-001,Renamed,,,admin,,,,\n"

# (kind, file text, line, column, what the message must say)
BAD_FILES: dict[str, tuple[Kind, str, int, str, str]] = {
    "areas missing column": (
        "areas",
        "code,name,level\n31.9,X,kota,\n",
        1,
        "parent_code",
        "missing from the header",
    ),
    "areas extra column": (
        "areas",
        "code,name,level,parent_code,note\n31.9,X,kota,,hi\n",
        1,
        "note",
        "unknown column; expected only the columns code,name,level,parent_code",
    ),
    "areas duplicate column": (
        "areas",
        "code,name,level,parent_code,Code\n31.9,X,kota,,31.9\n",
        1,
        "code",
        "appears more than once in the header (columns 1 and 5)",
    ),
    "areas duplicate code": (
        "areas",
        AREAS_GOOD + "31.73.02.1002,Lagi,kelurahan,31.73.02\n",
        4,
        "code",
        "area '31.73.02.1002' is already on line 2",
    ),
    "areas empty code": ("areas", AREAS_GOOD + ",Tanpa Kode,kota,31\n", 4, "code", "got ''"),
    "areas code with space": (
        "areas",
        AREAS_GOOD + "31 74,Spasi,kota,31\n",
        4,
        "code",
        "without spaces",
    ),
    "areas empty name": ("areas", AREAS_GOOD + "31.74,,kota,31\n", 4, "name", "expected the"),
    "areas bad level": (
        "areas",
        AREAS_GOOD + "31.73.01.2001,Desa,desa,31.73.01\n",
        4,
        "level",
        "expected one of provinsi, kota, kecamatan, kelurahan, got 'desa'",
    ),
    "areas unknown parent": (
        "areas",
        AREAS_GOOD + "31.73.09.1001,Yatim,kelurahan,31.73.09\n",
        4,
        "parent_code",
        "unknown area '31.73.09'",
    ),
    "areas wrong parent level": (
        "areas",
        AREAS_GOOD + "31.73.03.1001,Lompat,kelurahan,31.73\n",
        4,
        "parent_code",
        "'31.73' is a kota; expected the code of a kecamatan",
    ),
    "areas wrong parent level within the file": (
        "areas",
        AREAS_GOOD + "31.73.02.1002.1,Terlalu Dalam,kelurahan,31.73.02.1002\n",
        4,
        "parent_code",
        "'31.73.02.1002' is a kelurahan; expected the code of a kecamatan",
    ),
    "areas missing parent": (
        "areas",
        AREAS_GOOD + "31.73.05,Tanpa Induk,kecamatan,\n",
        4,
        "parent_code",
        "a kecamatan needs a parent area",
    ),
    "areas provinsi with parent": (
        "areas",
        AREAS_GOOD + "32,Jawa Barat,provinsi,31\n",
        4,
        "parent_code",
        "a provinsi is the root of the tree",
    ),
    "areas own parent": (
        "areas",
        AREAS_GOOD + "31.73.07,Sendiri,kecamatan,31.73.07\n",
        4,
        "parent_code",
        "cannot be its own parent",
    ),
    "areas cycle": (
        "areas",
        AREAS_GOOD + "31.73.07,A,kecamatan,31.73.08\n31.73.08,B,kecamatan,31.73.07\n",
        4,
        "parent_code",
        "'31.73.08' is a kecamatan; expected the code of a kota",
    ),
    "areas level change orphans stored children": (
        "areas",
        AREAS_GOOD + "31.73.01,Kembangan,kota,31\n",
        4,
        "level",
        "has the kelurahan '31.73.01.1001' below it in the database",
    ),
    "posts missing column": (
        "posts",
        "code,name,area_code,latitude,longitude,radius_m,min_staff\nX,X,31.73,,,,\n",
        1,
        "hours",
        "missing from the header",
    ),
    "posts extra column": (
        "posts",
        POSTS_HEADER.strip() + ",keterangan\nX,X,31.73,,,,,,\n",
        1,
        "keterangan",
        "unknown column",
    ),
    "posts duplicate code": (
        "posts",
        POSTS_GOOD + "new-01,Dobel,31.73.01,,,,,\n",
        4,
        "code",
        "post 'new-01' is already on line 2",
    ),
    "posts code differs in case from stored": (
        "posts",
        POSTS_GOOD + "kota-01,Kota,31.73,,,,,\n",
        4,
        "code",
        "differs only in letter case from the existing post 'KOTA-01'",
    ),
    "posts code with slash": (
        "posts",
        POSTS_GOOD + "KBJ/01,Garis Miring,31.73.01,,,,,\n",
        4,
        "code",
        "expected a post code of 1-32 letters, digits, '-' or '_'",
    ),
    "posts unknown area": (
        "posts",
        POSTS_GOOD + "X-01,X,31.99,,,,,\n",
        4,
        "area_code",
        "unknown area '31.99'; expected the code of an area already imported",
    ),
    "posts missing longitude": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,-6.2,,,,\n",
        4,
        "longitude",
        "expected a longitude together with the latitude (both or neither)",
    ),
    "posts missing latitude": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,,106.8,,,\n",
        4,
        "latitude",
        "expected a latitude together with the longitude (both or neither)",
    ),
    "posts latitude out of range": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,106.8,-6.2,,,\n",
        4,
        "latitude",
        "expected decimal degrees from -90 to 90, e.g. -6.2146, got '106.8' (are latitude",
    ),
    "posts longitude out of range": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,-6.2,190,,,\n",
        4,
        "longitude",
        "expected decimal degrees from -180 to 180",
    ),
    "posts latitude not a number": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,6°12'S,106.8,,,\n",
        4,
        "latitude",
        "expected decimal degrees",
    ),
    "posts bad radius": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,-6.2,106.8,abc,,\n",
        4,
        "radius_m",
        "expected a number of metres > 0, got 'abc'",
    ),
    "posts zero radius": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,-6.2,106.8,0,,\n",
        4,
        "radius_m",
        "expected a number of metres > 0, got '0'",
    ),
    "posts radius without coordinates": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,,,100,,\n",
        4,
        "radius_m",
        "a geofence radius needs the post's coordinates",
    ),
    "posts negative min_staff": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,,,,-1,\n",
        4,
        "min_staff",
        "expected a whole number of officers >= 0 (empty means 1), got '-1'",
    ),
    "posts fractional min_staff": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,,,,1.5,\n",
        4,
        "min_staff",
        "expected a whole number of officers >= 0",
    ),
    "posts bad hours": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,,,,,08:00-25:00\n",
        4,
        "hours",
        "expected HH:MM",
    ),
    "posts bad hours day": (
        "posts",
        POSTS_GOOD + "X-01,X,31.73,,,,,someday 08:00-16:00\n",
        4,
        "hours",
        "unknown day 'someday'",
    ),
    "posts bad duration override": (
        "posts",
        POSTS_HEADER.strip() + ",silence_after\n"
        "NEW-01,Posko Baru,31.73.01,,,,,,\nKBG-01,Renamed,31.73.01,,,,5,,45m\n"
        "X-01,X,31.73,,,,,,90 menit\n",
        4,
        "silence_after",
        "'90 menit' is not a duration; expected e.g. '45s', '15m', '2h'",
    ),
    "posts repeat_every of zero": (
        "posts",
        POSTS_HEADER.strip() + ",repeat_every\n"
        "NEW-01,Posko Baru,31.73.01,,,,,,\nKBG-01,Renamed,31.73.01,,,,5,,\n"
        "X-01,X,31.73,,,,,,0s\n",
        4,
        "repeat_every",
        "expected a duration longer than 0s",
    ),
    "posts remind_before not below silence_after": (
        "posts",
        POSTS_HEADER.strip() + ",silence_after,remind_before\n"
        "NEW-01,Posko Baru,31.73.01,,,,,,,\nKBG-01,Renamed,31.73.01,,,,5,,,\n"
        "X-01,X,31.73,,,,,,30m,30m\n",
        4,
        "remind_before",
        "expected less than silence_after (30m), got '30m'",
    ),
    "members missing column": (
        "members",
        "ref,name,nip,phone,roles,posts,areas,telegram_id\nA,A,,,admin,,,\n",
        1,
        "language",
        "missing from the header",
    ),
    "members extra column": (
        "members",
        MEMBERS_HEADER.strip() + ",jabatan\nA,A,,,admin,,,,,Camat\n",
        1,
        "jabatan",
        "unknown column",
    ),
    "members duplicate ref": (
        "members",
        MEMBERS_GOOD + "NEW-1,Lagi,,,admin,,,,\n",
        4,
        "ref",
        "'NEW-1' is already on line 2",
    ),
    "members empty ref": ("members", MEMBERS_GOOD + ",Anon,,,admin,,,,\n", 4, "ref", "got ''"),
    "members empty name": ("members", MEMBERS_GOOD + "X-1,,,,admin,,,,\n", 4, "name", "got ''"),
    "members bad nip": (
        "members",
        MEMBERS_GOOD + "X-1,X,12345,,admin,,,,\n",
        4,
        "nip",
        "expected an NIP of 18 digits, or nothing, got '12345'",
    ),
    "members nip mangled by a spreadsheet": (
        "members",
        MEMBERS_GOOD + "X-1,X,1.98501E+17,,admin,,,,\n",
        4,
        "nip",
        "format the column as text",
    ),
    "members bad phone": (
        "members",
        MEMBERS_GOOD + "X-1,X,,0812-ABC,admin,,,,\n",
        4,
        "phone",
        "expected a phone number of 8-15 digits",
    ),
    "members bad role": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin;ketua,,,,\n",
        4,
        "roles",
        "unknown role 'ketua'; expected officer, supervisor, admin",
    ),
    "members no role": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,,,,,\n",
        4,
        "roles",
        "expected at least one of officer, supervisor, admin",
    ),
    "members officer without posts": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,officer,,,,\n",
        4,
        "posts",
        "an officer needs a post; expected at least one post code",
    ),
    "members unknown post": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,officer,KBG-01;NOPE-9,,,\n",
        4,
        "posts",
        "unknown post 'NOPE-9'; expected codes of posts already imported",
    ),
    "members posts for a non-officer": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,KBG-01,,,\n",
        4,
        "posts",
        "posts are assigned to officers only",
    ),
    "members supervisor without areas": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,pengawas,,,,\n",
        4,
        "areas",
        "a supervisor needs an area to watch; expected at least one area code",
    ),
    "members unknown area": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,supervisor,,31.73;31.99,,\n",
        4,
        "areas",
        "unknown area '31.99'; expected codes of areas already imported",
    ),
    "members areas for a non-supervisor": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,,31.73,,\n",
        4,
        "areas",
        "areas are scopes of supervisors and liaisons only",
    ),
    "members telegram_id not a number": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,,,@budi,\n",
        4,
        "telegram_id",
        "expected a Telegram user id (a positive whole number), or nothing, got '@budi'",
    ),
    "members telegram_id zero": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,,,0,\n",
        4,
        "telegram_id",
        "expected a Telegram user id (a positive whole number)",
    ),
    "members telegram_id negative": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,,,-5,\n",
        4,
        "telegram_id",
        "expected a Telegram user id (a positive whole number)",
    ),
    "members duplicate telegram_id in file": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,,,2001,\n",
        4,
        "telegram_id",
        "2001 is also given to 'NEW-1' on line 2",
    ),
    "members telegram_id bound to another member": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,,,1003,\n",
        4,
        "telegram_id",
        "1003 already belongs to member 'LRH-001' in the database",
    ),
    "members bad language": (
        "members",
        MEMBERS_GOOD + "X-1,X,,,admin,,,,jv\n",
        4,
        "language",
        "expected 'id' or 'en' (or nothing for 'id'), got 'jv'",
    ),
    "too many values on a line": (
        "areas",
        AREAS_GOOD + "31.74,Jakarta Pusat,kota,31,extra\n",
        4,
        "5",
        "unexpected value 'extra' beyond the 4 columns of the header",
    ),
    "empty header cell": (
        "areas",
        "code,,level,parent_code\n31.74,X,kota,31\n",
        1,
        "2",
        "the header cell is empty",
    ),
}


# Cases whose one mistake is rightly reported more than once.
ERROR_COUNTS = {
    "areas cycle": 2,  # each of the two areas names the other as its parent
    "empty header cell": 2,  # the unnamed column is also the missing 'name'
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
async def test_bad_file_names_line_and_column_and_writes_nothing(
    db: Database, tmp_path: Path, case: str
) -> None:
    kind, text, line, column, expected = BAD_FILES[case]
    await load_city(db, tmp_path)
    before = await snapshot(db)

    path = write(tmp_path, f"{kind}.csv", text)
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, kind, path, NOW)

    errors = failed.value.errors
    assert len(errors) == ERROR_COUNTS.get(case, 1), errors
    assert errors[0].startswith(f"{kind}.csv:{line}: column {column}: "), errors
    assert expected in errors[0], errors
    assert "expected" in errors[0]
    assert await snapshot(db) == before


async def test_every_bad_row_is_reported(db: Database, tmp_path: Path) -> None:
    await load_city(db, tmp_path)
    before = await snapshot(db)
    text = (
        POSTS_HEADER
        + "\n"  # line 2: blank lines count as lines
        + "A-01,A,31.73,-6.2,106.8,abc,,\n"  # line 3
        + '"B-01","Posko\nDua Baris",31.73,,,,,\n'  # lines 4-5: good, quoted newline
        + "C-01,C,31.99,95,,,x,99:00-10:00\n"  # line 6: five problems
    )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, "posts", write(tmp_path, "posts.csv", text), NOW)
    assert failed.value.errors == [
        "posts.csv:3: column radius_m: expected a number of metres > 0, got 'abc'",
        "posts.csv:6: column area_code: unknown area '31.99'; expected the code of an area"
        " already imported (import areas.csv first)",
        "posts.csv:6: column latitude: expected decimal degrees from -90 to 90, e.g. -6.2146,"
        " got '95' (are latitude and longitude swapped?)",
        "posts.csv:6: column longitude: expected a longitude together with the latitude"
        " (both or neither), got ''",
        "posts.csv:6: column min_staff: expected a whole number of officers >= 0"
        " (empty means 1), got 'x'",
        "posts.csv:6: column hours: invalid hours '99:00-10:00': bad time '99:00'; expected"
        " HH:MM from 00:00 to 24:00",
    ]
    assert await snapshot(db) == before


async def test_header_problems_are_all_reported(db: Database, tmp_path: Path) -> None:
    text = "ref,name,Name,phone,roles,posts,areas,telegram,language\n"
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, "members", write(tmp_path, "members.csv", text), NOW)
    assert [error.split(": ")[0:2] for error in failed.value.errors] == [
        ["members.csv:1", "column name"],
        ["members.csv:1", "column telegram"],
        ["members.csv:1", "column nip"],
        ["members.csv:1", "column telegram_id"],
    ]


@pytest.mark.parametrize(
    ("content", "line", "expected"),
    [
        (b"", 1, "the file is empty; expected a header row: code,name,level,parent_code"),
        (b"\n  \n", 1, "the file is empty; expected a header row"),
        (b"\xef\xbb\xbf", 1, "the file is empty"),
        (b"code,name,level,parent_code\n", 2, "no rows below the header; expected one row"),
        (b"code,name,level,parent_code\n\n,,,\n", 2, "no rows below the header"),
        (
            b"code,name,level,parent_code\n31,DKI,provinsi,\n31.74,Caf\xe9,kota,31\n",
            3,
            "the file is not UTF-8 text (byte 0xe9 cannot be read); expected UTF-8",
        ),
        (
            "code,name,level,parent_code\n31,DKI,provinsi,\n".encode("utf-16"),
            1,
            "the file is not UTF-8 text",
        ),
    ],
    ids=["empty", "blank", "bom only", "header only", "header and blanks", "latin-1", "utf-16"],
)
async def test_unreadable_or_empty_file_writes_nothing(
    db: Database, tmp_path: Path, content: bytes, line: int, expected: str
) -> None:
    await load_city(db, tmp_path)
    before = await snapshot(db)
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, "areas", write(tmp_path, "areas.csv", content), NOW)
    assert len(failed.value.errors) == 1
    assert failed.value.errors[0].startswith(f"areas.csv:{line}: ")
    assert expected in failed.value.errors[0]
    assert await snapshot(db) == before


async def test_missing_file(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, "areas", tmp_path / "nope.csv", NOW)
    assert failed.value.errors[0].startswith("nope.csv: cannot read the file")


async def test_nothing_written_into_an_empty_database(db: Database, tmp_path: Path) -> None:
    text = AREAS_CSV + "31.73.03,Rusak,desa,31.73\n"
    with pytest.raises(ImportFailed):
        await import_csv(db, "areas", write(tmp_path, "areas.csv", text), NOW)
    for table in TABLES:
        assert await count(db, table) == 0


async def test_import_failed_shows_at_most_twenty_errors(db: Database, tmp_path: Path) -> None:
    text = AREAS_HEADER + "".join(f"X{i},X,desa,\n" for i in range(25))
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, "areas", write(tmp_path, "areas.csv", text), NOW)
    assert len(failed.value.errors) == 25
    shown = str(failed.value).split("\n")
    assert len(shown) == 21
    assert shown[0] == (
        "areas.csv:2: column level: expected one of provinsi, kota, kecamatan, kelurahan,"
        " got 'desa'"
    )
    assert shown[-1] == "... and 5 more"
    assert str(ImportFailed(["a", "b"])) == "a\nb"
