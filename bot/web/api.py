"""The command room's JSON API (SPEC §10), scoped like the member's chat view.

Every endpoint needs a session (401 without); what it shows is the member's subtree as
``/pantau`` and ``/laporan`` show it, and anything outside answers 403. A liaison sees
only the reports forwarded to their agency within their scope: no posts, presence,
alerts or recaps. Actions call the same services as the chat buttons, with the same
rules and the same notices. Report texts are plain strings: the page escapes them.
The README's "Web API" section documents the shapes.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.core.access import Role, has_role
from bot.core.clock import wib
from bot.core.runtime import Runtime
from bot.core.scope import covers, own_area_ids, scope_area_ids
from bot.insight.boundaries import feature_collection
from bot.insight.recap import load as load_recap
from bot.reports import desk, disposisi
from bot.watch import alerts
from bot.watch.alerts import TakeStatus
from bot.web.auth import COOKIE, Viewer, viewer_of
from bot.web.events import Audience
from storage import agencies, areas, forwards, issues, members, overview
from storage import circulars as circulars_store
from storage import roster as roster_store
from storage import web as store
from storage.agencies import Agency
from storage.db import Tx
from storage.forwards import Forward
from storage.issues import IssueCard

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
MAX_BODY = 16_384
MAX_PER_PAGE = 100
ALERTS_LIMIT = 500
CIRCULARS_LIMIT = 20
STATE_RANK = {"silent": 0, "unstaffed": 1, "opening": 2, "reminded": 3, "staffed": 3}
LIAISON_STEPS = {"accept": disposisi.ACCEPT}
"""Liaison steps the API takes; the ones that need a note stay in the chat for now."""


def fail(code: int, error: str, /, **extra: Any) -> web.HTTPException:
    body = json.dumps({"error": error, **extra})
    kinds: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        413: web.HTTPRequestEntityTooLarge,
    }
    kind = kinds[code]
    if kind is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(
            MAX_BODY, 0, text=body, content_type="application/json"
        )
    return kind(text=body, content_type="application/json")


def ok(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, dumps=lambda value: json.dumps(value, default=str))


def when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def session_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.cookies.get(COOKIE)


@dataclass(frozen=True, slots=True)
class Reach:
    """What the viewer may see: a supervisor's subtree (None: all; empty: none) and, for
    a liaison, their agency and its areas."""

    viewer: Viewer
    scope: set[int] | None
    agency: Agency | None
    liaison_areas: frozenset[int]

    @property
    def sees_posts(self) -> bool:
        return self.scope is None or bool(self.scope)

    def audience(self) -> Audience:
        member = self.viewer.member
        return Audience(
            member_id=member.id,
            area_ids=self.scope,
            sees_posts=self.sees_posts,
            agency_id=self.agency.id if self.agency is not None else None,
            liaison_area_ids=self.liaison_areas,
            admin=has_role(member, Role.ADMIN),
        )


async def reach_of(tx: Tx, viewer: Viewer) -> Reach:
    member = viewer.member
    scope = await scope_area_ids(tx, member)
    agency: Agency | None = None
    liaison_areas: frozenset[int] = frozenset()
    if has_role(member, Role.LIAISON):
        agency = await agencies.of_member(tx, member.id)
        if agency is not None:
            own = await members.scope_area_ids(tx, member.id)
            liaison_areas = frozenset(await areas.subtree_ids(tx, own))
    return Reach(viewer, scope, agency, liaison_areas)


async def viewer(request: web.Request) -> Viewer:
    runtime = request.app[RUNTIME]
    found = await viewer_of(runtime.database, session_token(request), runtime.clock.now())
    if found is None:
        raise fail(401, "unauthorized")
    return found


async def reach(request: web.Request) -> Reach:
    seen = await viewer(request)
    async with request.app[RUNTIME].database.read() as tx:
        return await reach_of(tx, seen)


async def writer(request: web.Request) -> Reach:
    """A POST: a session that may act (no wall screen) and the session's CSRF token."""
    found = await reach(request)
    if found.viewer.read_only:
        raise fail(403, "read_only")
    given = request.headers.get("X-CSRF-Token", "")
    if not hmac.compare_digest(given.encode(), found.viewer.session.csrf_token.encode()):
        raise fail(403, "csrf")
    return found


