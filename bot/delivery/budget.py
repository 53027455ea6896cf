"""Telegram's sending budget as the outbox sender spends it (SPEC §5, §11): how many sends
each lane may start now, which chats must wait, and the slots a send occupies.

Two lanes share it. The normal lane holds ``global_per_s`` (with a pacing bucket, so a
backlog leaves evenly); with ``paid_broadcast`` the paid lane holds ``paid_per_s`` with a
window and bucket of its own, and every send of either lane also counts against
``paid_per_s``, the most Telegram takes from a bot in a second. Per chat and per group
windows, and ``RetryAfter`` pauses, hold for both. Times are seconds on the sender's clock.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import deque
from collections.abc import Iterable

from bot.core.config import DeliverySettings
from bot.delivery.limits import Bucket, Slot, Window

log = logging.getLogger(__name__)

DIRECT_SHARE = 200
"""A paid broadcast leaves at least 1/DIRECT_SHARE of ``paid_per_s`` (5 of 1000) free in each
second, and never fewer slots than replies were sent straight to people in the last second:
those are counted only once answered, so at the full rate one in flight would be the
1001st message Telegram sees and draw a 429."""
FLOOD_CHATS = 2
"""Distinct chats told to wait within one retry window that mean a global flood wait."""
SWEEP_EVERY = 4096
"""Reservations between two sweeps that drop the windows of chats gone quiet."""


def _bucket(rate: float) -> Bucket:
    return Bucket(rate, max(1, math.ceil(rate / 10)))


class Budget:
    """One per sender; nothing here waits or does I/O."""

    def __init__(self, settings: DeliverySettings) -> None:
        self._settings = settings
        self._global = Window.of_rate(settings.global_per_s, 1.0)
        self._pace = _bucket(settings.global_per_s)
        self._paid: Window | None = None
        self._paid_pace: Bucket | None = None
        self._direct_answered: deque[float] = deque()
        if settings.paid_broadcast:
            self._paid = Window.of_rate(settings.paid_per_s, 1.0)
            self._paid_pace = _bucket(settings.paid_per_s)
        self._chat_windows: dict[int, Window] = {}
        self._group_windows: dict[int, Window] = {}
        # Chats whose window is full, and when each may free up (pushed once its sends
        # are answered). A broadcast at 1000/s holds a thousand chats at any moment:
        # scanning every window on every pass cost more than the sends themselves.
        self._full: set[int] = set()
        self._frees: list[tuple[float, int]] = []
        self._until_sweep = SWEEP_EVERY
        self._paused: dict[int, float] = {}
        self._global_pause = 0.0
        self._floods: dict[int, float] = {}

    @property
    def paid(self) -> bool:
        """Whether there is a paid broadcast lane."""
        return self._paid is not None

    def room(self, now: float, cap: int) -> tuple[int, float]:
        """How many sends the normal lane may start now (at most ``cap``, what the caller
        lets be in flight), and when more will be allowed."""
        if now < self._global_pause:
            return 0, self._global_pause
        room = min(self._global.free(now), self._pace.available(now), cap)
        if self._paid is not None:
            room = min(room, self._paid.free(now))
        if room > 0:
            return room, now
        when = max(self._global.next_free(now), self._pace.next_token(now))
        if self._paid is not None:
            when = max(when, self._paid.next_free(now))
        return 0, when

    def paid_room(self, now: float, cap: int) -> tuple[int, float]:
        """The same for the paid lane (none without ``paid_broadcast``)."""
        if self._paid is None or self._paid_pace is None:
            return 0, math.inf
        if now < self._global_pause:
            return 0, self._global_pause
        keep = self._direct_headroom(now)
        room = min(self._paid.free(now) - keep, self._paid_pace.available(now), cap)
        if room > 0:
            return room, now
        return 0, max(self._paid.next_free(now, keep), self._paid_pace.next_token(now))

    def _direct_headroom(self, now: float) -> int:
        """Paid-window slots the paid lane leaves free (``DIRECT_SHARE``)."""
        answered = self._direct_answered
        while answered and answered[0] <= now - 1.0:
            answered.popleft()
        return max(int(self._settings.paid_per_s) // DIRECT_SHARE, len(answered))

    def held_chats(self, now: float) -> tuple[set[int], float]:
        """Chats that may not be sent to now, and the soonest one of them frees up."""
        frees = self._frees
        while frees and frees[0][0] <= now:
            _, chat = heapq.heappop(frees)
            if chat in self._full:
                self._recheck(chat, now)
        held = set(self._full)
        soonest = frees[0][0] if frees else math.inf
        for chat, until in list(self._paused.items()):
            if until <= now:
                del self._paused[chat]
            else:
                held.add(chat)
                soonest = min(soonest, until)
        return held, soonest

    def _recheck(self, chat_id: int, now: float) -> None:
        """Is the chat still full? If so, when may it free up (known once answered)."""
        free_at = now
        for windows in (self._chat_windows, self._group_windows):
            window = windows.get(chat_id)
            if window is not None and window.free(now) <= 0:
                free_at = max(free_at, window.next_free(now))
        if free_at <= now:
            self._full.discard(chat_id)
        elif free_at < math.inf:
            heapq.heappush(self._frees, (free_at, chat_id))

    def release(self, chat_id: int, slots: Iterable[Slot], now: float) -> None:
        """The answer came at ``now``: each slot leaves its window a span later."""
        for slot in slots:
            slot.end = now
        if chat_id in self._full:
            self._recheck(chat_id, now)

    def _sweep(self, now: float) -> None:
        self._until_sweep = SWEEP_EVERY
        for windows in (self._chat_windows, self._group_windows):
            for chat, window in list(windows.items()):
                if chat not in self._full and window.empty(now):
                    del windows[chat]

    def reserve(self, chat_id: int, now: float, paid: bool = False) -> list[Slot]:
        """Take the slots one send occupies until :func:`release`."""
        if paid:
            assert self._paid is not None and self._paid_pace is not None
            self._paid_pace.take(now)
            slots = [self._paid.take()]
        else:
            self._pace.take(now)
            slots = [self._global.take()]
            if self._paid is not None:
                slots.append(self._paid.take())
        slots.append(self._chat_window(chat_id).take())
        if chat_id < 0:
            group = self._group_windows.get(chat_id)
            if group is None:
                group = self._group_windows[chat_id] = Window.of_rate(
                    self._settings.per_group_per_min, 60.0
                )
            slots.append(group.take())
        self._note_use(chat_id, now)
        return slots

    def _note_use(self, chat_id: int, now: float) -> None:
        """A slot of the chat was just taken: it may be full now."""
        if chat_id not in self._full:
            full = self._chat_window(chat_id).free(now) <= 0
            group = self._group_windows.get(chat_id)
            if full or (group is not None and group.free(now) <= 0):
                self._full.add(chat_id)
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(now)

    def note_direct_send(self, chat_id: int, now: float) -> None:
        """A reply sent straight to a person, answered at ``now``."""
        self._global.take().end = now
        if self._paid is not None:
            self._paid.take().end = now
            self._direct_answered.append(now)
        self._chat_window(chat_id).take().end = now
        self._note_use(chat_id, now)
        if chat_id in self._full:
            self._recheck(chat_id, now)

    def _chat_window(self, chat_id: int) -> Window:
        window = self._chat_windows.get(chat_id)
        if window is None:
            window = self._chat_windows[chat_id] = Window.of_rate(
                self._settings.per_chat_per_s, 1.0
            )
        return window

    def flood_wait(self, chat_id: int, now: float, seconds: float) -> None:
        """Telegram told ``chat_id`` to wait; several chats at once pause everything."""
        until = now + seconds
        self._paused[chat_id] = max(self._paused.get(chat_id, 0.0), until)
        self._floods = {c: t for c, t in self._floods.items() if t > now}
        self._floods[chat_id] = until
        if len(self._floods) >= FLOOD_CHATS:
            # Several chats told to wait at once: it is the bot, not one chat.
            self._global_pause = max(self._global_pause, max(self._floods.values()))
            log.warning("outbox: global flood wait until +%gs", self._global_pause - now)
