"""Officer presence: /hadir with a location, live locations, /pulang, /aman, /status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from telegram import (
    KeyboardButton,
    Location,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)

from bot.core.clock import hhmm
from bot.core.i18n import duration_text
from bot.core.logs import bind
from bot.presence import checkin
from bot.presence.checkin import CheckIn, CheckInStatus, Fix, PostWatch
from bot.presence.geo import GeoVerdict
from bot.reports import filing
from bot.reports.filing import Step
from bot.roster.attendance import late_minutes
from bot.roster.views import hours as span_text
from handlers import monitor, reports
from handlers.common import PoskoContext, buttons, callback_id, command_args, drop_buttons, reply
from storage import alerts, issues, posts, shifts
from storage.db import Database
from storage.records import Member, Post
from storage.roster import Slot

log = logging.getLogger(__name__)

MAX_NOTE = 500
CHECK_IN_ASKED = "check_in_asked"
CHOOSE_PREFIX = "ci:"
MOVE_PREFIX = "mv:"
MAX_MOVE_CHOICES = 8


def location_keyboard(context: PoskoContext) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(context.t("presence.send_location_button"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


async def hadir(update: Update, context: PoskoContext) -> None:
    member = context.me()
    runtime = context.runtime
    async with runtime.database.read() as tx:
        current = await shifts.open_for_member(tx, member.id)
        post = None if current is None else await posts.by_id(tx, current.post_id)
        assigned = bool(await posts.assigned_to(tx, member.id)) if current is None else True
    if not assigned:
        # Supervisors and admins have no post: no location button that leads nowhere.
        key = "presence.not_an_officer" if member.roles - {"officer"} else "presence.no_posts"
        await reply(update, context, key, ReplyKeyboardRemove())
        return
    if context.user_data is not None:
        context.user_data[CHECK_IN_ASKED] = True
    if current is not None and post is not None:
        await reply(
            update,
            context,
            "presence.already_on_duty",
            location_keyboard(context),
            post=post.code,
            name=post.name,
            since=hhmm(current.started_at),
        )
        await _offer_move(update, context, member, post)
        return
    await reply(update, context, "presence.ask_location", location_keyboard(context))


async def _offer_move(update: Update, context: PoskoContext, member: Member, post: Post) -> None:
    """'Salah posko?': the officer's other posts, one tap to carry the duty over."""
    others = await checkin.other_posts(context.runtime.database, member)
    if not others:
        return
    rows = [
        [(context.t("presence.move_button", post=other.code), f"{MOVE_PREFIX}{other.id}")]
        for other in others[:MAX_MOVE_CHOICES]
    ]
    await reply(update, context, "presence.move_offer", buttons(rows), post=post.code)


def _fix(location: Location, message: Message) -> Fix:
    live = message.message_id if location.live_period else None
    return Fix(location.latitude, location.longitude, location.horizontal_accuracy, live)


def _verdict_text(context: PoskoContext, verdict: GeoVerdict | None) -> str:
    if verdict is None:
        return ""
    distance = "?" if verdict.distance_m is None else f"{verdict.distance_m:.0f}"
    return context.t(f"presence.geo_{verdict.reason}", distance=distance)


def _slot_line(context: PoskoContext, slot: Slot) -> str:
    """Which piket the check-in counts for, and how it counts."""
    span = span_text(slot)
    arrived = slot.arrived_at or context.runtime.clock.now()
    if arrived < slot.start_at:
        return context.t("roster_watch.checkin_slot_soon", span=span, start=hhmm(slot.start_at))
    late = late_minutes(slot.start_at, arrived)
    if late:
        return context.t("roster_watch.checkin_slot_late", span=span, minutes=late)
    return context.t("roster_watch.checkin_slot", span=span)


