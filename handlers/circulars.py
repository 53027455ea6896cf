"""Admin circulars and invites: /siaran (/broadcast), /siaran_status, /jadwal,
/jadwal_tambah, /jadwal_hapus, /undang (/invite), the confirm/cancel buttons of a draft and
the "read" button of every copy.

Callback data: ``cr:ok:<id>`` (send a draft), ``cr:no:<id>`` (cancel it), ``cr:r:<id>``
(read receipt). Every command and button checks the role on the server.

The lead wires this module from ``bot/core/app.py`` with :func:`register` (handlers) and
:func:`start_jobs` (the job that fires scheduled announcements and edits delivery reports).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler

from bot.circulars import announcements, receipts
from bot.circulars import circular as rules
from bot.circulars.announcements import RemoveStatus, ScheduleStatus
from bot.circulars.circular import (
    CANCEL_PREFIX,
    CONFIRM_PREFIX,
    PREFIX,
    READ_PREFIX,
    CancelStatus,
    ConfirmStatus,
    DraftStatus,
)
from bot.circulars.receipts import StatusView
from bot.circulars.texts import paid_estimate, snippet
from bot.core.access import Role
from bot.core.clock import day_hhmm
from bot.core.runtime import Runtime
from bot.presence.registration import invite, member_by_ref
from handlers import people
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    power_reach,
    put_first,
    refused,
    reply,
    require,
)
from storage.circulars import ReadOutcome

log = logging.getLogger(__name__)

App = Application[Any, Any, Any, Any, Any, Any]

COMMANDS: dict[str, tuple[str, ...]] = {
    "siaran": ("broadcast",),
    "siaran_status": ("broadcast_status",),
    "jadwal": ("schedule",),
    "jadwal_tambah": ("schedule_add",),
    "jadwal_hapus": ("schedule_remove", "schedule_delete"),
    "undang": ("invite",),
}
ADMIN_MENU = tuple(COMMANDS)
"""Command names for the admin's menu (catalog keys ``menu.<name>`` and ``help.<name>``)."""

JOB_NAME = "circulars.tick"
TICK = timedelta(seconds=1)
LIST_LIMIT = 10


def _paid_bill(context: PoskoContext, copies: int) -> str:
    """Paid broadcast costs Stars: the author sees the bill before sending or scheduling."""
    if not context.runtime.settings.delivery.paid_broadcast:
        return ""
    return paid_estimate(context.lang, copies)


async def _admin(update: Update, context: PoskoContext) -> bool:
    context.me()
    if require(context, Role.ADMIN):
        return True
    await reply(update, context, "admin.only")
    return False


# --- /siaran ----------------------------------------------------------------------------------


async def siaran(update: Update, context: PoskoContext) -> None:
    """Admins to anyone; supervisors given the power (``[powers] siaran``) to their own
    area, or an area or a post below it."""
    member = context.me()
    reach = await power_reach(context, "siaran")
    if refused(reach):
        await reply(update, context, "power.only")
        return
    runtime = context.runtime
    result = await rules.draft(
        runtime.database,
        member,
        command_args(update.effective_message),
        runtime.clock.now(),
        reach,
    )
    if result.status is DraftStatus.USAGE:
        await reply(update, context, "circular.usage")
    elif result.status is DraftStatus.OUTSIDE:
        await reply(update, context, "power.siaran_outside", scope=result.scope_word)
    elif result.status is DraftStatus.TOO_LONG:
        await reply(update, context, "circular.too_long", length=result.length, limit=result.limit)
    elif result.status is DraftStatus.UNKNOWN_SCOPE:
        await reply(update, context, "circular.unknown_scope", scope=result.scope_word)
    elif result.status is DraftStatus.NOBODY:
        assert result.scope is not None
        await reply(
            update, context, "circular.nobody", scope=rules.scope_words(context.lang, result.scope)
        )
    else:
        assert result.scope is not None
        unreachable = (
            context.t("circular.preview_unreachable", count=result.unreachable)
            if result.unreachable
            else ""
        )
        paid = _paid_bill(context, result.copies)
        markup = buttons(
            [
                [
                    (context.t("circular.send_button"), f"{CONFIRM_PREFIX}{result.circular_id}"),
                    (context.t("circular.cancel_button"), f"{CANCEL_PREFIX}{result.circular_id}"),
                ]
            ]
        )
        await reply(
            update,
            context,
            "circular.preview",
            markup,
            id=result.circular_id,
            scope=rules.scope_words(context.lang, result.scope),
            count=result.count,
            unreachable=unreachable,
            paid=paid,
            text=rules.preview(result.text),
        )


# --- buttons ----------------------------------------------------------------------------------


def _number(text: str) -> bool:
    return callback_id(text) is not None


