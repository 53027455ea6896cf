"""The fake Bot API server: :class:`FakeBotApi`, its state and its method handlers."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, Self

import aiohttp
from aiohttp import web

from bot.rehearsal.emulator.content import (
    _caption,
    _check_markup,
    _echo_markup,
    _ensure_modified,
    _render_text_param,
)
from bot.rehearsal.emulator.files import FileStore, _StoredFile
from bot.rehearsal.emulator.formatting import _u16len
from bot.rehearsal.emulator.limits import RateLimiter, _RateLimits
from bot.rehearsal.emulator.records import (
    REPLY_METHODS,
    SENDING_METHODS,
    FakeUser,
    JSONDict,
    MessageRef,
    Sent,
    _unwrap_message,
    inline_buttons,
    inline_keyboard,
    reply_keyboard,
)
from bot.rehearsal.emulator.wire import (
    _ApiError,
    _drop,
    _error_response,
    _float_param,
    _Handler,
    _int_param,
    _int_param_quiet,
    _ok_response,
    _read_params,
    _str_param,
    _truthy,
    _Upload,
)

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

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")


@dataclass(slots=True)
class _Fault:
    kind: Literal["fail", "delay", "drop"]
    method: str | None
    count: int
    status: int = 0
    description: str | None = None
    parameters: JSONDict | None = None
    seconds: float = 0.0
    after_processing: bool = False


class _Signal:
    """Wakes everyone currently waiting; costs nothing while nobody waits."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def fire(self) -> None:
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    async def wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass


def _describe(rec: Sent) -> str:
    text = "" if rec.text is None else f" text={rec.text[:60]!r}"
    err = "" if rec.error_code is None else f" -> {rec.error_code} {rec.description}"
    return f"#{rec.index} {rec.method} chat={rec.chat_id} message_id={rec.message_id}{text}{err}"