async def _tell_check_in(update: Update, context: PoskoContext, result: CheckIn) -> None:
    post = result.post
    if result.status is CheckInStatus.NO_POSTS:
        await reply(update, context, "presence.no_posts", ReplyKeyboardRemove())
        return
    if result.status is CheckInStatus.NOT_ASSIGNED or post is None:
        await reply(update, context, "presence.choice_expired", ReplyKeyboardRemove())
        return
    bind(post=post.code)
    log.info(
        "check-in %s verified=%s distance_m=%s",
        result.status.value,
        result.verdict.verified if result.verdict else None,
        None
        if result.verdict is None or result.verdict.distance_m is None
        else round(result.verdict.distance_m),
    )
    geo_line = _verdict_text(context, result.verdict)
    if result.status is CheckInStatus.ALREADY:
        key = "presence.still_on_duty"
    elif result.status is CheckInStatus.MOVED:
        key = "presence.moved"
    else:
        key = "presence.checked_in"
    if result.previous_left_empty and result.previous_post is not None:
        geo_line += "\n" + context.t("presence.left_empty", post=result.previous_post.code)
    if result.slot is not None:
        geo_line += "\n" + _slot_line(context, result.slot)
    await reply(
        update,
        context,
        key,
        ReplyKeyboardRemove(),
        post=post.code,
        name=post.name,
        geo=geo_line,
        since=hhmm(result.since) if result.since else "",
        previous=result.previous_post.code if result.previous_post else "",
    )
    verdict = result.verdict
    if (
        result.status is not CheckInStatus.ALREADY
        and verdict is not None
        and verdict.inside is False
        and context.member is not None
    ):
        # Far from the post it was recorded at: perhaps the wrong one of several.
        await _offer_move(update, context, context.member, post)


async def location(update: Update, context: PoskoContext) -> None:
    message = update.effective_message
    assert message is not None and message.location is not None
    member = context.me()
    runtime = context.runtime
    if message.forward_origin is not None:
        await reply(update, context, "presence.forwarded", location_keyboard(context))
        return
    # A location belongs to a report only while the report asks for one and the officer
    # did not just ask to check in; otherwise it is a check-in and the report waits.
    asked_to_check_in = context.user_data.pop(CHECK_IN_ASKED, False) if context.user_data else False
    draft = await filing.current(runtime.database, member)
    if draft is not None and draft.step is Step.ATTACH and not asked_to_check_in:
        await reports.location(update, context)
        return
    result = await checkin.check_in(
        runtime.database,
        member,
        _fix(message.location, message),
        runtime.clock.now(),
        runtime.watcher,
    )
    if result.status is CheckInStatus.CHOOSE:
        await _ask_post(update, context, result.choices, result.nearest)
        return
    await _tell_check_in(update, context, result)
    if draft is not None:
        await reply(update, context, "report.still_open")


async def _ask_post(
    update: Update, context: PoskoContext, choices: tuple[Post, ...], nearest: Post | None
) -> None:
    rows = []
    for post in choices:
        label = f"{post.code} · {post.name}"
        if nearest is not None and post.id == nearest.id:
            label = context.t("presence.nearest_label", label=label)
        rows.append([(label[:60], f"{CHOOSE_PREFIX}{post.id}")])
    await reply(update, context, "presence.choose_post", buttons(rows))


async def chosen(update: Update, context: PoskoContext) -> None:
    """A post picked for the check-in that asked which one."""
    await _post_button(update, context, CHOOSE_PREFIX, checkin.choose_post)


async def move(update: Update, context: PoskoContext) -> None:
    """'Pindah posko': the open shift moves to another of the officer's posts."""
    await _post_button(update, context, MOVE_PREFIX, checkin.move_to)


PostAction = Callable[[Database, Member, int, datetime, PostWatch | None], Awaitable[CheckIn]]


async def _post_button(
    update: Update, context: PoskoContext, prefix: str, action: PostAction
) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    member = context.me()
    runtime = context.runtime
    post_id = callback_id(query.data.removeprefix(prefix))
    if post_id is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    result = await action(runtime.database, member, post_id, runtime.clock.now(), runtime.watcher)
    if result.status is CheckInStatus.NOT_ON_DUTY:
        await query.answer(context.t("presence.move_not_on_duty"), show_alert=True)
        await drop_buttons(query)
        return
    await query.answer()
    await drop_buttons(query)
    await _tell_check_in(update, context, result)