def _parse(data: str) -> tuple[str, int] | None:
    for prefix in (CONFIRM_PREFIX, CANCEL_PREFIX, READ_PREFIX, receipts.RETRY_PREFIX):
        if data.startswith(prefix):
            raw = data.removeprefix(prefix)
            if _number(raw):
                return prefix, int(raw)
    return None


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None
    member = context.me()
    parsed = _parse(query.data or "")
    if parsed is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    prefix, circular_id = parsed
    runtime = context.runtime
    now = runtime.clock.now()
    if prefix == READ_PREFIX:
        outcome = await rules.mark_read(runtime.database, member, circular_id, now)
        if outcome is ReadOutcome.READ:
            await query.answer(context.t("circular.read_thanks"))
        elif outcome is ReadOutcome.ALREADY:
            await query.answer(context.t("circular.read_already"))
        elif outcome is ReadOutcome.NOT_RECIPIENT:
            await query.answer(context.t("circular.read_not_recipient"), show_alert=True)
        else:
            await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    reach = await power_reach(context, "siaran")
    if refused(reach):
        await query.answer(context.t("power.only"), show_alert=True)
        return
    if prefix == CANCEL_PREFIX:
        await _cancel(update, context, circular_id, reach)
        return
    if prefix == receipts.RETRY_PREFIX:
        again = await rules.retry_unpaid(runtime.database, member, circular_id, now, reach)
        if again is None:
            await query.answer(context.t("circular.not_yours"), show_alert=True)
        elif again:
            await query.answer(context.t("circular.retry_toast", count=again))
        else:
            await query.answer(context.t("circular.retry_none"), show_alert=True)
        return
    message = query.message
    where = (message.chat.id, message.message_id) if message is not None else None
    default = runtime.settings.bot.default_language
    result = await rules.confirm(runtime.database, member, circular_id, now, default, where, reach)
    if result.status is ConfirmStatus.SENT:
        assert result.circular is not None and result.figures is not None
        await query.answer(context.t("circular.sent_toast"))
        if where is not None:
            text = receipts.report_text(context.lang, result.circular, result.figures)
            try:
                await query.edit_message_text(text, reply_markup=None)
            except BadRequest as exc:
                log.warning("circular %d: could not show the report: %s", circular_id, exc)
        return
    if result.status is ConfirmStatus.ALREADY:
        text = context.t("circular.already_sent", id=circular_id)
    elif result.status is ConfirmStatus.CANCELLED:
        text = context.t("circular.already_cancelled", id=circular_id)
    elif result.status is ConfirmStatus.NOT_YOURS:
        text = context.t("circular.not_yours")
    else:
        text = context.t("common.stale_button")
    await query.answer(text, show_alert=True)


async def _cancel(
    update: Update, context: PoskoContext, circular_id: int, reach: set[int] | None
) -> None:
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    outcome = await rules.cancel(
        runtime.database, context.me(), circular_id, runtime.clock.now(), reach
    )
    if outcome is CancelStatus.CANCELLED:
        await query.answer(context.t("circular.cancelled_toast"))
        try:
            await query.edit_message_text(
                context.t("circular.cancelled", id=circular_id), reply_markup=None
            )
        except BadRequest as exc:
            log.warning("circular %d: could not mark the draft cancelled: %s", circular_id, exc)
        return
    keys = {
        CancelStatus.ALREADY_SENT: "circular.already_sent",
        CancelStatus.ALREADY_CANCELLED: "circular.already_cancelled",
        CancelStatus.NOT_YOURS: "circular.not_yours",
    }
    key = keys.get(outcome, "common.stale_button")
    await query.answer(context.t(key, id=circular_id), show_alert=True)


# --- /siaran_status ---------------------------------------------------------------------------


async def siaran_status(update: Update, context: PoskoContext) -> None:
    """Admins: any circular; supervisors with the siaran power: their own."""
    member = context.me()
    reach = await power_reach(context, "siaran")
    if refused(reach):
        await reply(update, context, "power.only")
        return
    author = None if reach is None else member.id
    words = command_args(update.effective_message).lstrip("#").split()
    if len(words) > 1 or (words and not _number(words[0])):
        await reply(update, context, "circular.status_usage")
        return
    wanted = int(words[0]) if words else None
    found = await receipts.status(context.runtime.database, wanted, author)
    if found is None:
        if wanted is None:
            await reply(update, context, "circular.status_none")
        else:
            await reply(update, context, "circular.status_unknown", id=wanted)
        return
    if not isinstance(found, StatusView):
        await reply(
            update,
            context,
            "circular.status_not_sent",
            id=found.id,
            status=context.t(f"circular.status_{found.status}"),
        )
        return
    await reply(update, context, "common.raw", text=receipts.status_text(context.lang, found))


# --- /jadwal ----------------------------------------------------------------------------------


