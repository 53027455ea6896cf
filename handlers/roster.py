"""Piket (SPEC §9): /piket (my week; a post's day for supervisors) and /tukar (swap).

Callback data: ``pk:<post>:<YYYYMMDD>`` (◀ ▶ on a post's day), ``tk:s:<slot>`` (my slot
picked), ``tk:m:<slot>:<member>`` (the colleague picked), ``tk:q`` (picker closed),
``tk:x:<swap>:<a|d|c|y|n>`` (accept, decline, cancel, approve, reject). Who may press
what is checked on the server (bot.roster.swaps, bot.roster.views). Piket is personal:
nothing of it is shown in a group.
"""

from __future__ import annotations

from typing import Any

from telegram import CallbackQuery, Update
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.core.access import Role, has_role
from bot.core.clock import wib_date
from bot.roster import swaps, views
from bot.roster.swaps import Answer
from bot.roster.views import Access, DayError
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    edit_message,
    put_first,
    reply,
)

App = Application[Any, Any, Any, Any, Any, Any]


def register(app: App) -> None:
    put_first(
        app,
        [
            CommandHandler(["piket", "roster"], piket),
            CommandHandler(["tukar", "swap"], tukar),
            CallbackQueryHandler(day_button, pattern=f"^{views.DAY_PREFIX}"),
            CallbackQueryHandler(swap_button, pattern=f"^{swaps.PREFIX}"),
        ],
    )


def _private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


async def piket(update: Update, context: PoskoContext) -> None:
    member = context.me()
    if not _private(update):
        await reply(update, context, "roster.private_only")
        return
    runtime = context.runtime
    now = runtime.clock.now()
    words = command_args(update.effective_message).split()
    if not words:
        week = await views.my_week(runtime.database, member, now)
        if not week.slots and not week.is_officer:
            key = "roster.piket_ask_code" if _supervises(context) else "roster.piket_none"
            await reply(update, context, key)
            return
        await reply(update, context, "common.raw", text=views.week_text(context.lang, week, now))
        return
    if len(words) > 3:
        await reply(update, context, "roster.piket_too_many")
        return
    try:
        day = views.parse_day(" ".join(words[1:]), wib_date(now)) if words[1:] else None
    except DayError as error:
        key = "roster.piket_day_range" if error.reason == "range" else "roster.piket_bad_day"
        await reply(update, context, key)
        return
    found = await views.post_day(runtime.database, member, words[0][:40], day or wib_date(now))
    if found.access is Access.NOT_SUPERVISOR:
        await reply(update, context, "roster.piket_only_supervisors")
    elif found.access is Access.UNKNOWN or found.post is None or found.day is None:
        await reply(update, context, "roster.piket_unknown_post")
    else:
        rows = views.day_rows(context.lang, found.post.id, found.day)
        text = views.day_text(context.lang, found, now)
        await reply(update, context, "common.raw", buttons(rows) if rows else None, text=text)


def _supervises(context: PoskoContext) -> bool:
    return has_role(context.member, Role.SUPERVISOR)


async def day_button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    member = context.me()
    if not _in_private(query):
        await query.answer(context.t("roster.swap_private"), show_alert=True)
        return
    post_raw, _, day_raw = query.data.removeprefix(views.DAY_PREFIX).partition(":")
    post_id, day = callback_id(post_raw), views.parse_day_key(day_raw)
    if post_id is None or day is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    runtime = context.runtime
    found = await views.post_day(runtime.database, member, post_id, day)
    if found.access is not Access.OK or found.post is None:
        key = (
            "roster.piket_only_supervisors"
            if found.access is Access.NOT_SUPERVISOR
            else "roster.piket_unknown_post"
        )
        await query.answer(context.t(key), show_alert=True)
        return
    rows = views.day_rows(context.lang, post_id, day)
    text = views.day_text(context.lang, found, runtime.clock.now())
    await edit_message(query, text, buttons(rows) if rows else None)
    await query.answer()


async def tukar(update: Update, context: PoskoContext) -> None:
    member = context.me()
    if not _private(update):
        await reply(update, context, "roster.private_only")
        return
    runtime = context.runtime
    answer = await swaps.choices(runtime.database, member, runtime.clock.now(), context.lang)
    markup = buttons(answer.rows) if answer.rows else None
    await reply(update, context, "common.raw", markup, text=answer.message or "")


def _in_private(query: CallbackQuery) -> bool:
    return query.message is not None and query.message.chat.type == ChatType.PRIVATE


async def swap_button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    member = context.me()
    if not _in_private(query):
        await query.answer(context.t("roster.swap_private"), show_alert=True)
        return
    runtime = context.runtime
    database, now, lang = runtime.database, runtime.clock.now(), context.lang
    data = query.data
    answer: Answer | None = None
    if data == swaps.QUIT:
        await edit_message(query, context.t("roster.swap_quit"), None)
        await query.answer()
        return
    if data.startswith(swaps.PICK_SLOT):
        slot_id = callback_id(data.removeprefix(swaps.PICK_SLOT))
        if slot_id is not None:
            answer = await swaps.colleagues(database, member, slot_id, now, lang)
    elif data.startswith(swaps.PICK_COLLEAGUE):
        slot_raw, _, member_raw = data.removeprefix(swaps.PICK_COLLEAGUE).partition(":")
        slot_id, colleague_id = callback_id(slot_raw), callback_id(member_raw)
        if slot_id is not None and colleague_id is not None:
            answer = await swaps.request(database, member, slot_id, colleague_id, now, lang)
    elif data.startswith(swaps.STEP):
        swap_raw, _, action = data.removeprefix(swaps.STEP).partition(":")
        swap_id, event = callback_id(swap_raw), swaps.ACTIONS.get(action)
        if swap_id is not None and event is not None:
            settings = runtime.settings.roster
            answer = await swaps.press(
                database, member, swap_id, event, now, lang,
                approval_required=settings.swap_approval, remind_before=settings.remind_before,
            )  # fmt: skip
    if answer is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await _show(query, answer)


async def _show(query: CallbackQuery, answer: Answer) -> None:
    """The presser's message follows the outcome (a refusal that only concerns the press
    leaves it as it was); the press is answered, with an alert when refused."""
    if answer.message is not None:
        await edit_message(query, answer.message, buttons(answer.rows) if answer.rows else None)
    await query.answer(answer.toast, show_alert=answer.refused)