async def live_location(update: Update, context: PoskoContext) -> None:
    """Edits of a live location keep the shift's position fresh; they get no reply."""
    message = update.edited_message
    assert message is not None and message.location is not None
    member = context.me()
    runtime = context.runtime
    fix = Fix(
        message.location.latitude,
        message.location.longitude,
        message.location.horizontal_accuracy,
        message.message_id,
    )
    await checkin.live_update(runtime.database, member, fix, runtime.clock.now(), runtime.watcher)


async def pulang(update: Update, context: PoskoContext) -> None:
    member = context.me()
    runtime = context.runtime
    now = runtime.clock.now()
    result = await checkin.check_out(runtime.database, member, now, runtime.watcher)
    if result.shift is None or result.post is None:
        await reply(update, context, "presence.not_on_duty", ReplyKeyboardRemove())
        return
    bind(post=result.post.code)
    log.info("check-out after %s min", int((now - result.shift.started_at).total_seconds() // 60))
    await reply(
        update,
        context,
        "presence.checked_out_empty" if result.left_empty else "presence.checked_out",
        ReplyKeyboardRemove(),
        post=result.post.code,
        duration=duration_text(context.lang, now - result.shift.started_at),
    )


async def aman(update: Update, context: PoskoContext) -> None:
    member = context.me()
    runtime = context.runtime
    note = command_args(update.effective_message) or None
    if note is not None and len(note) > MAX_NOTE:
        await reply(update, context, "presence.note_too_long", limit=MAX_NOTE)
        return
    now = runtime.clock.now()
    post = await checkin.all_clear(runtime.database, member, note, now, runtime.watcher)
    if post is None:
        await reply(update, context, "presence.aman_not_on_duty")
        return
    bind(post=post.code)
    log.info("all clear")
    await reply(update, context, "presence.aman_ok", post=post.code, time=hhmm(now))


def _alert_text(context: PoskoContext, alert: alerts.OpenAlert | None) -> str:
    if alert is None:
        return context.t("status.no_alerts")
    kind = context.t(f"alert.kind_{alert.kind}")
    if alert.acked_by_name:
        return context.t(
            "status.alert_taken", kind=kind, since=hhmm(alert.opened_at), who=alert.acked_by_name
        )
    return context.t("status.alert_open", kind=kind, since=hhmm(alert.opened_at))


async def status(update: Update, context: PoskoContext) -> None:
    member = context.me()
    runtime = context.runtime
    async with runtime.database.read() as tx:
        current = await checkin.current_post(tx, member)
        shown = [current] if current is not None else await posts.assigned_to(tx, member.id)
        blocks = []
        for post in shown[:5]:
            duty = await shifts.on_duty(tx, post.id)
            last = await posts.last_signal(tx, post.id)
            open_issues = await issues.open_count_for_post(tx, post.id)
            alert = await alerts.open_for_post(tx, post.id)
            people = ", ".join(
                context.t("status.person", name=name, since=hhmm(since)) for name, since, _ in duty
            ) or context.t("status.nobody")
            if last is None:
                signal = context.t("status.no_signal")
            else:
                kind, at, who = last
                signal = context.t(
                    "status.signal", kind=context.t(f"signal.{kind}"), time=hhmm(at), who=who or "-"
                )
            blocks.append(
                context.t(
                    "status.block",
                    post=post.code,
                    name=post.name,
                    people=people,
                    signal=signal,
                    issues=open_issues,
                    alerts=_alert_text(context, alert),
                )
            )
    if not blocks:
        if not await monitor.supervisor_status(update, context):
            await reply(update, context, "presence.no_posts")
        return
    await reply(update, context, "common.raw", text="\n\n".join(blocks))
