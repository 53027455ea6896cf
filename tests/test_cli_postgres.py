"""The command line against a PostgreSQL URL: migrate, import, invite, export; backup
points the admin to pg_dump. (Skipped, saying why, when no PostgreSQL server answers.)"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from bot.core.cli import main
from storage.db import redacted


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_commands_against_a_postgresql_url(
    empty_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("POSKO_TELEGRAM__TOKEN", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{empty_db}"\n[telegram]\nbot_username = "posko_jakbar_bot"\n',
        encoding="utf-8",
    )
    (tmp_path / "areas.csv").write_text(
        "code,name,level,parent_code\n31.73,Jakarta Barat,kota,\n"
        "31.73.01,Kebon Jeruk,kecamatan,31.73\n31.73.01.1001,Kebon Jeruk,kelurahan,31.73.01\n",
        encoding="utf-8",
    )
    (tmp_path / "posts.csv").write_text(
        "code,name,area_code,latitude,longitude,radius_m,min_staff,hours\n"
        "KBJ-01,Posko Kebon Jeruk,31.73.01.1001,-6.19,106.77,100,1,24h\n",
        encoding="utf-8",
    )
    (tmp_path / "members.csv").write_text(
        "ref,name,nip,phone,roles,posts,areas,telegram_id,language\n"
        "budi,Budi Santoso,,,officer,KBJ-01,,5000000001,\n",
        encoding="utf-8",
    )

    def run(*args: str) -> int:
        return main([*args, "--config", str(config)])

    assert await asyncio.to_thread(run, "db", "migrate") == 0
    assert "schema version 0 →" in capsys.readouterr().out
    for kind in ("areas", "posts", "members"):
        assert await asyncio.to_thread(run, "import", kind, str(tmp_path / f"{kind}.csv")) == 0
    assert await asyncio.to_thread(run, "invite", "budi") == 0
    assert "https://t.me/posko_jakbar_bot?start=" in capsys.readouterr().out

    out = tmp_path / "shifts.csv"
    assert await asyncio.to_thread(run, "export", "shifts", "-o", str(out)) == 0
    with out.open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.reader(handle))) == 1  # the header: nobody checked in yet

    assert await asyncio.to_thread(run, "db", "backup", str(tmp_path / "b.dump")) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err
    assert not (tmp_path / "b.dump").exists()


def test_an_unreachable_server_is_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POSKO_TELEGRAM__TOKEN", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(
        '[storage]\nurl = "postgresql://posko:s3cret@127.0.0.1:1/posko"\n', encoding="utf-8"
    )
    assert main(["db", "migrate", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("posko: cannot reach postgresql://posko:***@127.0.0.1:1/posko")
    assert "s3cret" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://posko@127.0.0.1:1/posko?password=s3cret", "cannot reach"),
        ("postgresql://posko:s3cret@127.0.0.1:abc/posko", "port must be a number"),
    ],
)
def test_a_password_is_never_shown_wherever_the_url_carries_it(
    url: str,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("POSKO_TELEGRAM__TOKEN", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    assert main(["db", "migrate", "--config", str(config)]) in (1, 2)
    err = capsys.readouterr().err
    assert said in err and "s3cret" not in err and err.count("\n") == 1


def test_redacted_keeps_the_rest_of_the_url_as_written() -> None:
    assert redacted("postgresql://u:p@[::1]:5432/x?sslmode=require&password=p") == (
        "postgresql://u:***@[::1]:5432/x?sslmode=require&password=***"
    )
    assert redacted("postgresql://db.internal/posko") == "postgresql://db.internal/posko"
