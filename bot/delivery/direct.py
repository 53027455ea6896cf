"""Counting the replies the bot sends straight to a person, so the outbox sender keeps
them inside Telegram's limits too."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from telegram._utils.types import JSONDict
from telegram.ext import BaseRateLimiter


class DirectSendListener(Protocol):
    def note_direct_send(self, chat_id: int) -> None: ...


# Marks the sender's own requests for DirectSendCounter (they are counted already).
OUTBOX_SEND = {"outbox": True}
DIRECT_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendMediaGroup"}
)


class DirectSendCounter(BaseRateLimiter[dict[str, bool]]):
    """Sees every Bot API request (PTB's rate-limiter hook) and tells the sender about the
    messages that did not come from the outbox. It never delays anything: replies to a
    person who just wrote are not held back; the outbox yields to them instead."""

    def __init__(self) -> None:
        self.sender: DirectSendListener | None = None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, bool] | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if self.sender is not None and rate_limit_args is None and endpoint in DIRECT_METHODS:
            chat_id = data.get("chat_id")
            if isinstance(chat_id, int):
                self.sender.note_direct_send(chat_id)
        return await callback(*args, **kwargs)