async def body_of(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise fail(413, "too_large")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise fail(413, "too_large")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise fail(400, "bad_json") from None
    if not isinstance(data, dict):
        raise fail(400, "bad_json")
    return data


def note_of(data: dict[str, Any]) -> str | None:
    note = data.get("note")
    if note is None:
        return None
    if not isinstance(note, str):
        raise fail(400, "bad_note")
    return note


# --- GET /api/me ------------------------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    found = await reach(request)
    member = found.viewer.member
    async with runtime.database.read() as tx:
        names = await overview.area_names(tx, await own_area_ids(tx, member))
        # The agencies a report may be forwarded to (the page's ↪ Disposisi picker).
        partners = [] if found.agency is not None else await agencies.all_agencies(tx)
    settings = runtime.settings.web
    return ok(
        {
            "member": {"name": member.name, "roles": sorted(member.roles)},
            "language": member.language or runtime.settings.bot.default_language,
            "read_only": found.viewer.read_only,
            "csrf_token": None if found.viewer.read_only else found.viewer.session.csrf_token,
            "scope": {"all": found.scope is None, "areas": names},
            "agency": None
            if found.agency is None
            else {"code": found.agency.code, "name": found.agency.name},
            "sees": {"posts": found.sees_posts, "forwards": found.agency is not None},
            "agencies": [{"code": agency.code, "name": agency.name} for agency in partners],
            "map": {"tiles": settings.tiles or None, "attribution": settings.tiles_attribution},
        }
    )


# --- GET /api/posts ---------------------------------------------------------------------------


def _paths(tree: dict[int, tuple[str, str, str, int | None]]) -> Callable[[int], list[Any]]:
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


def _post_json(
    post: store.BoardPost,
    path: list[Any],
    member_id: int,
    scope: Any,
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
                _post_json(p, path(p.area_id), member_id, found.scope, rosters.get(p.id))
                for p in board
            ],
            "counts": counts,
        }
    )


async def one_post(request: web.Request) -> web.Response:
    found = await reach(request)
    code = request.match_info["code"].upper()[:40]
    async with request.app[RUNTIME].database.read() as tx:
        board = await store.board(tx, None, code)
        tree = await store.areas_by_id(tx)
        rosters = await roster_store.roster_counts(
            tx, [post.id for post in board], request.app[RUNTIME].clock.now()
        )
    if not board:
        raise fail(404, "unknown_post")
    post = board[0]
    if not found.sees_posts or not covers(found.scope, post.area_id):
        raise fail(403, "out_of_scope")
    member_id = found.viewer.member.id
    return ok(
        {
            "post": _post_json(
                post, _paths(tree)(post.area_id), member_id, found.scope, rosters.get(post.id)
            )
        }
    )


# --- alerts -----------------------------------------------------------------------------------


async def alert_list(request: web.Request) -> web.Response:
    found = await reach(request)
    if not found.sees_posts:
        raise fail(403, "no_posts")
    async with request.app[RUNTIME].database.read() as tx:
        lines, total = await overview.open_alerts(tx, found.scope, ALERTS_LIMIT)
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
                    "taken_by": line.taken_by,
                    "taken_at": when(line.taken_at),
                    "takeable": alerts.may_take(line, member_id, found.scope),
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
    alert_id = _number(request.match_info["id"])
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


