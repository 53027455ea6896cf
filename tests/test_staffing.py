"""/petugas checks a change exactly as members.csv checks a row: the same values give the
same problems (the import's sentences), and the chat renders each in both languages."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.i18n import t
from bot.exchange.csv_file import ImportFailed
from bot.exchange.importer import import_csv
from bot.exchange.member_rows import COLUMNS
from bot.presence import staffing
from bot.presence.staffing import Status
from storage.db import Database
from tests.conftest import T0

NIP = "199001012015031001"

# (nip, phone, post) as an admin would type them; "-" is empty
BAD_VALUES = [
    ("12345", "-", "KBJ-01"),
    ("-", "12ab", "KBJ-01"),
    ("1.99001E+17", "-", "KBJ-01"),
    ("-", "6.28123E+12", "KBJ-01"),
    ("-", "-", "NOPE-99"),
    ("abc", "+62-812", "KBJ-77"),
    (NIP + "9", "0812345678901234567", "KBJ-01"),
]


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(db_path)
    yield database
    await database.close()


def empty(value: str) -> str:
    return "" if value == "-" else value


async def csv_problems(db: Database, tmp_path: Path, nip: str, phone: str, post: str) -> list[str]:
    path = tmp_path / "members.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerow(
            ["andi", "Andi Wijaya", empty(nip), empty(phone), "officer", post, "", "", ""]
        )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, "members", path, T0)
    prefix = "members.csv:2: column "
    out = []
    for message in failed.value.errors:
        assert message.startswith(prefix), message
        out.append(message.removeprefix(prefix))
    return out


@pytest.mark.parametrize(("nip", "phone", "post"), BAD_VALUES)
async def test_petugas_refuses_what_the_import_refuses_with_the_same_problems(
    db: Database, tmp_path: Path, nip: str, phone: str, post: str
) -> None:
    from_csv = await csv_problems(db, tmp_path, nip, phone, post)
    plan = await staffing.draft(
        db, 1, f"/x tambah andi {post} {nip} {phone} Andi Wijaya".split(maxsplit=1)[1], T0
    )
    assert plan.status is Status.PROBLEMS
    from_chat = [f"{p.column}: {p.message}" for p in plan.problems]
    assert from_chat == from_csv
    for problem in plan.problems:  # and each has a sentence in both languages
        for language in ("id", "en"):
            text = t(language, f"member_row.{problem.code}", **problem.values)
            assert "{" not in text and text
    async with db.read() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM staff_changes") == 0


async def test_assignment_changes_check_as_the_import_does(db: Database, tmp_path: Path) -> None:
    # the admin (no officer role) cannot be given a post: same rule as members.csv
    plan = await staffing.draft(db, 1, "tugaskan admin KBJ-01", T0)
    assert plan.status is Status.PROBLEMS
    assert [p.code for p in plan.problems] == ["posts_not_officer"]
    path = tmp_path / "members.csv"
    path.write_text(
        ",".join(COLUMNS) + "\nadmin,Ops Kota,,,admin,KBJ-01,,3001,\n", encoding="utf-8"
    )
    with pytest.raises(ImportFailed) as failed:
        await import_csv(db, "members", path, T0)
    assert failed.value.errors == [f"members.csv:2: column posts: {plan.problems[0].message}"]
    # an officer's last post: "an officer needs a post"
    plan = await staffing.draft(db, 1, "lepas budi KBJ-01", T0)
    assert [p.code for p in plan.problems] == ["post_needed"]


async def test_good_values_are_drafted_not_written(db: Database) -> None:
    plan = await staffing.draft(
        db, 6, f"tambah andi kbj-01 {NIP} +62-812-3456-7890 Andi  Wijaya", T0
    )
    assert plan.status is Status.READY and plan.row is not None and plan.change_id is not None
    assert plan.row.posts == ("KBJ-01",) and plan.row.phone == "+6281234567890"
    assert plan.row.name == "Andi Wijaya"
    async with db.read() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM members WHERE ref = 'andi'") == 0
