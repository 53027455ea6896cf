"""Admin commands: /jeda (pause watching a post) and /grup (bind a group chat to an area)."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from bot.core.access import Role
from bot.core.clock import day_hhmm, hhmm, wib
from bot.core.config import parse_duration
from bot.core.scope import covers
from handlers.common import PoskoContext, command_args, power_reach, refused, reply, require
from storage import areas, audit, posts
from storage import watch as store

MAX_PAUSE = timedelta(days=7)


async def jeda(update: Update, context: PoskoContext) -> None:
    """Admins anywhere; supervisors given the power (``[powers] jeda``) in their subtree."""
    member = context.me()
    reach = await power_reach(context, "jeda")
    if refused(reach):
        await reply(update, context, "power.only")
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
        if post is not None and not covers(reach, post.area_id):
            post = None  # outside the subtree: as unknown as a post that does not exist
        if post is not None:
            until = None if resume else now + length
            await store.set_pause(tx, post.id, until, now)
            await audit.record(
                tx, now, member.id, "resume" if resume else "pause", "post", post.id, until=until
            )
            if runtime.watcher is not None:
                await runtime.watcher.refresh(tx, [post.id], now)
                tx.touched_deadlines = True
    # Replies go out after COMMIT: no network wait while the database lock is held.
    if post is None:
        await reply(update, context, "admin.unknown_post", code=code[:32])
    elif resume:
        await reply(update, context, "admin.resumed", post=post.code)
    else:
        until_at = now + length
        shown = hhmm(until_at) if wib(until_at).date() == wib(now).date() else day_hhmm(until_at)
        await reply(update, context, "admin.paused", post=post.code, until=shown)


async def grup(update: Update, context: PoskoContext) -> None:
    """Sent inside a posko bersama group: its alerts for AREA (and below) go there too."""
    member = context.me()
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None and chat is not None
    if not require(context, Role.ADMIN):
        await reply(update, context, "admin.only")
        return
    words = command_args(message).split()
    if chat.type == "private" or not 1 <= len(words) <= 2:
        await reply(update, context, "admin.grup_usage")
        return
    runtime = context.runtime
    now = runtime.clock.now()
    unbind = len(words) == 2 and words[1].lower() == "off"
    topic = message.message_thread_id if message.is_topic_message else None
    async with runtime.database.transaction() as tx:
        area = await areas.by_code(tx, words[0])
        if area is not None:
            await areas.set_group_chat(
                tx, area.id, None if unbind else chat.id, None if unbind else topic, now
            )
            await audit.record(
                tx,
                now,
                member.id,
                "group_unbind" if unbind else "group_bind",
                "area",
                area.id,
                chat_id=chat.id,
                topic_id=topic,
            )
    if area is None:
        await reply(update, context, "admin.unknown_area", code=words[0][:32])
        return
    if runtime.watcher is not None:
        runtime.watcher.forget_tree()
    key = "admin.grup_off" if unbind else "admin.grup_on"
    await reply(update, context, key, area=area.name, code=area.code)
