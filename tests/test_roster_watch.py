"""Piket in the watcher on a real database with a fake clock: a slot's walk (reminder,
start, nudge, end and its outcome), the officers a post needs while slots run, the
no-show alert naming who is rostered and absent, and nothing sent twice after a restart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.core.config import Settings, load_settings
from bot.presence import checkin
from bot.presence.checkin import Fix
from bot.roster import watch as roster_watch
from bot.watch.texts import alert_text
from bot.watch.watcher import Watcher
from storage import members, posts, roster
from storage.db import Database
from storage.records import Member
from tests.conftest import MONAS, T0, seed_city

M = timedelta(minutes=1)
START = T0 + 60 * M  # 20:00 WIB
END = START + 8 * 60 * M  # 04:00 WIB
BUDI_CHAT, SARI_CHAT, LURAH_CHAT = 1001, 1002, 2001


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "r.db"
    await seed_city(path)
    database = await Database.open(path)
    async with database.transaction() as tx:
        # Nobody is needed at KBJ-01 outside the roster: what is needed comes from slots.
        await tx.execute("UPDATE posts SET min_staff = 0 WHERE code = 'KBJ-01'")
        await tx.execute("UPDATE members SET phone = '081234567890' WHERE ref = 'budi'")
        await tx.execute("UPDATE members SET phone = '081298765432' WHERE ref = 'sari'")
    yield database
    await database.close()


def settings_for(db: Database) -> Settings:
    return load_settings(None, overrides={"storage": {"path": "unused.db"}})


async def member(db: Database, ref: str) -> Member:
    async with db.read() as tx:
        found = await members.by_ref(tx, ref)
    assert found is not None
    return found


async def add_slot(db: Database, ref: str, start: datetime = START, end: datetime = END) -> int:
    async with db.transaction() as tx:
        post = await posts.by_code(tx, "KBJ-01")
        who = await members.by_ref(tx, ref)
        assert post is not None and who is not None
        await roster.insert_slots(
            tx, [(post.id, who.id, start, end, None, start - 30 * M, "remind")]
        )
        return int(await tx.scalar("SELECT max(id) FROM slots"))


async def sent(db: Database, chat: int, kind: str | None = None) -> list[str]:
    async with db.read() as tx:
        rows = await tx.all(
            "SELECT kind, payload FROM outbox WHERE chat_id = ? ORDER BY id", (chat,)
        )
    return [json.loads(row[1])["text"] for row in rows if kind is None or row[0] == kind]


async def check_in(db: Database, who: Member, at: datetime, watcher: Watcher) -> None:
    """At KBJ-01 (Sari has two posts: she picks it)."""
    result = await checkin.check_in(db, who, Fix(*MONAS, 10, None), at, watcher)
    if result.status is checkin.CheckInStatus.CHOOSE:
        kbj = next(post for post in result.choices if post.code == "KBJ-01")
        result = await checkin.choose_post(db, who, kbj.id, at, watcher)
    assert result.post is not None and result.post.code == "KBJ-01"


async def slot_of(db: Database, slot_id: int) -> roster.Slot:
    async with db.read() as tx:
        found = await roster.by_id(tx, slot_id)
    assert found is not None
    return found


async def post_state(db: Database) -> tuple[str, int]:
    async with db.read() as tx:
        post = await posts.by_code(tx, "KBJ-01")
    assert post is not None
    return post.state, post.min_staff


async def test_absent_officer_is_reminded_once_nudged_and_named_in_the_alert(
    db: Database,
) -> None:
    clock = FakeClock(T0)
    watcher = Watcher(db, settings_for(db), clock)
    slot_id = await add_slot(db, "budi")
    await watcher.sweep(T0)
    assert await sent(db, BUDI_CHAT) == []
    await watcher.sweep(START - 30 * M)
    await watcher.sweep(START - 30 * M)  # a second pass at the same moment sends nothing
    reminders = await sent(db, BUDI_CHAT, "slot_remind")
    assert len(reminders) == 1
    assert "KBJ-01 20:00–04:00" in reminders[0] and "30 menit" in reminders[0]
    assert "/hadir" in reminders[0]
    await watcher.sweep(START)
    state, _ = await post_state(db)
    assert state == "opening"  # one officer needed now; the grace runs from the start
    await watcher.sweep(START + 10 * M)
    nudges = await sent(db, BUDI_CHAT, "slot_nudge")
    assert len(nudges) == 1 and "10 menit" in nudges[0]
    await watcher.sweep(START + 15 * M)  # staff_grace after the start
    alerts = await sent(db, LURAH_CHAT, "alert")
    assert len(alerts) == 1
    assert "Budi Santoso 081234567890" in alerts[0]
    assert "0 dari 1" in alerts[0]
    await watcher.sweep(END)
    slot = await slot_of(db, slot_id)
    assert (slot.outcome, slot.next_due_at, slot.late_minutes) == ("tidak_hadir", None, None)
    assert len(await sent(db, BUDI_CHAT, "slot_nudge")) == 1


async def test_group_alert_names_the_absent_without_phone(db: Database) -> None:
    clock = FakeClock(T0)
    watcher = Watcher(db, settings_for(db), clock)
    await add_slot(db, "budi")
    await add_slot(db, "sari")
    budi = await member(db, "budi")
    await watcher.sweep(START)
    await check_in(db, budi, START + 2 * M, watcher)
    async with db.read() as tx:
        post = await posts.by_code(tx, "KBJ-01")
        assert post is not None
        people = (await roster_watch.people(tx, [post.id], START + 3 * M))[post.id]
    group = alert_text("id", post, "unstaffed", START, START + 3 * M, people, False, "")
    private = alert_text("id", post, "unstaffed", START, START + 3 * M, people, True, "")
    assert "1 dari 2" in group and "Sari Dewi" in group
    assert "081298765432" not in group
    assert "Sari Dewi 081298765432" in private
    # Budi is in: he is not among the absent.
    absent = next(line for line in private.splitlines() if line.startswith("❗"))
    assert "Sari Dewi" in absent and "Budi Santoso" not in absent


async def test_required_count_follows_running_slots(db: Database) -> None:
    clock = FakeClock(T0)
    watcher = Watcher(db, settings_for(db), clock)
    await add_slot(db, "budi")
    await add_slot(db, "sari")
    budi = await member(db, "budi")
    await watcher.sweep(T0)
    assert (await post_state(db))[0] == "staffed"  # min_staff 0, no slot yet
    await check_in(db, budi, START - 5 * M, watcher)
    await watcher.sweep(START)
    assert (await post_state(db))[0] == "opening"  # two rostered, one in
    await watcher.sweep(START + 15 * M)
    alerts = await sent(db, LURAH_CHAT, "alert")
    assert len(alerts) == 1 and "1 dari 2" in alerts[0] and "Sari Dewi" in alerts[0]
    sari = await member(db, "sari")
    await check_in(db, sari, START + 20 * M, watcher)
    assert (await post_state(db))[0] == "staffed"
    assert len(await sent(db, LURAH_CHAT, "recovered")) == 1


async def test_outcomes_present_late_and_left_early(db: Database) -> None:
    clock = FakeClock(T0)
    watcher = Watcher(db, settings_for(db), clock)
    budi_slot = await add_slot(db, "budi")
    sari_slot = await add_slot(db, "sari")
    budi, sari = await member(db, "budi"), await member(db, "sari")
    await watcher.sweep(START - 30 * M)
    await check_in(db, budi, START - 10 * M, watcher)
    await watcher.sweep(START)
    await watcher.sweep(START + 10 * M)
    assert await sent(db, BUDI_CHAT, "slot_nudge") == []  # arrived: no nudge
    assert len(await sent(db, SARI_CHAT, "slot_nudge")) == 1
    await check_in(db, sari, START + 17 * M, watcher)
    await checkin.check_out(db, budi, END - 60 * M, watcher)
    await watcher.sweep(END)
    early = await slot_of(db, budi_slot)
    late = await slot_of(db, sari_slot)
    assert early.outcome == "hadir" and early.left_at == END - 60 * M
    assert (late.outcome, late.late_minutes, late.left_at) == ("terlambat", 17, None)


async def test_checked_in_long_before_counts_from_the_start(db: Database) -> None:
    clock = FakeClock(T0)
    watcher = Watcher(db, settings_for(db), clock)
    slot_id = await add_slot(db, "budi")
    budi = await member(db, "budi")
    await check_in(db, budi, T0, watcher)  # 60 min before
    await watcher.sweep(START - 30 * M)
    assert await sent(db, BUDI_CHAT, "slot_remind") == []  # already there
    await watcher.sweep(START)
    assert (await slot_of(db, slot_id)).arrived_at == START
    await watcher.sweep(END)
    assert (await slot_of(db, slot_id)).outcome == "hadir"


async def test_restart_mid_walk_sends_nothing_twice(db: Database) -> None:
    clock = FakeClock(T0)
    await add_slot(db, "budi")
    first = Watcher(db, settings_for(db), clock)
    await first.sweep(START - 30 * M)
    # A pass that crashes after walking the slots leaves no trace (one transaction).
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await roster_watch.walk(first, tx, START + 10 * M)
            raise RuntimeError("crash")
    again = Watcher(db, settings_for(db), clock)  # the restarted bot
    await again.sweep(START - 30 * M)
    for moment in (START, START + 10 * M, START + 10 * M, START + 15 * M):
        await again.sweep(moment)
    assert len(await sent(db, BUDI_CHAT, "slot_remind")) == 1
    assert len(await sent(db, BUDI_CHAT, "slot_nudge")) == 1
    assert len(await sent(db, LURAH_CHAT, "alert")) == 1


async def test_a_slot_changed_under_the_pass_retries_it(db: Database) -> None:
    clock = FakeClock(T0)
    slot_id = await add_slot(db, "budi")
    watcher = Watcher(db, settings_for(db), clock)
    async with db.transaction() as tx:
        due = await roster.due(tx, START - 30 * M, 10)
        # A check-in lands between the read and the write: the step must not apply.
        await roster.record_arrival(tx, slot_id, START - 31 * M)
        stale = roster.SlotStep(
            slot_id, due[0].version, START, "start", None, None, None, None, None
        )
        assert await roster.save_steps_batch(tx, [stale]) == 0
    await watcher.sweep(START - 30 * M)
    slot = await slot_of(db, slot_id)
    assert slot.due_kind == "start" and slot.arrived_at == START - 31 * M
