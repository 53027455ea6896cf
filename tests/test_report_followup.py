"""Reports left diterima/ditangani (issue 9): the assignee is reminded at
``follow_up_after``, the level above hears at twice that, resolving ends it, and two
watchers send each step once. Real SQLite, fake clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from bot.core.clock import FakeClock
from bot.core.config import Settings, load_settings
from bot.reports import desk, filing
from bot.watch.watcher import Watcher
from storage.db import Database
from tests.test_watcher import OPEN, M, db, member

__all__ = ["db"]

H = 60 * M


def settings_for(path: Path) -> Settings:
    return load_settings(
        None,
        overrides={"storage": {"path": str(path)}, "reports": {"follow_up_after": "2h"}},
    )


async def sent(db: Database, kinds: tuple[str, ...]) -> list[tuple[int, str, str, list[str]]]:
    async with db.read() as tx:
        rows = await tx.all("SELECT chat_id, kind, payload FROM outbox ORDER BY id")
    result = []
    for row in rows:
        if row[1] not in kinds:
            continue
        payload: dict[str, Any] = json.loads(row[2])
        keyboard = payload.get("reply_markup", {}).get("inline_keyboard", [])
        result.append(
            (row[0], row[1], payload["text"], [b["callback_data"] for ln in keyboard for b in ln])
        )
    return result


FOLLOW = ("issue_follow_up", "issue_follow_up_above")


async def accepted_report(db: Database, tmp_path: Path) -> tuple[FakeClock, Watcher, int]:
    clock = FakeClock(OPEN)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    budi, lurah = await member(db, "budi"), await member(db, "lurah")
    outcome = await filing.one_shot(
        db, budi, "logistik", "Kotak suara belum datang", 500, clock.now(), watcher
    )
    assert outcome.issue is not None
    clock.set(OPEN + 10 * M)  # 08:10 WIB
    accepted = await desk.press(
        db, lurah, outcome.issue.id, desk.ACCEPT, clock.now(), follow_up_after=2 * H
    )
    assert accepted.verdict is desk.Verdict.DONE
    return clock, watcher, outcome.issue.id


async def test_accepted_report_reminds_assignee_then_tells_level_above(
    db: Database, tmp_path: Path
) -> None:
    clock, watcher, issue_id = await accepted_report(db, tmp_path)
    clock.set(OPEN + 10 * M + 2 * H - M)
    await watcher.sweep()
    assert await sent(db, FOLLOW) == []
    clock.set(OPEN + 10 * M + 2 * H)
    await watcher.sweep()
    ((chat, kind, text, data),) = await sent(db, FOLLOW)
    assert (chat, kind) == (2001, "issue_follow_up")  # the lurah, who accepted it
    assert "masih diterima sejak" in text and "08:10 WIB" in text and "Kotak suara" in text
    moves = [f"sv:i:{issue_id}:{move}" for move in ("start", "resolve", "reject")]
    assert data == [*moves, f"fw:s:{issue_id}"]
    clock.set(OPEN + 10 * M + 4 * H)
    await watcher.sweep()
    above = (await sent(db, FOLLOW))[1:]
    assert [(row[0], row[1]) for row in above] == [(2002, "issue_follow_up_above")]
    assert "is not done: still" in above[0][2] and "Lurah" in above[0][2]  # camat reads English
    assert above[0][3] == [*moves, f"fw:s:{issue_id}"]
    # it never goes quiet while open: the top is told again every follow_up_after
    clock.set(OPEN + 10 * M + 6 * H)
    await watcher.sweep()
    again = (await sent(db, FOLLOW))[2:]
    assert [row[1] for row in again] == ["issue_follow_up_above"]
    assert again[0][0] == 2003  # one level further up: the walikota
    clock.set(OPEN + 10 * M + 7 * H)
    await watcher.sweep()
    assert len(await sent(db, FOLLOW)) == 3  # not before another follow_up_after


async def test_progress_restarts_and_resolving_ends_the_follow_up(
    db: Database, tmp_path: Path
) -> None:
    clock, watcher, issue_id = await accepted_report(db, tmp_path)
    camat = await member(db, "camat")
    clock.set(OPEN + 1 * H)
    started = await desk.press(db, camat, issue_id, desk.START, clock.now(), follow_up_after=2 * H)
    assert started.verdict is desk.Verdict.DONE
    clock.set(OPEN + 10 * M + 2 * H)  # the first deadline has moved with the progress
    await watcher.sweep()
    assert await sent(db, FOLLOW) == []
    clock.set(OPEN + 3 * H)
    await watcher.sweep()
    ((chat, _, text, data),) = await sent(db, FOLLOW)
    # the camat started the work, so it now waits for him (not the lurah who accepted)
    assert chat == 2002 and "in progress" in text
    assert data == [f"sv:i:{issue_id}:resolve", f"sv:i:{issue_id}:reject", f"fw:s:{issue_id}"]
    lurah = await member(db, "lurah")
    await desk.press(db, lurah, issue_id, desk.RESOLVE, clock.now())
    done = await desk.give_note(db, lurah, "Kotak sudah tiba", clock.now())
    assert done is not None and done.verdict is desk.Verdict.DONE
    clock.set(OPEN + 10 * H)
    await watcher.sweep()
    assert len(await sent(db, FOLLOW)) == 1
    async with db.read() as tx:
        assert await tx.scalar("SELECT follow_up_due_at FROM issues") is None


async def test_two_watchers_follow_up_once(
    db: Database, migrated_db: Path | str, tmp_path: Path
) -> None:
    clock, watcher, _issue_id = await accepted_report(db, tmp_path)
    second_db = await Database.open(migrated_db)  # the same database, as a second process
    try:
        second = Watcher(second_db, settings_for(tmp_path / "w.db"), clock)
        clock.set(OPEN + 10 * M + 2 * H)
        await asyncio.gather(watcher.sweep(), second.sweep(), watcher.sweep(), second.sweep())
        clock.set(OPEN + 10 * M + 4 * H)
        await asyncio.gather(watcher.sweep(), second.sweep(), watcher.sweep(), second.sweep())
        assert [row[1] for row in await sent(db, FOLLOW)] == [
            "issue_follow_up",
            "issue_follow_up_above",
        ]
    finally:
        await second_db.close()
