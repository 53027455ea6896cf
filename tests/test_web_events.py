"""The command room's event hub (bot.web.events): numbering, catch-up from the buffer,
who hears what, and a slow stream that is dropped instead of holding up the bot."""

from __future__ import annotations

from bot.web.events import RELOAD, Audience, Hub

LURAH = Audience(member_id=1, area_ids={10, 11}, sees_posts=True)
ADMIN = Audience(member_id=2, area_ids=None, sees_posts=True, admin=True)
LIAISON = Audience(member_id=3, area_ids=set(), sees_posts=False, agency_id=7,
                   liaison_area_ids={10})  # fmt: skip


def post(area_id: int, code: str = "KBJ-01") -> dict[str, object]:
    return {"topic": "post", "post": code, "area_id": area_id, "state": "staffed"}


async def test_events_are_numbered_and_reach_only_those_in_scope() -> None:
    hub = Hub()
    lurah, _ = hub.subscribe(LURAH)
    admin, _ = hub.subscribe(ADMIN)
    liaison, _ = hub.subscribe(LIAISON)
    hub.publish([post(10), post(99, "KMB-01")])
    hub.publish([{"topic": "forward", "id": 5, "agency_id": 7, "area_id": 10, "state": "dikirim"},
                 {"topic": "forward", "id": 6, "agency_id": 8, "area_id": 10, "state": "dikirim"},
                 {"topic": "circular", "id": 4, "author_id": 1, "action": "read"}])  # fmt: skip
    heard = {name: [] for name in ("lurah", "admin", "liaison")}
    for name, subscriber in (("lurah", lurah), ("admin", admin), ("liaison", liaison)):
        while not subscriber.queue.empty():
            item = subscriber.queue.get_nowait()
            assert item is not None and not isinstance(item, str)
            heard[name].append(item.seq)
    assert heard["admin"] == [1, 2, 3, 4, 5]
    assert heard["lurah"] == [1, 3, 4, 5]  # not KMB-01; both forwards in its area; own circular
    assert heard["liaison"] == [3]  # own agency's forward only: no posts
    assert hub.ring[0].id == f"{hub.boot}.1"


async def test_reconnect_catches_up_or_reloads() -> None:
    hub = Hub(ring_size=3)
    hub.publish([post(10) for _ in range(5)])
    _, missed = hub.subscribe(LURAH, f"{hub.boot}.3")
    assert missed is not None and [event.seq for event in missed] == [4, 5]
    _, none_missed = hub.subscribe(LURAH, f"{hub.boot}.5")
    assert none_missed == []
    for too_old_or_foreign in (f"{hub.boot}.1", f"{hub.boot}.9", "0000.3", "x", f"{hub.boot}.-1"):
        _, missed = hub.subscribe(LURAH, too_old_or_foreign)
        assert missed is None, too_old_or_foreign


async def test_a_slow_stream_is_dropped_with_reload() -> None:
    hub = Hub(queue_size=4)
    slow, _ = hub.subscribe(LURAH)
    quick, _ = hub.subscribe(ADMIN)
    for _ in range(10):
        hub.publish([post(10)])
        while not quick.queue.empty():
            quick.queue.get_nowait()
    assert slow not in hub.subscribers and slow.dropped and hub.dropped == 1
    assert slow.queue.get_nowait() == RELOAD and slow.queue.empty()
    assert quick in hub.subscribers
    hub.close()
    assert quick.queue.get_nowait() is None and not hub.subscribers
