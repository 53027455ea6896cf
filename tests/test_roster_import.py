"""``posko import roster``: every kind of bad row is refused with file, line and column,
and nothing is written; a good file becomes the posts' roster."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.cli import main as cli_main
from bot.exchange.csv_file import ImportFailed
from bot.exchange.importer import import_csv
from storage import roster
from storage.db import Database
from tests.conftest import T0, storage_toml

HEADER = "post,member,date,start,end\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


async def count_slots(db: Database) -> int:
    async with db.read() as tx:
        return int(await tx.scalar("SELECT count(*) FROM slots"))


async def test_a_good_file_becomes_the_roster(db_path: Path, tmp_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        path = write(
            tmp_path,
            "KBJ-01,budi,mon-fri,08:00,16:00\n"
            'KBJ-01,sari,"sat,sun",08:00,16:00\n'
            "KBJ-01,sari,mon-fri,22:00,06:00\n"  # crosses midnight
            "KBJ-02,sari,2026-11-27,06:00,22:00\n",  # voting day, another post
        )
        summary = await import_csv(db, "roster", path, T0)
        assert summary.created > 0 and summary.updated == 0
        async with db.read() as tx:
            budi = await tx.scalar("SELECT id FROM members WHERE ref = 'budi'")
            slots = await roster.of_member(tx, budi, T0, T0 + timedelta(days=7))
        assert slots and all(s.end_at - s.start_at == timedelta(hours=8) for s in slots)
        again = await import_csv(db, "roster", path, T0)
        assert (again.created, again.updated) == (0, summary.created)
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        ("KBJ-99,budi,mon-fri,08:00,16:00\n", "roster.csv:3: column post", "unknown post"),
        ("KBJ-01,nobody,mon-fri,08:00,16:00\n", "roster.csv:3: column member", "unknown member"),
        ("KBJ-02,budi,mon-fri,08:00,16:00\n", "roster.csv:3: column member", "not assigned"),
        (
            "KBJ-01,lurah,mon-fri,08:00,16:00\n",
            "roster.csv:3: column member",
            "no longer an officer",
        ),
        ("KBJ-01,budi,someday,08:00,16:00\n", "roster.csv:3: column date", "expected a date"),
        ("KBJ-01,budi,1999-12-31,08:00,16:00\n", "roster.csv:3: column date", "outside 2000-2100"),
        ("KBJ-01,budi,2101-01-01,08:00,16:00\n", "roster.csv:3: column date", "outside 2000-2100"),
        ("KBJ-01,budi,mon-fri,8am,16:00\n", "roster.csv:3: column start", "expected a time"),
        (
            "KBJ-01,budi,mon-fri,08:00,25:00\n",
            "roster.csv:3: column end",
            "between 00:00 and 24:00",
        ),
        ("KBJ-01,budi,mon-fri,08:00,08:00\n", "roster.csv:3: column end", "same time"),
        (
            "KBJ-01,sari,mon-fri,08:00,16:00\nKBJ-02,sari,wed,12:00,20:00\n",
            "roster.csv:4: column start",
            "already rostered at that time on line 3",
        ),
        (
            "KBJ-01,sari,sun,22:00,06:00\nKBJ-02,sari,mon,05:00,09:00\n",
            "roster.csv:4: column start",
            "already rostered",  # Sunday night runs into Monday morning
        ),
        (
            "KBJ-01,sari,mon-fri,08:00,16:00\nKBJ-02,sari,2026-11-27,06:00,12:00\n",
            "roster.csv:4: column start",
            "already rostered",  # a dated row against another post's weekday row
        ),
        (
            "KBJ-01,budi,mon,08:00,16:00\nKBJ-01,budi,mon,08:00,16:00\n",
            "roster.csv:4: column start",
            "already rostered",
        ),
    ],
)
async def test_each_bad_row_is_refused_and_nothing_written(
    db_path: Path, tmp_path: Path, body: str, where: str, says: str
) -> None:
    db = await Database.open(db_path)
    try:
        good = "KBJ-01,budi,sat,08:00,16:00\n"  # a good row in the same file is not written
        with pytest.raises(ImportFailed) as refused:
            await import_csv(db, "roster", write(tmp_path, good + body), T0)
        text = str(refused.value)
        assert f"{where}: " in text and says in text, text
        assert await count_slots(db) == 0
    finally:
        await db.close()


async def test_dated_rows_replace_the_weekday_rows_of_that_day(
    db_path: Path, tmp_path: Path
) -> None:
    db = await Database.open(db_path)
    try:
        path = write(
            tmp_path,
            "KBJ-01,budi,mon-fri,08:00,16:00\nKBJ-01,budi,2026-11-27,06:00,22:00\n",
        )
        await import_csv(db, "roster", path, T0)
        async with db.read() as tx:
            post = await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'")
            friday = T0 + timedelta(days=2, hours=11)  # Friday 27/11 06:00 WIB is 26/11 23:00 UTC
            day = await roster.of_post(
                tx, post, friday - timedelta(hours=1), friday + timedelta(hours=20)
            )
        assert [(s.end_at - s.start_at) for s in day] == [timedelta(hours=16)]
    finally:
        await db.close()


def test_cli_import_roster_refuses_with_exit_code(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(storage_toml(db_path), encoding="utf-8")
    bad = write(tmp_path, "KBJ-99,budi,mon-fri,08:00,16:00\n")
    assert cli_main(["import", "roster", str(bad), "--config", str(config)]) != 0
    good = write(tmp_path, "kbj-01,budi,mon-fri,08:00,16:00\n")  # codes in any case
    assert cli_main(["import", "roster", str(good), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "slots added" in printed and "0 coming slots dropped" in printed
    fewer = write(tmp_path, "KBJ-01,budi,mon-thu,08:00,16:00\n")
    assert cli_main(["import", "roster", str(fewer), "--config", str(config)]) == 0
    assert "coming slots dropped" in capsys.readouterr().out
