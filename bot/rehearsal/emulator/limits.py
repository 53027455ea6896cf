"""Telegram's rate limits on sending (overall, per chat, per group), answered with 429 and a
retry_after when exceeded, and paid broadcasts: a message sent with ``allow_paid_broadcast``
skips the ~30/s overall limit for up to ``paid_per_s`` (1000) messages a second, paid with
0.1 Telegram Star from the bot's balance.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError

PAID_BROADCAST_TENTHS = 1
"""A paid broadcast message costs 0.1 Star; stars are kept in tenths so sums stay exact."""
DEFAULT_STAR_BALANCE = 1_000_000
BALANCE_TOO_LOW = "Bad Request: BALANCE_TOO_LOW"
"""Telegram's answer when the bot's Stars cannot pay for a paid broadcast message."""


def paid_broadcast(p: JSONDict) -> bool:
    """Whether a send asks for a paid broadcast (``allow_paid_broadcast``)."""
    return p.get("allow_paid_broadcast") is True


@dataclass(slots=True)
class _RateLimits:
    global_per_s: float
    per_chat_per_s: float
    per_group_per_min: float
    retry_after: int
    paid_per_s: float = 1000.0


class StarWallet:
    """The bot's Telegram Stars: what paid broadcasts have cost and what is left."""

    __slots__ = ("_balance", "_charged", "paid_messages")

    def __init__(self, stars: float = DEFAULT_STAR_BALANCE) -> None:
        self._balance = round(stars * 10)
        self._charged = 0
        self.paid_messages = 0

    @property
    def balance(self) -> float:
        return self._balance / 10

    @balance.setter
    def balance(self, stars: float) -> None:
        self._balance = round(stars * 10)

    @property
    def charged(self) -> float:
        """Stars spent on paid broadcasts since the server started."""
        return self._charged / 10

    def can_pay(self) -> bool:
        return self._balance >= PAID_BROADCAST_TENTHS

    def pay(self) -> None:
        self._balance -= PAID_BROADCAST_TENTHS
        self._charged += PAID_BROADCAST_TENTHS
        self.paid_messages += 1


class RateLimiter:
    """Telegram's limits on sending messages, off until :meth:`enforce` turns them on.

    Paid broadcasts are billed whether or not limits are enforced. Enforced, a free message
    counts against ``global_per_s``; every message, paid or not, against ``paid_per_s``
    (the most Telegram takes from one bot in a second); per chat and per group limits hold
    for both.
    """

    __slots__ = ("_global", "_limits", "_paid", "_per_chat", "_per_group", "wallet")

    def __init__(self) -> None:
        self._limits: _RateLimits | None = None
        self._global: deque[float] = deque()
        self._paid: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = {}
        self._per_group: dict[int, deque[float]] = {}
        self.wallet = StarWallet()

    def enforce(self, limits: _RateLimits) -> None:
        self._limits = limits
        self._global.clear()
        self._paid.clear()
        self._per_chat.clear()
        self._per_group.clear()

    def lift(self) -> None:
        self._limits = None

    def check(self, chat_id: int, paid: bool = False) -> None:
        """Raise the error Telegram would answer a send to ``chat_id`` with, or count it."""
        if paid and not self.wallet.can_pay():
            raise _ApiError(400, BALANCE_TOO_LOW)
        limits = self._limits
        if limits is not None:
            self._count(limits, chat_id, paid)
        if paid:
            self.wallet.pay()

    def _count(self, limits: _RateLimits, chat_id: int, paid: bool) -> None:
        now = time.monotonic()
        windows: list[tuple[deque[float], float, float]] = [
            (self._paid, 1.0, limits.paid_per_s),
            (self._per_chat.setdefault(chat_id, deque()), 1.0, limits.per_chat_per_s),
        ]
        if not paid:
            windows.append((self._global, 1.0, limits.global_per_s))
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
        if len(self._per_chat) > 4 * limits.paid_per_s:
            # A broadcast touches thousands of chats once each: forget the quiet ones.
            self._per_chat = {c: w for c, w in self._per_chat.items() if w and w[-1] > now - 1}
