"""What users do: updates injected as a Telegram client would produce them (texts, locations,
photos, documents, edits, button taps) and raw updates verbatim.
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Mapping
from typing import Any

from bot.rehearsal.emulator.chats import ChatsMixin
from bot.rehearsal.emulator.formatting import _u16len
from bot.rehearsal.emulator.records import FakeUser, JSONDict, MessageRef, inline_buttons

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


class UsersMixin(ChatsMixin):
    """Injecting updates on behalf of fake users."""

    def send_text(
        self,
        user: FakeUser,
        text: str,
        chat_id: int | None = None,
        chat_type: str = "private",
        forward_from: FakeUser | None = None,
        *,
        chat_title: str | None = None,
        reply_to: MessageRef | None = None,
        entities: list[JSONDict] | None = None,
    ) -> JSONDict:
        ents: list[JSONDict] = []
        command = _COMMAND_RE.match(text)
        if command:
            ents.append({"type": "bot_command", "offset": 0, "length": _u16len(command.group())})
        if entities:
            ents.extend(entities)
        extra: JSONDict = {"text": text}
        if ents:
            extra["entities"] = ents
        msg = self._user_message(
            user, extra, chat_id, chat_type, chat_title, forward_from, reply_to=reply_to
        )
        return self._inject("message", msg)

    def send_location(
        self,
        user: FakeUser,
        lat: float,
        lon: float,
        *,
        live_period: int | None = None,
        horizontal_accuracy: float | None = None,
        forward_from: FakeUser | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> JSONDict:
        location: JSONDict = {"latitude": lat, "longitude": lon}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        if live_period is not None:
            location["live_period"] = live_period
        msg = self._user_message(
            user, {"location": location}, chat_id, chat_type, None, forward_from
        )
        return self._inject("message", msg)

    def edit_location(
        self,
        user: FakeUser,
        message: MessageRef,
        lat: float,
        lon: float,
        horizontal_accuracy: float | None = None,
    ) -> JSONDict:
        old = self._current_message(message)
        location = old.get("location")
        if not isinstance(location, dict) or "live_period" not in location:
            raise ValueError("only live-location messages can be edited into a new position")
        if old["from"]["id"] != user.id:
            raise ValueError("a user can only move their own live location")
        new_location: JSONDict = {**location, "latitude": lat, "longitude": lon}
        if horizontal_accuracy is None:
            new_location.pop("horizontal_accuracy", None)
        else:
            new_location["horizontal_accuracy"] = horizontal_accuracy
        new = {**old, "location": new_location, "edit_date": self._edit_date(old)}
        self._store(new)
        return self._inject("edited_message", new)

    def edit_text(self, user: FakeUser, message: MessageRef, new_text: str) -> JSONDict:
        old = self._current_message(message)
        if "text" not in old:
            raise ValueError("message has no text to edit")
        if old["from"]["id"] != user.id:
            raise ValueError("a user can only edit their own messages")
        new = {**old, "text": new_text, "edit_date": self._edit_date(old)}
        new.pop("entities", None)
        command = _COMMAND_RE.match(new_text)
        if command:
            new["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _u16len(command.group())}
            ]
        self._store(new)
        return self._inject("edited_message", new)

    def send_photo(
        self,
        user: FakeUser,
        file_id: str | None = None,
        caption: str | None = None,
        *,
        content: bytes | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        media_group_id: str | None = None,
    ) -> JSONDict:
        known = self._files.get(file_id) if file_id else None
        if known is not None and known.kind == "photo":
            sizes = list(known.obj)
        else:
            sizes = self._files.new_photo(content or b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9", file_id)
        extra: JSONDict = {"photo": sizes}
        if caption is not None:
            extra["caption"] = caption
        if media_group_id is not None:
            extra["media_group_id"] = media_group_id
        msg = self._user_message(user, extra, chat_id, chat_type, None, None)
        return self._inject("message", msg)

    def send_video(
        self,
        user: FakeUser,
        content: bytes = b"\x00\x00\x00\x18ftypmp42fake-video",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> JSONDict:
        extra: JSONDict = {"video": self._files.new_video(content)}
        if caption is not None:
            extra["caption"] = caption
        msg = self._user_message(user, extra, chat_id, chat_type, None, None)
        return self._inject("message", msg)

    def send_document(
        self,
        user: FakeUser,
        file_name: str,
        content: bytes,
        mime_type: str,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        media_group_id: str | None = None,
    ) -> JSONDict:
        extra: JSONDict = {"document": self._files.new_document(content, file_name, mime_type)}
        if caption is not None:
            extra["caption"] = caption
        if media_group_id is not None:
            extra["media_group_id"] = media_group_id
        msg = self._user_message(user, extra, chat_id, chat_type, None, None)
        return self._inject("message", msg)

    def press_button(
        self,
        user: FakeUser,
        message: MessageRef,
        callback_data: str,
        *,
        check: bool = True,
    ) -> JSONDict:
        """Inject a callback_query as if ``user`` tapped a button of a message the bot sent.

        With ``check`` the message must currently carry a button with that callback_data,
        as only such taps are possible in a real client.
        """
        current = self._current_message(message)
        if current["from"]["id"] != self.bot_id:
            raise ValueError("only messages sent by the bot carry inline buttons")
        if check:
            available = [data for _text, data in inline_buttons(current)]
            if callback_data not in available:
                raise ValueError(
                    f"message has no button with callback_data {callback_data!r}; "
                    f"it has {available}"
                )
        chat_id = int(current["chat"]["id"])
        query_id = str(next(self._callback_seq))
        self._callbacks[query_id] = (chat_id, False)
        query = {
            "id": query_id,
            "from": user.to_api(),
            "message": current,
            "chat_instance": str(-7_000_000_000_000_000_000 - chat_id),
            "data": callback_data,
        }
        return self._inject("callback_query", query, chat_id)

    def send_raw(self, update: Mapping[str, Any]) -> JSONDict:
        """Inject any update verbatim (channel_post, sticker messages, ...)."""
        upd = dict(update)
        if "update_id" not in upd:
            self._last_update_id += 1
            upd["update_id"] = self._last_update_id
        uid = int(upd["update_id"])
        self._last_update_id = max(self._last_update_id, uid)
        if not self._pending or self._pending[-1]["update_id"] < uid:
            self._pending.append(upd)
        else:
            items = list(self._pending)
            bisect.insort(items, upd, key=lambda u: int(u["update_id"]))
            self._pending = deque(items)
        for value in upd.values():
            if isinstance(value, dict) and isinstance(value.get("chat"), dict):
                chat = value["chat"]
                self._chat_mark[int(chat["id"])] = len(self.sent)
                self._chats.setdefault(int(chat["id"]), chat)
                if "message_id" in value:
                    self._messages.setdefault((int(chat["id"]), int(value["message_id"])), value)
        self._update_signal.fire()
        return upd

    def _inject(self, kind: str, payload: JSONDict, chat_id: int | None = None) -> JSONDict:
        self._last_update_id += 1
        update = {"update_id": self._last_update_id, kind: payload}
        self._pending.append(update)
        if chat_id is None and isinstance(payload.get("chat"), dict):
            chat_id = int(payload["chat"]["id"])
        if chat_id is not None:
            self._chat_mark[chat_id] = len(self.sent)
        self._update_signal.fire()
        return update
