"""The command line: migrate, import, invite and online backup on a real database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.core.cli import main


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("POSKO_TELEGRAM__TOKEN", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "{tmp_path / "posko.db"}"\n'
        '[telegram]\nbot_username = "posko_jakbar_bot"\n[invites]\nexpiry = "2d"\n',
        encoding="utf-8",
    )
    return path


def test_import_invite_and_backup(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
        "budi,Budi Santoso,,,officer,KBJ-01,,,\n",
        encoding="utf-8",
    )
    for kind in ("areas", "posts", "members"):
        assert main(["import", kind, str(tmp_path / f"{kind}.csv"), "--config", str(config)]) == 0
    assert main(["invite", "budi", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    code = next(line.split()[-1] for line in out.splitlines() if line.startswith("code:"))
    assert f"https://t.me/posko_jakbar_bot?start={code}" in out
    assert main(["invite", "nobody", "--config", str(config)]) == 1
    assert "no member with ref 'nobody'" in capsys.readouterr().err
    target = tmp_path / "backup.db"
    assert main(["db", "backup", str(target), "--config", str(config)]) == 0
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT count(*) FROM invites").fetchone() == (1,)
        assert copy.execute("SELECT code FROM posts").fetchall() == [("KBJ-01",)]
    assert main(["db", "backup", str(target), "--config", str(config)]) == 2


def test_bad_import_changes_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "areas.csv"
    bad.write_text(
        "code,name,level,parent_code\n31.73,Jakarta Barat,kota,\nX,Y,desa,31.73\n", encoding="utf-8"
    )
    assert main(["import", "areas", str(bad), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and "areas.csv:3" in err and "level" in err
    with sqlite3.connect(tmp_path / "posko.db") as conn:
        assert conn.execute("SELECT count(*) FROM areas").fetchone() == (0,)
