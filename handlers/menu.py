"""Each person's command menu: which commands a member's roles give, and setting it in
Telegram with a per-chat command scope."""

from __future__ import annotations

import logging
from collections.abc import Collection

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.core.access import Role, has_role
from bot.core.i18n import t
from bot.core.scope import powers_of
from handlers.common import PoskoContext
from storage.records import Member

log = logging.getLogger(__name__)

OFFICER_COMMANDS = (
    "hadir",
    "pulang",
    "aman",
    "lapor",
    "darurat",
    "laporanku",
    "status",
    "piket",
    "tukar",
)
SUPERVISOR_COMMANDS: tuple[str, ...] = ("pantau", "laporan", "rekap", "peta", "piket", "dasbor")
ADMIN_COMMANDS: tuple[str, ...] = (
    "siaran",
    "siaran_status",
    "jadwal",
    "jadwal_tambah",
    "jadwal_hapus",
    "undang",
    "petugas",
    "jeda",
    "jam",
    "jam_khusus",
    "grup",
    "ekspor",
)
COMMON_COMMANDS = ("bantuan", "batal")
LIAISON_COMMANDS: tuple[str, ...] = ("disposisi", "dasbor")
"""A liaison's own commands (SPEC §8: only the reports forwarded to their agency)."""


def liaison_only(member: Member) -> bool:
    """A partner agency's liaison and nothing else: no posts, presence or other reports."""
    return has_role(member, Role.LIAISON) and not any(
        has_role(member, role) for role in (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)
    )


def commands_for(member: Member, powers: Collection[str] = ()) -> list[str]:
    """The member's commands; ``powers`` are admin commands a supervisor was given within
    their subtree (``[powers]``, see bot.core.scope.powers_of)."""
    names: list[str] = []
    if has_role(member, Role.OFFICER):
        names += OFFICER_COMMANDS
    if has_role(member, Role.SUPERVISOR):
        names += [name for name in SUPERVISOR_COMMANDS if name not in names]
        names += [name for name in powers if name not in names]
        if "siaran" in powers and "siaran_status" not in names:
            names.append("siaran_status")  # the delivery report of one's own circulars
    if has_role(member, Role.ADMIN):
        names += [name for name in ADMIN_COMMANDS if name not in names]
    if has_role(member, Role.LIAISON):
        names += [name for name in LIAISON_COMMANDS if name not in names]
    return names + list(COMMON_COMMANDS)


async def member_commands(context: PoskoContext, member: Member) -> list[str]:
    """Every command this member has, the powers of their level included."""
    runtime = context.runtime
    async with runtime.database.read() as tx:
        powers = await powers_of(tx, member, runtime.settings.powers.levels())
    return commands_for(member, powers)


async def set_menu(context: PoskoContext, member: Member, chat_id: int) -> None:
    """Each person sees only their own commands (Telegram command scopes)."""
    names = await member_commands(context, member)
    commands = [BotCommand(name, t(context.lang, f"menu.{name}")) for name in names]
    try:
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("could not set the command menu for member %s: %s", member.id, exc)


async def clear_menu(context: PoskoContext, chat_id: int) -> None:
    """A chat that lost its member (the account was replaced): back to the default menu."""
    try:
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
    except TelegramError as exc:
        log.warning("could not clear the command menu of chat %s: %s", chat_id, exc)
