"""Joining and finding one's way: /start, /bantuan, command menus, and anything unknown."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat, ReplyKeyboardRemove, Update
from telegram.error import TelegramError

from bot.core.access import Role, has_role, language_of
from bot.core.i18n import t
from bot.presence.registration import JoinStatus, join
from handlers.common import PoskoContext, command_args, reply
from storage.records import Member

log = logging.getLogger(__name__)

OFFICER_COMMANDS = ("hadir", "pulang", "aman", "lapor", "laporanku", "status")
SUPERVISOR_COMMANDS: tuple[str, ...] = ("pantau", "laporan", "rekap", "peta")
ADMIN_COMMANDS: tuple[str, ...] = (
    "siaran",
    "siaran_status",
    "jadwal",
    "jadwal_tambah",
    "jadwal_hapus",
    "undang",
    "jeda",
    "grup",
    "ekspor",
)
COMMON_COMMANDS = ("bantuan", "batal")


def commands_for(member: Member) -> list[str]:
    names: list[str] = []
    if has_role(member, Role.OFFICER):
        names += OFFICER_COMMANDS
    if has_role(member, Role.SUPERVISOR):
        names += [name for name in SUPERVISOR_COMMANDS if name not in names]
    if has_role(member, Role.ADMIN):
        names += [name for name in ADMIN_COMMANDS if name not in names]
    return names + list(COMMON_COMMANDS)


async def set_menu(context: PoskoContext, member: Member, chat_id: int) -> None:
    """Each person sees only their own commands (Telegram command scopes)."""
    commands = [BotCommand(name, t(context.lang, f"menu.{name}")) for name in commands_for(member)]
    try:
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("could not set the command menu for member %s: %s", member.id, exc)


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
    lines += [f"/{name} — {context.t(f'help.{name}')}" for name in commands_for(member)]
    await reply(update, context, "common.raw", text="\n".join(lines))


async def unknown_command(update: Update, context: PoskoContext) -> None:
    await reply(update, context, "common.unknown_command")


async def unsupported(update: Update, context: PoskoContext) -> None:
    """Stickers, documents, voice notes and the like: say what the bot does understand."""
    await reply(update, context, "common.unsupported")


async def text(update: Update, context: PoskoContext) -> None:
    """Plain text: part of a report being written, or a nudge towards the commands."""
    from handlers import reports, supervision

    if await reports.text(update, context):
        return
    if await supervision.take_text(update, context):
        return
    await reply(update, context, "common.not_understood")
