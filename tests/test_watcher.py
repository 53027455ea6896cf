"""The watcher against a real SQLite database with a fake clock: alerts, escalation,
reminders, recovery, pause, overrides, window close, and no double alerts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import FakeClock
from bot.core.config import Settings, load_settings
from bot.presence import checkin
from bot.presence.checkin import Fix
from bot.watch import alerts
from bot.watch.alerts import TakeStatus
from bot.watch.watcher import Watcher
from storage import areas, members, posts
from storage import roster as roster_store
from storage import watch as watch_store
from storage.db import Database
from storage.members import MemberRow
from storage.posts import PostRow
from tests.conftest import AREAS, MONAS

M = timedelta(minutes=1)
# Monday 23 November 2026 07:00 WIB: the day post opens at 08:00 WIB (01:00 UTC).
MON_0700 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
OPEN = MON_0700 + 60 * M

CITY_MEMBERS = [
    MemberRow("budi", "Budi", None, None, ("officer",), ("DAY-01",), (), 1001, None),
    MemberRow("lurah", "Lurah", None, None, ("supervisor",), (), ("31.73.01.1001",), 2001, None),
    MemberRow("camat", "Camat", None, None, ("supervisor",), (), ("31.73.01",), 2002, "en"),
    MemberRow("walkot", "Walikota", None, None, ("supervisor",), (), ("31.73",), 2003, None),
    MemberRow("admin", "Ops", None, None, ("admin",), (), (), 3001, None),
]


def settings_for(path: Path, **watch: Any) -> Settings:
    overrides: dict[str, Any] = {"storage": {"path": str(path)}}
    if watch:
        overrides["watch"] = watch
    overrides["schedule"] = {"override": [{"date": "2026-11-27", "hours": "24h"}]}
    return load_settings(None, overrides=overrides)


@pytest.fixture
async def db(migrated_db: Path | str) -> AsyncIterator[Database]:
    database = await Database.open(migrated_db)
    await database.migrate()
    async with database.transaction() as tx:
        await areas.upsert(tx, AREAS, MON_0700)
        await posts.upsert(
            tx,
            [
                PostRow(
                    "DAY-01",
                    "Posko Siang",
                    "31.73.01.1001",
                    MONAS[0],
                    MONAS[1],
                    100,
                    1,
                    "mon-fri 08:00-16:00",
                )
            ],
            MON_0700,
        )
        await members.upsert(tx, CITY_MEMBERS, MON_0700)
    yield database
    await database.close()


async def outbox(db: Database) -> list[tuple[int, str, str]]:
    async with db.read() as tx:
        rows = await tx.all("SELECT chat_id, kind, payload FROM outbox ORDER BY id")
    return [(row[0], row[1], json.loads(row[2])["text"]) for row in rows]


async def member(db: Database, ref: str) -> Any:
    async with db.read() as tx:
        return await members.by_ref(tx, ref)


async def state(db: Database) -> tuple[str, str | None]:
    async with db.read() as tx:
        row = await tx.one("SELECT state, due_kind FROM posts WHERE code = 'DAY-01'")
    assert row is not None
    return row[0], row[1]


async def test_silent_alert_climbs_is_taken_and_recovers(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(MON_0700)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await watcher.sweep()
    assert await state(db) == ("closed", "remind_open")
    clock.set(OPEN - 30 * M)
    await watcher.sweep()
    sent = await outbox(db)
    assert [(chat, kind) for chat, kind, _ in sent] == [(1001, "reminder")]
    assert "08:00" in sent[0][2]
    budi = await member(db, "budi")
    clock.set(OPEN + 5 * M)
    await checkin.check_in(db, budi, Fix(*MONAS, 10, None), clock.now(), watcher)
    assert await state(db) == ("staffed", "remind")
    clock.set(OPEN + 80 * M)  # 5 + 90 - 15
    await watcher.sweep()
    assert (await outbox(db))[-1][:2] == (1001, "reminder")
    assert "/aman" in (await outbox(db))[-1][2]
    clock.set(OPEN + 95 * M)
    await watcher.sweep()
    assert await state(db) == ("silent", "escalate")
    alert_rows = [row for row in await outbox(db) if row[1] == "alert"]
    assert [row[0] for row in alert_rows] == [2001]  # the lurah first
    assert "senyap" in alert_rows[0][2] and "Budi" in alert_rows[0][2]
    clock.set(OPEN + 115 * M)
    await watcher.sweep()
    alert_rows = [row for row in await outbox(db) if row[1] == "alert"]
    assert [row[0] for row in alert_rows] == [2001, 2002]  # climbed to the camat
    assert "passed on to Kebon Jeruk" in alert_rows[-1][2]  # camat reads English
    clock.set(OPEN + 135 * M)
    await watcher.sweep()
    clock.set(OPEN + 165 * M)  # at the top: repeats every 30 minutes
    await watcher.sweep()
    alert_rows = [row for row in await outbox(db) if row[1] == "alert"]
    assert [row[0] for row in alert_rows] == [2001, 2002, 2003, 2003]
    assert "Pengingat" in alert_rows[-1][2]
    async with db.read() as tx:
        alert_id = await tx.scalar("SELECT id FROM alerts")
    lurah, camat = await member(db, "lurah"), await member(db, "camat")
    clock.set(OPEN + 170 * M)
    first = await alerts.take(db, camat, alert_id, clock.now(), watcher)
    second = await alerts.take(db, lurah, alert_id, clock.now(), watcher)
    assert first.status is TakeStatus.TAKEN
    assert (second.status, second.taken_by) == (TakeStatus.ALREADY_TAKEN, "Camat")
    taken = [row for row in await outbox(db) if row[1] == "alert_taken"]
    assert sorted(row[0] for row in taken) == [2001, 2003]
    clock.set(OPEN + 300 * M)  # acknowledged: no more climbing or repeats
    await watcher.sweep()
    assert len([row for row in await outbox(db) if row[1] == "alert"]) == 4
    await checkin.all_clear(db, budi, None, clock.now(), watcher)
    recovered = [row for row in await outbox(db) if row[1] == "recovered"]
    assert sorted(row[0] for row in recovered) == [2001, 2002, 2003]
    assert "pulih" in recovered[0][2] and "3 jam 25 menit" in recovered[0][2]
    assert await state(db) == ("staffed", "remind")


async def test_unstaffed_and_window_close(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(OPEN)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await watcher.sweep()
    assert await state(db) == ("opening", "unstaffed")
    clock.set(OPEN + 15 * M)
    await watcher.sweep()
    assert await state(db) == ("unstaffed", "escalate")
    assert [(c, k) for c, k, _ in await outbox(db)] == [(2001, "alert")]
    budi = await member(db, "budi")
    clock.set(OPEN + 20 * M)
    await checkin.check_in(db, budi, Fix(*MONAS, 10, None), clock.now(), watcher)
    assert [(c, k) for c, k, _ in await outbox(db)][-1] == (2001, "recovered")
    clock.set(OPEN + timedelta(hours=8))  # 16:00 WIB: the window closes
    await watcher.sweep()
    assert (await state(db))[0] == "closed"
    assert [(c, k) for c, k, _ in await outbox(db)][-1] == (1001, "shift_closed")
    async with db.read() as tx:
        assert await tx.scalar("SELECT end_reason FROM shifts") == "auto_closed"


async def test_pause_and_resume(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(OPEN + 30 * M)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await watcher.sweep()
    clock.advance(20 * M)
    await watcher.sweep()
    assert (await state(db))[0] == "unstaffed"
    from storage import watch as store

    async with db.transaction() as tx:
        await store.set_pause(tx, 1, clock.now() + 90 * M, clock.now())
        await watcher.refresh(tx, [1], clock.now())
    assert await state(db) == ("paused", "resume")
    assert [k for _, k, _ in await outbox(db)] == ["alert", "recovered"]
    clock.advance(90 * M)
    await watcher.sweep()
    assert await state(db) == ("opening", "unstaffed")


async def test_voting_day_override_opens_a_weekday_post_all_day(
    db: Database, tmp_path: Path
) -> None:
    # Friday 27 November 2026 03:00 WIB: normally closed, but voting day is 24h.
    clock = FakeClock(datetime(2026, 11, 26, 20, 0, tzinfo=UTC))
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await watcher.sweep()
    assert (await state(db))[0] == "opening"


async def test_two_watchers_never_double_alert(
    db: Database, migrated_db: Path | str, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "w.db")
    second_db = await Database.open(migrated_db)  # the same database, as a second process
    try:
        clock = FakeClock(OPEN)
        first = Watcher(db, settings, clock)
        second = Watcher(second_db, settings, clock)
        await first.sweep()
        clock.set(OPEN + 16 * M)
        await asyncio.gather(first.sweep(), second.sweep(), first.sweep(), second.sweep())
        async with db.read() as tx:
            assert await tx.scalar("SELECT count(*) FROM alerts") == 1
        assert [k for _, k, _ in await outbox(db)] == ["alert"]
    finally:
        await second_db.close()


async def test_restart_keeps_deadlines(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(OPEN)
    await Watcher(db, settings_for(tmp_path / "w.db"), clock).sweep()
    clock.set(OPEN + 16 * M)
    fresh = Watcher(db, settings_for(tmp_path / "w.db"), clock)  # a new process, same DB
    assert await fresh.sweep() == 1
    assert [k for _, k, _ in await outbox(db)] == ["alert"]
    assert await fresh.sweep() == 0


async def test_alert_outside_scope_cannot_be_taken(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(OPEN)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await watcher.sweep()
    clock.set(OPEN + 16 * M)
    await watcher.sweep()
    async with db.transaction() as tx:
        await areas.upsert(tx, [], clock.now())
        await members.upsert(
            tx,
            [
                MemberRow(
                    "other",
                    "Lurah Lain",
                    None,
                    None,
                    ("supervisor",),
                    (),
                    ("31.73.01.1002",),
                    2009,
                    None,
                )
            ],
            clock.now(),
        )
        alert_id = await tx.scalar("SELECT id FROM alerts")
    other = await member(db, "other")
    result = await alerts.take(db, other, alert_id, clock.now(), watcher)
    assert result.status is TakeStatus.NOT_YOURS
    async with db.read() as tx:
        assert await tx.scalar("SELECT acked_by FROM alerts") is None


async def test_unaccepted_high_issue_climbs_until_accepted(db: Database, tmp_path: Path) -> None:
    from bot.reports import desk, filing

    clock = FakeClock(OPEN)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    budi = await member(db, "budi")
    outcome = await filing.one_shot(db, budi, "keamanan", "ribut di TPS", 500, clock.now(), watcher)
    assert outcome.issue is not None
    async with db.transaction() as tx:
        await tx.execute("UPDATE issues SET severity = 'tinggi'")
        await watcher.track_issue(
            tx, outcome.issue.id, outcome.issue.post_id, "tinggi", clock.now()
        )
    new = [chat for chat, kind, _ in await outbox(db) if kind == "issue_new"]
    assert new == [2001]  # announced to the lurah
    clock.advance(20 * M)
    await watcher.sweep()
    new = [chat for chat, kind, _ in await outbox(db) if kind == "issue_new"]
    assert new == [2001, 2002]  # climbed to the camat
    assert "Not accepted since" in (await outbox(db))[-1][2]  # the camat reads English
    camat = await member(db, "camat")
    result = await desk.press(db, camat, outcome.issue.id, "accept", clock.now())
    assert result is not None
    clock.advance(60 * M)
    await watcher.sweep()
    assert [chat for chat, kind, _ in await outbox(db) if kind == "issue_new"] == [2001, 2002]
    async with db.read() as tx:
        assert await tx.scalar("SELECT next_due_at FROM issues") is None


async def test_notices_reach_the_forum_topic_the_alert_went_to(
    db: Database, tmp_path: Path
) -> None:
    """One posko bersama forum serves two areas, a topic each: the end of an alert goes to
    the topic that heard the alert, not to whichever area is found first."""
    forum = -100500
    clock = FakeClock(OPEN)
    async with db.transaction() as tx:
        kecamatan = await areas.by_code(tx, "31.73.01")
        kelurahan = await areas.by_code(tx, "31.73.01.1001")
        assert kecamatan is not None and kelurahan is not None
        await areas.set_group_chat(tx, kecamatan.id, forum, 11, clock.now())
        await areas.set_group_chat(tx, kelurahan.id, forum, 22, clock.now())
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await watcher.sweep()
    clock.set(OPEN + 16 * M)
    await watcher.sweep()  # unstaffed: the lurah and the kelurahan's topic
    budi = await member(db, "budi")
    clock.set(OPEN + 20 * M)
    await checkin.check_in(db, budi, Fix(*MONAS, 10, None), clock.now(), watcher)
    async with db.read() as tx:
        rows = await tx.all(
            "SELECT kind, topic_id FROM outbox WHERE chat_id = ? ORDER BY id", (forum,)
        )
    # issue 10: the kecamatan's topic hears the alert of its subtree when it opens too,
    # so both topics that heard it hear its end, each in its own topic
    assert [tuple(row) for row in rows] == [
        ("alert", 22),
        ("alert", 11),
        ("recovered", 22),
        ("recovered", 11),
    ]


async def test_a_handlers_redecision_reads_what_a_pass_reads(db: Database, tmp_path: Path) -> None:
    """posts_for_decision (one statement on PostgreSQL) == posts_by_id + decision_facts."""
    clock = FakeClock(OPEN + 5 * M)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await checkin.check_in(
        db, await member(db, "budi"), Fix(*MONAS, 10, None), clock.now(), watcher
    )
    clock.set(OPEN + 95 * M)
    await watcher.sweep()  # silent: an open alert, one officer on duty
    budi = await member(db, "budi")
    async with db.transaction() as tx:
        ids = [int(await tx.scalar("SELECT id FROM posts WHERE code = 'DAY-01'"))]
        await posts.upsert(
            tx,
            [PostRow("NITE-02", "Posko Malam", "31.73.01.1001", *MONAS, 100, 1, "24h")],
            clock.now(),
        )
        ids.append(int(await tx.scalar("SELECT id FROM posts WHERE code = 'NITE-02'")))
        now = clock.now()
        await roster_store.insert_slots(  # two running at NITE-02, one over, one to come
            tx,
            [
                (ids[1], budi.id, now - 60 * M, now + 60 * M, None, None, None),
                (ids[1], budi.id, now - 30 * M, now + 30 * M, None, None, None),
                (ids[1], budi.id, now - 90 * M, now - 10 * M, None, None, None),
                (ids[1], budi.id, now + 10 * M, now + 90 * M, None, None, None),
            ],
        )
        posts_read, together = await watch_store.posts_for_decision(tx, ids, now)
        apart = (
            await watch_store.posts_by_id(tx, ids),
            await watch_store.decision_facts(tx, ids, now),
        )
    assert sorted(posts_read, key=lambda p: p.id) == sorted(apart[0], key=lambda p: p.id)
    assert together == apart[1]
    assert together.counts == {ids[0]: 1} and list(together.alerts) == [ids[0]]
    assert [len(together.running.get(post_id, [])) for post_id in ids] == [0, 2]


async def test_a_redecision_returns_the_posts_as_written(db: Database, tmp_path: Path) -> None:
    """What refresh returns (no read back) is what reading the posts back gives."""
    clock = FakeClock(OPEN + 5 * M)
    watcher = Watcher(db, settings_for(tmp_path / "w.db"), clock)
    await checkin.check_in(
        db, await member(db, "budi"), Fix(*MONAS, 10, None), clock.now(), watcher
    )
    for minutes in (95, 96, 481):  # silent (a state change), unchanged, closed at 16:00
        clock.set(OPEN + minutes * M)
        async with db.transaction() as tx:
            ids = [int(await tx.scalar("SELECT id FROM posts WHERE code = 'DAY-01'"))]
            refreshed = await watcher.refresh(tx, ids, clock.now())
            assert refreshed == await watch_store.posts_by_id(tx, ids)
    assert refreshed[0].state == "closed"
