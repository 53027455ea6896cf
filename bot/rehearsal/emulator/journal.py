"""What the bot did, as tests read it: every call recorded (accepted or rejected), per chat,
and ways to wait for the one a test expects.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from bot.rehearsal.emulator.records import (
    REPLY_METHODS,
    JSONDict,
    Sent,
    inline_buttons,
    inline_keyboard,
    reply_keyboard,
)
from bot.rehearsal.emulator.state import EmulatorState
from bot.rehearsal.emulator.wire import _int_param_quiet, _str_param, _Upload


def _describe(rec: Sent) -> str:
    text = "" if rec.text is None else f" text={rec.text[:60]!r}"
    err = "" if rec.error_code is None else f" -> {rec.error_code} {rec.description}"
    return f"#{rec.index} {rec.method} chat={rec.chat_id} message_id={rec.message_id}{text}{err}"


class JournalMixin(EmulatorState):
    """Records of the bot's calls, and waiting for them."""

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