async def jadwal(update: Update, context: PoskoContext) -> None:
    if not await _admin(update, context):
        return
    items, total = await announcements.pending(context.runtime.database, LIST_LIMIT)
    if not items:
        await reply(update, context, "schedule.empty")
        return
    lines = [context.t("schedule.list_title", count=total)]
    for item in items:
        lines.append(
            context.t(
                "schedule.list_line",
                id=item.id,
                when=day_hhmm(item.fire_at),
                scope=item.scope,
                snippet=snippet(item.text),
            )
        )
    if total > len(items):
        lines.append(context.t("schedule.list_more", count=total - len(items)))
    lines.append(context.t("schedule.list_hint"))
    await reply(update, context, "common.raw", text="\n".join(lines))


async def jadwal_tambah(update: Update, context: PoskoContext) -> None:
    if not await _admin(update, context):
        return
    runtime = context.runtime
    result = await announcements.schedule(
        runtime.database,
        context.me(),
        command_args(update.effective_message),
        runtime.clock.now(),
    )
    if result.status is ScheduleStatus.USAGE:
        await reply(update, context, "schedule.usage")
    elif result.status is ScheduleStatus.BAD_TIME:
        await reply(update, context, "schedule.bad_time", when=result.when)
    elif result.status is ScheduleStatus.PAST:
        await reply(update, context, "schedule.past", when=result.when)
    elif result.status is ScheduleStatus.TOO_LONG:
        await reply(update, context, "circular.too_long", length=result.length, limit=result.limit)
    elif result.status is ScheduleStatus.UNKNOWN_SCOPE:
        await reply(update, context, "circular.unknown_scope", scope=result.scope_word)
    else:
        assert result.scope is not None
        await reply(
            update,
            context,
            "schedule.added",
            id=result.announcement_id,
            when=result.when,
            scope=rules.scope_words(context.lang, result.scope),
            count=result.count,
            paid=_paid_bill(context, result.count),
        )


async def jadwal_hapus(update: Update, context: PoskoContext) -> None:
    if not await _admin(update, context):
        return
    words = command_args(update.effective_message).lstrip("#").split()
    if len(words) != 1 or not _number(words[0]):
        await reply(update, context, "schedule.remove_usage")
        return
    runtime = context.runtime
    wanted = int(words[0])
    outcome, found = await announcements.unschedule(
        runtime.database, context.me(), wanted, runtime.clock.now()
    )
    if outcome is RemoveStatus.REMOVED:
        await reply(update, context, "schedule.removed", id=wanted)
    elif outcome is RemoveStatus.FIRED:
        circular = found.circular_id if found is not None else None
        await reply(update, context, "schedule.already_fired", id=wanted, circular=circular or "")
    else:
        await reply(update, context, "schedule.unknown", id=wanted)


# --- /undang ----------------------------------------------------------------------------------


async def undang(update: Update, context: PoskoContext) -> None:
    if not await _admin(update, context):
        return
    member = context.me()
    words = command_args(update.effective_message).split()
    if len(words) != 1:
        await reply(update, context, "invite.usage")
        return
    ref = words[0][:64]
    runtime = context.runtime
    target = await member_by_ref(runtime.database, ref)
    if target is None:
        await reply(update, context, "invite.unknown", ref=ref)
        return
    if target.telegram_id is not None:
        # Already registered: a code for them moves the member to another account, which
        # the admin confirms first (a lost phone, a new Telegram account).
        await people.ask_rebind(update, context, target)
        return
    now = runtime.clock.now()
    invitation = await invite(
        runtime.database, ref, now, runtime.settings.invites.expiry, actor_id=member.id, via="bot"
    )
    if invitation is None:
        await reply(update, context, "invite.unknown", ref=ref)
        return
    await reply(update, context, "common.raw", text=people.invite_text(context, invitation))


# --- wiring -----------------------------------------------------------------------------------


def register(app: App) -> None:
    callbacks = {
        "siaran": siaran,
        "siaran_status": siaran_status,
        "jadwal": jadwal,
        "jadwal_tambah": jadwal_tambah,
        "jadwal_hapus": jadwal_hapus,
        "undang": undang,
    }
    mine: list[BaseHandler[Any, Any, Any]] = [
        CommandHandler([name, *aliases], callbacks[name]) for name, aliases in COMMANDS.items()
    ]
    mine.append(CallbackQueryHandler(button, pattern=f"^{PREFIX}"))
    put_first(app, mine)


async def tick(context: PoskoContext) -> None:
    """JobQueue callback: fire due announcements, edit delivery reports."""
    runtime = context.application.bot_data.get("runtime")
    if not isinstance(runtime, Runtime) or runtime.db is None:
        return
    await announcements.tick(runtime.db, runtime.clock.now(), runtime.settings.bot.default_language)


async def start_jobs(app: App) -> None:
    """Start the circulars job (scheduled announcements and delivery reports), every
    ``TICK``; call once the job queue exists (e.g. from post_init). Idempotent."""
    queue = app.job_queue
    if queue is None:
        log.warning("no job queue: scheduled circulars and delivery reports will not run")
        return
    for job in queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    queue.run_repeating(
        tick,
        interval=TICK,
        first=TICK,
        name=JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
