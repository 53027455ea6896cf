"""The catch-alls at the end of the chain: plain text (a report being written, a note a
supervisor was asked for, or a nudge towards the commands), unknown commands, and
messages the bot does not understand."""

from __future__ import annotations

from telegram import Update

from handlers import disposisi, myreports, reports, supervision
from handlers.common import PoskoContext, reply


async def unknown_command(update: Update, context: PoskoContext) -> None:
    await reply(update, context, "common.unknown_command")


async def unsupported(update: Update, context: PoskoContext) -> None:
    """Stickers, documents, voice notes and the like: say what the bot does understand."""
    await reply(update, context, "common.unsupported")


async def text(update: Update, context: PoskoContext) -> None:
    """Plain text: part of a report being written, or a nudge towards the commands."""
    if await reports.text(update, context):
        return
    if await myreports.take_text(update, context):
        return
    if await supervision.take_text(update, context):
        return
    if await disposisi.take_text(update, context):
        return
    await reply(update, context, "common.not_understood")
