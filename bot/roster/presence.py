"""Check-in and check-out against the roster (SPEC §9): a check-in at the post up to
``remind_before`` before a slot, or during it, is the officer's arrival; a check-out
before a running slot's end is leaving early (cleared by checking in again in time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.config import RosterSettings, Settings
from bot.roster.slots import required_staff
from storage import posts
from storage import roster as store
from storage.db import Tx
from storage.records import Post
from storage.roster import Slot


def arrival_window(watch: object | None) -> timedelta:
    """``[roster] remind_before`` of the running bot (the watcher carries the settings);
    the default when a caller runs without a watcher."""
    settings = getattr(watch, "settings", None)
    if isinstance(settings, Settings):
        return settings.roster.remind_before
    return RosterSettings().remind_before


async def arrive(
    tx: Tx, member_id: int, post_id: int, now: datetime, ahead: timedelta
) -> Slot | None:
    """Record the arrival on the member's slots at the post running now or starting
    within ``ahead``; returns the slot the check-in counts for (the running one first)."""
    candidates = await store.arrival_candidates(tx, member_id, post_id, now, ahead)
    for slot in candidates:
        await store.record_arrival(tx, slot.id, now)
    if not candidates:
        return None
    return await store.by_id(tx, candidates[0].id)


async def depart(tx: Tx, member_id: int, post: Post, now: datetime) -> None:
    """The member left ``post``: a slot running there is left early, and the post is
    short from now if fewer remain than its running slots need."""
    await store.record_departures(tx, [(member_id, post.id)], now)
    running = (await store.active(tx, [post.id], now)).get(post.id, [])
    if running:
        required = required_staff(post.min_staff, len(running))
        await posts.mark_short(tx, post.id, now, required=required)
