"""The forward ladder (issue 10, SPEC §8): a forward nobody accepts within
``escalate_after`` climbs to the same agency's liaisons one level up, through the
watcher's deadline pass; accepting stops it; two watchers send each climb once; the top
stops the clock. Real SQLite, fake clock."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import FakeClock
from bot.reports import disposisi, filing
from bot.reports.disposisi import Outcome
from bot.watch.watcher import Watcher
from storage import agencies, members
from storage.db import Database, from_db, migrations
from storage.members import MemberRow
from tests.test_watcher import OPEN, M, db, member, settings_for

__all__ = ["db"]

ESCALATE = 20 * M


def liaison(ref: str, area: str, telegram_id: int | None, agency: str = "bawaslu") -> MemberRow:
    return MemberRow(
        ref, ref, None, None, ("liaison",), (), (area,), telegram_id, None, agency
    )  # fmt: skip


async def add_agencies(db: Database, rows: list[MemberRow]) -> None:
    async with db.transaction() as tx:
        await agencies.upsert(tx, [("bawaslu", "Bawaslu"), ("kpu", "KPU")], OPEN)
        await members.upsert(tx, rows, OPEN)


async def cards(db: Database) -> list[tuple[int, str, list[str]]]:
    async with db.read() as tx:
        rows = await tx.all(
            "SELECT chat_id, payload FROM outbox WHERE kind = 'forward_card' ORDER BY id"
        )
    out = []
    for row in rows:
        payload: dict[str, Any] = json.loads(row[1])
        keyboard = payload.get("reply_markup", {}).get("inline_keyboard", [])
        out.append((row[0], payload["text"], [b["callback_data"] for ln in keyboard for b in ln]))
    return out


async def forwarded(db: Database, tmp_path: Path) -> tuple[FakeClock, Watcher, int]:
    """Budi's money-politics report on DAY-01, forwarded by the lurah to Bawaslu at 08:00."""
    clock = FakeClock(OPEN)
    watcher = Watcher(db, settings_for(tmp_path / "w.db", escalate_after="20m"), clock)
    budi, lurah = await member(db, "budi"), await member(db, "lurah")
    outcome = await filing.one_shot(
        db, budi, "politik_uang", "Bagi-bagi amplop di TPS 3", 500, clock.now()
    )
    assert outcome.issue is not None
    async with db.read() as tx:
        bawaslu = await agencies.by_code(tx, "bawaslu")
    assert bawaslu is not None
    sent = await disposisi.send(
        db, lurah, outcome.issue.id, bawaslu.id, "Mohon dicek", clock.now(), ESCALATE
    )
    assert sent.outcome is Outcome.DONE and sent.forward is not None
    return clock, watcher, sent.forward.id


async def test_unaccepted_forward_climbs_one_level_then_stops_at_the_top(
    db: Database, tmp_path: Path
) -> None:
    await add_agencies(
        db, [liaison("bws-kec", "31.73.01", 5001), liaison("bws-kota", "31.73", 5002)]
    )
    clock, watcher, forward_id = await forwarded(db, tmp_path)
    first = await cards(db)
    assert [(chat, data) for chat, _, data in first] == [
        (5001, [f"fw:x:{forward_id}:ok", f"fw:x:{forward_id}:rt"])
    ]
    assert "Bawaslu" in first[0][1] and "Mohon dicek" in first[0][1]
    clock.set(OPEN + ESCALATE - M)
    await watcher.sweep()
    assert len(await cards(db)) == 1
    assert await watcher.next_deadline() == OPEN + ESCALATE
    clock.set(OPEN + ESCALATE)
    await watcher.sweep()
    climbed = (await cards(db))[1:]
    assert [chat for chat, _, _ in climbed] == [5002]
    assert "belum diterima" in climbed[0][1] and "Bagi-bagi amplop" in climbed[0][1]
    async with db.read() as tx:
        row = await tx.one("SELECT area_id, step, next_due_at, state FROM forwards")
        kota = await tx.scalar("SELECT id FROM areas WHERE code = '31.73'")
        events = await tx.all("SELECT kind FROM forward_events ORDER BY id")
    assert row is not None and (row[0], row[1], row[2], row[3]) == (kota, 1, None, "dikirim")
    assert [e[0] for e in events] == ["sent", "climbed"]
    clock.set(OPEN + 5 * ESCALATE)
    await watcher.sweep()
    assert len(await cards(db)) == 2  # nobody above the kota: no more climbing


async def test_an_accepted_forward_does_not_climb(db: Database, tmp_path: Path) -> None:
    await add_agencies(
        db, [liaison("bws-kec", "31.73.01", 5001), liaison("bws-kota", "31.73", 5002)]
    )
    clock, watcher, forward_id = await forwarded(db, tmp_path)
    clock.set(OPEN + 5 * M)
    accepted = await disposisi.press(db, await member(db, "bws-kec"), forward_id, "ok", clock.now())
    assert accepted.outcome is Outcome.DONE
    clock.set(OPEN + 3 * ESCALATE)
    await watcher.sweep()
    assert [chat for chat, _, _ in await cards(db)] == [5001]
    async with db.read() as tx:
        assert await tx.scalar("SELECT next_due_at FROM forwards") is None


