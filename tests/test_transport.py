"""AiohttpRequest driven through a real telegram.Bot against a local fake Bot API."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.core.transport import AiohttpRequest, form_encode

TOKEN = "123456789:AAH-fake_token-0123456789abcdefghijklmno"
BOT_ID = 123456789


@dataclass
class Upload:
    filename: str
    content_type: str
    content: bytes


@dataclass
class Received:
    method: str
    content_type: str
    form: dict[str, str]
    files: dict[str, Upload]


@dataclass
class FakeApi:
    root: str
    received: list[Received] = field(default_factory=list)
    # Set at teardown so handlers parked on it let the server shut down.
    release: asyncio.Event = field(default_factory=asyncio.Event)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"{self.root}/bot"


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _message(chat_id: int, **extra: object) -> dict[str, object]:
    return {"message_id": 1, "date": 0, "chat": {"id": chat_id, "type": "private"}, **extra}


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    state = FakeApi(root="")

    async def record(request: web.Request) -> dict[str, str]:
        form: dict[str, str] = {}
        files: dict[str, Upload] = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                # aiohttp closes the spooled file once the handler returns.
                files[name] = Upload(value.filename, value.content_type, value.file.read())
            else:
                assert isinstance(value, str)
                form[name] = value
        state.received.append(
            Received(request.match_info["method"], request.content_type, form, files)
        )
        return form

    async def get_me(request: web.Request) -> web.Response:
        return _ok({"id": BOT_ID, "is_bot": True, "first_name": "Posko", "username": "posko_bot"})

    async def send_message(request: web.Request) -> web.Response:
        form = await record(request)
        return _ok(_message(int(form["chat_id"]), text=form["text"]))

    async def send_photo(request: web.Request) -> web.Response:
        form = await record(request)
        photo = {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}
        return _ok(_message(int(form["chat_id"]), photo=[photo]))

    async def get_chat(request: web.Request) -> web.Response:
        state.slow_started.set()
        await state.release.wait()
        return _ok({"id": 42, "type": "private", "accent_color_id": 0, "max_reaction_count": 1})

    async def get_updates(request: web.Request) -> web.Response:
        # Longer than the 0.2 s read timeout the test sets, shorter than its long poll.
        await asyncio.sleep(0.4)
        return _ok([])

    async def send_chat_action(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
            status=429,
        )

    app = web.Application()
    prefix = f"/bot{TOKEN}"
    app.router.add_post(f"{prefix}/{{method:getMe}}", get_me)
    app.router.add_post(f"{prefix}/{{method:sendMessage}}", send_message)
    app.router.add_post(f"{prefix}/{{method:sendPhoto}}", send_photo)
    app.router.add_post(f"{prefix}/{{method:getChat}}", get_chat)
    app.router.add_post(f"{prefix}/{{method:getUpdates}}", get_updates)
    app.router.add_post(f"{prefix}/{{method:sendChatAction}}", send_chat_action)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    # Bound here so the test knows the port the OS picked.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    await web.SockSite(runner, listener).start()
    port = listener.getsockname()[1]
    state.root = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


def _bot(base_url: str, **request_kwargs: Any) -> Bot:
    return Bot(TOKEN, base_url=base_url, request=AiohttpRequest(**request_kwargs))


def _messages_of(exc: BaseException) -> str:
    """Everything a traceback of ``exc`` would print as messages, chained ones included."""
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


async def test_get_me(api: FakeApi) -> None:
    async with _bot(api.base_url) as bot:
        me = await bot.get_me()
    assert me.id == BOT_ID
    assert me.username == "posko_bot"


async def test_send_message_posts_form_with_json_encoded_markup(api: FakeApi) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="yes")]])
    async with _bot(api.base_url) as bot:
        message = await bot.send_message(42, "Halo posko", reply_markup=markup)

    assert message.text == "Halo posko"
    [sent] = api.received
    assert sent.method == "sendMessage"
    assert sent.content_type == "application/x-www-form-urlencoded"
    assert sent.form["chat_id"] == "42"
    assert sent.form["text"] == "Halo posko"
    assert json.loads(sent.form["reply_markup"]) == {
        "inline_keyboard": [[{"text": "Ya", "callback_data": "yes"}]]
    }


async def test_send_photo_uploads_bytes_as_multipart(api: FakeApi) -> None:
    picture = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    async with _bot(api.base_url) as bot:
        message = await bot.send_photo(42, picture, caption="TPS 7")

    assert message.photo
    [sent] = api.received
    assert sent.method == "sendPhoto"
    assert sent.content_type == "multipart/form-data"
    assert sent.form["chat_id"] == "42"
    assert sent.form["caption"] == "TPS 7"
    upload = sent.files["photo"]
    assert upload.filename
    assert upload.content == picture


@pytest.mark.parametrize("per_call", [True, False])
async def test_slow_response_raises_timed_out(api: FakeApi, per_call: bool) -> None:
    default = 5.0 if per_call else 0.2
    async with _bot(api.base_url, read_timeout=default) as bot:
        call = bot.get_chat(42, read_timeout=0.2) if per_call else bot.get_chat(42)
        with pytest.raises(TimedOut) as caught:
            await asyncio.wait_for(call, timeout=3)
    assert TOKEN not in _messages_of(caught.value)


async def test_long_poll_timeout_extends_default_read_timeout(api: FakeApi) -> None:
    request = AiohttpRequest(read_timeout=0.2)
    assert request.read_timeout == 0.2
    async with Bot(TOKEN, base_url=api.base_url, get_updates_request=request) as bot:
        # PTB reads request.read_timeout and adds the long poll to it: 0.2 + 2 > 0.4.
        assert await bot.get_updates(timeout=2) == ()


# PTB warns that retry_after will become a timedelta; either form is fine here.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control_raises_retry_after(api: FakeApi) -> None:
    async with _bot(api.base_url) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_chat_action(42, "typing")
    assert caught.value.retry_after in (7, timedelta(seconds=7))


async def test_refused_connection_raises_network_error_without_token() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more, so connecting is refused at once.
    base_url = f"http://127.0.0.1:{port}/bot"
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=base_url, request=request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.get_me()
    finally:
        await request.shutdown()
    assert not isinstance(caught.value, TimedOut)
    text = _messages_of(caught.value)
    assert TOKEN not in text
    assert "ClientConnectorError" in str(caught.value)


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:notaport/bot", "ftp://127.0.0.1/bot"])
async def test_aiohttp_errors_quoting_the_url_are_redacted(base_url: str) -> None:
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=base_url, request=request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.get_me()
    finally:
        await request.shutdown()
    text = _messages_of(caught.value)
    assert TOKEN not in text
    assert "<redacted>" in str(caught.value)


async def test_full_pool_raises_pool_timeout(api: FakeApi) -> None:
    async with _bot(api.base_url, connection_pool_size=1, pool_timeout=0.05) as bot:
        slow = asyncio.create_task(bot.get_chat(42))
        await asyncio.wait_for(api.slow_started.wait(), timeout=3)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(42, "x")
        api.release.set()
        chat = await asyncio.wait_for(slow, timeout=3)
    assert chat.id == 42
    # The pool timeout means the request never left: the server saw no sendMessage.
    assert api.received == []


async def test_lifecycle() -> None:
    request = AiohttpRequest()
    assert request.http_version == "1.1"
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1/", "GET")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1/", "GET")
    async with request:
        pass
    with pytest.raises(ValueError, match="connection_pool_size"):
        AiohttpRequest(connection_pool_size=0)


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"chat_id": "12345", "text": "Halo"},
        {"text": "📢 Edaran #1\n\nMohon jaga netralitas ASN (100%) & lapor: a+b=c ~ é ü 中文"},
        {"reply_markup": '{"inline_keyboard": [[{"text": "✅", "callback_data": "cr:r:1"}]]}'},
        {"odd key/?": " leading and trailing ", "empty": ""},
        {"every byte": "".join(map(chr, range(256)))},
    ],
)
def test_form_encoding_is_urlencode_byte_for_byte(parameters: dict[str, str]) -> None:
    assert form_encode(parameters) == urlencode(parameters).encode("ascii")
