"""Leader and standby (SPEC §11): the Leadership state machine with a scripted lock, the
PostgreSQL leader lock itself (one holder, freed when its session dies, apart from the
writers' lock), claims that skip rows another transaction holds, and /healthz on a standby.
The two-process drill under load is tests/test_failover.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from bot.core.clock import FakeClock
from bot.core.config import load_settings
from bot.core.health import Metrics, snapshot
from bot.core.leader import LEADER, STANDBY, Leadership
from bot.core.runtime import Runtime
from storage import outbox
from storage.db import Database
from storage.leadership import AdvisoryLeaderLock, LeaderLock, SoleLeader, leader_lock
from storage.postgres import PostgresDatabase
from tests import backends
from tests.conftest import T0


class ScriptedLock(LeaderLock):
    shared = True

    def __init__(self) -> None:
        self.free = True
        self.ours = False
        self.released = 0
        self.checks = 0

    async def try_acquire(self) -> bool:
        if self.free:
            self.free, self.ours = False, True
        return self.ours

    async def holds(self) -> bool:
        self.checks += 1
        await asyncio.sleep(0)  # a round trip: another task may run meanwhile
        return self.ours

    async def release(self) -> None:
        self.released += 1
        if self.ours:
            self.ours, self.free = False, True


class Duties:
    def __init__(self, fail_first: bool = False) -> None:
        self.log: list[str] = []
        self.fail_first = fail_first

    async def elected(self) -> None:
        self.log.append("lead")
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("database went away while starting")

    async def deposed(self) -> None:
        self.log.append("stand by")


async def test_a_standby_leads_once_the_lock_is_free_and_stands_by_when_it_is_lost() -> None:
    lock = ScriptedLock()
    lock.free = False  # another process leads
    duties = Duties()
    leadership = Leadership(lock, duties.elected, duties.deposed, every=0.01)
    await leadership.start()
    assert leadership.role == STANDBY and duties.log == []
    lock.free = True  # the leader died
    for _ in range(200):
        if leadership.leading:
            break
        await asyncio.sleep(0.01)
    assert leadership.role == LEADER and duties.log == ["lead"] and leadership.terms == 1
    lock.ours = False  # the lock's session is gone (database restart)
    for _ in range(200):
        if not leadership.leading:
            break
        await asyncio.sleep(0.01)
    assert leadership.role == STANDBY and duties.log == ["lead", "stand by"]
    await leadership.stop()
    assert duties.log == ["lead", "stand by"]  # a standby has nothing to hand back


async def test_a_leader_frozen_past_its_checks_confirms_its_lock_before_polling() -> None:
    lock = ScriptedLock()
    duties = Duties()
    now = [100.0]
    leadership = Leadership(
        lock, duties.elected, duties.deposed, every=1.0, monotonic=lambda: now[0]
    )
    await leadership._step()  # elected (the periodic loop is not started: time is ours)
    lock.ours = False  # meanwhile the server ended the session
    now[0] += 1.0  # checked a second ago: trusted without asking
    assert await leadership.still_leading()
    now[0] += 10.0  # frozen (SIGSTOP) for ten seconds: asks the lock first, once
    assert await asyncio.gather(leadership.still_leading(), leadership.still_leading()) == [
        False,
        False,
    ]
    assert duties.log == ["lead", "stand by"] and lock.checks == 1


async def test_duties_that_fail_to_start_are_stopped_and_the_lock_given_back() -> None:
    lock = ScriptedLock()
    duties = Duties(fail_first=True)
    leadership = Leadership(lock, duties.elected, duties.deposed, every=0.01)
    await leadership.start()
    assert not leadership.leading and lock.released == 1 and lock.free
    assert duties.log == ["lead", "stand by"]
    for _ in range(200):
        if leadership.leading:
            break
        await asyncio.sleep(0.01)
    assert leadership.leading and duties.log == ["lead", "stand by", "lead"]
    await leadership.stop()
    assert duties.log[-1] == "stand by" and lock.free


async def test_sqlite_always_leads(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "solo.db")
    try:
        lock = leader_lock(db)
        assert isinstance(lock, SoleLeader) and not lock.shared
        assert await lock.try_acquire() and await lock.holds()
    finally:
        await db.close()


async def _pg_url(number: int) -> str:
    admin = await backends.admin_url()
    if admin is None:
        pytest.skip(backends.why_not())
    url = await backends.empty(admin, number)
    db = await Database.open(url)
    await db.migrate()
    await db.close()
    return url


async def test_one_holder_on_postgresql_freed_when_its_session_dies() -> None:
    url = await _pg_url(11)
    first, second = AdvisoryLeaderLock(url), AdvisoryLeaderLock(url)
    db = await Database.open(url)
    try:
        assert isinstance(leader_lock(db), AdvisoryLeaderLock)
        assert await first.try_acquire()
        assert not await second.try_acquire()
        # The writers' lock is another key: the leader lock does not stop a write.
        async with asyncio.timeout(5), db.transaction() as tx:
            await tx.execute("DELETE FROM inbox")
        # The session holding the lock ends (a restart, a dead network): both sides know.
        admin = await asyncpg.connect(url)
        try:
            ended = await admin.fetchval(
                "SELECT pg_terminate_backend($1)", first._conn.get_server_pid()
            )
        finally:
            await admin.close()
        assert ended
        assert not await first.holds()
        assert await second.try_acquire()
        assert not await first.try_acquire()
        await second.release()
        assert await first.try_acquire()
    finally:
        await first.release()
        await second.release()
        await db.close()


async def test_claims_pass_over_rows_another_transaction_is_claiming() -> None:
    url = await _pg_url(12)
    one, two = await Database.open(url), await Database.open(url)
    assert isinstance(one, PostgresDatabase) and isinstance(two, PostgresDatabase)
    try:
        async with one.transaction() as tx:
            ids = [
                await outbox.enqueue(tx, chat, f"pesan {chat}", T0, kind="test")
                for chat in (1, 2, 3)
            ]
        # Beside the writers' lock on purpose: two senders meeting on the same rows.
        async with one.standalone() as first:
            assert await outbox.claim_many(first, ids[:2]) == set(ids[:2])
            async with asyncio.timeout(5), two.standalone() as second:
                assert await outbox.claim_many(second, ids) == {ids[2]}
                assert not await outbox.claim(second, ids[0])
    finally:
        await one.close()
        await two.close()


async def test_a_standby_is_healthy_without_a_watcher_pass(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "standby.db")
    await db.migrate()
    settings = load_settings(None, overrides={"storage": {"path": str(tmp_path / "standby.db")}})
    runtime = Runtime(settings=settings, clock=FakeClock(T0), db=db)
    lock = ScriptedLock()
    lock.free = False
    duties = Duties()
    runtime.leadership = Leadership(lock, duties.elected, duties.deposed)
    await runtime.leadership._step()
    metrics = Metrics()
    from bot.watch.watcher import Watcher

    runtime.watcher = Watcher(db, settings, runtime.clock)  # never swept
    try:
        healthy, body = await snapshot(runtime, metrics)
        assert healthy and body["role"] == "standby" and "watcher" not in body
        assert metrics.leader._value.get() == 0
        lock.free = True
        await runtime.leadership._step()
        healthy, body = await snapshot(runtime, metrics)
        assert body["role"] == "leader" and not healthy and body["watcher"] == "late"
        assert metrics.leader._value.get() == 1
    finally:
        await db.close()
