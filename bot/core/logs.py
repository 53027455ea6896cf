"""Logging set-up: one event per line (key=value for people, JSON for machines), each
carrying the update, user and post it concerns, and never a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# Set per update by the gate (each update runs in its own task, so this does not leak).
_context: ContextVar[dict[str, object] | None] = ContextVar("posko_log_context", default=None)
CONTEXT_KEYS = ("update", "user", "post")


def bind(**values: object) -> None:
    """Attach facts (update=…, user=…, post=…) to every log line of the current task."""
    current = dict(_context.get() or {})
    current.update({key: value for key, value in values.items() if value is not None})
    _context.set(current)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.posko = _context.get() or {}
        return True


class RedactingFilter(logging.Filter):
    """Blanks the bot token wherever it would appear (httpx/aiohttp URLs, exception texts)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secret:
            return True
        message = record.getMessage()
        if self._secret in message:
            record.msg = message.replace(self._secret, "<token>")
            record.args = None
        return True


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(char in text for char in ' ="'):
        return json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [f"ts={stamp}", f"level={record.levelname.lower()}", f"logger={record.name}"]
        context: dict[str, object] = getattr(record, "posko", {})
        parts += [f"{key}={_quote(context[key])}" for key in CONTEXT_KEYS if key in context]
        parts.append(f"msg={_quote(record.getMessage())}")
        line = " ".join(parts)
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        event.update(getattr(record, "posko", {}))
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


def setup(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request URLs carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # At DEBUG, PTB logs every request's parameters: message texts carry phone numbers
    # (alerts to supervisors) that must never reach a log.
    for name in ("telegram.ext.ExtBot", "telegram.Bot"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
