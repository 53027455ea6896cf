"""Admin commands: /jeda (pause watching a post, with automatic resume)."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from bot.access import Role
from bot.clock import hhmm
from bot.config import parse_duration
from handlers.common import PoskoContext, command_args, reply, require
from storage import audit, posts
from storage import watch as store

MAX_PAUSE = timedelta(days=7)


async def jeda(update: Update, context: PoskoContext) -> None:
    member = context.me()
    if not require(context, Role.ADMIN):
        await reply(update, context, "admin.only")
        return
    runtime = context.runtime
    words = command_args(update.effective_message).split()
    if len(words) != 2:
        await reply(update, context, "admin.jeda_usage")
        return
    code, amount = words
    resume = amount.lower() in ("off", "selesai", "lanjut")
    length = timedelta(0)
    if not resume:
        text = amount.lower()
        if text.isdigit():
            text += "m"  # "/jeda KBJ-01 90" means minutes, as SPEC §3 writes it
        try:
            length = parse_duration(text)
        except ValueError:
            await reply(update, context, "admin.jeda_usage")
            return
        if not timedelta(0) < length <= MAX_PAUSE:
            await reply(update, context, "admin.jeda_usage")
            return
    now = runtime.clock.now()
    async with runtime.database.transaction() as tx:
        post = await posts.by_code(tx, code)
        if post is None:
            await reply(update, context, "admin.unknown_post", code=code[:32])
            return
        until = None if resume else now + length
        await store.set_pause(tx, post.id, until, now)
        await audit.record(
            tx, now, member.id, "resume" if resume else "pause", "post", post.id, until=until
        )
        if runtime.watcher is not None:
            await runtime.watcher.refresh(tx, [post.id], now)
            tx.touched_deadlines = True
    if resume:
        await reply(update, context, "admin.resumed", post=post.code)
    else:
        await reply(update, context, "admin.paused", post=post.code, until=hhmm(now + length))
