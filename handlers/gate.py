"""The gate in front of every handler: who is this, may they be here, in which language."""

from __future__ import annotations

import logging

from telegram import Message, ReplyKeyboardRemove, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.core.access import language_of
from bot.core.logs import bind
from bot.core.runtime import Runtime
from bot.presence.registration import heard_from, note_app_language, recognise
from handlers.common import PoskoContext, Room, reply
from handlers.menu import LIAISON_COMMANDS, liaison_only, set_menu
from storage import areas

log = logging.getLogger(__name__)


# What a liaison alone may send (their own commands and the common ones, with aliases).
LIAISON_WORDS = frozenset(
    {"start", "bantuan", "help", "batal", "cancel", "forwards", "dashboard", *LIAISON_COMMANDS}
)

# Commands that make sense inside a posko bersama group (binding it to an area).
GROUP_COMMANDS = frozenset({"grup", "group"})


# Commands answered inside a bound group, for the group's areas (issue 10).
ROOM_COMMANDS = frozenset({"pantau", "monitor", "peta", "map", "rekap", "recap"})


async def _room(runtime: Runtime, chat_id: int) -> Room | None:
    """The areas a group is bound to (/grup), or None for a group bound to none."""
    async with runtime.database.read() as tx:
        bound = await areas.bound_to_chat(tx, chat_id)
        if not bound:
            return None
        ids = await areas.subtree_ids(tx, [area.id for area in bound])
    return Room(frozenset(ids), ", ".join(area.name for area in bound))


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
    word = _command_word(message)
    group_command = word in GROUP_COMMANDS
    if chat is not None and chat.type != ChatType.PRIVATE and not group_command:
        # Posko bersama groups receive alerts and reports; there, only /pantau, /peta and
        # /rekap are answered (for the group's own areas); everything else in private.
        room = None
        if update.callback_query is not None or word in ROOM_COMMANDS:
            room = await _room(runtime, chat.id)
        if update.callback_query is None and room is None:
            if _is_command(message) and message is not None:
                context.lang = language_of(
                    None, client_language, runtime.settings.bot.default_language
                )
                username = runtime.settings.telegram.bot_username
                link = f": https://t.me/{username}" if username else ""
                await message.reply_text(context.t("common.private_only", link=link))
            raise ApplicationHandlerStop
        context.room = room
    member = await recognise(runtime.database, user.id, runtime.members)
    private = chat is not None and chat.type == ChatType.PRIVATE
    if member is not None and member.unreachable and private:
        member = await heard_from(runtime.database, member, runtime.clock.now())
        runtime.members.forget(user.id)
        log.info("member %s is reachable again", member.id)
    if member is not None and client_language and member.client_language != client_language:
        member = await note_app_language(runtime.database, member, client_language)
        runtime.members.forget(user.id)
    context.member = member
    context.lang = language_of(member, client_language, runtime.settings.bot.default_language)
    if update.edited_message is not None and update.edited_message.location is None:
        await reply(update, context, "common.edited_ignored")
        raise ApplicationHandlerStop
    if member is None:
        if update.message is not None and _start_code(update.message):
            return
        await refuse_stranger(update, context)
        raise ApplicationHandlerStop
    if (
        update.message is not None
        and _is_command(update.message)
        and liaison_only(member)
        and _command_word(update.message) not in LIAISON_WORDS
    ):
        # A liaison sees only what is forwarded to their agency (SPEC §8): no posts,
        # presence, recaps or other reports. One polite answer for every such command.
        await reply(update, context, "agencies.liaison_only")
        raise ApplicationHandlerStop
    menu_key = (member.id, member.roles, context.lang)
    if chat is not None and chat.type == ChatType.PRIVATE and menu_key not in runtime.menus:
        # Members imported with their Telegram id may never send /start: give them their
        # menu the first time they are seen (again after a role or language change).
        runtime.menus.add(menu_key)
        context.application.create_task(set_menu(context, member, chat.id), update=update)


async def refuse_stranger(update: Update, context: PoskoContext) -> None:
    text = context.t("common.unknown_user")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None and update.edited_message is None:
        await update.effective_message.reply_text(text, reply_markup=ReplyKeyboardRemove())
    log.info("refused unknown user %s", update.effective_user.id if update.effective_user else None)
