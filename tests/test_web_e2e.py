"""The command room over real HTTP, with the real bot against the fake Bot API (SPEC §10):
sessions (Mini App initData, login links, wall links), CSRF and CSP, scope, the liaison's
view, the live event stream, and actions that tell the chat like the buttons do."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi
from bot.web.auth import InitDataError, check_init_data
from tests.agencies_seed import LIAISON_IN, LIAISON_OTHER, LIAISON_OUT, seed_agencies
from tests.conftest import (
    ADMIN,
    BUDI,
    CAMAT,
    LURAH,
    MONAS,
    SARI,
    STRANGER,
    T0,
    AppFactory,
    Phone,
)
from tests.test_authorization_matrix import delivered, runtime_of
from tests.web_helpers import WEB, browser, init_data, link_from, open_stream, signed_in

NOW = int(T0.timestamp())


def test_init_data_hash_age_and_shape() -> None:
    token = "123456:ABCDEFGHIJKLMNOPQRST"
    good = init_data(2001, token, NOW - 60)
    assert check_init_data(good, token, T0) == 2001
    assert check_init_data(good, "123456:another-token-xyz", T0) is InitDataError.BAD_HASH
    tampered = good.replace("2001", "2002")
    assert check_init_data(tampered, token, T0) is InitDataError.BAD_HASH
    stale = init_data(2001, token, NOW - 3601)
    assert check_init_data(stale, token, T0) is InitDataError.STALE
    assert check_init_data("", token, T0) is InitDataError.MALFORMED
    assert check_init_data("x" * 5000, token, T0) is InitDataError.MALFORMED
    assert check_init_data("user=1&user=2&hash=00", token, T0) is InitDataError.MALFORMED


async def test_mini_app_session_from_init_data(emu: FakeBotApi, start_bot: AppFactory) -> None:
    async with start_bot(web=WEB) as app:
        person = browser(app)
        try:
            refused = await person.json("/api/me", status=401)
            assert refused == {"error": "unauthorized"}
            wrong = init_data(LURAH.id, "999:wrong-token-wrong-token", NOW)
            answer = await person.post("/api/session", {"init_data": wrong}, csrf=None)
            assert answer.status == 401 and (await answer.json())["error"] == "bad_hash"
            stale = init_data(LURAH.id, emu.token, NOW - 2 * 3600)
            answer = await person.post("/api/session", {"init_data": stale}, csrf=None)
            assert answer.status == 401 and (await answer.json())["error"] == "stale"
            stranger = init_data(STRANGER.id, emu.token, NOW)
            answer = await person.post("/api/session", {"init_data": stranger}, csrf=None)
            assert answer.status == 403
            officer = init_data(BUDI.id, emu.token, NOW)
            assert (await person.post("/api/session", {"init_data": officer})).status == 403
            assert (await person.json("/api/me", status=401))["error"] == "unauthorized"

            good = init_data(LURAH.id, emu.token, NOW - 30)
            answer = await person.post("/api/session", {"init_data": good}, csrf=None)
            assert answer.status == 200
            cookie = answer.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            body = await answer.json()
            assert body["name"] == "Lurah Kebon Jeruk"
            me = await person.json("/api/me")
            assert me["member"]["name"] == "Lurah Kebon Jeruk"
            assert me["csrf_token"] == body["csrf_token"] and me["read_only"] is False
            assert me["scope"] == {"all": False, "areas": ["Kebon Jeruk"]}
            # a webview without cookies uses the bearer token instead
            other = browser(app)
            headers = {"Authorization": f"Bearer {body['bearer']}"}
            response = await other.get("/api/me", headers=headers)
            assert response.status == 200
            await other.close()
        finally:
            await person.close()


async def test_login_link_works_once_and_expires(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock
) -> None:
    async with start_bot(web=WEB) as app:
        link = await link_from(emu, CAMAT)
        first, second = browser(app), browser(app)
        try:
            response = await first.login(link)
            assert response.status == 303 and response.headers["Location"] == "/"
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Secure" not in cookie  # plain http here; Secure under https
            assert (await first.json("/api/me"))["member"]["name"] == "Camat Kebon Jeruk"
            again = await second.login(link)
            assert again.status == 410
            assert "Tautan tidak berlaku" in await again.text()
            assert (await second.json("/api/me", status=401))["error"] == "unauthorized"

            late = await link_from(emu, CAMAT)
            clock.advance(timedelta(minutes=10, seconds=1))
            assert (await second.login(late)).status == 410
            # the first browser's session outlives the link, until session_ttl
            assert (await first.get("/api/me")).status == 200
            clock.advance(timedelta(hours=12))
            assert (await first.get("/api/me")).status == 401
        finally:
            await first.close()
            await second.close()


async def test_wall_link_is_read_only_until_revoked(emu: FakeBotApi, start_bot: AppFactory) -> None:
    async with start_bot(web=WEB) as app:
        link = await link_from(emu, LURAH, "/dasbor layar")
        assert "/layar/" in link
        screen = browser(app)
        try:
            assert (await screen.login(link)).status == 303
            me = await screen.json("/api/me")
            assert me["read_only"] is True and me["csrf_token"] is None
            posts = await screen.json("/api/posts")
            assert [post["code"] for post in posts["posts"]] == ["KBJ-01"]
            refused = await screen.post("/api/alerts/1/take", csrf="anything")
            assert refused.status == 403 and (await refused.json())["error"] == "read_only"
            # the screen reloads: the same wall link works again
            assert (await browser_login_again(app, link)) == 303
            revoked = await Phone(emu, LURAH).send("/dasbor cabut")
            assert "1 tautan layar dicabut" in (revoked.text or "")
            assert (await screen.get("/api/posts")).status == 401
            assert (await screen.login(link)).status == 403
        finally:
            await screen.close()


async def browser_login_again(app: object, link: str) -> int:
    from tests.web_helpers import browser as fresh

    other = fresh(app)  # type: ignore[arg-type]
    try:
        return (await other.login(link)).status
    finally:
        await other.close()


async def test_csrf_and_content_security_policy(emu: FakeBotApi, start_bot: AppFactory) -> None:
    tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    async with start_bot(web={**WEB, "tiles": tiles}) as app:
        person = await signed_in(emu, app, CAMAT)
        try:
            for path in ("/", "/static/app.js", "/api/me", "/api/nothing"):
                response = await person.get(path)
                policy = response.headers["Content-Security-Policy"]
                assert "default-src 'self'" in policy
                assert "img-src 'self' data: https://*.tile.example.org" in policy
                assert "frame-ancestors 'self' https://web.telegram.org" in policy
                assert "unsafe-inline" not in policy
            page = await person.get("/")
            html = await page.text()
            assert '<script src="/static/app.js"' in html and "<script>" not in html
            assert (await person.get("/api/me")).headers["Cache-Control"] == "no-store"
            for token in (None, "", "wrong"):
                refused = await person.post("/api/alerts/1/take", csrf=token)
                assert refused.status == 403, token
                assert (await refused.json())["error"] == "csrf"
            assert (await person.post("/api/alerts/999/take")).status == 404
        finally:
            await person.close()


async def test_scope_and_report_actions(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock
) -> None:
    async with start_bot(web=WEB) as app:
        budi, sari = Phone(emu, BUDI), Phone(emu, SARI)
        assert "KBJ-01/0001" in ((await budi.send("/lapor logistik Kotak suara kurang")).text or "")
        filed = await sari.send("/lapor logistik Tinta habis")
        if "KBJ-02" not in (filed.text or ""):  # Sari has two posts: she picks KBJ-02
            buttons = sari.buttons(filed)
            pick = next(data for label, data in buttons if "KBJ-02" in label)
            filed = await sari.press_and_reply(filed, pick)
        lurah = await signed_in(emu, app, LURAH)
        camat = await signed_in(emu, app, CAMAT)
        try:
            posts = await lurah.json("/api/posts")
            assert [post["code"] for post in posts["posts"]] == ["KBJ-01"]
            one = posts["posts"][0]
            assert one["path"][-1] == {"code": "31.73.01.1001", "name": "Kebon Jeruk",
                                       "level": "kelurahan"}  # fmt: skip
            assert one["open_reports"] == 1 and one["rostered"] is None
            assert "phone" not in str(posts)
            assert (await lurah.json("/api/posts/KBJ-02", status=403))["error"] == "out_of_scope"
            assert (await lurah.json("/api/posts/NOPE-9", status=404))["error"] == "unknown_post"
            queue = await lurah.json("/api/issues")
            assert [issue["ref"] for issue in queue["issues"]] == ["KBJ-01/0001"]
            assert queue["issues"][0]["text"] == "Kotak suara kurang"
            assert queue["issues"][0]["actions"] == ["accept", "reject", "forward"]
            refused = await lurah.post("/api/issues/KBJ-02/0001/accept")
            assert refused.status == 403

            accepted = await lurah.post("/api/issues/KBJ-01/0001/accept")
            assert accepted.status == 200
            assert (await accepted.json())["issue"]["status"] == "diterima"
            again = await camat.post("/api/issues/KBJ-01/0001/accept")
            assert again.status == 409 and (await again.json())["status"] == "diterima"
            no_note = await camat.post("/api/issues/KBJ-01/0001/resolve")
            assert (await no_note.json())["error"] == "note_required"
            done = await camat.post("/api/issues/KBJ-01/0001/resolve", {"note": "Sudah dikirim"})
            assert (await done.json())["issue"]["status"] == "selesai"
            # the reporter hears of it as from the chat buttons
            told = await delivered(emu, app, clock, BUDI, "selesai ditangani oleh Camat")
            assert "KBJ-01/0001" in (told.text or "") and "Sudah dikirim" in (told.text or "")
            full = await camat.json("/api/issues?filter=all")
            assert {issue["ref"] for issue in full["issues"]} == {"KBJ-01/0001", "KBJ-02/0001"}
            assert (await camat.json("/api/issues?filter=zzz", status=400))["error"] == "bad_filter"
        finally:
            await lurah.close()
            await camat.close()


async def test_liaison_sees_only_own_agency_forwards(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path, clock: FakeClock
) -> None:
    await seed_agencies(db_path)
    async with start_bot(web=WEB) as app:
        await Phone(emu, BUDI).send("/lapor politik_uang Ada bagi-bagi amplop di TPS 12")
        await Phone(emu, BUDI).send("/lapor logistik Kotak suara kurang")
        camat = await signed_in(emu, app, CAMAT)
        rina = await signed_in(emu, app, LIAISON_IN)
        agus = await signed_in(emu, app, LIAISON_OTHER)
        yanti = await signed_in(emu, app, LIAISON_OUT)
        try:
            sent = await camat.post(
                "/api/issues/KBJ-01/0001/forward", {"agency": "bawaslu", "note": "Mohon cek"}
            )
            assert sent.status == 200, await sent.text()
            forwarded = (await sent.json())["issue"]["forwards"]
            assert [(f["agency"], f["state"]) for f in forwarded] == [("bawaslu", "dikirim")]
            card = await delivered(emu, app, clock, LIAISON_IN, "KBJ-01/0001")
            assert "Mohon cek" in (card.text or "")
            me = await rina.json("/api/me")
            assert me["agency"]["code"] == "bawaslu" and me["sees"]["posts"] is False
            assert me["agencies"] == []  # a liaison forwards nothing
            partners = (await camat.json("/api/me"))["agencies"]
            assert "bawaslu" in {agency["code"] for agency in partners}
            for path in ("/api/posts", "/api/posts/KBJ-01", "/api/alerts", "/api/recap"):
                assert (await rina.get(path)).status == 403, path
            mine = await rina.json("/api/issues")
            assert [issue["ref"] for issue in mine["issues"]] == ["KBJ-01/0001"]
            assert mine["issues"][0]["forward_actions"] == ["accept"]
            assert (await agus.json("/api/issues"))["issues"] == []
            assert (await yanti.json("/api/issues"))["issues"] == []
            assert (await rina.post("/api/issues/KBJ-01/0002/accept")).status == 403
            forward_id = forwarded[0]["id"]
            assert (await agus.post(f"/api/forwards/{forward_id}/accept")).status == 403
            taken = await rina.post(f"/api/forwards/{forward_id}/accept")
            assert (await taken.json())["forward"]["state"] == "diterima"
        finally:
            for person in (camat, rina, agus, yanti):
                await person.close()


async def test_check_in_reaches_the_open_stream_and_reconnect_catches_up(
    emu: FakeBotApi, start_bot: AppFactory
) -> None:
    async with start_bot(web=WEB) as app:
        lurah = await signed_in(emu, app, LURAH)
        admin = await signed_in(emu, app, ADMIN)
        try:
            stream = await open_stream(lurah)
            reply = await Phone(emu, BUDI).location(*MONAS)
            assert "Hadir tercatat" in (reply.text or "")
            heard = await stream.until(
                lambda e: e["event"] == "post" and e["data"]["post"] == "KBJ-01"
            )
            assert heard["data"]["state"] == "staffed" and "id" in heard
            assert "Budi" not in str(heard)  # ids, codes and states: no names
            stream.close()

            # while nobody listens: Sari checks in at KBJ-02 (outside the lurah's scope)
            # and Budi sends all clear at KBJ-01
            await Phone(emu, SARI).send("/aman")
            assert "Situasi aman" in ((await Phone(emu, BUDI).send("/aman")).text or "")
            again = await open_stream(lurah, heard["id"])
            missed = await again.until(lambda e: e["event"] == "post")
            assert missed["data"]["post"] == "KBJ-01"
            assert int(missed["id"].split(".")[1]) > int(heard["id"].split(".")[1])
            again.close()

            for stale in ("nonsense", "beef.1", heard["id"].split(".")[0] + ".999999"):
                lost = await open_stream(lurah, stale)
                assert (await lost.next())["event"] == "reload"
                lost.close()
            # an admin hears every area
            everything = await open_stream(admin)
            await Phone(emu, BUDI).send("/pulang")
            left = await everything.until(lambda e: e["event"] == "post")
            assert left["data"]["post"] == "KBJ-01"
            everything.close()
        finally:
            await lurah.close()
            await admin.close()


async def test_taking_an_alert_in_the_room_tells_the_chat(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock
) -> None:
    async with start_bot(web=WEB) as app:
        watcher = runtime_of(app).watcher
        assert watcher is not None
        await watcher.sweep()
        for code in ("KBJ-02", "KEC-KBJ"):
            await Phone(emu, ADMIN).send(f"/jeda {code} 2h")
        camat = await signed_in(emu, app, CAMAT)
        try:
            stream = await open_stream(camat)
            clock.advance(timedelta(minutes=16))
            await watcher.sweep()
            await delivered(emu, app, clock, LURAH, "posko kosong")
            opened = await stream.until(lambda e: e["event"] == "alert")
            assert opened["data"]["action"] == "opened" and opened["data"]["post"] == "KBJ-01"
            alerts = await camat.json("/api/alerts")
            (alert,) = alerts["alerts"]
            assert alert["post"] == "KBJ-01" and alert["takeable"] is True
            board = await camat.json("/api/posts")
            kbj = next(post for post in board["posts"] if post["code"] == "KBJ-01")
            assert kbj["state"] == "unstaffed" and kbj["alert"]["id"] == alert["id"]
            assert board["posts"][0]["code"] == "KBJ-01"  # problem posts first

            taken = await camat.post(f"/api/alerts/{alert['id']}/take")
            assert taken.status == 200
            assert (await taken.json())["taken_by"] == "Camat Kebon Jeruk"
            told = await delivered(emu, app, clock, LURAH, "diambil alih oleh Camat Kebon Jeruk")
            assert "KBJ-01" in (told.text or "")
            mine = await delivered(emu, app, clock, CAMAT, "Bapak/Ibu mengambil alih")
            assert "KBJ-01" in (mine.text or "")
            heard = await stream.until(
                lambda e: e["event"] == "alert" and e["data"]["action"] == "taken"
            )
            assert heard["data"]["id"] == alert["id"]
            again = await camat.post(f"/api/alerts/{alert['id']}/take")
            assert again.status == 409
            stream.close()
        finally:
            await camat.close()


@pytest.mark.parametrize("path", ["/api/recap", "/api/circulars", "/api/boundaries"])
async def test_other_endpoints_need_a_session_and_answer(
    path: str, emu: FakeBotApi, start_bot: AppFactory
) -> None:
    async with start_bot(web=WEB) as app:
        anonymous = browser(app)
        admin = await signed_in(emu, app, ADMIN)
        try:
            assert (await anonymous.get(path)).status == 401
            body = await admin.json(path)
            if path == "/api/boundaries":
                assert body == {"type": "FeatureCollection", "features": []}
            elif path == "/api/recap":
                assert body["posts"] == 3 and body["day"] == "2026-11-24"
            else:
                assert body == {"circulars": []}
        finally:
            await anonymous.close()
            await admin.close()


async def test_boundaries_follow_the_viewers_scope(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path, tmp_path: Path
) -> None:
    from bot.exchange.boundary_file import import_boundaries
    from storage.db import Database

    def square(code: str, lon: float, lat: float) -> dict[str, object]:
        ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01]]
        ring.append(ring[0])
        return {
            "type": "Feature",
            "properties": {"code": code},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    file = tmp_path / "batas.geojson"
    features = [
        square("31.73.01.1001", 106.82, -6.18),
        square("31.73.01.1002", 106.77, -6.21),
    ]
    file.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    db = await Database.open(db_path)
    try:
        await import_boundaries(db, file, T0)
    finally:
        await db.close()
    async with start_bot(web=WEB) as app:
        lurah = await signed_in(emu, app, LURAH)
        admin = await signed_in(emu, app, ADMIN)
        try:
            mine = await lurah.json("/api/boundaries")
            everything = await admin.json("/api/boundaries")
            assert [f["properties"]["code"] for f in mine["features"]] == ["31.73.01.1001"]
            assert {f["properties"]["code"] for f in everything["features"]} == {
                "31.73.01.1001",
                "31.73.01.1002",
            }
        finally:
            await lurah.close()
            await admin.close()


async def test_posts_carry_the_piket_running_now(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    from tests.roster_seed import WEDNESDAY, seed_slots

    # Tuesday 18:00-23:00 WIB runs at T0 (19:00); Budi has not checked in.
    await seed_slots(db_path, ("KBJ-01", "budi", WEDNESDAY - timedelta(days=1), "18:00", "23:00"))
    async with start_bot(web=WEB) as app:
        admin = await signed_in(emu, app, ADMIN)
        try:
            board = {p["code"]: p for p in (await admin.json("/api/posts"))["posts"]}
            assert board["KBJ-01"]["rostered"] == {"now": 1, "present": 0}
            assert board["KBJ-02"]["rostered"] is None
        finally:
            await admin.close()


async def test_page_without_a_build_says_how_to_build_it(
    emu: FakeBotApi, start_bot: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.web import server

    async with start_bot(web=WEB) as app:
        person = browser(app)
        try:
            monkeypatch.setattr(server, "built", lambda: False)
            page = await person.get("/")
            assert page.status == 503 and "scripts/build-web" in await page.text()
            monkeypatch.undo()
            assert server.built()  # scripts/venv.sh built the page for this suite
            assert (await person.get("/")).status == 200
        finally:
            await person.close()
