"""The event loop the long-running bot and its benchmarks run on."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``main`` on uvloop's event loop where it is installed (Linux and macOS), else on
    asyncio's. The bot's work is many short callbacks and socket round trips (Telegram,
    PostgreSQL), which uvloop runs at a fraction of asyncio's CPU (bench/updates.py)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows has no uvloop
        return asyncio.run(main)
    return uvloop.run(main)
