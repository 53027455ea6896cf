"""Chats and the messages in them: where user messages are filed, how ``chat_id`` and
``message_id`` parameters resolve (blocked, unknown and migrated chats included), and getChat.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bot.rehearsal.emulator.records import FakeUser, JSONDict, MessageRef, Sent, _unwrap_message
from bot.rehearsal.emulator.state import EmulatorState
from bot.rehearsal.emulator.wire import _ApiError, _int_param, _truthy, _Upload


class ChatsMixin(EmulatorState):
    """Chats, the messages they hold, and resolving the bot's references to them."""

    def _chat_for_user(
        self, user: FakeUser, chat_id: int | None, chat_type: str, title: str | None
    ) -> JSONDict:
        if chat_type == "private":
            if chat_id is not None and chat_id != user.id:
                raise ValueError("a private chat's id is the user's id")
            chat = user.private_chat()
        else:
            if chat_id is None:
                raise ValueError(f"a {chat_type} chat needs an explicit chat_id")
            known = self._chats.get(chat_id)
            chat = {"id": chat_id, "type": chat_type, "title": title or _title(known, chat_id)}
        self._register_chat(chat)
        return chat

    def _register_chat(self, chat: JSONDict) -> None:
        self._chats[int(chat["id"])] = chat
        username = chat.get("username")
        if isinstance(username, str):
            self._usernames[username.lower()] = int(chat["id"])

    def _next_message_id(self, chat_id: int) -> int:
        mid = self._message_seq.get(chat_id, 0) + 1
        self._message_seq[chat_id] = mid
        return mid

    def _store(self, msg: JSONDict) -> None:
        self._messages[(int(msg["chat"]["id"]), int(msg["message_id"]))] = msg

    def _edit_date(self, old: Mapping[str, Any]) -> int:
        # PTB and handlers compare edit_date with date; never let an edit predate its message.
        return max(int(time.time()), int(old.get("date", 0)))

    def _user_message(
        self,
        user: FakeUser,
        extra: JSONDict,
        chat_id: int | None,
        chat_type: str,
        chat_title: str | None,
        forward_from: FakeUser | None,
        *,
        reply_to: MessageRef | None = None,
    ) -> JSONDict:
        chat = self._chat_for_user(user, chat_id, chat_type, chat_title)
        now = int(time.time())
        msg: JSONDict = {
            "message_id": self._next_message_id(int(chat["id"])),
            "from": user.to_api(),
            "chat": chat,
            "date": now,
        }
        if forward_from is not None:
            msg["forward_origin"] = {
                "type": "user",
                "sender_user": forward_from.to_api(),
                "date": now - 60,
            }
        if reply_to is not None:
            msg["reply_to_message"] = _without_reply(self._current_message(reply_to))
        msg.update(extra)
        self._store(msg)
        return msg

    def _current_message(self, ref: MessageRef) -> JSONDict:
        if isinstance(ref, Sent):
            if ref.chat_id is None or ref.message_id is None:
                raise ValueError(f"record {ref.method} does not refer to a message")
            key = (ref.chat_id, ref.message_id)
        else:
            msg = _unwrap_message(ref)
            key = (int(msg["chat"]["id"]), int(msg["message_id"]))
        current = self._messages.get(key)
        if current is None:
            raise ValueError(f"message {key[1]} in chat {key[0]} does not exist (deleted?)")
        return current

    def _target_chat(self, p: JSONDict) -> JSONDict:
        raw = p.get("chat_id")
        if raw is None or raw == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(raw, str):
            found = self._usernames.get(raw.lstrip("@").lower()) if raw.startswith("@") else None
            if found is None:
                raise _ApiError(400, "Bad Request: chat not found")
            chat_id = found
        elif isinstance(raw, int) and not isinstance(raw, bool):
            chat_id = raw
        else:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self._migrated:
            raise _ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[chat_id]},
            )
        if chat_id in self._unknown or chat_id == 0:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        chat = self._chats.get(chat_id)
        if chat is None:
            # Chats the emulator never saw behave like existing ones, so tests need no setup.
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            else:
                chat_type = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
                chat = {"id": chat_id, "type": chat_type, "title": _title(None, chat_id)}
            self._register_chat(chat)
        return chat

    def _target_message(self, p: JSONDict, not_found: str) -> JSONDict:
        chat = self._target_chat(p)
        message_id = _int_param(p, "message_id")
        if message_id is None:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        msg = self._messages.get((int(chat["id"]), message_id))
        if msg is None:
            raise _ApiError(400, f"Bad Request: {not_found}")
        return msg

    def _editable(self, p: JSONDict) -> JSONDict:
        msg = self._target_message(p, "message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return msg

    def _new_bot_message(self, chat: JSONDict, p: JSONDict, extra: JSONDict) -> JSONDict:
        chat_id = int(chat["id"])
        msg: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        reply = self._reply_target(chat_id, p)
        if reply is not None:
            msg["reply_to_message"] = _without_reply(reply)
        msg.update(extra)
        self._store(msg)
        return msg

    def _reply_target(self, chat_id: int, p: JSONDict) -> JSONDict | None:
        reply_params = p.get("reply_parameters")
        allow_missing = _truthy(p.get("allow_sending_without_reply"))
        if isinstance(reply_params, dict):
            reply_id = _int_param(reply_params, "message_id")
            allow_missing = allow_missing or _truthy(
                reply_params.get("allow_sending_without_reply")
            )
        else:
            reply_id = _int_param(p, "reply_to_message_id")
        if reply_id is None:
            return None
        target = self._messages.get((chat_id, reply_id))
        if target is None and not allow_missing:
            raise _ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _get_chat(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }


def _title(chat: Mapping[str, Any] | None, chat_id: int) -> str:
    if chat is not None and isinstance(chat.get("title"), str):
        return str(chat["title"])
    return f"Posko Group {abs(chat_id)}"


def _without_reply(msg: Mapping[str, Any]) -> JSONDict:
    # Telegram never nests reply_to_message more than one level deep.
    return {k: v for k, v in msg.items() if k != "reply_to_message"}
