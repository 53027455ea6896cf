"""The bot's own identity and settings: getMe, logOut/close, commands, the menu button, name and
descriptions.
"""

from __future__ import annotations

import json
import re

from bot.rehearsal.emulator.chats import ChatsMixin
from bot.rehearsal.emulator.journal import JournalMixin
from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError, _Handler, _int_param, _str_param, _Upload

_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")


class BotSettingsMixin(ChatsMixin, JournalMixin):
    """Handlers of the methods about the bot itself."""

    def _true(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        return True

    def _get_me(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _commands_key(self, p: JSONDict) -> tuple[str, str]:
        scope = p.get("scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), _str_param(p, "language_code") or ""

    def _set_my_commands(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise _ApiError(400, "Bad Request: too many commands specified")
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise _ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            if not _BOT_COMMAND_NAME_RE.fullmatch(str(cmd.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise _ApiError(400, "Bad Request: command description is empty or too long")
        key = self._commands_key(p)
        self.commands[key] = commands
        self._record("setMyCommands", p, None, None, None, True)
        return True

    def _delete_my_commands(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        self.commands.pop(self._commands_key(p), None)
        self._record("deleteMyCommands", p, None, None, None, True)
        return True

    def _get_my_commands(self, p: JSONDict, files: dict[str, _Upload]) -> list[JSONDict]:
        return list(self.commands.get(self._commands_key(p), []))

    def _set_chat_menu_button(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        chat_id: int | None = None
        if p.get("chat_id") not in (None, ""):
            chat_id = int(self._target_chat(p)["id"])
        button = p.get("menu_button")
        if button is None:
            button = {"type": "default"}
        if not isinstance(button, dict) or "type" not in button:
            raise _ApiError(400, "Bad Request: can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        self._record("setChatMenuButton", p, chat_id, None, None, True)
        return True

    def _get_chat_menu_button(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat_id = _int_param(p, "chat_id")
        button = self.menu_buttons.get(chat_id) or self.menu_buttons.get(None)
        return button or {"type": "default"}

    def _set_bot_text(self, key: str) -> _Handler:
        def handler(p: JSONDict, files: dict[str, _Upload]) -> bool:
            self.bot_texts[key] = _str_param(p, key) or ""
            return True

        return handler

    def _get_bot_text(self, key: str) -> _Handler:
        def handler(p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
            return {key: self.bot_texts.get(key, "")}

        return handler
