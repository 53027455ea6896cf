"""Supervisor commands /rekap (a day's recap: text plus chart) and /peta (the posts on a
map), and the job that queues the daily recap.

Pictures are rendered in a worker thread (``asyncio.to_thread``) so the bot keeps answering
everyone else while matplotlib works.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from telegram import InputFile, Update
from telegram.ext import Application, CommandHandler

from bot.core.access import Role
from bot.core.clock import hhmm, wib
from bot.core.runtime import Runtime
from bot.core.scope import own_area_ids, scope_area_ids
from bot.insight.boundaries import outlines
from bot.insight.group_recap import queue_daily_groups
from bot.insight.map_picture import MapPoint, render_map, state_counts
from bot.insight.recap import (
    chart_words,
    date_text,
    load,
    parse_day,
    queue_daily,
    render_chart,
    render_text,
)
from handlers.common import (
    PoskoContext,
    command_args,
    put_first,
    reply,
    require,
    say,
    viewing_scope,
)
from storage import overview
from storage import recap as store
from storage.records import Area

log = logging.getLogger(__name__)

# How often the job looks whether the daily recap is due (it is sent once per person per day
# whatever the tick; a restart just after the recap time loses nothing).
RECAP_TICK = timedelta(minutes=1)
JOB_NAME = "recap.daily"
COMMANDS: dict[str, tuple[str, ...]] = {"rekap": ("recap",), "peta": ("map",)}

App = Application[Any, PoskoContext, Any, Any, Any, Any]


async def _scope(update: Update, context: PoskoContext) -> tuple[set[int] | None, str] | None:
    """The member's areas (None: all) and their name; None after replying a refusal."""
    member = context.me()
    if not require(context, Role.SUPERVISOR):
        await reply(update, context, "recap.only")
        return None
    if context.room is not None:
        async with context.runtime.database.read() as tx:
            shown = await viewing_scope(tx, context)
        if shown is not None and not shown:
            await reply(update, context, "recap.no_scope")
            return None
        return shown, context.room.name
    async with context.runtime.database.read() as tx:
        scope = await scope_area_ids(tx, member)
        names = await overview.area_names(tx, await own_area_ids(tx, member)) if scope else []
    if scope is None:
        return None, context.t("recap.all_areas")
    if not scope:
        await reply(update, context, "recap.no_scope")
        return None
    name = ", ".join(names)
    return scope, name if len(name) <= 48 else name[:47] + "…"


async def rekap(update: Update, context: PoskoContext) -> None:
    message = update.effective_message
    if message is None:
        return
    runtime = context.runtime
    now = runtime.clock.now()
    today = wib(now).date()
    day = parse_day(command_args(message), today)
    found = await _scope(update, context)
    if found is None:
        return
    if day is None:
        await reply(update, context, "recap.usage")
        return
    if day > today:
        await reply(update, context, "recap.future", date=date_text(day))
        return
    area_ids, name = found
    recap = await load(runtime.database, runtime.settings, area_ids, name, day, now)
    if not recap.posts:
        await reply(update, context, "recap.empty", scope=name)
        return
    await say(update, context, render_text(context.lang, recap))
    if not recap.chart_posts():
        return
    picture = await asyncio.to_thread(render_chart, recap, chart_words(context.lang, recap))
    await message.reply_photo(
        InputFile(picture, filename=f"rekap-{day.isoformat()}.png"),
        caption=context.t("recap.photo_caption", date=date_text(day), scope=name),
    )


def _area_label(area: Area | None) -> str:
    if area is None:
        return "-"
    return f"Kec. {area.name}" if area.level == "kecamatan" else area.name


async def peta(update: Update, context: PoskoContext) -> None:
    message = update.effective_message
    if message is None:
        return
    found = await _scope(update, context)
    if found is None:
        return
    area_ids, name = found
    runtime = context.runtime
    now = runtime.clock.now()
    async with runtime.database.read() as tx:
        posts = await store.posts_in(tx, area_ids)
        tree = await store.area_tree(tx)
        alerted = await store.open_alert_post_ids(tx, area_ids)
        shapes = await outlines(tx, area_ids)
    if not posts:
        await reply(update, context, "recap.empty", scope=name)
        return
    points = [
        MapPoint(
            post.code,
            post.name,
            _area_label(tree.get(post.area_id)),
            post.state,
            post.latitude,
            post.longitude,
            alert=post.id in alerted,
        )
        for post in posts
    ]
    words = {
        key: context.t(f"recap.map_{key}")
        for key in ("ok", "silent", "unstaffed", "closed", "paused", "geo_panel", "grid_panel")
    }
    words["unplaced"] = context.t("peta.unplaced")
    words["more"] = context.t("peta.more")
    words["empty"] = context.t("recap.map_empty")
    title = context.t("recap.map_title", scope=name)
    picture = await asyncio.to_thread(render_map, points, title, now, words, shapes)
    counts = state_counts(points)
    await message.reply_photo(
        InputFile(picture, filename="peta.png"),
        caption=context.t("recap.map_caption", scope=name, time=hhmm(now), **counts),
    )


async def daily_tick(context: PoskoContext) -> None:
    """JobQueue callback: queue today's recap for whoever is due (none before the time)."""
    runtime = context.application.bot_data.get("runtime")
    if not isinstance(runtime, Runtime) or runtime.db is None:
        return
    now = runtime.clock.now()
    await queue_daily(runtime.db, runtime.settings, now)
    await queue_daily_groups(runtime.db, runtime.settings, now)


def register(app: App) -> None:
    """Add /rekap (/recap) and /peta (/map)."""
    callbacks = {"rekap": rekap, "peta": peta}
    put_first(
        app,
        [CommandHandler([name, *aliases], callbacks[name]) for name, aliases in COMMANDS.items()],
    )


async def start_jobs(app: App) -> None:
    """Schedule the daily recap (call once the app's job queue exists, e.g. in post_init).

    The time of day is read on every tick from ``settings.recap.time`` when present, else
    ``bot.insight.recap.DEFAULT_RECAP_TIME`` (21:00 WIB).
    """
    queue = app.job_queue
    if queue is None:
        log.warning("no job queue: the daily recap will not be sent")
        return
    for job in queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()
    queue.run_repeating(daily_tick, interval=RECAP_TICK, first=RECAP_TICK, name=JOB_NAME)
