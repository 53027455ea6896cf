"""Each person's command menu: which commands a member's roles give, and setting it in
Telegram with a per-chat command scope."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.core.access import Role, has_role
from bot.core.i18n import t
from handlers.common import PoskoContext
from storage.records import Member

log = logging.getLogger(__name__)

OFFICER_COMMANDS = ("hadir", "pulang", "aman", "lapor", "darurat", "laporanku", "status")
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
