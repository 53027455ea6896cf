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
from bot.web.events import ENDED, RELOAD, Event, Hub

HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)
HEARTBEAT = 15.0
RETRY_MS = 2000


def frame(event: Event) -> bytes:
    return f"id: {event.id}\nevent: {event.topic}\ndata: {event.data}\n\n".encode()


RELOAD_FRAME = f"event: {RELOAD}\ndata: {{}}\n\n".encode()
ENDED_FRAME = f"event: {ENDED}\ndata: {{}}\n\n".encode()
LAST_FRAMES = {RELOAD: RELOAD_FRAME, ENDED: ENDED_FRAME}
"""The frame that ends a stream, by the queue item that ends it."""
BATCH = 1024
LINGER = 0.1


def _frames(batch: list[Event | str | None]) -> tuple[bytes, bool]:
    """The bytes of a batch of queue items, and whether the stream ends after them
    (None: the server stops; "reload": the subscriber was dropped; "ended": its session
    ended)."""
    parts: list[bytes] = []
    for item in batch:
        if item is None:
            return b"".join(parts), True
        if isinstance(item, str):
            parts.append(LAST_FRAMES[item])
            return b"".join(parts), True
        assert isinstance(item, Event)
        parts.append(frame(item))
    return b"".join(parts), False


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
        elif missed:
            await response.write(b"".join(frame(event) for event in missed))
        while True:
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            # Linger a moment and send whatever came meanwhile in one write: woken once per
            # event, 200 screens would cost the bot's loop 200 turns for every change.
            # (Changes must show within 2 s; this adds at most LINGER.)
            if isinstance(item, Event):
                await asyncio.sleep(LINGER)
            batch = [item]
            while len(batch) < BATCH and not subscriber.queue.empty():
                batch.append(subscriber.queue.get_nowait())
            chunk, end = _frames(batch)
            if chunk:
                await response.write(chunk)
            if end:
                break
    except ConnectionResetError:
        return response  # the page went away
    finally:
        hub.unsubscribe(subscriber)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response
