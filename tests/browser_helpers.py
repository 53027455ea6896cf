"""Debian's chromium for the command room's browser tests, started once per test module
and driven by Playwright over the DevTools protocol (``playwright install`` cannot
download a browser here). A test skips with the reason only when chromium cannot start."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("POSKO_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
STARTUP_S = 60.0
DEVTOOLS = re.compile(r"DevTools listening on (ws://\S+)")
SCREENSHOTS = os.environ.get("POSKO_SCREENSHOTS")  # a folder: the tests save their screens


@dataclass
class Chromium:
    endpoint: str
    process: subprocess.Popen[str]


def start_chromium() -> Chromium | str:
    """A running chromium and its DevTools endpoint, or why there is none."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no chromium at {CHROMIUM} (scripts/venv.sh installs it with apt-get)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    profile = tempfile.mkdtemp(prefix="posko-chromium-")
    process = subprocess.Popen(
        [CHROMIUM, *FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:
        # Keeps draining stderr after the endpoint, so chromium never blocks on the pipe.
        assert process.stderr is not None
        for line in process.stderr:
            match = DEVTOOLS.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
            elif not found:
                seen.append(line)
        ready.set()  # chromium exited

    threading.Thread(target=read, daemon=True).start()
    ready.wait(STARTUP_S)
    if not found:
        process.kill()
        process.wait()
        shutil.rmtree(profile, ignore_errors=True)
        return "chromium did not start: " + "".join(seen[-5:]).strip()
    process.profile = profile  # type: ignore[attr-defined]
    return Chromium(found[0], process)


def stop_chromium(browser: Chromium) -> None:
    browser.process.terminate()
    try:
        browser.process.wait(10)
    except subprocess.TimeoutExpired:
        browser.process.kill()
        browser.process.wait()
    shutil.rmtree(browser.process.profile, ignore_errors=True)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    started = start_chromium()
    if isinstance(started, str):
        pytest.skip(started)
    try:
        yield started
    finally:
        stop_chromium(started)


@dataclass
class Watched:
    """A page with its console errors and CSP violations collected."""

    page: Any
    problems: list[str] = field(default_factory=list)


@asynccontextmanager
async def browser_session(chromium: Chromium) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.connect_over_cdp(chromium.endpoint)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Any, width: int = 1280, height: int = 800) -> Watched:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    watched = Watched(page)

    def console(message: Any) -> None:
        if message.type == "error":
            watched.problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    return watched


def csp_violations(watched: Watched) -> list[str]:
    return [text for text in watched.problems if "Content Security Policy" in text]


async def screenshot(watched: Watched, name: str) -> None:
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        await watched.page.screenshot(path=str(Path(SCREENSHOTS) / name))
