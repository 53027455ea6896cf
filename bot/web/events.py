"""The command room's event hub: committed changes, numbered, kept a while, fanned out.

``Database.on_events`` hands every committed transaction's events to :meth:`Hub.publish`
on the event loop's thread, inside the commit path of whoever wrote: so publishing must
never wait. Each event is numbered and serialised once, kept in a ring buffer (a stream
that reconnects with ``Last-Event-ID`` catches up from it), and put on the bounded queue
of every subscriber whose member may see it. A subscriber whose queue is full is dropped
with a "reload" (the page fetches everything again): a slow screen costs the bot nothing.

Event ids are ``<boot>.<seq>``: after a restart the numbers start again, and an id of an
earlier boot is answered with "reload" instead of being mistaken for a recent one.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

RING_SIZE = 2048
QUEUE_SIZE = 1024
RELOAD = "reload"
ENDED = "ended"
SESSION_TOPIC = "session"
"""Not sent on: ``ended`` lists sessions (logged out, wall links revoked) whose open
streams are told "ended" and closed at once."""


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    id: str
    topic: str
    fields: dict[str, Any]
    data: str
    """The JSON sent on the wire: the fields plus ``topic``."""


@dataclass(frozen=True, slots=True)
class Audience:
    """What one session may hear: areas (None: all), and for a liaison their agency."""

    member_id: int
    area_ids: Collection[int] | None
    sees_posts: bool
    """Supervisors and admins: posts, alerts, reports of their subtree."""
    agency_id: int | None = None
    """A liaison: the forwards to this agency within ``liaison_area_ids``."""
    liaison_area_ids: Collection[int] = ()
    admin: bool = False
    session_id: int | None = None

    def hears(self, event: Event) -> bool:
        fields = event.fields
        topic = event.topic
        if topic == "circular":
            return self.admin or fields.get("author_id") == self.member_id
        area_id = fields.get("area_id")
        if (
            topic == "forward"
            and self.agency_id is not None
            and fields.get("agency_id") == self.agency_id
            and area_id in self.liaison_area_ids
        ):
            return True
        if not self.sees_posts or area_id is None:
            return False
        return self.area_ids is None or area_id in self.area_ids


@dataclass(eq=False)
class Subscriber:
    audience: Audience
    queue: asyncio.Queue[Event | str | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    dropped: bool = False


class Hub:
    def __init__(self, ring_size: int = RING_SIZE, queue_size: int = QUEUE_SIZE) -> None:
        self.boot = secrets.token_hex(4)
        self.seq = 0
        self.ring: deque[Event] = deque(maxlen=ring_size)
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.closed = False
        self.dropped = 0
        self.listeners: list[Callable[[Event], None]] = []

    def publish(self, changes: list[dict[str, Any]]) -> None:
        """Called after COMMIT with the transaction's events (never blocks)."""
        for change in changes:
            topic = str(change.get("topic", ""))
            if topic == SESSION_TOPIC:
                self.end_sessions(change.get("ended") or ())
                continue
            self.seq += 1
            fields = {key: value for key, value in change.items() if key != "topic"}
            event_id = f"{self.boot}.{self.seq}"
            data = json.dumps({"topic": topic, **fields}, separators=(",", ":"), default=str)
            event = Event(self.seq, event_id, topic, fields, data)
            self.ring.append(event)
            for subscriber in list(self.subscribers):
                if subscriber.audience.hears(event):
                    self._offer(subscriber, event)
            for listener in self.listeners:
                listener(event)

    def _offer(self, subscriber: Subscriber, item: Event | str) -> None:
        try:
            subscriber.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Too slow to keep up: tell it to reload, and let it go.
            self.dropped += 1
            subscriber.dropped = True
            self._let_go(subscriber, RELOAD)

    def _let_go(self, subscriber: Subscriber, last: str) -> None:
        """No more events for ``subscriber``: what it had queued goes, ``last`` ends it."""
        self.subscribers.discard(subscriber)
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(last)

    def subscribe(
        self, audience: Audience, last_event_id: str | None = None
    ) -> tuple[Subscriber, list[Event] | None]:
        """A new subscriber and what it missed since ``last_event_id`` (None: it must
        reload, the id is unknown or too old). Nothing can be published between the two,
        since both happen without yielding to the loop: no gap and no double."""
        subscriber = Subscriber(audience, asyncio.Queue(self.queue_size))
        missed: list[Event] | None = []
        if last_event_id:
            missed = self.since(last_event_id)
            if missed is not None:
                missed = [event for event in missed if audience.hears(event)]
        if not self.closed:
            self.subscribers.add(subscriber)
        return subscriber, missed

    def since(self, last_event_id: str) -> list[Event] | None:
        boot, _, number = last_event_id.strip().partition(".")
        if boot != self.boot or not number.isdigit() or len(number) > 18:
            return None
        last = int(number)
        if last > self.seq:
            return None
        if last == self.seq:
            return []
        if not self.ring or self.ring[0].seq > last + 1:
            return None  # fell out of the buffer: the client must reload
        return [event for event in self.ring if event.seq > last]

    def end_sessions(self, session_ids: Collection[int]) -> None:
        """The sessions ended (logout, ``/dasbor cabut``): their streams close now, not
        at the next event they would otherwise be refused."""
        ended = set(session_ids)
        for subscriber in list(self.subscribers):
            if subscriber.audience.session_id in ended:
                self._let_go(subscriber, ENDED)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def close(self) -> None:
        """End every stream (the server stops)."""
        self.closed = True
        for subscriber in list(self.subscribers):
            try:
                subscriber.queue.put_nowait(None)
            except asyncio.QueueFull:
                subscriber.queue.get_nowait()
                subscriber.queue.put_nowait(None)
        self.subscribers.clear()
