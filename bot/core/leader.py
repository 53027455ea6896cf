"""Leader and standby (SPEC §11): of the processes sharing one PostgreSQL database, the one
holding the leader lock (storage/leadership.py) takes updates, runs the watcher, the
outbox sender and the scheduled jobs; the others wait, trying the lock every ``every``
seconds, and take those duties over when they get it.

A leader checks its lock as often; the moment the lock's session is in doubt (the
database restarted, the network went) it stops leading — ``on_deposed`` stops polling,
the watcher, the sender and the jobs — and goes back to waiting. Handlers already running
may finish, and the inbox refuses their effects for an update another process has done
meanwhile (bot/core/inbox.py), so two leaders never both act on one update.

With SQLite the lock is always ours: the process leads from the start and never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from storage.leadership import LeaderLock

log = logging.getLogger(__name__)

TRY_EVERY = 1.0
"""Seconds between a standby's attempts at the lock, and between a leader's checks of it."""
STEP_DOWN_WITHIN = 15.0
"""Seconds the leader's duties are given to stop when it loses the lock."""

LEADER = "leader"
STANDBY = "standby"


class Leadership:
    def __init__(
        self,
        lock: LeaderLock,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[], Awaitable[None]],
        every: float = TRY_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock
        self._monotonic = monotonic
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self.every = every
        self.leading = False
        self.terms = 0
        """How many times this process became the leader."""
        self._confirmed_at = 0.0
        """time.monotonic() the lock was last known held."""
        self._stepping = asyncio.Lock()
        """One check of the lock at a time (the lock's connection takes one statement)."""
        self._task: asyncio.Task[None] | None = None

    @property
    def role(self) -> str:
        return LEADER if self.leading else STANDBY

    async def start(self) -> None:
        """Try once now (a lone process leads before this returns), then keep watching."""
        async with self._stepping:
            await self._step()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="leadership")

    async def stop(self) -> None:
        """Stop trying; a leader hands its duties back and releases the lock."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.leading:
            await self._step_down()
        await self.lock.release()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                async with self._stepping:
                    await self._step()
            except Exception:
                log.exception("leadership check failed; trying again")

    async def still_leading(self) -> bool:
        """Whether this process leads, the lock confirmed within the last ``every`` seconds:
        asked before each poll, so a leader that was frozen (SIGSTOP, a stalled VM) longer
        than that checks its lock before acting rather than after."""
        if self.leading and self._stale():
            async with self._stepping:
                if self.leading and self._stale():  # not confirmed while this waited
                    await self._step()
        return self.leading

    def _stale(self) -> bool:
        return self._monotonic() - self._confirmed_at > self.every * 1.5

    async def _step(self) -> None:
        if self.leading:
            if not await self.lock.holds():
                log.warning("leader lock lost: this process stops leading and stands by")
                await self._step_down()
            else:
                self._confirmed_at = self._monotonic()
            return
        if not await self.lock.try_acquire():
            return
        self._confirmed_at = self._monotonic()
        self.leading = True
        self.terms += 1
        if self.lock.shared:
            log.warning("this process leads now (term %s)", self.terms)
        try:
            await self._on_elected()
        except Exception:
            # Half-started duties are stopped and the lock given back: another process,
            # or this one at the next try, starts them whole.
            log.exception("could not start leading; standing by")
            await self._step_down()
            await self.lock.release()

    async def _step_down(self) -> None:
        self.leading = False
        try:
            await asyncio.wait_for(self._on_deposed(), STEP_DOWN_WITHIN)
        except Exception:
            log.exception("stopping the leader's duties failed")
