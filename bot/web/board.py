"""The command room's posts, alerts and piket (SPEC §9, §10): the map's posts, one post's
panel, the open alerts with ✋ take, and the posts whose piket runs now.

What a supervisor reads here is what the chat tells them, without phone numbers: the
post's officers as the alert's "👥 Petugas posko" line names them, which level an alert
has reached, and each rostered slot with the mark ``/pantau KODE`` gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.core.scope import covers
from bot.roster import views as roster_views
from bot.watch import alerts
from bot.watch.alerts import TakeStatus
from bot.web.api import (
    ALERTS_LIMIT,
    RUNTIME,
    STATE_RANK,
    Handler,
    Reach,
    fail,
    number_of,
    ok,
    reach,
    when,
    writer,
)
from storage import alerts as alerts_store
from storage import overview
from storage import roster as roster_store
from storage import web as store
from storage.alerts import Person
from storage.roster import Slot

Tree = dict[int, tuple[str, str, str, int | None]]
PIKET_LIMIT = 500


def _paths(tree: Tree) -> Callable[[int], list[Any]]:
    known: dict[int, list[dict[str, str]]] = {}

    def path(area_id: int) -> list[Any]:
        found = known.get(area_id)
        if found is None:
            chain: list[dict[str, str]] = []
            current: int | None = area_id
            while current is not None and current in tree and len(chain) < 16:
                code, name, level, parent = tree[current]
                chain.append({"code": code, "name": name, "level": level})
                current = parent
            found = known[area_id] = list(reversed(chain))
        return found

    return path


def _area(tree: Tree, area_id: int | None) -> dict[str, str] | None:
    """The level an alert has reached (its step's area), as the chat names it."""
    if area_id is None or area_id not in tree:
        return None
    code, name, level, _parent = tree[area_id]
    return {"code": code, "name": name, "level": level}


def _people(people: Sequence[Person]) -> list[dict[str, Any]]:
    """The post's officers, on duty first: names only (phones stay in private chats)."""
    return [
        {"name": person.name, "on_duty": person.on_duty, "rostered": person.rostered}
        for person in people
    ]


def _post_json(
    post: store.BoardPost,
    path: list[Any],
    member_id: int,
    scope: Any,
    tree: Tree,
    rostered: tuple[int, int] | None = None,
) -> Any:
    alert = None
    if post.alert_id is not None:
        line = overview.AlertLine(
            post.alert_id,
            post.id,
            post.code,
            post.name,
            post.alert_kind or "",
            post.alert_opened_at or datetime.min,
            post.alert_taken_by,
            post.alert_taken_at,
            post.alert_taker_id,
            post.alert_taker_id is not None and (post.alert_taken_stage or 0) >= 2,
            post.alert_step_area_id,
        )
        alert = {
            "id": post.alert_id,
            "kind": post.alert_kind,
            "opened_at": when(post.alert_opened_at),
            "step": post.alert_step,
            "step_area": _area(tree, post.alert_step_area_id),
            "taken_by": post.alert_taken_by,
            "taken_at": when(post.alert_taken_at),
            "takeable": alerts.may_take(line, member_id, scope),
        }
    return {
        "code": post.code,
        "name": post.name,
        "area": path[-1] if path else None,
        "path": path,
        "lat": post.latitude,
        "lon": post.longitude,
        "state": post.state,
        "state_since": when(post.state_since),
        "paused_until": when(post.paused_until),
        "on_duty": post.on_duty,
        "min_staff": post.min_staff,
        "last_signal_at": when(post.last_signal_at),
        "open_reports": post.open_issues,
        "alert": alert,
        # The piket running now (SPEC §9): slots, and how many of their officers are in.
        "rostered": None if rostered is None else {"now": rostered[0], "present": rostered[1]},
    }


def _language(request: web.Request, found: Reach) -> str:
    runtime = request.app[RUNTIME]
    return found.viewer.member.language or runtime.settings.bot.default_language


def _slot_json(language: str, slot: Slot, name: str, now: datetime, present: bool) -> Any:
    return {
        "start": when(slot.start_at),
        "end": when(slot.end_at),
        "hours": roster_views.hours(slot),
        "name": name,
        "present": present,
        "running": slot.start_at <= now < slot.end_at,
        "mark": roster_views.marked(language, slot, now),
    }


async def posts(request: web.Request) -> web.Response:
    found = await reach(request)
    if not found.sees_posts:
        raise fail(403, "no_posts")
    async with request.app[RUNTIME].database.read() as tx:
        board = await store.board(tx, found.scope)
        tree = await store.areas_by_id(tx)
        rosters = await roster_store.roster_counts(
            tx, [post.id for post in board], request.app[RUNTIME].clock.now()
        )
    path = _paths(tree)
    member_id = found.viewer.member.id
    board.sort(key=lambda post: (STATE_RANK.get(post.state, 4), post.code))
    counts: dict[str, int] = {}
    for post in board:
        counts[post.state] = counts.get(post.state, 0) + 1
    return ok(
        {
            "posts": [
                _post_json(p, path(p.area_id), member_id, found.scope, tree, rosters.get(p.id))
                for p in board
            ],
            "counts": counts,
        }
    )


async def one_post(request: web.Request) -> web.Response:
    """A post's panel: the board's fields, its officers (names, on duty first) and
    today's rostered slots with their marks, as ``/pantau KODE`` gives them."""
    found = await reach(request)
    code = request.match_info["code"].upper()[:40]
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    async with runtime.database.read() as tx:
        board = await store.board(tx, None, code)
        if not board:
            raise fail(404, "unknown_post")
        post = board[0]
        if not found.sees_posts or not covers(found.scope, post.area_id):
            raise fail(403, "out_of_scope")
        tree = await store.areas_by_id(tx)
        rosters = await roster_store.roster_counts(tx, [post.id], now)
        people = await alerts_store.people(tx, [post.id])
        today = await roster_views.today_of_post(tx, post.id, now)
        at = await roster_store.on_duty_at(tx, sorted({slot.member_id for slot, _ in today}))
    language = _language(request, found)
    member_id = found.viewer.member.id
    body = _post_json(
        post, _paths(tree)(post.area_id), member_id, found.scope, tree, rosters.get(post.id)
    )
    body["people"] = _people(people.get(post.id, []))
    body["roster_today"] = [
        _slot_json(language, slot, name, now, at.get(slot.member_id) == post.id)
        for slot, name in today
    ]
    return ok({"post": body})


async def alert_list(request: web.Request) -> web.Response:
    found = await reach(request)
    if not found.sees_posts:
        raise fail(403, "no_posts")
    async with request.app[RUNTIME].database.read() as tx:
        lines, total = await overview.open_alerts(tx, found.scope, ALERTS_LIMIT)
        tree = await store.areas_by_id(tx)
        people = await alerts_store.people(tx, sorted({line.post_id for line in lines}))
    member_id = found.viewer.member.id
    return ok(
        {
            "alerts": [
                {
                    "id": line.id,
                    "post": line.post_code,
                    "post_name": line.post_name,
                    "kind": line.kind,
                    "opened_at": when(line.opened_at),
                    "step_area": _area(tree, line.step_area_id),
                    "taken_by": line.taken_by,
                    "taken_at": when(line.taken_at),
                    "takeable": alerts.may_take(line, member_id, found.scope),
                    "people": _people(people.get(line.post_id, [])),
                }
                for line in lines
            ],
            "total": total,
        }
    )


async def take_alert(request: web.Request) -> web.Response:
    """The "Ambil alih" button, from the command room: the same service, and every chat
    told through the outbox (the taker gets the people to call in private)."""
    found = await writer(request)
    alert_id = number_of(request.match_info["id"])
    runtime = request.app[RUNTIME]
    result = await alerts.take(
        runtime.database,
        found.viewer.member,
        alert_id,
        runtime.clock.now(),
        runtime.watcher,
        alerts.NO_CHAT,
        runtime.settings.watch.taken_timeout,
    )
    if result.status is TakeStatus.TAKEN:
        return ok({"taken": True, "post": result.post_code, "taken_by": result.taken_by})
    if result.status is TakeStatus.ALREADY_TAKEN:
        raise fail(409, "already_taken", taken_by=result.taken_by)
    if result.status is TakeStatus.OVER:
        raise fail(409, "over")
    if result.status is TakeStatus.NOT_YOURS:
        raise fail(403, "out_of_scope")
    raise fail(404, "unknown_alert")


async def piket(request: web.Request) -> web.Response:
    """``GET /api/roster``: the posts in scope whose piket runs now, with each running
    slot's officer, whether they are in, and the slot's mark (who is late for piket)."""
    found = await reach(request)
    if not found.sees_posts:
        raise fail(403, "no_posts")
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    language = _language(request, found)
    async with runtime.database.read() as tx:
        board = {post.id: post for post in await store.board(tx, found.scope)}
        counts = await roster_store.roster_counts(tx, list(board), now)
        running = sorted(counts, key=lambda post_id: (counts[post_id][1] >= counts[post_id][0],
                                                      board[post_id].code))  # fmt: skip
        running = running[:PIKET_LIMIT]
        rostered = await roster_store.rostered_now(tx, running, now)
    items = []
    for post_id in running:
        post = board[post_id]
        slots = rostered.get(post_id, [])
        items.append(
            {
                "code": post.code,
                "name": post.name,
                "state": post.state,
                "now": counts[post_id][0],
                "present": counts[post_id][1],
                "slots": [
                    _slot_json(language, one.slot, one.name, now, one.on_duty) for one in slots
                ],
            }
        )
    return ok({"posts": items, "total": len(counts)})


def routes() -> list[tuple[str, str, Handler]]:
    return [
        ("GET", "/api/posts", posts),
        ("GET", "/api/posts/{code}", one_post),
        ("GET", "/api/alerts", alert_list),
        ("POST", "/api/alerts/{id}/take", take_alert),
        ("GET", "/api/roster", piket),
    ]
