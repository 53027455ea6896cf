"""Watching posts from the chat: /pantau (open alerts first, each with its take button,
then every post in the subtree by state), /pantau KODE (one post whole: who is on duty and
where, who is assigned and how to reach them, the last signal, the alert, open reports),
and /status for a supervisor (their subtree at a glance).

Callback data: ``sv:p:<page>`` (overview pages), ``sv:d:<post_id>`` (one post). Role and
scope are checked on the server for every command and button; phone numbers are shown
only in private chats to supervisors whose scope covers the post.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.core.access import Role
from bot.core.clock import day_hhmm, hhmm, wib
from bot.core.scope import covers, own_area_ids
from bot.roster import views as roster_views
from bot.roster.views import hours as span_text
from bot.watch.alerts import may_take
from bot.watch.texts import TAKE_PREFIX
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    edit_message,
    grid,
    reply,
    require,
    viewing_scope,
)
from storage import overview, posts, roster
from storage.overview import AlertLine, PostDetail, PostLine
from storage.records import Post

log = logging.getLogger(__name__)

PAGE_PREFIX = "sv:p:"
DETAIL_PREFIX = "sv:d:"
POSTS_PER_PAGE = 15
ALERTS_SHOWN = 10
ISSUES_SHOWN = 5
MAX_NAME = 28
MAX_LOOK_BUTTONS = 6
PROBLEM_STATES = frozenset({"silent", "unstaffed", "opening"})

# /pantau groups: (name, the posts.state values in it), in the order the counts are shown.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("silent", ("silent",)),
    ("empty", ("unstaffed",)),
    ("opening", ("opening",)),  # still within the grace period: not yet an emergency
    ("ok", ("staffed", "reminded")),
    ("paused", ("paused",)),
    ("closed", ("closed",)),
)


def register(app: Application[Any, Any, Any, Any, Any, Any], group: int = 0) -> None:
    app.add_handler(CommandHandler(["pantau", "monitor"], pantau), group)
    app.add_handler(
        CallbackQueryHandler(button, pattern=f"^({PAGE_PREFIX}|{DETAIL_PREFIX})"), group
    )


def _since(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    return hhmm(moment) if wib(moment).date() == wib(now).date() else day_hhmm(moment)


def _short(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1].rstrip() + "…"


async def _overview(
    context: PoskoContext, page: int
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The text and buttons of one overview page; None when the member has no scope."""
    member = context.me()
    runtime = context.runtime
    now = runtime.clock.now()
    async with runtime.database.read() as tx:
        scope = await viewing_scope(tx, context)
        if scope is not None and not scope:
            return None
        if scope is None:
            scope_name = context.t("pantau.all_areas")
        elif context.room is not None:
            scope_name = context.room.name
        else:
            names = await overview.area_names(tx, await own_area_ids(tx, member))
            scope_name = ", ".join(names) or "-"
        counts = await overview.state_counts(tx, scope)
        total = sum(counts.values())
        pages = max(1, -(-total // POSTS_PER_PAGE))
        page = min(max(1, page), pages)
        lines: list[PostLine] = await overview.post_lines(
            tx, scope, POSTS_PER_PAGE, (page - 1) * POSTS_PER_PAGE
        )
        piket = await roster.roster_counts(tx, [line.id for line in lines], now)
    if total == 0:
        return context.t("pantau.no_posts", scope=scope_name), None
    grouped = {name: sum(counts.get(state, 0) for state in states) for name, states in GROUPS}
    parts = [
        context.t("pantau.title", scope=scope_name),
        context.t("pantau.counts", total=total, **grouped),
        "",
    ]
    parts += [
        context.t(
            "pantau.line",
            icon=context.t(f"pantau.icon_{line.state}"),
            code=line.code,
            name=_short(line.name),
            since=_since(line.state_since, now),
        )
        + _piket_line(context, piket.get(line.id))
        for line in lines
    ]
    # Problem posts on this page open with one tap (in private: the detail has phones).
    looks = [
        (context.t("pantau.detail_button", code=line.code), f"{DETAIL_PREFIX}{line.id}")
        for line in lines
        if line.state in PROBLEM_STATES and context.room is None
    ]
    rows = grid(looks[:MAX_LOOK_BUTTONS], 3)
    if pages > 1:
        parts += ["", context.t("pantau.page", page=page, pages=pages)]
        nav: list[tuple[str, str]] = []
        if page > 1:
            nav.append((context.t("pantau.prev_button"), f"{PAGE_PREFIX}{page - 1}"))
        if page < pages:
            nav.append((context.t("pantau.next_button"), f"{PAGE_PREFIX}{page + 1}"))
        rows.append(nav)
    return "\n".join(parts), buttons(rows) if rows else None


def _piket_line(context: PoskoContext, counts: tuple[int, int] | None) -> str:
    """Posts with slots running: how many are rostered now, how many of them are in."""
    if counts is None:
        return ""
    rostered, present = counts
    return "\n" + context.t("roster_watch.pantau_piket", rostered=rostered, present=present)


async def _roster_today(context: PoskoContext, post: Post, now: datetime) -> str:
    """/pantau KODE: today's slots of the post (and last night's still running), marked."""
    async with context.runtime.database.read() as tx:
        shown = await roster_views.today_of_post(tx, post.id, now)
    if not shown:
        return ""
    lines = ["", context.t("roster_watch.pantau_day")]
    for slot, name in shown:
        mark = roster_views.marked(context.lang, slot, now)
        lines.append(
            context.t(
                "roster_watch.pantau_slot", span=span_text(slot), name=_short(name), mark=mark
            )
        )
    return "\n".join(lines)


async def _alerts(context: PoskoContext) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """Open alerts in the member's scope, untaken first, with their take and look buttons;
    None when there are none."""
    member = context.me()
    in_room = context.room is not None  # a group reads it: no look at phones from there
    now = context.runtime.clock.now()
    async with context.runtime.database.read() as tx:
        scope = await viewing_scope(tx, context)
        if scope is not None and not scope:
            return None
        lines, total = await overview.open_alerts(tx, scope, ALERTS_SHOWN)
    if not lines:
        return None
    parts = [context.t("pantau.alerts_title", count=total)]
    rows: list[list[tuple[str, str]]] = []
    for line in lines:
        parts.append(_alert_line(context, line, now))
        look = context.t("pantau.detail_button", code=line.post_code)
        row = [] if in_room else [(look, f"{DETAIL_PREFIX}{line.post_id}")]
        takeable = _takeable(line, member.id, scope)
        if takeable:
            label = context.t("pantau.take_button", code=line.post_code)
            row.insert(0, (label, f"{TAKE_PREFIX}{line.id}"))
        if row:
            rows.append(row)
    if total > len(lines):
        parts.append(context.t("pantau.alerts_more", count=total - len(lines)))
    any_take = any(_takeable(line, member.id, scope) for line in lines)
    if any_take:
        parts += ["", context.t("pantau.alerts_hint_take" if in_room else "pantau.alerts_hint")]
    elif not in_room:
        parts += ["", context.t("pantau.alerts_hint_look")]
    return "\n".join(parts), buttons(rows) if rows else None


def _takeable(line: AlertLine, member_id: int, scope: set[int] | None) -> bool:
    return may_take(line, member_id, scope)


def _alert_line(context: PoskoContext, line: AlertLine, now: datetime) -> str:
    head = context.t(
        "pantau.alert_line",
        icon=context.t(f"pantau.icon_{line.kind}"),
        code=line.post_code,
        name=_short(line.post_name),
        kind=context.t(f"alert.kind_{line.kind}"),
        since=_since(line.opened_at, now),
    )
    if line.taken_by is None:
        return head + "\n" + context.t("pantau.alert_untaken")
    taken_at = _since(line.taken_at, now)
    return head + "\n" + context.t("pantau.alert_taken", who=line.taken_by, at=taken_at)


async def pantau(update: Update, context: PoskoContext) -> None:
    context.me()
    if not require(context, Role.SUPERVISOR):
        await reply(update, context, "desk.only_supervisors")
        return
    words = command_args(update.effective_message).split()
    if len(words) > 1:
        await reply(update, context, "pantau.post_usage")
        return
    if words:
        await _post(update, context, words[0][:32])
        return
    shown = await _overview(context, 1)
    if shown is None:
        await reply(update, context, "pantau.no_scope")
        return
    alerts = await _alerts(context)
    if alerts is not None:
        await reply(update, context, "common.raw", alerts[1], text=alerts[0])
    text, markup = shown
    await reply(update, context, "common.raw", markup, text=text)


async def supervisor_status(update: Update, context: PoskoContext) -> bool:
    """/status for a supervisor without a post of their own: their subtree at a glance.
    False when the member supervises nothing (the caller answers then)."""
    if not require(context, Role.SUPERVISOR):
        return False
    shown = await _overview(context, 1)
    if shown is None:
        return False
    alerts = await _alerts(context)
    if alerts is not None:
        await reply(update, context, "common.raw", alerts[1], text=alerts[0])
    text, markup = shown
    hint = context.t("pantau.status_hint")
    await reply(update, context, "common.raw", markup, text=f"{text}\n\n{hint}")
    return True


# --- one post -------------------------------------------------------------------------------


Found = tuple[Post, PostDetail, set[int] | None]


async def _find_post(context: PoskoContext, key: str | int) -> Found | None:
    """The post by code (typed) or id (a button) when it is in the member's scope; None
    otherwise: a post outside the scope is answered exactly like one that does not exist."""
    async with context.runtime.database.read() as tx:
        post = await (posts.by_code(tx, key) if isinstance(key, str) else posts.by_id(tx, key))
        scope = await viewing_scope(tx, context)
        if post is None or not covers(scope, post.area_id):
            return None
        return post, await overview.post_detail(tx, post.id, ISSUES_SHOWN), scope


def _post_text(
    context: PoskoContext, found: Found, now: datetime, private: bool
) -> tuple[str, InlineKeyboardMarkup | None]:
    post, detail, scope = found
    t = context.t
    parts = [
        t(
            "pantau.post_title",
            code=post.code,
            name=post.name,
            icon=t(f"pantau.icon_{post.state}"),
            state=t(f"pantau.state_{post.state}"),
            since=_since(post.state_since, now),
        )
    ]
    if detail.on_duty:
        parts.append(t("pantau.post_on_duty", count=len(detail.on_duty)))
        for person in detail.on_duty:
            at = _since(person.located_at, now)
            if person.inside is None:
                where = t("pantau.where_unknown", at=at)
            elif person.inside:
                where = t("pantau.where_inside", at=at)
            else:
                distance = round(person.distance_m or 0)
                where = t("pantau.where_outside", distance=distance, at=at)
            since = _since(person.since, now)
            parts.append(t("pantau.post_person", name=person.name, since=since, where=where))
    else:
        parts.append(t("pantau.post_nobody"))
    if detail.assigned:
        parts.append(t("pantau.post_assigned", count=len(detail.assigned)))
        for officer in detail.assigned:
            phone = (officer.phone or t("pantau.no_phone")) if private else ""
            parts.append(
                t(
                    "pantau.post_assigned_line",
                    name=officer.name,
                    phone=phone,
                    unregistered="" if officer.registered else t("pantau.unregistered"),
                ).rstrip()
            )
    else:
        parts.append(t("pantau.post_assigned_none"))
    last = detail.last_signal
    if last is None:
        parts.append(t("pantau.post_no_signal"))
    else:
        note = t("pantau.post_note", note=last.note) if last.note else ""
        parts.append(
            t(
                "pantau.post_signal",
                kind=t(f"signal.{last.kind}"),
                at=_since(last.at, now),
                who=last.who or "-",
                note=note,
            )
        )
    actions: list[tuple[str, str]] = []
    alert = detail.alert
    if alert is None:
        parts.append(t("pantau.post_no_alert"))
    else:
        who = (
            t("pantau.post_alert_untaken")
            if alert.taken_by is None
            else t("pantau.post_alert_taken", who=alert.taken_by, at=_since(alert.taken_at, now))
        )
        parts.append(
            t(
                "pantau.post_alert",
                kind=t(f"alert.kind_{alert.kind}"),
                since=_since(alert.opened_at, now),
                who=who,
            )
        )
        if _takeable(alert, context.me().id, scope):
            actions.append((t("alert.take_button"), f"{TAKE_PREFIX}{alert.id}"))
    if detail.issues:
        parts.append(t("pantau.post_issues", count=detail.open_issues))
        for issue in detail.issues:
            parts.append(
                t(
                    "pantau.post_issue_line",
                    ref=issue.ref,
                    severity=t(f"severity.{issue.severity}"),
                    category=context.label("category", issue.category),
                    status=t(f"issue_status.{issue.status}"),
                )
            )
        parts.append(t("pantau.post_issues_hint", ref=detail.issues[0].ref))
    else:
        parts.append(t("pantau.post_no_issues"))
    return "\n".join(parts), buttons([actions]) if actions else None


async def _post(update: Update, context: PoskoContext, code: str) -> None:
    found = await _find_post(context, code)
    if found is None:
        await reply(update, context, "pantau.post_unknown")
        return
    chat = update.effective_chat
    private = chat is not None and chat.type == ChatType.PRIVATE
    now = context.runtime.clock.now()
    text, markup = _post_text(context, found, now, private)
    text += await _roster_today(context, found[0], now)
    await reply(update, context, "common.raw", markup, text=text)


# --- buttons --------------------------------------------------------------------------------


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    context.me()
    if query.data.startswith(PAGE_PREFIX):
        await _page_button(update, context, query.data.removeprefix(PAGE_PREFIX))
        return
    chat = update.effective_chat
    post_id = callback_id(query.data.removeprefix(DETAIL_PREFIX))
    # Phones and names are for the supervisor's eyes: never answered into a group.
    if post_id is None or chat is None or chat.type != ChatType.PRIVATE:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    if not require(context, Role.SUPERVISOR):
        await query.answer(context.t("desk.not_allowed"), show_alert=True)
        return
    found = await _find_post(context, post_id)
    if found is None:
        await query.answer(context.t("desk.not_allowed"), show_alert=True)
        return
    await query.answer()
    now = context.runtime.clock.now()
    text, markup = _post_text(context, found, now, True)
    text += await _roster_today(context, found[0], now)
    await context.bot.send_message(chat.id, text, reply_markup=markup)


async def _page_button(update: Update, context: PoskoContext, raw: str) -> None:
    query = update.callback_query
    assert query is not None
    if not require(context, Role.SUPERVISOR):
        await query.answer(context.t("desk.not_allowed"), show_alert=True)
        return
    page = callback_id(raw)
    chat = update.effective_chat
    # The overview is for the supervisor's eyes: never rewrite a group message with it,
    # unless the group is a bound room whose own overview it is.
    in_room = context.room is not None
    if page is None or chat is None or (chat.type != "private" and not in_room):
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    shown = await _overview(context, page)
    if shown is None:
        await query.answer(context.t("desk.not_allowed"), show_alert=True)
        return
    await query.answer()
    text, markup = shown
    await edit_message(query, text, markup)
