"""What one attempt to send an outbox row came to, and how Bot API errors are read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter


@dataclass(frozen=True, slots=True)
class Delivered:
    message_id: int | None
    paid: bool = False
    """Sent as a paid broadcast."""


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float
    error: str
    count_attempt: bool


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    error: str
    unreachable: bool = False


@dataclass(frozen=True, slots=True)
class Migrated:
    new_chat_id: int
    error: str


Outcome = Delivered | Retry | Failed | Migrated


def retry_after_seconds(exc: RetryAfter) -> float:
    # The property warns (int → timedelta migration in PTB 22); the stored value does not.
    raw: Any = getattr(exc, "_retry_after", None)
    if raw is None:
        raw = exc.retry_after
    if isinstance(raw, timedelta):
        return max(0.0, raw.total_seconds())
    return max(0.0, float(raw))


def forbidden_reason(text: str) -> str:
    lowered = text.lower()
    for word in ("blocked", "deactivated", "kicked"):
        if word in lowered:
            return word
    return "forbidden"
