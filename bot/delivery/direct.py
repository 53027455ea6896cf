"""Counting the replies the bot sends straight to a person, so the outbox sender keeps
them inside Telegram's limits too."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import telegram
from telegram._utils.types import JSONDict
from telegram.ext import BaseRateLimiter


class DirectSendListener(Protocol):
    def note_direct_send(self, chat_id: int) -> None: ...


# Marks the sender's own requests for DirectSendCounter (they are counted already).
OUTBOX_SEND = {"outbox": True}
DIRECT_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendMediaGroup", "sendVideo"}
)


AlbumItem = telegram.InputMediaPhoto | telegram.InputMediaVideo | telegram.InputMediaDocument
_INPUT_MEDIA: dict[str, type[AlbumItem]] = {
    "photo": telegram.InputMediaPhoto,
    "video": telegram.InputMediaVideo,
    "document": telegram.InputMediaDocument,
}


def input_media(item: dict[str, Any]) -> AlbumItem:
    """An album item written as Bot API JSON (as the outbox stores it) → the PTB object."""
    kind = _INPUT_MEDIA.get(str(item.get("type")))
    if kind is None:
        raise ValueError(f"unsupported album item type {item.get('type')!r}")
    return kind(media=str(item["media"]), caption=item.get("caption"))


async def send_call(bot: telegram.Bot, chat_id: int, method: str, payload: dict[str, Any]) -> None:
    """Send one non-text call (album, photo, video, document, map pin) straight to a chat,
    as a reply to the person who asked; the outbox sends the same payloads on its own."""
    caption = payload.get("caption")
    if method == "sendMediaGroup":
        await bot.send_media_group(chat_id, [input_media(m) for m in payload["media"]])
    elif method == "sendPhoto":
        await bot.send_photo(chat_id, payload["photo"], caption=caption)
    elif method == "sendVideo":
        await bot.send_video(chat_id, payload["video"], caption=caption)
    elif method == "sendDocument":
        await bot.send_document(chat_id, payload["document"], caption=caption)
    elif method == "sendLocation":
        await bot.send_location(chat_id, payload["latitude"], payload["longitude"])
    else:
        raise ValueError(f"not a direct evidence call: {method}")


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
