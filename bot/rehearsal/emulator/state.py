"""Everything a :class:`~bot.rehearsal.emulator.server.FakeBotApi` remembers, declared in one
place for all the parts it is assembled from, and the small types that state is made of.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp import web

from bot.rehearsal.emulator.files import FileStore
from bot.rehearsal.emulator.limits import RateLimiter
from bot.rehearsal.emulator.records import JSONDict, Sent


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


class EmulatorState:
    """The state shared by the emulator's parts, initialised in one place.

    Public attributes are what tests observe (see :class:`FakeBotApi`); the private ones are
    shared by the parts, which are mixins of this class.
    """

    def __init__(
        self, token: str, bot_username: str, host: str, port: int, bot_first_name: str
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

    async def _sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, cut short when the server stops (delay faults, webhook backoff)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closing and (remaining := deadline - loop.time()) > 0:
            await self._closing_signal.wait(remaining)