def _default_description(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class FakeBotApi:
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
        self.token = token
        self.bot_username = bot_username
        self.host = host
        self.port = port
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        self.sent: list[Sent] = []
        self.rejected: list[Sent] = []
        self.n_requests: Counter[str] = Counter()
        self.n_429 = 0
        self.acknowledged_update_id = 0

        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_allowed_updates: list[str] | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.pinned: dict[int, int] = {}
        self.bot_texts: dict[str, str] = {}

        self._runner: web.AppRunner | None = None
        self._closing = False
        self._closing_signal = _Signal()
        self._update_signal = _Signal()
        self._ack_signal = _Signal()
        self._sent_signal = _Signal()

        self._pending: deque[JSONDict] = deque()
        self._last_update_id = 100_000
        self._poll_generation = 0

        self._by_chat: dict[int, list[Sent]] = {}
        self._chat_mark: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._message_seq: dict[int, int] = {}
        self._chats: dict[int, JSONDict] = {}
        self._usernames: dict[str, int] = {}
        self._callbacks: dict[str, tuple[int | None, bool]] = {}
        self._callback_seq = itertools.count(4_000_000_000_000_000_001)
        self._files = FileStore()

        self._faults: list[_Fault] = []
        self._blocked: set[int] = set()
        self._unknown: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._down = False
        self._down_until = 0.0
        self._rate = RateLimiter()

        self._webhook_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

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

    @property
    def pending_updates(self) -> list[JSONDict]:
        return list(self._pending)

    # ---------------------------------------------------------------- update injection

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

    # ---------------------------------------------------------------- reading what the bot did

    def mark(self) -> int:
        """Position to pass as ``after`` so that only later records are considered."""
        return len(self.sent)

    def sent_to(self, chat_id: int, method: str | None = None) -> list[Sent]:
        records = self._by_chat.get(chat_id, [])
        if method is None:
            return list(records)
        return [r for r in records if r.method == method]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of a message (after edits), or None if unknown or deleted."""
        return self._messages.get((chat_id, message_id))

    inline_buttons = staticmethod(inline_buttons)
    inline_keyboard = staticmethod(inline_keyboard)
    reply_keyboard = staticmethod(reply_keyboard)

    async def wait_for(
        self,
        predicate: Callable[[Sent], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline per call reads best in tests
        after: int = 0,
    ) -> Sent:
        return await self._wait_in(self.sent, after, predicate, timeout, "matching record")

    async def wait_reply(
        self,
        chat_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline per call reads best in tests
        after: int | None = None,
        contains: str | None = None,
        *,
        methods: Collection[str] = REPLY_METHODS,
    ) -> Sent:
        """The first reply to ``chat_id`` recorded at index ``after`` or later.

        ``after=None`` means "since the last update injected into that chat", which is what a
        test usually wants right after sending something.
        """
        if after is None:
            after = self._chat_mark.get(chat_id, 0)

        def matches(rec: Sent) -> bool:
            return rec.method in methods and (
                contains is None or (rec.text is not None and contains in rec.text)
            )

        records = self._by_chat.setdefault(chat_id, [])
        start = bisect.bisect_left(records, after, key=lambda r: r.index)
        what = f"reply to chat {chat_id}" + (f" containing {contains!r}" if contains else "")
        return await self._wait_in(records, start, matches, timeout, what)

    async def wait_acknowledged(
        self,
        update_id: int | Mapping[str, Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline per call reads best in tests
    ) -> None:
        """Wait until the bot confirmed (via a later getUpdates offset) that it took the update."""
        uid = int(update_id["update_id"]) if isinstance(update_id, Mapping) else update_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.acknowledged_update_id < uid:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"update {uid} not acknowledged within {timeout}s "
                    f"(acknowledged up to {self.acknowledged_update_id}, "
                    f"{len(self._pending)} pending)"
                )
            await self._ack_signal.wait(remaining)

    async def _wait_in(
        self,
        records: list[Sent],
        start: int,
        predicate: Callable[[Sent], bool],
        limit: float,
        what: str,
    ) -> Sent:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        pos = max(0, start)
        while True:
            while pos < len(records):
                rec = records[pos]
                pos += 1
                if predicate(rec):
                    return rec
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_message(what, limit))
            await self._sent_signal.wait(remaining)

    def _timeout_message(self, what: str, timeout: float) -> str:
        lines = [f"no {what} within {timeout}s; {len(self.sent)} records, last ones:"]
        lines += [f"  {_describe(r)}" for r in self.sent[-6:]] or ["  (none)"]
        if self.rejected:
            lines.append("last rejected calls:")
            lines += [f"  {_describe(r)}" for r in self.rejected[-3:]]
        return "\n".join(lines)

    # ---------------------------------------------------------------- fault injection

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
    ) -> None:
        self._rate.enforce(
            _RateLimits(global_per_s, per_chat_per_s, per_group_per_min, retry_after)
        )

    def outage(self, seconds: float) -> None:
        self._down_until = time.monotonic() + seconds

    def set_down(self, down: bool) -> None:
        self._down = down
        if not down:
            self._down_until = 0.0

    @property
    def is_down(self) -> bool:
        return self._down or time.monotonic() < self._down_until

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

    def _take_fault(self, method: str) -> _Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.method == method or (fault.method is None and method in SENDING_METHODS):
                fault.count -= 1
                if fault.count <= 0:
                    del self._faults[i]
                return fault
        return None

    def _reject(
        self,
        method: str,
        params: JSONDict,
        files: dict[str, _Upload],
        code: int,
        description: str,
    ) -> None:
        if code == 429:
            self.n_429 += 1
        if method == "getUpdates":
            return
        chat_id = params.get("chat_id")
        self.rejected.append(
            Sent(
                method,
                params,
                chat_id if isinstance(chat_id, int) else None,
                _str_param(params, "text") or _str_param(params, "caption"),
                _int_param_quiet(params, "message_id"),
                time.monotonic(),
                {k: f.data for k, f in files.items()},
                None,
                len(self.rejected),
                code,
                description,
            )
        )

    async def _sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closing and (remaining := deadline - loop.time()) > 0:
            await self._closing_signal.wait(remaining)

    # ---------------------------------------------------------------- updates

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

    def _acknowledge(self, update_id: int) -> None:
        if update_id > self.acknowledged_update_id:
            self.acknowledged_update_id = update_id
            self._ack_signal.fire()

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset") or 0
        limit = min(100, max(1, _int_param(params, "limit") or 100))
        timeout = max(0.0, _float_param(params, "timeout") or 0.0)

        self._poll_generation += 1
        generation = self._poll_generation
        # Telegram ends an earlier long poll when a new one arrives; wake it so it can notice.
        self._update_signal.fire()

        pending = self._pending
        if offset > 0:
            while pending and pending[0]["update_id"] < offset:
                pending.popleft()
            self._acknowledge(min(offset - 1, self._last_update_id))
        elif offset < 0:
            dropped = None
            while len(pending) > -offset:
                dropped = pending.popleft()
            if dropped is not None:
                self._acknowledge(int(dropped["update_id"]))

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._pending or self._closing:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._update_signal.wait(remaining)
        return list(itertools.islice(self._pending, limit))

    # ---------------------------------------------------------------- webhook

    def _set_webhook(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        url = _str_param(p, "url") or ""
        if url and not url.startswith(("http://", "https://")):
            raise _ApiError(
                400,
                "Bad Request: bad webhook: Webhook can be set up only on ports "
                "80, 88, 443 or 8443 with an HTTPS URL",
            )
        if _truthy(p.get("drop_pending_updates")):
            self._pending.clear()
        self.webhook_url = url
        self.webhook_secret = _str_param(p, "secret_token") or None
        allowed = p.get("allowed_updates")
        self.webhook_allowed_updates = allowed if isinstance(allowed, list) else None
        self.webhook_last_error = None
        if url and self._webhook_task is None and not self._closing:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())
        self._update_signal.fire()
        return True

    def _delete_webhook(self, p: JSONDict, files: dict[str, _Upload]) -> bool:
        if _truthy(p.get("drop_pending_updates")):
            self._pending.clear()
        self.webhook_url = ""
        self.webhook_secret = None
        self._update_signal.fire()
        return True

    def _get_webhook_info(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            info["ip_address"] = "127.0.0.1"
            if self.webhook_allowed_updates is not None:
                info["allowed_updates"] = self.webhook_allowed_updates
        if self.webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    async def _deliver_webhook(self) -> None:
        # One update in flight at a time keeps delivery ordered, like max_connections=1.
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        session = self._session
        backoff = 0.05
        try:
            while not self._closing and self.webhook_url:
                if not self._pending:
                    await self._update_signal.wait(1.0)
                    continue
                update = self._pending[0]
                headers = {}
                if self.webhook_secret:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
                try:
                    async with session.post(self.webhook_url, json=update, headers=headers) as r:
                        await r.read()
                        delivered = 200 <= r.status < 300
                        error = f"Wrong response from the webhook: {r.status} {r.reason}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    delivered, error = False, f"Connection failed: {exc!r}"
                if delivered:
                    if self._pending and self._pending[0] is update:
                        self._pending.popleft()
                    self._acknowledge(int(update["update_id"]))
                    backoff = 0.05
                else:
                    self.webhook_last_error = (int(time.time()), error)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
        finally:
            self._webhook_task = None

    # ---------------------------------------------------------------- chats and messages

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

    def _record(
        self,
        method: str,
        params: JSONDict,
        chat_id: int | None,
        text: str | None,
        message_id: int | None,
        result: Any,
        files: dict[str, _Upload] | None = None,
    ) -> Sent:
        rec = Sent(
            method,
            params,
            chat_id,
            text,
            message_id,
            time.monotonic(),
            {k: f.data for k, f in files.items()} if files else {},
            result,
            len(self.sent),
        )
        self.sent.append(rec)
        if chat_id is not None:
            self._by_chat.setdefault(chat_id, []).append(rec)
        self._sent_signal.fire()
        return rec

    # ---------------------------------------------------------------- files

    def file_bytes(self, file_id: str) -> bytes | None:
        stored = self._files.get(file_id)
        return None if stored is None else stored.data

    # ---------------------------------------------------------------- method handlers

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

    def _send_message(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        plain, entities = _render_text_param(p, "message is too long")
        markup = _check_markup(p.get("reply_markup"))
        self._rate.check(int(chat["id"]))
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

    def _send_photo(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        source = self._files.input_file(p, files, "photo")
        if isinstance(source, _StoredFile) and source.kind != "photo":
            raise _ApiError(400, "Bad Request: can't use file of type Document as Photo")
        caption = _caption(p)
        markup = _check_markup(p.get("reply_markup"))
        self._rate.check(int(chat["id"]))
        if isinstance(source, _StoredFile):
            sizes = list(source.obj)
        elif isinstance(source, _Upload):
            sizes = self._files.new_photo(source.data)
        else:
            sizes = self._files.new_photo(source.encode())
        extra: JSONDict = {"photo": sizes, **caption, **_echo_markup(markup)}
        msg = self._new_bot_message(chat, p, extra)
        self._record(
            "sendPhoto", p, chat["id"], caption.get("caption"), msg["message_id"], msg, files
        )
        return msg

    def _send_document(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        source = self._files.input_file(p, files, "document")
        caption = _caption(p)
        markup = _check_markup(p.get("reply_markup"))
        self._rate.check(int(chat["id"]))
        if isinstance(source, _StoredFile):
            if source.kind == "document":
                doc = dict(source.obj)
            else:
                doc = self._files.new_document(source.data, "photo.jpg", "image/jpeg")
        elif isinstance(source, _Upload):
            doc = self._files.new_document(source.data, source.filename, source.content_type)
        else:
            name = source.rsplit("/", 1)[-1] or "file"
            doc = self._files.new_document(source.encode(), name, None)
        extra: JSONDict = {"document": doc, **caption, **_echo_markup(markup)}
        msg = self._new_bot_message(chat, p, extra)
        self._record(
            "sendDocument", p, chat["id"], caption.get("caption"), msg["message_id"], msg, files
        )
        return msg

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

    def _get_file(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        stored = self._files.get(_str_param(p, "file_id") or "")
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

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

    def _set_bot_text(self, key: str) -> _Handler:
        def handler(p: JSONDict, files: dict[str, _Upload]) -> bool:
            self.bot_texts[key] = _str_param(p, key) or ""
            return True

        return handler

    def _get_bot_text(self, key: str) -> _Handler:
        def handler(p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
            return {key: self.bot_texts.get(key, "")}

        return handler


def _title(chat: Mapping[str, Any] | None, chat_id: int) -> str:
    if chat is not None and isinstance(chat.get("title"), str):
        return str(chat["title"])
    return f"Posko Group {abs(chat_id)}"


def _without_reply(msg: Mapping[str, Any]) -> JSONDict:
    # Telegram never nests reply_to_message more than one level deep.
    return {k: v for k, v in msg.items() if k != "reply_to_message"}
