"""Alert buttons: "Ambil alih" (take) — the first supervisor in scope to press owns it —
and "📣 Panggil petugas" (call the post's officers)."""

from __future__ import annotations

from telegram import Update

from bot.watch import alerts
from bot.watch.alerts import CallStatus, TakeStatus
from bot.watch.texts import CALL_PREFIX, TAKE_PREFIX
from handlers.common import PoskoContext, buttons, callback_id, drop_buttons, drop_pressed_button


async def take(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    member = context.me()
    runtime = context.runtime
    alert_id = callback_id(query.data.removeprefix(TAKE_PREFIX))
    if alert_id is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    pressed_in = query.message.chat.id if query.message is not None else None
    result = await alerts.take(
        runtime.database,
        member,
        alert_id,
        runtime.clock.now(),
        runtime.watcher,
        pressed_in,
        runtime.settings.watch.taken_timeout,
    )
    if result.status is TakeStatus.TAKEN:
        await query.answer()
        await drop_pressed_button(query)
        if query.message is not None:
            in_group = query.message.chat.type != "private"
            # In a posko bersama group everyone reads it: say who took it, not "you"; the
            # people to call (with phones) went to the taker's private chat.
            if in_group:
                await context.bot.send_message(
                    query.message.chat.id,
                    context.t("alert.taken_by", post=result.post_code, who=member.name),
                    message_thread_id=getattr(query.message, "message_thread_id", None),
                )
            else:
                await context.bot.send_message(
                    query.message.chat.id,
                    alerts.taken_text(context.lang, result.post_code, result.people),
                    reply_markup=buttons(
                        [[(context.t("followup.call_button"), f"{CALL_PREFIX}{result.alert_id}")]]
                    ),
                )
        return
    if result.status is TakeStatus.ALREADY_TAKEN:
        text = context.t("alert.already_taken", who=result.taken_by or "-")
    elif result.status is TakeStatus.OVER:
        text = context.t("alert.already_over")
    elif result.status is TakeStatus.NOT_YOURS:
        text = context.t("alert.not_yours")
    else:
        text = context.t("common.stale_button")
    await query.answer(text, show_alert=True)


async def call(update: Update, context: PoskoContext) -> None:
    """📣 Panggil petugas: only the taker or a supervisor in scope; once a minute."""
    query = update.callback_query
    assert query is not None and query.data is not None
    alert_id = callback_id(query.data.removeprefix(CALL_PREFIX))
    if alert_id is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    runtime = context.runtime
    result = await alerts.call_officers(
        runtime.database, context.me(), alert_id, runtime.clock.now()
    )
    status = result.status
    if status is CallStatus.SENT:
        await query.answer(
            context.t("followup.called", count=result.count, post=result.post_code),
            show_alert=True,
        )
        return
    if status is CallStatus.NOBODY:
        text = context.t("followup.called_none", post=result.post_code)
    elif status is CallStatus.AGAIN_LATER:
        text = context.t("followup.call_again_later")
    elif status is CallStatus.RECOVERED:
        text = context.t("followup.call_recovered", post=result.post_code)
        await drop_buttons(query)
    elif status is CallStatus.NOT_YOURS:
        text = context.t("followup.call_not_yours")
    else:
        text = context.t("common.stale_button")
    await query.answer(text, show_alert=True)
