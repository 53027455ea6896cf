"""``GET /api/events``: the command room's server-sent event stream.

Each event is ``id: <boot>.<seq>``, ``event: <topic>`` and one JSON ``data:`` line with
ids, codes and states (the page fetches what it needs to draw). A reconnect with
``Last-Event-ID`` first gets what it missed from the hub's buffer; when that is too old
(or from before a restart) it gets ``event: reload`` and the page fetches everything
again. A stream too slow to keep up also gets ``reload`` and is closed. A comment line
every ``HEARTBEAT`` seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from bot.web.api import reach
from bot.web.events import RELOAD, Event, Hub

HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
HEARTBEAT = 15.0
RETRY_MS = 2000


def frame(event: Event) -> bytes:
    return f"id: {event.id}\nevent: {event.topic}\ndata: {event.data}\n\n".encode()


RELOAD_FRAME = f"event: {RELOAD}\ndata: {{}}\n\n".encode()


async def events(request: web.Request) -> web.StreamResponse:
    found = await reach(request)
    hub = request.app[HUB]
    last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    subscriber, missed = hub.subscribe(found.audience(), last)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n: posko\n\n".encode())
        if missed is None:
            await response.write(RELOAD_FRAME)
        else:
            for event in missed:
                await response.write(frame(event))
        while True:
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            if item is None:
                break
            if item == RELOAD:
                await response.write(RELOAD_FRAME)
                break
            assert isinstance(item, Event)
            await response.write(frame(item))
    except ConnectionResetError:
        return response  # the page went away
    finally:
        hub.unsubscribe(subscriber)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response
