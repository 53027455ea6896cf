"""Alert buttons: "Ambil alih" (take) — the first supervisor in scope to press owns it."""

from __future__ import annotations

from telegram import Update

from bot.watch import alerts
from bot.watch.alerts import TakeStatus
from bot.watch.watcher import TAKE_PREFIX
from handlers.common import PoskoContext, callback_id, drop_pressed_button


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
        runtime.database, member, alert_id, runtime.clock.now(), runtime.watcher, pressed_in
    )
    if result.status is TakeStatus.TAKEN:
        await query.answer()
        await drop_pressed_button(query)
        if query.message is not None:
            in_group = query.message.chat.type != "private"
            # In a posko bersama group everyone reads it: say who took it, not "you".
            text = (
                context.t("alert.taken_by", post=result.post_code, who=member.name)
                if in_group
                else context.t("alert.taken_you", post=result.post_code)
            )
            await context.bot.send_message(
                query.message.chat.id,
                text,
                message_thread_id=getattr(query.message, "message_thread_id", None),
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