async def test_two_watchers_send_a_climb_once(db: Database, tmp_path: Path) -> None:
    await add_agencies(
        db, [liaison("bws-kec", "31.73.01", 5001), liaison("bws-kota", "31.73", 5002)]
    )
    clock, watcher, _ = await forwarded(db, tmp_path)
    other = Watcher(db, settings_for(tmp_path / "w.db", escalate_after="20m"), clock)
    clock.set(OPEN + ESCALATE)
    await asyncio.gather(watcher.sweep(), other.sweep())
    assert [chat for chat, _, _ in await cards(db)] == [5001, 5002]


async def test_the_nearest_liaison_up_the_tree_receives_and_none_anywhere_is_refused(
    db: Database, tmp_path: Path
) -> None:
    # Bawaslu only at the kota: the kelurahan and kecamatan have none, so the kota hears
    await add_agencies(
        db, [liaison("bws-kota", "31.73", 5002), liaison("kpu-x", "31.73", None, "kpu")]
    )
    clock, _watcher, _ = await forwarded(db, tmp_path)
    assert [chat for chat, _, _ in await cards(db)] == [5002]
    async with db.read() as tx:
        assert await tx.scalar("SELECT next_due_at FROM forwards") is None  # nobody above
        kpu = await agencies.by_code(tx, "kpu")
        issue_id = await tx.scalar("SELECT id FROM issues")
    assert kpu is not None
    # KPU's only liaison has not joined yet: nobody can receive it
    refused = await disposisi.send(
        db, await member(db, "lurah"), int(issue_id), kpu.id, None, clock.now(), ESCALATE
    )
    assert refused.outcome is Outcome.NO_LIAISON
    async with db.read() as tx:
        assert await tx.scalar("SELECT count(*) FROM forwards") == 1


async def forward_due(db: Database) -> datetime | None:
    async with db.read() as tx:
        return from_db(await tx.scalar("SELECT next_due_at FROM forwards"))


async def test_the_ladder_follows_the_posts_own_escalate_after(
    db: Database, tmp_path: Path
) -> None:
    """posts.csv gave DAY-01 ``escalate_after = 5m`` (the [watch] setting is 20m): the
    forward waits 5 minutes at each level, as the post's alerts do."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE posts SET watch_policy = ? WHERE code = 'DAY-01'",
            (json.dumps({"escalate_after": "5m"}),),
        )
        kelurahan = await tx.scalar(
            "SELECT a.code FROM posts p JOIN areas a ON a.id = p.area_id WHERE p.code = 'DAY-01'"
        )
    await add_agencies(
        db,
        [
            liaison("bws-kel", str(kelurahan), 5000),
            liaison("bws-kec", "31.73.01", 5001),
            liaison("bws-kota", "31.73", 5002),
        ],
    )
    clock, watcher, _forward_id = await forwarded(db, tmp_path)
    assert [chat for chat, _, _ in await cards(db)] == [5000]
    assert await forward_due(db) == OPEN + 5 * M
    clock.set(OPEN + 5 * M - timedelta(seconds=1))
    await watcher.sweep()
    assert [chat for chat, _, _ in await cards(db)] == [5000]
    clock.set(OPEN + 5 * M)
    await watcher.sweep()
    assert [chat for chat, _, _ in await cards(db)] == [5000, 5001]
    assert await forward_due(db) == OPEN + 10 * M
    clock.set(OPEN + 10 * M)
    await watcher.sweep()
    assert [chat for chat, _, _ in await cards(db)] == [5000, 5001, 5002]


async def test_without_a_post_setting_the_ladder_uses_the_watch_setting(
    db: Database, tmp_path: Path
) -> None:
    await add_agencies(
        db, [liaison("bws-kec", "31.73.01", 5001), liaison("bws-kota", "31.73", 5002)]
    )
    clock, watcher, _ = await forwarded(db, tmp_path)
    clock.set(OPEN + 5 * M)
    await watcher.sweep()
    assert [chat for chat, _, _ in await cards(db)] == [5001]
    assert await forward_due(db) == OPEN + ESCALATE


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # reads the file with sqlite3
async def test_the_room_migration_keeps_every_forward_and_its_events(
    db: Database, migrated_db: Path, tmp_path: Path
) -> None:
    """0014_room rebuilds forwards (a new state) with foreign keys on: forwards and their
    events survive it whole (dropping forwards must not cascade to forward_events)."""
    await add_agencies(
        db, [liaison("bws-kec", "31.73.01", 5001), liaison("bws-kota", "31.73", 5002)]
    )
    clock, _watcher, forward_id = await forwarded(db, tmp_path)
    await disposisi.press(db, await member(db, "bws-kec"), forward_id, "ok", clock.now())
    tables = ("forwards", "forward_events")

    def rows(conn: sqlite3.Connection) -> list[list[tuple[Any, ...]]]:
        return [list(conn.execute(f"SELECT * FROM {name} ORDER BY id")) for name in tables]

    ((_, _, sql),) = [m for m in migrations() if m[1].endswith("_room.sql")]
    with closing(sqlite3.connect(migrated_db)) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        before = rows(conn)
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
        assert rows(conn) == before and len(before[1]) == 2
        assert list(conn.execute("PRAGMA foreign_key_check")) == []
        conn.execute("UPDATE forwards SET state = 'ditutup'")  # the new state is admitted
