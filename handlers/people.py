"""The admin's people in chat: moving a registered member to a new Telegram account
(lost phone) after /undang.

Callback data: ``ad:rb:<member id>`` (confirm: issue a code that rebinds the member),
``ad:no`` (cancel). Every button checks the role on the server.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, BaseHandler, CallbackQueryHandler

from bot.core.access import Role
from bot.core.clock import day_hhmm
from bot.presence.registration import Invitation, deep_link, invite_member
from handlers.common import PoskoContext, buttons, callback_id, drop_buttons, reply, require
from storage import audit
from storage.records import Member

App = Application[Any, Any, Any, Any, Any, Any]

PREFIX = "ad:"
REBIND_PREFIX = "ad:rb:"
CANCEL = "ad:no"


def invite_text(context: PoskoContext, invitation: Invitation, rebind: bool = False) -> str:
    text = context.t(
        "invite.created",
        name=invitation.member.name,
        ref=invitation.member.ref,
        code=invitation.code,
        expires=day_hhmm(invitation.expires_at),
        link=deep_link(context.runtime.bot_username, invitation.code),
    )
    if rebind:
        text += "\n\n" + context.t("people.rebind_note")
    return text


async def ask_rebind(update: Update, context: PoskoContext, target: Member) -> None:
    """/undang for a member who is already registered: confirm the move first."""
    markup = buttons(
        [
            [
                (context.t("people.rebind_button"), f"{REBIND_PREFIX}{target.id}"),
                (context.t("people.cancel_button"), CANCEL),
            ]
        ]
    )
    await reply(update, context, "people.rebind_confirm", markup, name=target.name, ref=target.ref)


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None
    member = context.me()
    if not require(context, Role.ADMIN):
        await query.answer(context.t("admin.only"), show_alert=True)
        return
    data = query.data or ""
    if data == CANCEL:
        await query.answer(context.t("people.cancelled"))
        await drop_buttons(query)
        return
    target_id = (
        callback_id(data.removeprefix(REBIND_PREFIX)) if data.startswith(REBIND_PREFIX) else None
    )
    if target_id is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    runtime = context.runtime
    now = runtime.clock.now()
    invitation = await invite_member(
        runtime.database,
        target_id,
        now,
        runtime.settings.invites.expiry,
        rebind=True,
        actor_id=member.id,
    )
    if invitation is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    async with runtime.database.transaction() as tx:
        await audit.record(
            tx, now, member.id, "invite_sent", "member", target_id, via="bot", rebind=True
        )
    await query.answer()
    await drop_buttons(query)
    if query.message is not None:
        await context.bot.send_message(
            query.message.chat.id, invite_text(context, invitation, rebind=True)
        )


def register(app: App) -> None:
    """Add the buttons at the head of group 0, ahead of the stale-button catch-all."""
    group: list[BaseHandler[Any, Any, Any]] = app.handlers.setdefault(0, [])
    if any(isinstance(h, CallbackQueryHandler) and h.callback is button for h in group):
        return
    mine: list[BaseHandler[Any, Any, Any]] = [
        CallbackQueryHandler(button, pattern=f"^{PREFIX}"),
    ]
    for handler in mine:
        app.add_handler(handler, group=0)
    group = app.handlers[0]
    for handler in mine:
        group.remove(handler)
    group[0:0] = mine
