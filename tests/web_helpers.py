"""Helpers for the command room's tests: a browser over real HTTP (cookies kept), the
event stream read line by line, and sessions started the ways a person starts them."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.core.app import PoskoApp
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from bot.web.auth import sign_init_data
from bot.web.server import WebServer
from tests.conftest import Phone

WEB = {"port": 0}
LINK = re.compile(r"https?://\S+/(login|layar)/[A-Za-z0-9_-]+")


def room(app: PoskoApp) -> WebServer:
    server = app.bot_data["runtime"].web
    assert isinstance(server, WebServer)
    return server


def init_data(user_id: int, token: str, auth_date: int, **extra: str) -> str:
    fields = {
        "auth_date": str(auth_date),
        "query_id": "AAH-test",
        "user": json.dumps({"id": user_id, "first_name": "Uji"}),
        **extra,
    }
    return urlencode({**fields, "hash": sign_init_data(fields, token)})


@dataclass
class Browser:
    """One browser (its own cookie jar) against the command room."""

    base: str
    http: aiohttp.ClientSession
    csrf: str | None = None

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        response = await self.http.get(self.base + path, allow_redirects=False, **kwargs)
        await response.read()
        return response

    async def json(self, path: str, status: int = 200) -> Any:
        response = await self.get(path)
        assert response.status == status, (path, response.status, await response.text())
        return await response.json()

    async def post(
        self, path: str, body: dict[str, Any] | None = None, csrf: str | None = "session"
    ) -> aiohttp.ClientResponse:
        headers = {}
        token = self.csrf if csrf == "session" else csrf
        if token is not None:
            headers["X-CSRF-Token"] = token
        response = await self.http.post(self.base + path, json=body or {}, headers=headers)
        await response.read()
        return response

    async def login(self, link: str) -> aiohttp.ClientResponse:
        path = link[link.index("/", len("https://")) :]
        response = await self.get(path)
        if response.status == 303:
            me = await self.json("/api/me")
            self.csrf = me["csrf_token"]
        return response

    async def close(self) -> None:
        await self.http.close()


def browser(app: PoskoApp) -> Browser:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    return Browser(room(app).url, aiohttp.ClientSession(cookie_jar=jar))


async def link_from(emu: FakeBotApi, user: FakeUser, command: str = "/dasbor") -> str:
    reply = await Phone(emu, user).send(command)
    found = LINK.search(reply.text or "")
    assert found is not None, reply.text
    return found.group(0)


async def signed_in(emu: FakeBotApi, app: PoskoApp, user: FakeUser) -> Browser:
    """A browser logged in with a fresh /dasbor login link."""
    person = browser(app)
    response = await person.login(await link_from(emu, user))
    assert response.status == 303
    return person


@dataclass
class Stream:
    """An open /api/events stream, read event by event."""

    response: aiohttp.ClientResponse
    events: list[dict[str, Any]] = field(default_factory=list)

    async def next(self, within: float = 5.0) -> dict[str, Any]:
        """The next event (comments and the retry line skipped)."""
        deadline = time.monotonic() + within
        event: dict[str, Any] = {}
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no event on the stream")
            raw = await asyncio.wait_for(self.response.content.readline(), left)
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode().rstrip("\n")
            if not line:
                if "event" in event:
                    self.events.append(event)
                    return event
                event = {}
                continue
            if line.startswith(":") or line.startswith("retry:"):
                continue
            name, _, value = line.partition(": ")
            if name == "data":
                event["data"] = json.loads(value)
            else:
                event[name] = value

    async def until(self, match: Any, within: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            event = await self.next(max(0.01, deadline - time.monotonic()))
            if match(event):
                return event

    def close(self) -> None:
        self.response.close()


async def open_stream(person: Browser, last_event_id: str | None = None) -> Stream:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = await person.http.get(
        person.base + "/api/events", headers=headers, timeout=aiohttp.ClientTimeout(total=None)
    )
    assert response.status == 200, response.status
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return Stream(response)
