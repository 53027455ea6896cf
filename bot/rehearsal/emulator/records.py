"""What tests hand to the emulator and read back from it: users, records of the bot's calls,
and readers for the keyboards attached to messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]

SENDING_METHODS: frozenset[str] = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "deleteMessage",
        "sendPhoto",
        "sendDocument",
        "sendLocation",
        "sendMediaGroup",
        "answerCallbackQuery",
        "sendChatAction",
        "setMyCommands",
        "deleteMyCommands",
        "setChatMenuButton",
        "pinChatMessage",
    }
)
"""Methods whose calls are recorded in :attr:`FakeBotApi.sent` and hit by untargeted faults."""

REPLY_METHODS: frozenset[str] = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "editMessageText"}
)
"""Methods that :meth:`FakeBotApi.wait_reply` treats as "the bot answered"."""


@dataclass
class FakeUser:
    """A Telegram user that injects updates."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "id"

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None:
            data["language_code"] = self.language_code
        return data

    def private_chat(self) -> JSONDict:
        chat: JSONDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        return chat


@dataclass(slots=True)
class Sent:
    """One call of a sending method made by the bot.

    ``text`` is what the user sees (text or caption after parse-mode rendering and trimming);
    the raw argument stays in ``params``. ``result`` is the object the server answered with.
    For rejected calls (see :attr:`FakeBotApi.rejected`) ``error_code``/``description`` are set.
    """

    method: str
    params: JSONDict
    chat_id: int | None
    text: str | None
    message_id: int | None
    at: float
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None
    index: int = -1
    error_code: int | None = None
    description: str | None = None


MessageRef = Sent | Mapping[str, Any]
"""A message as a :class:`Sent` record, a Message dict, or an Update dict holding one."""


def inline_keyboard(sent: MessageRef) -> list[list[JSONDict]]:
    """Rows of raw InlineKeyboardButton dicts attached to a sent record or message."""
    markup = _markup_of(sent)
    rows = markup.get("inline_keyboard") if markup else None
    if not isinstance(rows, list):
        return []
    return [[b for b in row if isinstance(b, dict)] for row in rows if isinstance(row, list)]


def inline_buttons(sent: MessageRef) -> list[tuple[str, str]]:
    """``(text, callback_data)`` of every callback button, row by row."""
    return [
        (str(b.get("text", "")), b["callback_data"])
        for row in inline_keyboard(sent)
        for b in row
        if isinstance(b.get("callback_data"), str)
    ]


def reply_keyboard(sent: MessageRef) -> list[list[str]]:
    """Button texts of a ReplyKeyboardMarkup, row by row (empty if there is none)."""
    markup = _markup_of(sent)
    rows = markup.get("keyboard") if markup else None
    if not isinstance(rows, list):
        return []
    return [
        [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
        for row in rows
        if isinstance(row, list)
    ]


def _markup_of(sent: MessageRef) -> JSONDict | None:
    if isinstance(sent, Sent):
        markup = sent.params.get("reply_markup")
    else:
        msg = _unwrap_message(sent)
        markup = msg.get("reply_markup")
    return markup if isinstance(markup, dict) else None


def _unwrap_message(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    if "update_id" in obj:
        for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                return inner
        cq = obj.get("callback_query")
        if isinstance(cq, Mapping) and isinstance(cq.get("message"), Mapping):
            return cq["message"]  # type: ignore[no-any-return]
        raise ValueError("update holds no message")
    return obj
