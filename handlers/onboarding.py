"""Joining and finding one's way: /start, /bantuan, command menus, and anything unknown."""

from __future__ import annotations

import logging

from telegram import ReplyKeyboardRemove, Update

from bot.core.access import Role, language_of
from bot.presence.registration import JoinStatus, join
from handlers.common import PoskoContext, command_args, reply
from handlers.menu import clear_menu, member_commands, set_menu
from storage.records import Member

log = logging.getLogger(__name__)


def roles_text(context: PoskoContext, member: Member) -> str:
    names = [context.t(f"role.{role.value}") for role in Role if member.has(role.value)]
    return ", ".join(names) if names else context.t("role.none")


async def start(update: Update, context: PoskoContext) -> None:
    runtime = context.runtime
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    code = command_args(update.effective_message)
    member = context.member
    if member is not None:
        await set_menu(context, member, chat.id)
        await reply(
            update,
            context,
            "start.welcome_back",
            ReplyKeyboardRemove(),
            name=member.name,
            roles=roles_text(context, member),
        )
        return
    if not code:
        await reply(update, context, "common.unknown_user")
        return
    outcome = await join(runtime.database, code, user.id, user.language_code, runtime.clock.now())
    runtime.members.forget(user.id)
    if outcome.replaced_telegram_id is not None:
        runtime.members.forget(outcome.replaced_telegram_id)  # the lost phone is out at once
        await clear_menu(context, outcome.replaced_telegram_id)
    if outcome.status is JoinStatus.JOINED and outcome.member is not None:
        context.member = outcome.member
        # The member's own language setting now applies, not just the phone's.
        context.lang = language_of(
            outcome.member, user.language_code, runtime.settings.bot.default_language
        )
        await set_menu(context, outcome.member, chat.id)
        await reply(
            update,
            context,
            "start.joined",
            name=outcome.member.name,
            roles=roles_text(context, outcome.member),
        )
        log.info("member %s registered", outcome.member.id)
        return
    await reply(update, context, f"start.{outcome.status.value}")


async def help_command(update: Update, context: PoskoContext) -> None:
    member = context.me()
    lines = [context.t("help.title")]
    names = await member_commands(context, member)
    lines += [f"/{name} — {context.t(f'help.{name}')}" for name in names]
    await reply(update, context, "common.raw", text="\n".join(lines))
