"""The failures Telegram is known for, on demand: error answers, late answers, dropped
connections, blocked, unknown and migrated chats, outages and enforced rate limits.
"""

from __future__ import annotations

import time
from http import HTTPStatus

from bot.rehearsal.emulator.chats import _title
from bot.rehearsal.emulator.limits import _RateLimits
from bot.rehearsal.emulator.records import SENDING_METHODS, JSONDict
from bot.rehearsal.emulator.state import EmulatorState, _Fault


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class FaultsMixin(EmulatorState):
    """Fault injection; :meth:`_take_fault` is consulted by the HTTP layer on every call."""

    def fail_next(
        self,
        method: str | None,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error.

        ``method=None`` targets any of :data:`SENDING_METHODS`; other methods (getUpdates,
        getMe, ...) are only affected when named explicitly.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        parameters: JSONDict = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        self._faults.append(
            _Fault(
                "fail",
                method,
                count,
                status=status,
                description=description or _default_description(status, retry_after),
                parameters=parameters or None,
            )
        )

    def delay_next(self, method: str | None, seconds: float, count: int = 1) -> None:
        """Answer the next calls late. The call still takes effect even if the client gave up,
        as a real server would have processed it."""
        self._faults.append(_Fault("delay", method, count, seconds=seconds))

    def drop_next(
        self, method: str | None, count: int = 1, *, after_processing: bool = False
    ) -> None:
        """Close the connection without answering.

        With ``after_processing`` the call takes effect first (the response is what gets
        lost), which is the case that produces duplicates on naive retries.
        """
        self._faults.append(_Fault("drop", method, count, after_processing=after_processing))

    def clear_faults(self) -> None:
        self._faults.clear()
        self._blocked.clear()
        self._unknown.clear()
        self._migrated.clear()
        self._rate.lift()
        self._down = False
        self._down_until = 0.0

    def block_chat(self, chat_id: int) -> None:
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def unknown_chat(self, chat_id: int) -> None:
        self._unknown.add(chat_id)

    def migrate_chat(self, old: int, new: int) -> None:
        self._migrated[old] = new
        chat = self._chats.get(old)
        self._chats.setdefault(
            new, {**(chat or {}), "id": new, "type": "supergroup", "title": _title(chat, new)}
        )

    def enforce_rate_limits(
        self,
        global_per_s: float = 30,
        per_chat_per_s: float = 1,
        per_group_per_min: float = 20,
        retry_after: int = 1,
        paid_per_s: float = 1000,
    ) -> None:
        """Answer 429 above Telegram's limits; a paid broadcast message (sent with
        ``allow_paid_broadcast``) skips ``global_per_s`` but not ``paid_per_s``."""
        self._rate.enforce(
            _RateLimits(global_per_s, per_chat_per_s, per_group_per_min, retry_after, paid_per_s)
        )

    @property
    def star_balance(self) -> float:
        """The bot's Telegram Stars; a paid broadcast message costs 0.1 and is refused
        (400 BALANCE_TOO_LOW) when the balance cannot pay for it."""
        return self._rate.wallet.balance

    @star_balance.setter
    def star_balance(self, stars: float) -> None:
        self._rate.wallet.balance = stars

    @property
    def stars_charged(self) -> float:
        """Stars paid for paid broadcast messages since the server started."""
        return self._rate.wallet.charged

    @property
    def paid_messages(self) -> int:
        """Messages sent (and paid for) with ``allow_paid_broadcast``."""
        return self._rate.wallet.paid_messages

    def outage(self, seconds: float) -> None:
        self._down_until = time.monotonic() + seconds

    def set_down(self, down: bool) -> None:
        self._down = down
        if not down:
            self._down_until = 0.0

    @property
    def is_down(self) -> bool:
        return self._down or time.monotonic() < self._down_until

    def _take_fault(self, method: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.method == method or (fault.method is None and method in SENDING_METHODS):
                fault.count -= 1
                if fault.count <= 0:
                    del self._faults[i]
                return fault
        return None
