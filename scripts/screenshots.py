"""Screenshots of the command room for the README (docs/dashboard-*.png), taken from
`posko demo --web` in Debian's chromium while the demo evening unfolds.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_helpers import FLAGS  # noqa: E402

LINK = re.compile(r"(https?://\S+/(login|layar)/\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def main() -> int:
    from playwright.async_api import async_playwright

    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    demo = subprocess.Popen(  # noqa: ASYNC220 (started once, read in a thread)
        [str(ROOT / ".venv/bin/posko"), "demo", "--web", str(free_port())],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert demo.stdout is not None
    links: dict[str, str] = {}
    while len(links) < 2:
        line = await asyncio.to_thread(demo.stdout.readline)
        if not line:
            raise RuntimeError("the demo ended before printing its links")
        found = LINK.search(line)
        if found:
            links[found.group(2)] = found.group(1)
    try:
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            desk_context = await browser.new_context(viewport={"width": 1440, "height": 900})
            desk = await desk_context.new_page()
            await desk.goto(links["login"])
            await desk.wait_for_selector("body.room")
            # The demo's Budi goes quiet: wait until his post is silent and alerted.
            await desk.wait_for_selector('.alert-row[data-post="KBJ-01"]', timeout=120_000)
            await desk.wait_for_selector('.pin-face[data-state="silent"]', timeout=30_000)
            await desk.screenshot(path=str(docs / "dashboard-map.png"))
            await desk.click('.tab[data-tab="queue"]')
            await desk.wait_for_selector(".issue")
            await desk.screenshot(path=str(docs / "dashboard-queue.png"))
            wall_context = await browser.new_context(viewport={"width": 1920, "height": 1080})
            wall = await wall_context.new_page()
            await wall.goto(links["layar"])
            await wall.wait_for_selector('body[data-wall-screen="map"] .pin-face')
            await wall.wait_for_timeout(500)  # the outlines fade in
            await wall.screenshot(path=str(docs / "dashboard-wall.png"))
            await browser.close()
    finally:
        demo.terminate()
        demo.wait(10)
    print("saved docs/dashboard-map.png, dashboard-queue.png, dashboard-wall.png")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
