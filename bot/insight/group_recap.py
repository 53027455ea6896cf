"""The daily recap for posko bersama groups (issue 10): each group bound to areas (/grup)
gets the recap of its whole subtree once per WIB day, at the same time as the people do,
in the bot's default language (a group has no language of its own). No phone numbers:
the recap never carries any.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from bot.core.clock import wib
from bot.core.config import Settings
from bot.insight.recap import (
    day_bounds,
    post_stats,
    recap_time,
    render_text,
    scope_name,
    subtree,
    summarise,
)
from bot.watch.hours import stored_overrides
from bot.watch.schedule import PostSchedules
from storage import outbox
from storage import recap as store
from storage.db import Database

log = logging.getLogger(__name__)

GROUP_RECAP_KIND = "recap_group"


def _compose(
    facts: store.DayFacts,
    schedules: PostSchedules,
    due: Sequence[store.RecapGroup],
    language: str,
    now: datetime,
) -> list[tuple[store.RecapGroup, str | None]]:
    """Each group's recap text (None when its areas hold no posts)."""
    stats = post_stats(facts, schedules, now)
    texts: list[tuple[store.RecapGroup, str | None]] = []
    for group in due:
        areas = subtree(facts.tree, group.area_ids)
        recap = summarise(facts, stats, areas, scope_name(facts.tree, group.area_ids), now)
        texts.append((group, render_text(language, recap, daily=True) if recap.posts else None))
    return texts


async def queue_daily_groups(db: Database, settings: Settings, now: datetime) -> int:
    """Queue today's recap for every bound group that has not had it; returns how many
    were queued. Safe to call as often as one likes: a (group, day) key decides."""
    local = wib(now)
    if local.time() < recap_time(settings):
        return 0
    day = local.date()
    key = day.isoformat()
    async with db.read() as tx:
        due = await store.groups_due(tx, key)
        if not due:
            return 0
        start, end = day_bounds(day)
        facts = await store.day_facts(tx, None, start, end)
        dated = await stored_overrides(tx)
    schedules = PostSchedules.from_settings(settings, dated)
    language = settings.bot.default_language
    texts = await asyncio.to_thread(_compose, facts, schedules, due, language, now)
    queued = 0
    async with db.transaction() as tx:
        for group, text in texts:
            if not await store.claim_group_delivery(tx, group.chat_id, key, now):
                continue
            if text is None:
                continue  # nothing to tell; counted as done
            outbox_id = await outbox.enqueue(
                tx,
                group.chat_id,
                text,
                now,
                kind=GROUP_RECAP_KIND,
                priority=outbox.Priority.NOTICE,
                topic_id=group.topic_id,
            )
            await store.note_group_outbox(tx, group.chat_id, key, outbox_id)
            queued += 1
    if queued:
        log.info("daily recap for %s queued for %s groups", key, queued)
    return queued
