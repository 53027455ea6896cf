"""Handing updates to the bot: getUpdates long polling with Telegram's offset rules, and
webhook delivery (setWebhook, deleteWebhook, getWebhookInfo).
"""

from __future__ import annotations

import asyncio
import itertools
import time

import aiohttp

from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.state import EmulatorState
from bot.rehearsal.emulator.wire import (
    _ApiError,
    _float_param,
    _int_param,
    _str_param,
    _truthy,
    _Upload,
)


class UpdatesMixin(EmulatorState):
    """Delivery of pending updates by getUpdates or by webhook."""

    @property
    def pending_updates(self) -> list[JSONDict]:
        return list(self._pending)

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
