"""Telegram's rate limits on sending (overall, per chat, per group), answered with 429 and a
retry_after when exceeded.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from bot.rehearsal.emulator.wire import _ApiError


@dataclass(slots=True)
class _RateLimits:
    global_per_s: float
    per_chat_per_s: float
    per_group_per_min: float
    retry_after: int


class RateLimiter:
    """Telegram's limits on sending messages, off until :meth:`enforce` turns them on."""

    __slots__ = ("_global", "_limits", "_per_chat", "_per_group")

    def __init__(self) -> None:
        self._limits: _RateLimits | None = None
        self._global: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = {}
        self._per_group: dict[int, deque[float]] = {}

    def enforce(self, limits: _RateLimits) -> None:
        self._limits = limits
        self._global.clear()
        self._per_chat.clear()
        self._per_group.clear()

    def lift(self) -> None:
        self._limits = None

    def check(self, chat_id: int) -> None:
        limits = self._limits
        if limits is None:
            return
        now = time.monotonic()
        windows: list[tuple[deque[float], float, float]] = [
            (self._global, 1.0, limits.global_per_s),
            (self._per_chat.setdefault(chat_id, deque()), 1.0, limits.per_chat_per_s),
        ]
        if chat_id < 0:
            group = self._per_group.setdefault(chat_id, deque())
            windows.append((group, 60.0, limits.per_group_per_min))
        for window, span, capacity in windows:
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= capacity:
                raise _ApiError(
                    429,
                    f"Too Many Requests: retry after {limits.retry_after}",
                    {"retry_after": limits.retry_after},
                )
        for window, _span, _capacity in windows:
            window.append(now)
