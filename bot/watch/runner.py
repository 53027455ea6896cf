"""Runs the watcher on PTB's JobQueue (APScheduler): one job, always set for the next
deadline (capped at ``max_sleep``), moved earlier when a change brings a deadline closer.
"""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta
from typing import Any

from telegram.ext import Job, JobQueue

from bot.core.clock import wib_date
from bot.roster import planning
from bot.watch.watcher import Watcher

log = logging.getLogger(__name__)

# A job due this close to the planned one is not worth moving.
RESCHEDULE_SLACK = 0.05


class WatchRunner:
    def __init__(self, watcher: Watcher, job_queue: JobQueue[Any], max_sleep: timedelta) -> None:
        self.watcher = watcher
        self.job_queue = job_queue
        self.max_sleep = max_sleep.total_seconds()
        self._job: Job[Any] | None = None
        self._planned = float("inf")
        self.failures = 0
        self._extended_for: date | None = None  # the WIB day the roster was last extended
        self.active = False
        """Started and not stopped: a standby (SPEC §11) never schedules a pass."""

    def start(self) -> None:
        self.active = True
        self._schedule(0.0)

    def stop(self) -> None:
        self.active = False
        self._planned = float("inf")
        job, self._job = self._job, None
        if job is not None and self.job_queue.scheduler.running:
            job.schedule_removal()

    def poke(self) -> None:
        """A transaction changed deadlines: wake earlier if the soonest one moved closer."""
        soonest = self.watcher.soonest_refreshed
        self.watcher.soonest_refreshed = None
        if soonest is None or not self.active:
            return
        delay = max(0.0, (soonest - self.watcher.clock.now()).total_seconds())
        stale = self._planned < time.monotonic() - self.max_sleep  # the planned run never came
        if stale or time.monotonic() + delay < self._planned - RESCHEDULE_SLACK:
            self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        if self._job is not None:
            self._job.schedule_removal()
        self._planned = time.monotonic() + delay
        # No misfire grace: a job that fires late (a stalled loop, a paused VM) must still
        # run, or the watcher would stop for good.
        self._job = self.job_queue.run_once(
            self._run,
            when=delay,
            name="watch",
            job_kwargs={"misfire_grace_time": None, "coalesce": True},
        )

    async def _run(self, _context: Any) -> None:
        self._job = None
        self._planned = float("inf")
        try:
            await self.watcher.sweep()
            deadline = await self.watcher.next_deadline()
        except Exception:
            self.failures += 1
            log.exception("watch pass failed; retrying shortly")
            deadline = None
        # After the pass (a shift change at midnight is not held up), and on its own: a
        # failing extension must never stop the alerts; it is tried again next run.
        try:
            await self._extend_roster()
        except Exception:
            log.exception("roster extension failed; retrying at the next run")
        delay = self.max_sleep
        if deadline is not None:
            until = (deadline - self.watcher.clock.now()).total_seconds()
            delay = min(self.max_sleep, max(0.0, until))
        if not self.active:
            return  # stopped during the pass (this process stands by now)
        if self._job is None or time.monotonic() + delay < self._planned:
            self._schedule(delay)

    async def _extend_roster(self) -> None:
        """Weekday roster rows become slots through the horizon: at startup, then once a
        WIB day (a date comparison on every other run)."""
        now = self.watcher.clock.now()
        today = wib_date(now)
        if self._extended_for == today:
            return
        added = await planning.extend_in_steps(self.watcher.db, now, self.watcher.settings.roster)
        self._extended_for = today
        if added:
            log.info("roster extended: %s slots added", added)
