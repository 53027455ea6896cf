"""Update processing that runs different people concurrently and each person in order.

PTB's ``concurrent_updates(True)`` runs every update as soon as a permit is free, so two
quick messages of one officer can be handled out of order, which breaks conversation
flows. Sequential processing keeps order but caps throughput (PERFORMANCE-NOTES.md).
``PerChatUpdateProcessor`` sits between the two: one update at a time per person, up to
``max_concurrent_updates`` people at once.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from storage.db import HandledUpdate

# Updates with neither a user nor a chat, and objects that are not Updates at all, are
# rare enough to share one line.
SHARED_KEY = None

Key = int | None


class UpdateLedger(Protocol):
    """What records an update as processed (bot.core.inbox.Inbox)."""

    def begin(self, update: object) -> HandledUpdate | None: ...

    async def finish(self, handled: HandledUpdate) -> None: ...


class _Turn:
    """The line of one key: whoever holds ``lock`` runs, the rest wait in FIFO order."""

    __slots__ = ("lock", "pending")

    def __init__(self) -> None:
        # asyncio.Lock wakes waiters in arrival order and lets no newcomer jump a queued
        # waiter, so arrival order is run order.
        self.lock = asyncio.Lock()
        self.pending = 0


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Runs updates of different people concurrently, each person's strictly in order.

    The key of an update is its effective user's id, else its effective chat's id, else
    ``SHARED_KEY``. User ids and chat ids share one space on purpose: a private chat's id
    is its user's id, so a userless update there still queues behind that person, and
    group and channel ids are negative, so they never meet a user's id.

    A group is not one key: updates of two people in the same group may run
    concurrently. Per-group state must be guarded by its own lock.
    """

    __slots__ = ("_turns", "inbox", "observer")

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        # Holds only keys with updates queued or running, so it does not grow with the
        # number of people the bot has ever seen.
        self._turns: dict[Key, _Turn] = {}
        # Called with (seconds, failed) after each update: the metrics' handler latency.
        self.observer: Callable[[float, bool], None] | None = None
        # Marks each update done once handled (the durable inbox); None when it is off.
        self.inbox: UpdateLedger | None = None

    @staticmethod
    def key_for(update: object) -> Key:
        if isinstance(update, Update):
            user = update.effective_user
            if user is not None:
                return user.id
            chat = update.effective_chat
            if chat is not None:
                return chat.id
        return SHARED_KEY

    @property
    def active_keys(self) -> int:
        """How many keys have updates queued or running right now."""
        return len(self._turns)

    # BaseUpdateProcessor.process_update is marked @final, but it takes a permit of the
    # global semaphore before do_process_update runs. Waiting for a person's turn in
    # do_process_update would therefore hold a permit while idle: a burst of
    # max_concurrent_updates updates from one person would take every permit, and
    # everyone else would stall behind that backlog (and deadlock outright if a handler
    # of that person waited on someone else's update). So the turn is awaited here,
    # holding no permit, and the base class's process_update, unchanged, takes the
    # permit and runs the update. Each key thus holds at most one permit.
    async def process_update(  # type: ignore[misc]
        self,
        update: object,
        coroutine: Awaitable[Any],
    ) -> None:
        key = self.key_for(update)
        # Nothing below awaits before the lock is queued for, so updates keep the order in
        # which the Application's tasks called us.
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _Turn()
        turn.pending += 1
        started = False
        try:
            async with turn.lock:
                started = True
                await super().process_update(update, coroutine)
        finally:
            turn.pending -= 1
            if turn.pending == 0:
                del self._turns[key]
            if not started and inspect.iscoroutine(coroutine):
                # Cancelled while queued: close the coroutine so it is not reported as
                # "never awaited" once for every update of the backlog.
                coroutine.close()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # Runs in the update's own task, so the context set by begin() is that update's.
        # Inside the person's turn: their next update starts only once this one is done.
        handled = self.inbox.begin(update) if self.inbox is not None else None
        started = time.perf_counter()
        failed = True
        try:
            await coroutine
            failed = False
        except Exception:
            # A handler that failed is not retried: done, so a poison update cannot come
            # back at every start. Cancelled (shutting down) it stays pending.
            if handled is not None and self.inbox is not None:
                await self.inbox.finish(handled)
            raise
        finally:
            if self.observer is not None:
                self.observer(time.perf_counter() - started, failed)
        if handled is not None and self.inbox is not None:
            await self.inbox.finish(handled)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