def _number(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise fail(404, "not_found")
    return int(raw)


# --- issues -----------------------------------------------------------------------------------


def _forward_json(forward: Forward) -> dict[str, Any]:
    return {
        "id": forward.id,
        "agency": forward.agency_code,
        "agency_name": forward.agency_name,
        "state": forward.state,
        "forwarded_at": when(forward.forwarded_at),
        "accepted_by": forward.accepted_name,
    }


def _issue_json(card: IssueCard, actions: list[str], forwarded: list[Forward]) -> dict[str, Any]:
    issue = card.issue
    return {
        "id": issue.id,
        "ref": issue.ref,
        "status": issue.status,
        "severity": issue.severity,
        "category": issue.category,
        "post": card.post_code,
        "post_name": card.post_name,
        "created_at": when(issue.created_at),
        "reporter": card.reporter_name,
        "assignee": card.assignee_name,
        "text": issue.text,
        "photos": issue.photo_count,
        "has_location": issue.latitude is not None,
        "actions": actions,
        "forwards": [_forward_json(forward) for forward in forwarded],
    }


def desk_actions(status: str) -> list[str]:
    moves = desk.next_actions(status)
    return [*moves, "forward"] if status in desk.FORWARDABLE else moves


async def issue_list(request: web.Request) -> web.Response:
    found = await reach(request)
    runtime = request.app[RUNTIME]
    member = found.viewer.member
    if not found.sees_posts:
        return await _liaison_issues(request, found)
    wanted = desk.parse_filter(request.query.get("filter", "open")[:40])
    if wanted is None:
        raise fail(400, "bad_filter")
    page = _page(request.query.get("page", "1"), 1, 10_000)
    per_page = _page(request.query.get("per_page", "50"), 1, MAX_PER_PAGE)
    listing = await desk.listing(runtime.database, member, wanted, page, per_page)
    if listing.unknown_post:
        raise fail(404, "unknown_post")
    async with runtime.database.read() as tx:
        sent = {card.issue.id: await forwards.of_issue(tx, card.issue.id) for card in listing.cards}
    items = [
        _issue_json(card, desk_actions(card.issue.status), sent[card.issue.id])
        for card in listing.cards
    ]
    return ok({"issues": items, "total": listing.total, "page": listing.page,
               "pages": listing.pages})  # fmt: skip


async def _liaison_issues(request: web.Request, found: Reach) -> web.Response:
    if found.agency is None:
        raise fail(403, "no_posts")
    runtime = request.app[RUNTIME]
    per_page = _page(request.query.get("per_page", "50"), 1, MAX_PER_PAGE)
    _agency, pairs = await disposisi.liaison_list(runtime.database, found.viewer.member, per_page)
    items = []
    for forward, card in pairs:
        steps = [name for name, step in LIAISON_STEPS.items()
                 if forward.state in disposisi.SOURCES[step]]  # fmt: skip
        items.append(_issue_json(card, [], [forward]) | {"forward_actions": steps})
    return ok({"issues": items, "total": len(items), "page": 1, "pages": 1})


def _page(raw: str, low: int, high: int) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise fail(400, "bad_page")
    return min(max(low, int(raw)), high)


VERDICTS: dict[desk.Verdict, tuple[int, str]] = {
    desk.Verdict.MOVED: (409, "moved"),
    desk.Verdict.NOT_ALLOWED: (403, "out_of_scope"),
    desk.Verdict.UNKNOWN: (404, "unknown_issue"),
    desk.Verdict.EMPTY: (400, "note_required"),
    desk.Verdict.TOO_LONG: (400, "note_too_long"),
}
OUTCOMES: dict[disposisi.Outcome, tuple[int, str]] = {
    disposisi.Outcome.MOVED: (409, "moved"),
    disposisi.Outcome.NOT_ALLOWED: (403, "out_of_scope"),
    disposisi.Outcome.UNKNOWN: (404, "unknown_agency"),
    disposisi.Outcome.NO_LIAISON: (409, "no_liaison"),
    disposisi.Outcome.ALREADY: (409, "already_forwarded"),
    disposisi.Outcome.BUSY: (409, "busy"),
}


async def issue_action(request: web.Request) -> web.Response:
    """``POST /api/issues/{ref}/{action}``: accept, start, resolve (note), reject (note),
    reopen (note) or forward ({"agency": code, "note": optional})."""
    found = await writer(request)
    runtime = request.app[RUNTIME]
    member = found.viewer.member
    ref = request.match_info["ref"].upper()[:40]
    action = request.match_info["action"]
    if action not in desk.MOVES and action != "forward":
        raise fail(404, "unknown_action")
    data = await body_of(request)
    async with runtime.database.read() as tx:
        card = await issues.card_by_ref(tx, ref)
        if card is None:
            raise fail(404, "unknown_issue")
        if not covers(found.scope, card.area_id) or not found.sees_posts:
            raise fail(403, "out_of_scope")
    now = runtime.clock.now()
    reports = runtime.settings.reports
    note = note_of(data)
    if action == "forward":
        code = data.get("agency")
        if not isinstance(code, str):
            raise fail(400, "agency_required")
        async with runtime.database.read() as tx:
            agency = await agencies.by_code(tx, code.strip().lower()[:40])
        if agency is None:
            raise fail(404, "unknown_agency")
        if note is not None and len(note.strip()) > disposisi.MAX_NOTE:
            raise fail(400, "note_too_long")
        sent = await disposisi.send(
            runtime.database, member, card.issue.id, agency.id, (note or "").strip() or None,
            now, runtime.settings.watch.escalate_after, reports.follow_up_after,
        )  # fmt: skip
        if sent.outcome is not disposisi.Outcome.DONE:
            status, error = OUTCOMES.get(sent.outcome, (409, sent.outcome.value))
            raise fail(status, error)
        return await _issue_reply(request, card.issue.id)
    result = await desk.move_now(
        runtime.database, member, card.issue.id, action, note, now, reports.follow_up_after
    )
    if result.verdict is not desk.Verdict.DONE:
        status, error = VERDICTS.get(result.verdict, (409, result.verdict.value))
        extra = {"status": result.card.issue.status} if result.card is not None else {}
        raise fail(status, error, **extra)
    return await _issue_reply(request, card.issue.id)


async def _issue_reply(request: web.Request, issue_id: int) -> web.Response:
    async with request.app[RUNTIME].database.read() as tx:
        card = await issues.card(tx, issue_id)
        sent = await forwards.of_issue(tx, issue_id)
    assert card is not None
    return ok({"issue": _issue_json(card, desk_actions(card.issue.status), sent)})


async def forward_action(request: web.Request) -> web.Response:
    """``POST /api/forwards/{id}/accept``: a liaison's ✅ Terima."""
    found = await writer(request)
    runtime = request.app[RUNTIME]
    forward_id = _number(request.match_info["id"])
    step = LIAISON_STEPS.get(request.match_info["action"])
    if step is None:
        raise fail(404, "unknown_action")
    result = await disposisi.press(
        runtime.database, found.viewer.member, forward_id, step, runtime.clock.now()
    )
    if result.outcome is not disposisi.Outcome.DONE or result.forward is None:
        status, error = OUTCOMES.get(result.outcome, (409, result.outcome.value))
        if result.outcome is disposisi.Outcome.UNKNOWN:
            status, error = 404, "unknown_forward"
        raise fail(status, error)
    return ok({"forward": _forward_json(result.forward)})


# --- recap, circulars, boundaries -------------------------------------------------------------


async def recap(request: web.Request) -> web.Response:
    found = await reach(request)
    if not found.sees_posts:
        raise fail(403, "no_posts")
    runtime = request.app[RUNTIME]
    now = runtime.clock.now()
    today = wib(now).date()
    numbers = await load_recap(runtime.database, runtime.settings, found.scope, "", today, now)
    return ok(
        {
            "day": today.isoformat(),
            "until": when(numbers.until),
            "posts": len(numbers.posts),
            "open_posts": len(numbers.open_posts),
            "staffed_share": numbers.share,
            "alerts": {"silent": numbers.silent, "unstaffed": numbers.unstaffed},
            "median_take_s": _seconds(numbers.median_ack),
            "median_recover_s": _seconds(numbers.median_recover),
            "reports_opened": numbers.issues_opened,
            "reports_resolved": numbers.issues_resolved,
            "worst": [
                {
                    "post": stat.code,
                    "name": stat.name,
                    "staffed_share": stat.share,
                    "alerts": stat.incidents,
                }
                for stat in numbers.worst(10)
            ],
            "agencies": [_plain(stat) for stat in numbers.agencies],
        }
    )


def _seconds(value: Any) -> float | None:
    return None if value is None else round(value.total_seconds(), 1)


def _plain(stat: Any) -> dict[str, Any]:
    fields = getattr(stat, "__dataclass_fields__", {})
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(stat, name)
        out[name] = _seconds(value) if hasattr(value, "total_seconds") else value
    return out


async def circular_list(request: web.Request) -> web.Response:
    """Admins: every circular; supervisors: their own (as /siaran_status); liaisons: the
    circulars addressed to them."""
    found = await reach(request)
    member = found.viewer.member
    async with request.app[RUNTIME].database.read() as tx:
        if found.sees_posts:
            author = None if has_role(member, Role.ADMIN) else member.id
            lines = await store.recent_circulars(tx, author, CIRCULARS_LIMIT)
            items = []
            for line in lines:
                figures = await circulars_store.figures(tx, line.id)
                items.append(_circular_json(line) | {"receipts": _figures(figures)})
        else:
            received = await store.circulars_to(tx, member.id, CIRCULARS_LIMIT)
            items = [_circular_json(line) | {"read": read} for line, read in received]
    return ok({"circulars": items})


def _circular_json(line: store.CircularLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "author": line.author_name,
        "scope": line.scope,
        "text": line.text,
        "status": line.status,
        "sent_at": when(line.confirmed_at or line.created_at),
    }


def _figures(figures: circulars_store.Figures) -> dict[str, int]:
    return {
        "total": figures.total,
        "sent": figures.sent,
        "pending": figures.pending,
        "failed": figures.failed,
        "blocked": figures.blocked,
        "read": figures.read,
    }


async def boundaries(request: web.Request) -> web.Response:
    """The outlines of the areas the viewer sees (`posko import boundaries`); none for a
    liaison, whose page has no map."""
    found = await reach(request)
    if not found.sees_posts:
        return ok({"type": "FeatureCollection", "features": []})
    async with request.app[RUNTIME].database.read() as tx:
        return ok(await feature_collection(tx, found.scope))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def routes() -> list[tuple[str, str, Handler]]:
    return [
        ("GET", "/api/me", me),
        ("GET", "/api/posts", posts),
        ("GET", "/api/posts/{code}", one_post),
        ("GET", "/api/alerts", alert_list),
        ("POST", "/api/alerts/{id}/take", take_alert),
        ("GET", "/api/issues", issue_list),
        ("POST", r"/api/issues/{ref:[A-Za-z0-9._-]{1,32}/[0-9]{1,9}}/{action}", issue_action),
        ("POST", "/api/forwards/{id}/{action}", forward_action),
        ("GET", "/api/recap", recap),
        ("GET", "/api/circulars", circular_list),
        ("GET", "/api/boundaries", boundaries),
    ]
