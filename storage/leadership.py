"""Who leads (SPEC §11 "Standby"): a PostgreSQL session advisory lock on a connection of
its own. bot/core/leader.py decides what leading means; this module only holds the lock.

Why a session lock on a dedicated connection: the lock lives exactly as long as the
session, so a leader that is SIGKILLed, or whose machine or network goes away, releases it
when the server notices the session end, and a standby's ``pg_try_advisory_lock`` then
succeeds. The server notices a killed process at once (the socket closes); a silent network
is bounded by ``LEASE``: the session is told ``idle_session_timeout = LEASE`` (PostgreSQL
14+) and TCP keepalives, so the server ends a session that stopped talking, while the
leader pings every second and steps down itself after ``LEASE / 2`` without an answer —
before the server can hand the lock to anyone else.

The key is the two-integer form ``(LEADER_CLASS, hashtext(current_schema()))``: a key space
apart from the writers' lock (storage/postgres.py, another class), and one lock per schema, so
deployments (and the test schemas) sharing a database do not elect one leader between them.

With SQLite there is no standby: the one process always leads (:class:`SoleLeader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from storage.db import Database

log = logging.getLogger(__name__)

LEADER_CLASS = 0x706F736B  # "posk"
LEASE = 6.0
"""Seconds a silent leader session may live on the server; the leader steps down at half."""
ANSWER_WITHIN = 2.0
"""Seconds a lock statement (try, ping) may take before the attempt counts as failed."""

LEADER_TRY = "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))"
_UNLOCK = "SELECT pg_advisory_unlock($1, hashtext(current_schema()))"


class LeaderLock:
    """The lock a process must hold to lead."""

    shared = False
    """True when another process can hold it (so this process may be a standby)."""

    async def try_acquire(self) -> bool:
        """Take the lock if it is free; False if another process holds it or the database
        does not answer."""
        raise NotImplementedError

    async def holds(self) -> bool:
        """Whether the lock is still ours: False as soon as its session is in doubt."""
        raise NotImplementedError

    async def release(self) -> None:
        """Give the lock up (closing its session if it cannot be asked nicely)."""
        raise NotImplementedError


class SoleLeader(LeaderLock):
    """SQLite: one process, always the leader."""

    async def try_acquire(self) -> bool:
        return True

    async def holds(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class AdvisoryLeaderLock(LeaderLock):
    """PostgreSQL: ``pg_try_advisory_lock`` held by a connection used for nothing else."""

    shared = True

    def __init__(self, url: str, *, lease: float = LEASE) -> None:
        self._url = url
        self._lease = lease
        self._conn: Any = None
        self._held = False

    async def _connection(self) -> Any:
        import asyncpg

        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        self._held = False
        conn = await asyncpg.connect(
            self._url,
            timeout=ANSWER_WITHIN,
            server_settings={
                "application_name": "posko-leader",
                # The server's side of a dead network: probe after 2 s idle, every 1 s.
                "tcp_keepalives_idle": "2",
                "tcp_keepalives_interval": "1",
                "tcp_keepalives_count": "2",
            },
        )
        try:
            await conn.execute(f"SET idle_session_timeout = {int(self._lease * 1000)}")
        except Exception as exc:  # before PostgreSQL 14: the keepalives alone bound it
            log.info("leader lock: no idle_session_timeout on this server (%s)", exc)
        self._conn = conn
        return conn

    async def try_acquire(self) -> bool:
        try:
            conn = await self._connection()
            got = bool(await conn.fetchval(LEADER_TRY, LEADER_CLASS, timeout=ANSWER_WITHIN))
        except Exception as exc:
            log.debug("leader lock: not taken (%s)", exc)
            await self._drop()
            return False
        self._held = got
        return got

    async def holds(self) -> bool:
        if not self._held or self._conn is None or self._conn.is_closed():
            self._held = False
            return False
        try:
            await self._conn.fetchval("SELECT 1", timeout=ANSWER_WITHIN)
        except Exception as exc:
            log.warning("leader lock: its connection did not answer (%s)", exc)
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        conn, held = self._conn, self._held
        self._held = False
        if conn is None or conn.is_closed():
            return
        if held:
            try:
                await conn.fetchval(_UNLOCK, LEADER_CLASS, timeout=ANSWER_WITHIN)
            except Exception:
                await self._drop()
                return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), ANSWER_WITHIN)
        self._conn = None

    async def _drop(self) -> None:
        """Forget the session at once; the server ends it (and frees the lock)."""
        conn, self._conn = self._conn, None
        self._held = False
        if conn is not None:
            conn.terminate()


def leader_lock(db: Database) -> LeaderLock:
    """The lock for this database: advisory on PostgreSQL, always ours on SQLite."""
    url = getattr(db, "url", None)
    if db.dialect == "postgresql" and isinstance(url, str):
        return AdvisoryLeaderLock(url)
    return SoleLeader()
