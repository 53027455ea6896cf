"""Bot API methods on messages: sending and editing texts, deleting, locations, answering
callback queries, chat actions and pins.
"""

from __future__ import annotations

from bot.rehearsal.emulator.chats import ChatsMixin
from bot.rehearsal.emulator.content import (
    _caption,
    _check_markup,
    _echo_markup,
    _ensure_modified,
    _render_text_param,
)
from bot.rehearsal.emulator.journal import JournalMixin
from bot.rehearsal.emulator.limits import paid_broadcast
from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError, _float_param, _str_param, _Upload

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class MessagesMixin(ChatsMixin, JournalMixin):
    """Handlers of the message methods."""

    def _send_message(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        plain, entities = _render_text_param(p, "message is too long")
        markup = _check_markup(p.get("reply_markup"))
        self._rate.check(int(chat["id"]), paid_broadcast(p))
        extra: JSONDict = {"text": plain}
        if entities:
            extra["entities"] = entities
        extra.update(_echo_markup(markup))
        msg = self._new_bot_message(chat, p, extra)
        self._record("sendMessage", p, chat["id"], plain, msg["message_id"], msg)
        return msg

    def _edit_message_text(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict | bool:
        if p.get("inline_message_id"):
            plain, _entities = _render_text_param(p, "MESSAGE_TOO_LONG")
            self._record("editMessageText", p, None, plain, None, True)
            return True
        old = self._editable(p)
        if "text" not in old:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        plain, entities = _render_text_param(p, "MESSAGE_TOO_LONG")
        markup = _check_markup(p.get("reply_markup"))
        new: JSONDict = {
            k: v for k, v in old.items() if k not in ("entities", "reply_markup", "edit_date")
        }
        new["text"] = plain
        if entities:
            new["entities"] = entities
        new.update(_echo_markup(markup))
        _ensure_modified(old, new)
        new["edit_date"] = self._edit_date(old)
        self._store(new)
        self._record("editMessageText", p, old["chat"]["id"], plain, old["message_id"], new)
        return new

    def _edit_message_caption(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict | bool:
        if p.get("inline_message_id"):
            self._record("editMessageCaption", p, None, _str_param(p, "caption"), None, True)
            return True
        old = self._editable(p)
        if not any(k in old for k in ("photo", "document", "video", "audio", "animation")):
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = _caption(p)
        markup = _check_markup(p.get("reply_markup"))
        new: JSONDict = {
            k: v
            for k, v in old.items()
            if k not in ("caption", "caption_entities", "reply_markup", "edit_date")
        }
        new.update(caption)
        new.update(_echo_markup(markup))
        _ensure_modified(old, new)
        new["edit_date"] = self._edit_date(old)
        self._store(new)
        self._record(
            "editMessageCaption",
            p,
            old["chat"]["id"],
            new.get("caption"),
            old["message_id"],
            new,
        )
        return new

    def _edit_message_reply_markup(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict | bool:
        markup = _check_markup(p.get("reply_markup"))
        if p.get("inline_message_id"):
            self._record("editMessageReplyMarkup", p, None, None, None, True)
            return True
        old = self._editable(p)
        new: JSONDict = {k: v for k, v in old.items() if k not in ("reply_markup", "edit_date")}
        new.update(_echo_markup(markup))
        _ensure_modified(old, new)
        new["edit_date"] = self._edit_date(old)
        self._store(new)
        self._record("editMessageReplyMarkup", p, old["chat"]["id"], None, old["message_id"], new)
        return new

    def _delete_message(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        msg = self._target_message(p, "message to delete not found")
        chat_id, message_id = int(msg["chat"]["id"]), int(msg["message_id"])
        del self._messages[(chat_id, message_id)]
        self._record("deleteMessage", p, chat_id, None, message_id, True)
        return True

    def _send_location(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        lat, lon = _float_param(p, "latitude"), _float_param(p, "longitude")
        if lat is None or not -90 <= lat <= 90:
            raise _ApiError(400, "Bad Request: wrong latitude")
        if lon is None or not -180 <= lon <= 180:
            raise _ApiError(400, "Bad Request: wrong longitude")
        location: JSONDict = {"latitude": lat, "longitude": lon}
        for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
            value = _float_param(p, key)
            if value is not None:
                location[key] = value if key == "horizontal_accuracy" else int(value)
        markup = _check_markup(p.get("reply_markup"))
        msg = self._new_bot_message(chat, p, {"location": location, **_echo_markup(markup)})
        self._record("sendLocation", p, chat["id"], None, msg["message_id"], msg)
        return msg

    def _answer_callback_query(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        query_id = _str_param(p, "callback_query_id") or ""
        known = self._callbacks.get(query_id)
        if known is None or known[1]:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._callbacks[query_id] = (known[0], True)
        self._record("answerCallbackQuery", p, known[0], _str_param(p, "text"), None, True)
        return True

    def _send_chat_action(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        chat = self._target_chat(p)
        if _str_param(p, "action") not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        self._record("sendChatAction", p, chat["id"], None, None, True)
        return True

    def _pin_chat_message(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        msg = self._target_message(p, "message to pin not found")
        chat_id, message_id = int(msg["chat"]["id"]), int(msg["message_id"])
        self.pinned[chat_id] = message_id
        self._record("pinChatMessage", p, chat_id, None, message_id, True)
        return True

    def _unpin_chat_message(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        chat_id = int(self._target_chat(p)["id"])
        self.pinned.pop(chat_id, None)
        return True
