"""What a message sent by the bot may hold: limits on text and captions, the checks on reply
markup, and the markup a sent or edited message carries back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.rehearsal.emulator.formatting import _render, _u16len
from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError, _str_param

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _render_text_param(p: JSONDict, too_long: str) -> tuple[str, list[JSONDict]]:
    text = _str_param(p, "text")
    if not text:
        raise _ApiError(400, "Bad Request: message text is empty")
    plain, entities = _render(text, _str_param(p, "parse_mode"), p.get("entities"))
    if not plain:
        raise _ApiError(400, "Bad Request: message text is empty")
    if _u16len(plain) > MAX_TEXT_LENGTH:
        raise _ApiError(400, f"Bad Request: {too_long}")
    return plain, entities


def _caption(p: JSONDict) -> JSONDict:
    caption = _str_param(p, "caption")
    if not caption:
        return {}
    plain, entities = _render(caption, _str_param(p, "parse_mode"), p.get("caption_entities"))
    if _u16len(plain) > MAX_CAPTION_LENGTH:
        raise _ApiError(400, "Bad Request: message caption is too long")
    extra: JSONDict = {"caption": plain} if plain else {}
    if entities and plain:
        extra["caption_entities"] = entities
    return extra


def _echo_markup(markup: JSONDict | None) -> JSONDict:
    # Messages only ever carry inline keyboards; reply keyboards live on the client.
    if markup and markup.get("inline_keyboard"):
        return {"reply_markup": {"inline_keyboard": markup["inline_keyboard"]}}
    return {}


def _ensure_modified(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    keys = ("text", "entities", "caption", "caption_entities", "reply_markup")
    if all(old.get(k) == new.get(k) for k in keys):
        raise _ApiError(
            400,
            "Bad Request: message is not modified: specified new message content and reply "
            "markup are exactly the same as a content and reply markup of the current message",
        )


def _check_markup(raw: Any) -> JSONDict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        rows = raw["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an '
                "Array of Arrays",
            )
        for row in rows:
            for button in row:
                _check_inline_button(button)
        return raw
    if "keyboard" in raw:
        rows = raw["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _ApiError(
                400,
                'Bad Request: field "keyboard" of the ReplyKeyboardMarkup must be an Array of '
                "Arrays",
            )
        for row in rows:
            for button in row:
                text = (
                    button
                    if isinstance(button, str)
                    else (button.get("text") if isinstance(button, dict) else None)
                )
                if not isinstance(text, str) or not text:
                    raise _ApiError(400, "Bad Request: can't parse keyboard button")
        return raw
    if raw.get("remove_keyboard") is True or raw.get("force_reply") is True:
        return raw
    raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")


def _check_inline_button(button: Any) -> None:
    prefix = "Bad Request: can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise _ApiError(400, prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise _ApiError(400, prefix + 'Field "text" must be of type String')
    if not any(k in button for k in _INLINE_BUTTON_ACTIONS):
        raise _ApiError(400, prefix + "Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not (
        isinstance(url, str) and url.startswith(("http://", "https://", "tg://"))
    ):
        raise _ApiError(400, f"Bad Request: inline keyboard button URL '{url}' is invalid")
