"""Partner agencies and liaisons in the import files (issue 10, SPEC §8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.exchange.csv_file import ImportFailed
from bot.exchange.importer import import_csv
from storage import agencies, members
from storage.db import Database
from tests.test_importer import NOW, load_city, write

AGENCIES_CSV = """\
code,name
bawaslu,Bawaslu Jakarta Barat
polri,Polres Metro Jakarta Barat
"""

HEADER = "ref,name,nip,phone,roles,posts,areas,telegram_id,language,agency\n"
TABLES = ("agencies", "members", "member_roles", "scopes", "audit_log")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "posko.db")
    await database.migrate()
    await load_city(database, tmp_path)
    yield database
    await database.close()


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    async with db.read() as tx:
        return {
            table: [tuple(row) for row in await tx.all(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in TABLES
        }


async def failure(db: Database, path: Path, kind: str) -> list[str]:
    before = await snapshot(db)
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, kind, path, NOW)  # type: ignore[arg-type]
    assert await snapshot(db) == before  # nothing written
    return failed.value.errors


async def test_agencies_are_imported_and_updated_by_code(db: Database, tmp_path: Path) -> None:
    summary = await import_csv(db, "agencies", write(tmp_path, "agencies.csv", AGENCIES_CSV), NOW)
    assert (summary.created, summary.updated) == (2, 0)
    again = "name,code\nBawaslu Kota Jakarta Barat,bawaslu\n"
    summary = await import_csv(db, "agencies", write(tmp_path, "agencies.csv", again), NOW)
    assert (summary.created, summary.updated) == (0, 1)
    async with db.read() as tx:
        rows = [(a.code, a.name) for a in await agencies.all_agencies(tx)]
    assert rows == [
        ("bawaslu", "Bawaslu Kota Jakarta Barat"),
        ("polri", "Polres Metro Jakarta Barat"),
    ]


async def test_bad_agency_rows_name_file_line_and_column(db: Database, tmp_path: Path) -> None:
    text = (
        "code,name\n"
        "bawaslu,Bawaslu\n"
        "Polri,Polres\n"  # upper case
        "bawaslu,Bawaslu lagi\n"  # repeated
        "kpu,\n"  # no name
        "1tni,TNI\n"  # starts with a digit
    )
    errors = await failure(db, write(tmp_path, "agencies.csv", text), "agencies")
    assert [e.split(": column ")[0] for e in errors] == [
        "agencies.csv:3",
        "agencies.csv:4",
        "agencies.csv:5",
        "agencies.csv:6",
    ]
    assert "column code" in errors[0] and "'Polri'" in errors[0]
    assert "already on line 2" in errors[1]
    assert "column name" in errors[2]
    assert "column code" in errors[3]
    extra = "code,name,phone\nbawaslu,Bawaslu,1\n"
    errors = await failure(db, write(tmp_path, "agencies.csv", extra), "agencies")
    assert any("phone" in e for e in errors)


async def test_liaisons_carry_an_agency_and_areas(db: Database, tmp_path: Path) -> None:
    await import_csv(db, "agencies", write(tmp_path, "agencies.csv", AGENCIES_CSV), NOW)
    text = HEADER + (
        "BWS-01,Rina Bawaslu,,,penghubung,,31.73.01,5001,,Bawaslu\n"
        "POL-01,Andi Polri,,,liaison;officer,KBG-01,31.73.02,5002,,polri\n"
    )
    await import_csv(db, "members", write(tmp_path, "members.csv", text), NOW)
    async with db.read() as tx:
        stored = await members.row_by_ref(tx, "BWS-01")
        member = await members.by_ref(tx, "BWS-01")
        agency = await agencies.by_code(tx, "bawaslu")
        assert agency is not None and member is not None
        assert [m.ref for m in await members.liaisons_of_agency(tx, agency.id)] == ["BWS-01"]
        assert (await agencies.of_member(tx, member.id)) == agency
    assert stored is not None
    assert stored[1].roles == ("liaison",)
    assert stored[1].agency == "bawaslu" and stored[1].areas == ("31.73.01",)
    # a later file without the agency column drops nobody's agency silently: it refuses
    plain = "ref,name,nip,phone,roles,posts,areas,telegram_id,language\n"
    errors = await failure(
        db,
        write(tmp_path, "members.csv", plain + "BWS-01,Rina,,,liaison,,31.73.01,5001,\n"),
        "members",
    )
    assert errors == [
        "members.csv:2: column agency: a liaison needs an agency; expected the code of an "
        "imported agency, e.g. 'bawaslu', got ''"
    ]


async def test_bad_liaison_rows_are_refused_each_with_its_column(
    db: Database, tmp_path: Path
) -> None:
    await import_csv(db, "agencies", write(tmp_path, "agencies.csv", AGENCIES_CSV), NOW)
    text = HEADER + (
        "L-1,No Agency,,,liaison,,31.73.01,,,\n"
        "L-2,Unknown Agency,,,liaison,,31.73.01,,,kejaksaan\n"
        "L-3,No Areas,,,liaison,,,,,bawaslu\n"
        "L-4,Officer With Agency,,,officer,KBG-01,,,,bawaslu\n"
    )
    errors = await failure(db, write(tmp_path, "members.csv", text), "members")
    located = [e.split(": ", 1)[0] + " " + e.split(": ", 2)[1] for e in errors]
    assert located == [
        "members.csv:2 column agency",
        "members.csv:3 column agency",
        "members.csv:4 column areas",
        "members.csv:5 column agency",
    ]
    assert "'kejaksaan'" in errors[1] and "import agencies.csv first" in errors[1]
    assert "liaisons only" in errors[3]


async def test_migration_keeps_roles_and_admits_liaison(db: Database) -> None:
    async with db.read() as tx:
        roles = await tx.all("SELECT role, COUNT(*) FROM member_roles GROUP BY role ORDER BY 1")
        plan = await tx.all(
            "EXPLAIN QUERY PLAN SELECT member_id FROM member_roles WHERE role = 'liaison'"
        )
    assert [tuple(r) for r in roles] == [("admin", 1), ("officer", 2), ("supervisor", 2)]
    assert any("member_roles_role" in str(tuple(row)) for row in plan)
