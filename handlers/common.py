"""Shared by every conversation area: the context type, the gate and reply helpers."""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import Application, ApplicationHandlerStop, CallbackContext, ExtBot

from bot.core.access import Role, has_role, language_of
from bot.core.i18n import label, t
from bot.core.logs import bind
from bot.core.runtime import Runtime
from bot.presence.registration import recognise
from storage.records import Member

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


class PoskoContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The PTB context plus the member behind the update, resolved once by the gate."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.member: Member | None = None
        self.lang: str = "id"

    @property
    def runtime(self) -> Runtime:
        runtime = self.application.bot_data["runtime"]
        assert isinstance(runtime, Runtime)
        return runtime

    def t(self, key: str, **values: object) -> str:
        return t(self.lang, key, **values)

    def label(self, group: str, name: str) -> str:
        return label(self.lang, group, name)

    def me(self) -> Member:
        """The member; handlers behind the gate may rely on it being there."""
        if self.member is None:
            raise ApplicationHandlerStop
        return self.member


# Commands that make sense inside a posko bersama group (binding it to an area).
GROUP_COMMANDS = frozenset({"grup", "group"})


def _command_word(message: Message | None) -> str:
    if message is None or not message.text or not message.text.startswith("/"):
        return ""
    return message.text.split()[0][1:].split("@")[0].lower()


def _is_command(message: Message | None) -> bool:
    return bool(message and message.text and message.text.startswith("/"))


def _start_code(message: Message | None) -> bool:
    """'/start CODE': the one thing an unknown person may send."""
    if message is None or not message.text:
        return False
    parts = message.text.split()
    return parts[0].split("@")[0].lower() == "/start"


async def gate(update: Update, context: PoskoContext) -> None:
    """Runs before every handler: who is this, may they be here, in which language."""
    runtime = context.runtime
    user = update.effective_user
    chat = update.effective_chat
    message = update.effective_message
    bind(update=update.update_id, user=user.id if user else None)
    if user is None or user.is_bot:
        log.debug("ignored update %s without a person", update.update_id)
        raise ApplicationHandlerStop
    client_language = user.language_code
    group_command = _command_word(message) in GROUP_COMMANDS
    if chat is not None and chat.type != ChatType.PRIVATE and not group_command:
        # Posko bersama groups receive alerts; commands are answered only in private chats.
        if update.callback_query is None and _is_command(message) and message is not None:
            context.lang = language_of(None, client_language, runtime.settings.bot.default_language)
            await message.reply_text(context.t("common.private_only"))
        if update.callback_query is None:
            raise ApplicationHandlerStop
    member = await recognise(runtime.database, user.id, runtime.members)
    context.member = member
    context.lang = language_of(member, client_language, runtime.settings.bot.default_language)
    if update.edited_message is not None and update.edited_message.location is None:
        await update.edited_message.reply_text(context.t("common.edited_ignored"))
        raise ApplicationHandlerStop
    if member is None:
        if update.message is not None and _start_code(update.message):
            return
        await refuse_stranger(update, context)
        raise ApplicationHandlerStop
    menu_key = (member.id, member.roles, context.lang)
    if chat is not None and chat.type == ChatType.PRIVATE and menu_key not in runtime.menus:
        # Members imported with their Telegram id may never send /start: give them their
        # menu the first time they are seen (again after a role or language change).
        runtime.menus.add(menu_key)
        from handlers.onboarding import set_menu

        context.application.create_task(set_menu(context, member, chat.id), update=update)


async def refuse_stranger(update: Update, context: PoskoContext) -> None:
    text = context.t("common.unknown_user")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None and update.edited_message is None:
        await update.effective_message.reply_text(text, reply_markup=ReplyKeyboardRemove())
    log.info("refused unknown user %s", update.effective_user.id if update.effective_user else None)


def require(context: PoskoContext, role: Role) -> bool:
    return has_role(context.member, role)


async def reply(
    update: Update, context: PoskoContext, key: str, markup: Markup | None = None, **values: object
) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(context.t(key, **values), reply_markup=markup)


async def answer(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    await query.answer(text, show_alert=alert)


def buttons(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def grid(items: list[tuple[str, str]], per_row: int = 2) -> list[list[tuple[str, str]]]:
    return [items[i : i + per_row] for i in range(0, len(items), per_row)]


def command_args(message: Message | None) -> str:
    """Everything after the command word, with its original spacing inside."""
    if message is None or not message.text:
        return ""
    parts = message.text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


_ID = re.compile(r"[0-9]{1,18}")


def callback_id(raw: str) -> int | None:
    """An id from callback data, which a tampered client can set to anything: ASCII digits
    only ('²'.isdigit() is true but int('²') fails) and small enough for SQLite."""
    return int(raw) if _ID.fullmatch(raw) else None


async def drop_buttons(query: CallbackQuery) -> None:
    """Remove a message's buttons once used; a double tap (already removed) is no error."""
    if query.message is None:
        return
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("could not remove buttons: %s", exc)
