"""Operations: /healthz and /metrics, webhook mode with its secret, structured logs."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.core.clock import FakeClock
from bot.core.config import ConfigError, load_settings
from bot.core.health import snapshot
from bot.core.logs import ContextFilter, JsonFormatter, KeyValueFormatter, RedactingFilter, bind
from bot.core.runtime import Runtime
from bot.rehearsal.emulator import FakeBotApi
from storage.db import Database
from tests.conftest import BUDI, T0, AppFactory, Phone


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_healthz_and_metrics(emu: FakeBotApi, start_bot: AppFactory) -> None:
    port = free_port()
    async with start_bot(http={"port": port}):
        await Phone(emu, BUDI).send("/status")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                body = await response.json()
                assert response.status == 200, body
            assert body["database"] == "ok" and body["status"] == "ok"
            assert body["role"] == "leader"  # SQLite: the one process always leads
            assert body["outbox_backlog"] >= 0 and "posts" in body
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
        assert "posko_updates_total" in text
        updates = next(
            line for line in text.splitlines() if line.startswith("posko_updates_total ")
        )
        assert float(updates.split()[1]) >= 1
        assert "posko_handler_seconds_bucket" in text
        assert 'posko_posts{state="opening"}' in text
        assert "posko_outbox_backlog" in text and "posko_watch_pass_seconds" in text
        assert "posko_leader 1.0" in text


async def test_unhealthy_when_backlog_or_watcher_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await Database.open(tmp_path / "h.db")
    await db.migrate()
    settings = load_settings(None, overrides={"storage": {"path": str(tmp_path / "h.db")}})
    runtime = Runtime(settings=settings, clock=FakeClock(T0), db=db)
    healthy, body = await snapshot(runtime)
    assert healthy and body["outbox_backlog"] == 0
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO outbox (chat_id, kind, payload, not_before, created_at)"
            " VALUES (1, 'x', '{}', ?, ?)",
            (T0.isoformat(), T0.isoformat()),
        )
    monkeypatch.setattr("bot.core.health.BACKLOG_LIMIT", 0)
    healthy, body = await snapshot(runtime)
    assert not healthy and body["outbox"] == "backlog" and body["status"] == "unhealthy"
    await db.close()
    healthy, body = await snapshot(runtime)
    assert not healthy and body == {"role": "leader", "database": "error"}


async def test_webhook_mode_checks_the_secret_and_polling_removes_it(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    port = free_port()
    secret = "s3cret-token-for-tests"
    url = f"http://127.0.0.1:{port}/hook"
    webhook = {
        "mode": "webhook",
        "listen": "127.0.0.1",
        "port": port,
        "url": url,
        "secret_token": secret,
        "token": emu.token,
        "base_url": emu.base_url,
        "bot_username": emu.bot_username,
    }
    async with start_bot(telegram=webhook):
        assert emu.webhook_url == url and emu.webhook_secret == secret
        reply = await Phone(emu, BUDI).send("/status")  # delivered by the emulator's webhook
        assert "KBJ-01" in (reply.text or "")
        async with aiohttp.ClientSession() as session:
            forged = {
                "update_id": 999999,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 1, "type": "private"},
                    "text": "/status",
                },
            }
            async with session.post(url, json=forged) as response:
                assert response.status == 403
            headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-value"}
            async with session.post(url, json=forged, headers=headers) as response:
                assert response.status == 403
    async with start_bot():
        assert emu.webhook_url == ""
        reply = await Phone(emu, BUDI).send("/status")
        assert "KBJ-01" in (reply.text or "")


@pytest.mark.parametrize(
    ("telegram", "fragment"),
    [
        (
            {"mode": "webhook", "url": "http://example.org/hook", "secret_token": "x" * 20},
            "telegram.url",
        ),
        (
            {"mode": "webhook", "url": "https://example.org/hook", "secret_token": "short"},
            "telegram.secret_token",
        ),
    ],
)
def test_webhook_settings_are_checked(telegram: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(None, overrides={"telegram": telegram})


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("posko.test", logging.INFO, __file__, 1, message, None, None)
    ContextFilter().filter(record)
    return record


def test_log_lines_carry_context_and_no_token() -> None:
    bind(update=42, user=1001, post="KBJ-01")
    line = KeyValueFormatter().format(_record("checked in"))
    assert "update=42 user=1001 post=KBJ-01" in line and 'msg="checked in"' in line
    event = json.loads(JsonFormatter().format(_record("checked in")))
    assert event["update"] == 42 and event["post"] == "KBJ-01" and event["level"] == "info"
    token = "123456:SECRET-token-value"
    record = _record(f"POST https://api.telegram.org/bot{token}/sendMessage failed")
    RedactingFilter(token).filter(record)
    assert token not in KeyValueFormatter().format(record)
    assert "<token>" in record.getMessage()


def test_debug_logging_never_shows_request_parameters() -> None:
    """PTB logs each request's parameters at DEBUG; alert texts carry phone numbers."""
    import logging

    from bot.core.logs import setup

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        setup("DEBUG")
        assert root.isEnabledFor(logging.DEBUG)
        for name in ("telegram.ext.ExtBot", "telegram.Bot"):
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
