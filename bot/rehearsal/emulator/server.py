"""The fake Bot API server: :class:`FakeBotApi` assembled from its parts, the aiohttp application
and the routing of ``/bot<token>/<method>`` to the method handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.rehearsal.emulator.faults import FaultsMixin
from bot.rehearsal.emulator.media import MediaMixin
from bot.rehearsal.emulator.messages import MessagesMixin
from bot.rehearsal.emulator.settings import BotSettingsMixin
from bot.rehearsal.emulator.updates import UpdatesMixin
from bot.rehearsal.emulator.users import UsersMixin
from bot.rehearsal.emulator.wire import (
    _ApiError,
    _drop,
    _error_response,
    _Handler,
    _ok_response,
    _read_params,
)


class FakeBotApi(
    UsersMixin,
    UpdatesMixin,
    MessagesMixin,
    MediaMixin,
    BotSettingsMixin,
    FaultsMixin,
):
    """An in-process Telegram Bot API server speaking real HTTP on ``host:port``.

    Observable state for tests: ``sent`` (successful calls of :data:`SENDING_METHODS`),
    ``rejected`` (calls of any method but getUpdates answered with an error), ``n_requests``
    (per method, every request that reached the server), ``n_429`` (every 429 answered,
    injected or rate-enforced), ``acknowledged_update_id`` and the webhook/commands state.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "posko_test_bot",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot_first_name: str = "Posko Test",
    ) -> None:
        super().__init__(token, bot_username, host, port, bot_first_name)

        self._handlers: dict[str, _Handler] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendLocation": self._send_location,
            "sendMediaGroup": self._send_media_group,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "pinChatMessage": self._pin_chat_message,
            "unpinChatMessage": self._unpin_chat_message,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "setMyDescription": self._set_bot_text("description"),
            "getMyDescription": self._get_bot_text("description"),
            "setMyShortDescription": self._set_bot_text("short_description"),
            "getMyShortDescription": self._get_bot_text("short_description"),
            "setMyName": self._set_bot_text("name"),
            "getMyName": self._get_bot_text("name"),
        }
        # Telegram matches method names case-insensitively.
        self._methods = {name.lower(): name for name in [*self._handlers, "getUpdates"]}

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing = True
        self._closing_signal.fire()
        self._update_signal.fire()
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---------------------------------------------------------------- addresses

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for PTB's ``base_url`` (the token is appended by PTB)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self.url}/file/bot"

    # ---------------------------------------------------------------- HTTP layer

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        raw_method = request.match_info["method"]
        method = self._methods.get(raw_method.lower())
        self.n_requests[method or raw_method] += 1
        if self.is_down:
            return _error_response(502, "Bad Gateway")
        token = request.match_info["token"]
        if token != self.token:
            if re.fullmatch(r"\d+:[\w-]+", token):
                return _error_response(401, "Unauthorized")
            return _error_response(404, "Not Found")
        if method is None:
            return _error_response(404, "Not Found")
        try:
            params, files = await _read_params(request)
        except ValueError:
            return _error_response(400, "Bad Request: can't parse request")

        fault = self._take_fault(method) if self._faults else None
        if fault is not None:
            if fault.kind == "delay":
                await self._sleep(fault.seconds)
            elif fault.kind == "drop" and not fault.after_processing:
                return _drop(request)
            elif fault.kind == "fail":
                self._reject(method, params, files, fault.status, fault.description or "")
                return _error_response(fault.status, fault.description or "", fault.parameters)

        try:
            if method == "getUpdates":
                result: Any = await self._get_updates(params)
            else:
                result = self._handlers[method](params, files)
        except _ApiError as exc:
            self._reject(method, params, files, exc.code, exc.description)
            return _error_response(exc.code, exc.description, exc.parameters)
        if fault is not None and fault.kind == "drop":
            return _drop(request)
        return _ok_response(result)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if self.is_down:
            return _error_response(502, "Bad Gateway")
        stored = self._files.at_path(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return _error_response(404, "Not Found")
        return web.Response(body=stored.data, content_type="application/octet-stream")
