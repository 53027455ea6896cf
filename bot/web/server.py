"""The command room's web server on ``[web] port``, run inside the bot process.

Serves the page shell (``/``, ``/static/``), the session doors (``POST /api/session``
for the Mini App, ``/login/<token>`` and ``/layar/<token>`` for links), the JSON API
(bot.web.api) and the event stream (bot.web.stream). Every response carries the
Content-Security-Policy: scripts and styles only from this server, images also from the
configured tile host, and framing only by Telegram's web client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

from bot.core.runtime import Runtime
from bot.web import api, stream
from bot.web.auth import COOKIE, InitDataError, Started, end_session, session_from_init_data
from bot.web.auth import use_link as use_link_token
from bot.web.events import Hub

log = logging.getLogger(__name__)

STATIC = {
    "app.js": "application/javascript",
    "app.css": "text/css",
}
TELEGRAM_WEB = "https://web.telegram.org"
TELEGRAM_SCRIPT = "https://telegram.org"
SHUTDOWN_TIMEOUT = 2.0


def tile_source(template: str) -> str | None:
    """The CSP source of a tile URL template (``{s}.tile.example.org`` → ``*.tile...``)."""
    if not template:
        return None
    parts = urlsplit(template)
    host = parts.hostname or ""
    if not host:
        return None
    host = host.replace("{s}.", "*.")
    if "{" in host or "}" in host:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def content_policy(tiles: str) -> str:
    images = " ".join(filter(None, ["'self'", "data:", tile_source(tiles)]))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {TELEGRAM_SCRIPT}",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors 'self' {TELEGRAM_WEB}",
        ]
    )


def secure_cookies(runtime: Runtime) -> bool:
    public = runtime.settings.web.public_url or ""
    return public.startswith("https://")


def set_session_cookie(response: web.StreamResponse, runtime: Runtime, started: Started) -> None:
    # A wall screen keeps its cookie for days (until the link is revoked); a session
    # cookie otherwise, ending with the browser and, on the server, with session_ttl.
    max_age = 30 * 86400 if started.kind == "wall" else None
    response.set_cookie(
        COOKIE,
        started.token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure_cookies(runtime),
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(runtime: Runtime, hub: Hub) -> web.Application:
    policy = content_policy(runtime.settings.web.tiles)

    @web.middleware
    async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        # A login link's token must not travel on to the tile server in a Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith(("/api/", "/login/", "/layar/")):
            response.headers.setdefault("Cache-Control", "no-store")
        if isinstance(response, web.HTTPException):
            raise response
        return response

    app = web.Application(middlewares=[headers], client_max_size=api.MAX_BODY)
    app[api.RUNTIME] = runtime
    app[stream.HUB] = hub
    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_post("/api/session", start_app_session)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/login/{token}", login_link)
    app.router.add_get("/layar/{token}", wall_link)
    app.router.add_get("/api/events", stream.events)
    for method, path, handler in api.routes():
        app.router.add_route(method, path, handler)
    return app


def _asset(name: str) -> bytes:
    return resources.files("bot.web").joinpath("static", name).read_bytes()


def built() -> bool:
    """app.js and app.css are built from web/ (scripts/build-web), not kept in git."""
    folder = resources.files("bot.web").joinpath("static")
    return all(folder.joinpath(name).is_file() for name in STATIC)


async def page(_request: web.Request) -> web.Response:
    if not built():
        return web.Response(
            status=503, body=_asset("unbuilt.html"), content_type="text/html", charset="utf-8"
        )
    return web.Response(body=_asset("index.html"), content_type="text/html", charset="utf-8")


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = STATIC.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    try:
        body = _asset(name)
    except FileNotFoundError:
        raise web.HTTPNotFound(text="run scripts/build-web") from None
    return web.Response(body=body, content_type=kind, charset="utf-8")


async def start_app_session(request: web.Request) -> web.Response:
    """The Mini App trades its ``initData`` for a session (cookie, and a bearer token for
    webviews that keep no cookie); 401 for forged or stale data, 403 for non-members."""
    runtime = request.app[api.RUNTIME]
    data = await api.body_of(request)
    init_data = data.get("init_data")
    if not isinstance(init_data, str):
        raise api.fail(400, "init_data_required")
    token = runtime.settings.telegram.token or ""
    started = await session_from_init_data(
        runtime.database, init_data, token, runtime.clock.now(), runtime.settings.web.session_ttl
    )
    if isinstance(started, InitDataError):
        raise api.fail(401, started.value)
    if started is None:
        raise api.fail(403, "not_a_member")
    response = web.json_response(
        {"csrf_token": started.csrf_token, "bearer": started.token, "name": started.member.name},
        dumps=json.dumps,
    )
    set_session_cookie(response, runtime, started)
    return response


async def logout(request: web.Request) -> web.Response:
    runtime = request.app[api.RUNTIME]
    found = await api.writer(request)
    await end_session(runtime.database, found.viewer, runtime.clock.now())
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def _use_link(request: web.Request, kind: str) -> web.StreamResponse:
    runtime = request.app[api.RUNTIME]
    started = await use_link_token(
        runtime.database,
        request.match_info["token"],
        kind,
        runtime.clock.now(),
        runtime.settings.web.session_ttl,
    )
    if started is None:
        return web.Response(
            status=403 if kind == "wall" else 410,
            body=_asset("expired.html"),
            content_type="text/html",
            charset="utf-8",
        )
    response = web.HTTPSeeOther("/")
    set_session_cookie(response, runtime, started)
    return response


async def login_link(request: web.Request) -> web.StreamResponse:
    return await _use_link(request, "login")


async def wall_link(request: web.Request) -> web.StreamResponse:
    return await _use_link(request, "wall")


class WebServer:
    """Started in post_init when ``[web] port`` is set, stopped in post_shutdown."""

    def __init__(self, runtime: Runtime, hub: Hub | None = None) -> None:
        self.runtime = runtime
        self.hub = hub or Hub()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """Where links point: ``public_url``, else this server's own address."""
        public = self.runtime.settings.web.public_url
        if public:
            return public
        return f"http://{self.runtime.settings.web.listen}:{self.port}"

    async def start(self) -> None:
        settings = self.runtime.settings.web
        assert settings.port is not None
        self.runtime.database.on_events.append(self.hub.publish)
        app = build_app(self.runtime, self.hub)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.listen, settings.port)
        await site.start()
        self.port = settings.port or _bound_port(self._runner)
        log.info("command room on http://%s:%s", settings.listen, self.port)

    async def stop(self) -> None:
        self.hub.close()
        if self.hub.publish in self.runtime.database.on_events:
            self.runtime.database.on_events.remove(self.hub.publish)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the command room's port is unknown")
