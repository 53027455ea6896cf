"""The command room in a real browser (Debian's chromium driven by Playwright), against
the real bot and the fake Bot API (SPEC §10): changes arrive without a reload, taking an
alert tells the chat, a forwarded report reaches the liaison's queue and no other,
forged or replayed sign-ins are refused, report texts are text, and the wall screen."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi
from tests.agencies_seed import LIAISON_IN, LIAISON_OTHER, seed_agencies
from tests.browser_helpers import (
    Chromium,
    browser_session,
    chromium,  # noqa: F401 (the module's shared browser)
    csp_violations,
    new_page,
    screenshot,
)
from tests.conftest import ADMIN, BUDI, CAMAT, LURAH, MONAS, T0, AppFactory, Phone
from tests.test_authorization_matrix import delivered, runtime_of
from tests.test_disposisi_e2e import agency_id, forward, query
from tests.web_helpers import WEB, init_data, link_from, room, signed_in

WAIT_MS = 15_000  # generous: a loaded 2-core machine; the page usually takes < 1 s


def pin(code: str, state: str | None = None) -> str:
    selector = f'.pin-face[data-code="{code}"]'
    return selector + (f'[data-state="{state}"]' if state else "")


async def open_room(page: Any, link: str) -> None:
    """Follows a /dasbor link (it sets the cookie and redirects to the page)."""
    response = await page.goto(link)
    assert response is not None and response.status == 200, response
    await page.wait_for_selector("body.room", timeout=WAIT_MS)
    # A marker that a reload would erase: the page must change in place.
    await page.evaluate("window.__sameDocument = true")


async def still_same_document(page: Any) -> bool:
    return bool(await page.evaluate("window.__sameDocument === true"))


async def test_check_in_turns_the_post_green_without_reload(
    chromium: Chromium,  # noqa: F811
    emu: FakeBotApi,
    start_bot: AppFactory,
) -> None:
    async with start_bot(web=WEB), browser_session(chromium) as browser:
        screen = await new_page(browser)
        page = screen.page
        await open_room(page, await link_from(emu, LURAH))
        await page.wait_for_selector(pin("KBJ-01"), timeout=WAIT_MS)
        assert await page.locator(pin("KBJ-01", "staffed")).count() == 0
        assert await page.locator(pin("KBJ-02")).count() == 0  # outside the lurah's scope
        reply = await Phone(emu, BUDI).location(*MONAS)
        assert "Hadir tercatat" in (reply.text or "")
        await page.wait_for_selector(pin("KBJ-01", "staffed"), timeout=WAIT_MS)
        assert await still_same_document(page)
        chip = page.locator('.count-chip[data-group="ok"]')
        assert "1" in (await chip.inner_text())
        assert csp_violations(screen) == [] and screen.problems == []


async def test_silent_post_turns_orange_is_listed_and_taking_it_tells_the_chat(
    chromium: Chromium,  # noqa: F811
    emu: FakeBotApi,
    start_bot: AppFactory,
    clock: FakeClock,
) -> None:
    async with start_bot(web=WEB) as app, browser_session(chromium) as browser:
        watcher = runtime_of(app).watcher
        assert watcher is not None
        for code in ("KBJ-02", "KEC-KBJ"):
            await Phone(emu, ADMIN).send(f"/jeda {code} 6h")
        await Phone(emu, BUDI).location(*MONAS)
        screen = await new_page(browser)
        page = screen.page
        await open_room(page, await link_from(emu, CAMAT))
        await page.wait_for_selector(pin("KBJ-01", "staffed"), timeout=WAIT_MS)
        await page.click('.tab[data-tab="alerts"]')
        admin = await signed_in(emu, app, ADMIN)
        try:
            for _ in range(12):  # quiet for silence_after: reminded, then silent
                clock.advance(timedelta(minutes=10))
                await watcher.sweep()
                post = (await admin.json("/api/posts/KBJ-01"))["post"]
                if post["state"] == "silent":
                    break
            assert post["state"] == "silent"
        finally:
            await admin.close()
        await page.wait_for_selector(pin("KBJ-01", "silent"), timeout=WAIT_MS)
        colour = await page.eval_on_selector(
            pin("KBJ-01") + " .pin-dot", "e => getComputedStyle(e).backgroundColor"
        )
        assert colour == "rgb(242, 140, 0)"  # orange, as on /peta
        label = page.locator(pin("KBJ-01") + " .pin-label")
        assert await label.inner_text() == "KBJ-01"  # problem posts are labelled
        row = page.locator('.alert-row[data-post="KBJ-01"]')
        await row.wait_for(timeout=WAIT_MS)
        assert "Senyap" in await row.inner_text()
        await screenshot(screen, "dashboard-map.png")
        await row.locator("button.take").click()
        await page.locator('.alert-row[data-post="KBJ-01"] .taker').wait_for(timeout=WAIT_MS)
        assert "Camat Kebon Jeruk" in await row.inner_text()
        told = await delivered(emu, app, clock, LURAH, "diambil alih oleh Camat Kebon Jeruk")
        assert "KBJ-01" in (told.text or "")
        assert await still_same_document(page)
        assert csp_violations(screen) == [] and screen.problems == []


async def test_forwarded_report_reaches_only_that_agencys_liaison_and_script_is_text(
    chromium: Chromium,  # noqa: F811
    emu: FakeBotApi,
    start_bot: AppFactory,
    clock: FakeClock,
    db_path: Path,
) -> None:
    await seed_agencies(db_path)
    async with start_bot(web=WEB) as app, browser_session(chromium) as browser:
        rina = await new_page(browser)
        agus = await new_page(browser)
        camat = await new_page(browser)
        await open_room(rina.page, await link_from(emu, LIAISON_IN))
        await open_room(agus.page, await link_from(emu, LIAISON_OTHER))
        await open_room(camat.page, await link_from(emu, CAMAT))
        for screen in (rina, agus):
            await screen.page.wait_for_selector(".view-queue .empty", timeout=WAIT_MS)
            assert await screen.page.locator("#map").count() == 0  # a liaison has no map

        hostile = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"
        await Phone(emu, BUDI).send(f"/lapor politik_uang {hostile} amplop di TPS 12")
        ((issue_id, ref),) = await query(db_path, "SELECT id, ref FROM issues")
        card = await delivered(emu, app, clock, LURAH, ref)
        await camat.page.click('.tab[data-tab="queue"]')
        shown = camat.page.locator(f'.issue[data-ref="{ref}"] .issue-text')
        await shown.wait_for(timeout=WAIT_MS)
        assert hostile in await shown.inner_text()
        assert await camat.page.evaluate("window.__pwned") is None
        assert await camat.page.locator(".issue-text script, .issue-text img").count() == 0
        await screenshot(camat, "dashboard-queue.png")

        await forward(emu, card, issue_id, await agency_id(db_path, "bawaslu"), "Mohon cek")
        arrived = rina.page.locator(f'.issue[data-ref="{ref}"]')
        await arrived.wait_for(timeout=WAIT_MS)
        assert "Bawaslu" in await arrived.inner_text()
        await camat.page.locator(f'.issue[data-ref="{ref}"] .forwards').wait_for(timeout=WAIT_MS)
        # the other agency's liaison still sees nothing; and neither page reloaded
        assert await agus.page.locator(".issue").count() == 0
        assert await still_same_document(rina.page) and await still_same_document(agus.page)
        await arrived.locator("button.act").click()
        await (
            rina.page.locator(f'.issue[data-ref="{ref}"] .forwards')
            .get_by_text("diterima")
            .first.wait_for(timeout=WAIT_MS)
        )
        for screen in (rina, agus, camat):
            assert csp_violations(screen) == [] and screen.problems == []


async def test_forged_init_data_and_replayed_link_are_refused(
    chromium: Chromium,  # noqa: F811
    emu: FakeBotApi,
    start_bot: AppFactory,
) -> None:
    async with start_bot(web=WEB) as app, browser_session(chromium) as browser:
        base = room(app).url
        now = int(T0.timestamp())
        forged = init_data(CAMAT.id, "999:not-the-bot-token-at-all", now)
        screen = await new_page(browser)
        await screen.page.goto(f"{base}/#tgWebAppData={_quote(forged)}&tgWebAppVersion=7.0")
        refusal = screen.page.locator(".gate-text")
        await refusal.wait_for(timeout=WAIT_MS)
        assert "tidak sah" in await refusal.inner_text()
        assert await screen.page.locator("body.room").count() == 0

        genuine = init_data(CAMAT.id, emu.token, now - 30)
        mini = await new_page(browser, 390, 760)  # a phone-sized Mini App webview
        await mini.page.goto(f"{base}/#tgWebAppData={_quote(genuine)}&tgWebAppVersion=7.0")
        await mini.page.wait_for_selector(pin("KBJ-01"), timeout=WAIT_MS)
        assert "tgWebAppData" not in mini.page.url  # the launch data leaves the address bar

        link = await link_from(emu, LURAH)
        first = await new_page(browser)
        await open_room(first.page, link)
        replay = await new_page(browser)
        response = await replay.page.goto(link)
        assert response is not None and response.status == 410
        assert "Tautan tidak berlaku" in await replay.page.inner_text("body")
        await replay.page.goto(base + "/")
        await replay.page.locator(".gate-text").wait_for(timeout=WAIT_MS)
        assert "/dasbor" in await replay.page.inner_text(".gate-text")
        for watched in (screen, mini, first, replay):
            assert csp_violations(watched) == []


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


async def test_wall_screen_is_large_without_controls_and_rotates(
    chromium: Chromium,  # noqa: F811
    emu: FakeBotApi,
    start_bot: AppFactory,
) -> None:
    async with start_bot(web=WEB), browser_session(chromium) as browser:
        await Phone(emu, BUDI).send("/lapor logistik Kotak suara kurang")
        wall = await new_page(browser, 1920, 1080)
        page = wall.page
        # a short rotation for the test (the screen's default is 20 s)
        await page.add_init_script("sessionStorage.setItem('posko.wallSeconds', '1')")
        await open_room(page, await link_from(emu, CAMAT, "/dasbor layar"))
        await page.wait_for_selector("body.wall[data-wall-screen]", timeout=WAIT_MS)
        await page.wait_for_selector(pin("KBJ-01"), timeout=WAIT_MS)
        assert await page.locator("button, select, textarea, input").count() == 0
        size = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 28  # readable from across a room at 1080p
        await page.wait_for_selector('body[data-wall-screen="map"]', timeout=WAIT_MS)
        await screenshot(wall, "dashboard-wall.png")
        await page.wait_for_selector('body[data-wall-screen="lists"]', timeout=WAIT_MS)
        assert await page.locator(".view-queue .issue").count() == 1
        await page.wait_for_selector('body[data-wall-screen="map"]', timeout=WAIT_MS)
        assert csp_violations(wall) == [] and wall.problems == []


async def test_no_basemap_and_unreachable_tiles_still_show_the_map(
    chromium: Chromium,  # noqa: F811
    emu: FakeBotApi,
    start_bot: AppFactory,
    db_path: Path,
    tmp_path: Path,
) -> None:
    from bot.exchange.boundary_file import import_boundaries
    from storage.db import Database

    ring = [[106.82, -6.18], [106.83, -6.18], [106.83, -6.17], [106.82, -6.17], [106.82, -6.18]]
    outline = {"type": "Feature", "properties": {"code": "31.73.01.1001"},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    file = tmp_path / "batas.geojson"
    file.write_text(json.dumps({"type": "FeatureCollection", "features": [outline]}))
    db = await Database.open(db_path)
    try:
        await import_boundaries(db, file, T0)
    finally:
        await db.close()
    dead = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # nothing listens on the discard port
    for tiles in ("", dead):
        settings = {**WEB, "tiles": tiles, "tiles_attribution": "© <b>Peta</b> Uji"}
        async with start_bot(web=settings), browser_session(chromium) as browser:
            screen = await new_page(browser)
            page = screen.page
            await open_room(page, await link_from(emu, LURAH))
            await page.wait_for_selector(pin("KBJ-01"), timeout=WAIT_MS)
            await page.wait_for_selector(".leaflet-overlay-pane path", timeout=WAIT_MS)
            assert await page.locator("#map.no-basemap").count() == 1
            if tiles:
                await page.locator(".map-note").wait_for(timeout=WAIT_MS)
                attribution = page.locator(".map-attribution")
                assert await attribution.inner_text() == "© <b>Peta</b> Uji"  # as text
            else:
                assert await page.locator(".leaflet-tile").count() == 0
                assert await page.locator(".map-note").is_hidden()
            assert csp_violations(screen) == []
