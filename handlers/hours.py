"""Opening hours from chat: /jam (weekly hours of a post or an area subtree) and
/jam_khusus (dated hours: list, add, remove).

Callback data: ``jk:rm:<override id>`` (remove a dated override). Admins only; every
command and button checks the role on the server.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.core.access import Role
from bot.watch import hours as rules
from bot.watch.hours import Result, Status, Target
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    drop_pressed_button,
    put_first,
    reply,
    require,
)
from storage.hours import HoursOverride

App = Application[Any, Any, Any, Any, Any, Any]

PREFIX = "jk:"
REMOVE_PREFIX = "jk:rm:"
LIST_LIMIT = 10


def _day(context: PoskoContext, day: Any) -> str:
    return f"{context.t(f'hours.weekday_{day.weekday()}')} {day.isoformat()}"


def _target(context: PoskoContext, target: Target | None) -> str:
    if target is None or (target.post_code is None and target.area_code is None):
        return context.t("hours.everywhere")
    code = target.post_code or target.area_code
    return f"{target.name} ({code})"


def _override_target(context: PoskoContext, found: HoursOverride) -> str:
    code = found.post_code or found.area_code
    return code if code is not None else context.t("hours.everywhere")


async def _problem(update: Update, context: PoskoContext, result: Result, usage: str) -> None:
    if result.status is Status.USAGE:
        await reply(update, context, usage)
    elif result.status is Status.BAD_HOURS:
        await reply(update, context, "hours.bad_hours", detail=result.detail)
    elif result.status is Status.BAD_DATE:
        await reply(update, context, "hours.bad_date", value=result.detail)
    elif result.status is Status.DATE_RANGE:
        await reply(update, context, "hours.date_range", value=result.detail)
    elif result.status is Status.PAST:
        await reply(update, context, "hours.past", day=str(result.day))
    elif result.status is Status.UNKNOWN_TARGET:
        name = result.target.name if result.target is not None else ""
        await reply(update, context, "hours.unknown_target", code=name)
    else:
        await reply(update, context, "hours.no_posts", target=_target(context, result.target))


async def jam(update: Update, context: PoskoContext) -> None:
    member = context.me()
    if not require(context, Role.ADMIN):
        await reply(update, context, "admin.only")
        return
    runtime = context.runtime
    text = command_args(update.effective_message)
    result = await rules.set_weekly(
        runtime.database, member.id, text, runtime.clock.now(), runtime.watcher
    )
    if result.status is not Status.DONE:
        await _problem(update, context, result, "hours.usage")
        return
    assert result.target is not None
    text = context.t(
        "hours.changed",
        target=_target(context, result.target),
        count=len(result.target.posts),
        hours=result.hours,
        before="; ".join(f"«{item}»" for item in result.before),
    )
    if result.on_duty:
        text += "\n" + context.t("hours.on_duty_note", count=result.on_duty)
    await reply(update, context, "common.raw", text=text)


async def jam_khusus(update: Update, context: PoskoContext) -> None:
    member = context.me()
    if not require(context, Role.ADMIN):
        await reply(update, context, "admin.only")
        return
    runtime = context.runtime
    text = command_args(update.effective_message)
    now = runtime.clock.now()
    if not text:
        await _list(update, context)
        return
    result = await rules.add_dated(runtime.database, member.id, text, now, runtime.watcher)
    if result.status is not Status.DONE:
        await _problem(update, context, result, "hours.special_usage")
        return
    assert result.day is not None
    await reply(
        update,
        context,
        "hours.special_added",
        id=result.override_id,
        day=_day(context, result.day),
        hours=result.hours,
        target=_target(context, result.target),
    )


async def _list(update: Update, context: PoskoContext) -> None:
    runtime = context.runtime
    now = runtime.clock.now()
    stored = await rules.upcoming(runtime.database, now)
    configured = [
        item for item in runtime.settings.schedule.override if item.date >= rules.today(now)
    ]
    if not stored and not configured:
        await reply(update, context, "hours.special_none")
        return
    lines = [context.t("hours.special_title")]
    for found in stored[:LIST_LIMIT]:
        lines.append(
            context.t(
                "hours.special_line",
                id=found.id,
                day=_day(context, found.day),
                hours=found.hours,
                target=_override_target(context, found),
            )
        )
    if len(stored) > LIST_LIMIT:
        lines.append(context.t("hours.special_more", count=len(stored) - LIST_LIMIT))
    for item in configured[:LIST_LIMIT]:
        target = ", ".join(item.areas) if item.areas else context.t("hours.everywhere")
        lines.append(
            context.t(
                "hours.config_line", day=_day(context, item.date), hours=item.hours, target=target
            )
        )
    if stored:
        lines.append(context.t("hours.special_remove_hint"))
    markup = (
        buttons(
            [
                [(context.t("hours.remove_button", id=found.id), f"{REMOVE_PREFIX}{found.id}")]
                for found in stored[:LIST_LIMIT]
            ]
        )
        if stored
        else None
    )
    await reply(update, context, "common.raw", markup, text="\n".join(lines))


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None
    member = context.me()
    if not require(context, Role.ADMIN):
        await query.answer(context.t("admin.only"), show_alert=True)
        return
    data = query.data or ""
    override_id = (
        callback_id(data.removeprefix(REMOVE_PREFIX)) if data.startswith(REMOVE_PREFIX) else None
    )
    if override_id is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    runtime = context.runtime
    found = await rules.remove_dated(
        runtime.database, member.id, override_id, runtime.clock.now(), runtime.watcher
    )
    if found is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await query.answer(context.t("hours.removed_toast", id=override_id))
    await drop_pressed_button(query)
    if query.message is not None:
        await context.bot.send_message(
            query.message.chat.id,
            context.t(
                "hours.removed",
                id=override_id,
                day=_day(context, found.day),
                target=_override_target(context, found),
            ),
        )


def register(app: App) -> None:
    put_first(
        app,
        [
            CommandHandler(["jam", "hours"], jam),
            CommandHandler(["jam_khusus", "special_hours"], jam_khusus),
            CallbackQueryHandler(button, pattern=f"^{PREFIX}"),
        ],
    )
