"""/dasbor: the command room's doors (SPEC §10). In a private chat: a Mini App button and
a one-time browser login link; ``/dasbor layar``: a read-only link for a room screen
(supervisors and admins); ``/dasbor cabut``: revoke wall links. Links are never sent to
a group, and their messages carry no link preview (a preview would use up the link)."""

from __future__ import annotations

from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot.core.clock import hhmm
from bot.web.auth import LOGIN_LINK_TTL, issue_link, may_show_wall, may_use, revoke_walls
from handlers.common import PoskoContext, command_args, put_first, reply

WALL_WORDS = frozenset({"layar", "wall", "screen"})
REVOKE_WORDS = frozenset({"cabut", "revoke"})
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    put_first(app, [CommandHandler(["dasbor", "dashboard"], dasbor)])


async def dasbor(update: Update, context: PoskoContext) -> None:
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    member = context.me()
    if chat.type != ChatType.PRIVATE:
        await reply(update, context, "dasbor.private_only")
        return
    if not may_use(member):
        await reply(update, context, "dasbor.not_allowed")
        return
    runtime = context.runtime
    room = runtime.web
    if room is None:
        await reply(update, context, "dasbor.off")
        return
    word = command_args(message).lower()
    now = runtime.clock.now()
    if word in REVOKE_WORDS:
        if not may_show_wall(member):
            await reply(update, context, "dasbor.wall_not_allowed")
            return
        count = await revoke_walls(runtime.database, member, now)
        await reply(update, context, "dasbor.revoked" if count else "dasbor.revoked_none",
                    count=count)  # fmt: skip
        return
    if word in WALL_WORDS:
        if not may_show_wall(member):
            await reply(update, context, "dasbor.wall_not_allowed")
            return
        token = await issue_link(runtime.database, member, "wall", now)
        text = context.t("dasbor.wall", url=f"{room.url}/layar/{token}")
        await message.reply_text(text, link_preview_options=NO_PREVIEW)
        return
    if word:
        await reply(update, context, "dasbor.usage")
        return
    token = await issue_link(runtime.database, member, "login", now)
    text = "\n\n".join(
        [
            context.t("dasbor.intro"),
            context.t(
                "dasbor.login", url=f"{room.url}/login/{token}", until=hhmm(now + LOGIN_LINK_TTL)
            ),
        ]
    )
    markup = None
    if room.url.startswith("https://"):  # Telegram opens Mini Apps from https only
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(context.t("dasbor.app_button"), web_app=WebAppInfo(room.url))]]
        )
    await message.reply_text(text, reply_markup=markup, link_preview_options=NO_PREVIEW)
