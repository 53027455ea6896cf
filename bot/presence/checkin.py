"""Check in, check out and 'all clear': the officer's presence at a post."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from bot.presence import geo
from bot.roster import presence as roster_presence
from storage import drafts, posts, shifts
from storage import web as web_store
from storage.db import Database, Tx
from storage.records import Member, Post, Shift
from storage.roster import Slot


class PostWatch(Protocol):
    """Re-decides a post's watch state after its facts changed (bot.watch.watcher.Watcher)."""

    async def refresh(self, tx: Tx, post_ids: Sequence[int], now: datetime) -> Sequence[Post]: ...

    async def track_issue(
        self, tx: Tx, issue_id: int, post_id: int, severity: str, now: datetime
    ) -> None: ...


async def touched(
    tx: Tx, watch: PostWatch | None, post_ids: Sequence[int], now: datetime
) -> Sequence[Post]:
    """The posts' facts changed (presence, a signal, a take): re-decide them, and tell the
    command room the state that led to (after the re-decision, so it is the new one).
    Returns the posts as they are now (none without a watcher: nothing was re-read)."""
    if watch is None or not post_ids:
        await web_store.publish_posts(tx, post_ids, "update")
        return ()
    refreshed = await watch.refresh(tx, post_ids, now)
    tx.touched_deadlines = True
    for post in refreshed:  # what publish_posts would read back, without the read
        web_store.publish_post(tx, post, "update")
    return refreshed


def _ahead(watch: PostWatch | None) -> timedelta:
    return roster_presence.arrival_window(watch)


CHECKIN_DRAFT = "checkin"
LIVE_SIGNAL_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Fix:
    """A location as Telegram delivered it."""

    latitude: float
    longitude: float
    accuracy_m: float | None
    live_message_id: int | None


class CheckInStatus(Enum):
    CHECKED_IN = "checked_in"
    ALREADY = "already"
    MOVED = "moved"  # was on duty at another post; that shift ended as 'replaced'
    CHOOSE = "choose"
    NO_POSTS = "no_posts"
    NOT_ASSIGNED = "not_assigned"
    NOT_ON_DUTY = "not_on_duty"


@dataclass(frozen=True, slots=True)
class CheckIn:
    status: CheckInStatus
    post: Post | None = None
    verdict: geo.GeoVerdict | None = None
    choices: tuple[Post, ...] = ()
    nearest: Post | None = None
    previous_post: Post | None = None
    since: datetime | None = None
    previous_left_empty: bool = False
    """Moving away left the previous post open and short of officers."""
    slot: Slot | None = None
    """The roster slot this check-in counts for (piket), if any."""


def judge(post: Post, fix: Fix) -> geo.GeoVerdict:
    return geo.judge_location(
        post.latitude, post.longitude, post.radius_m, fix.latitude, fix.longitude, fix.accuracy_m
    )


def _position(fix: Fix, verdict: geo.GeoVerdict) -> shifts.Position:
    return shifts.Position(
        latitude=fix.latitude,
        longitude=fix.longitude,
        accuracy_m=fix.accuracy_m,
        distance_m=verdict.distance_m,
        inside_geofence=verdict.inside,
        verified=verdict.verified,
    )


async def _check_in_at(
    tx: Tx, member: Member, post: Post, fix: Fix, now: datetime, watch: PostWatch | None
) -> CheckIn:
    verdict = judge(post, fix)
    current = await shifts.open_locking_post(tx, member.id, post.id)
    if current is not None and current.post_id == post.id:
        await shifts.update_position(
            tx, current.id, now, _position(fix, verdict), fix.live_message_id
        )
        slot = await roster_presence.arrive(tx, member.id, post.id, now, _ahead(watch))
        return CheckIn(
            CheckInStatus.ALREADY, post=post, verdict=verdict, since=current.started_at, slot=slot
        )
    previous = None
    if current is not None:
        await posts.lock(tx, [current.post_id])  # before counting who is left there
        await shifts.end(tx, current.id, now, "replaced")
        await posts.mark_short(tx, current.post_id, now)
        previous = await posts.by_id(tx, current.post_id)
        if previous is not None:
            await roster_presence.depart(tx, member.id, previous, now)
    await shifts.start(tx, member.id, post.id, now, _position(fix, verdict), fix.live_message_id)
    slot = await roster_presence.arrive(tx, member.id, post.id, now, _ahead(watch))
    await posts.record_signal(tx, post.id, member.id, "checkin", now)
    await touched(tx, watch, [post.id] + ([previous.id] if previous else []), now)
    if previous is None:
        return CheckIn(CheckInStatus.CHECKED_IN, post=post, verdict=verdict, since=now, slot=slot)
    previous = await posts.by_id(tx, previous.id) or previous  # its state after the move
    return CheckIn(
        CheckInStatus.MOVED,
        post=post,
        verdict=verdict,
        previous_post=previous,
        since=now,
        previous_left_empty=await _left_short(tx, previous),
        slot=slot,
    )


async def check_in(
    db: Database, member: Member, fix: Fix, now: datetime, watch: PostWatch | None = None
) -> CheckIn:
    """Check in at the only assigned post, or ask which one (remembering the location)."""
    return await db.concurrently(lambda tx: _check_in(tx, member, fix, now, watch))


async def _check_in(
    tx: Tx, member: Member, fix: Fix, now: datetime, watch: PostWatch | None
) -> CheckIn:
    assigned = await posts.assigned_to(tx, member.id)
    if not assigned:
        return CheckIn(CheckInStatus.NO_POSTS)
    if len(assigned) == 1:
        return await _check_in_at(tx, member, assigned[0], fix, now, watch)
    current = await shifts.open_for_member(tx, member.id)
    if current is not None:
        for post in assigned:
            if post.id == current.post_id and judge(post, fix).inside is not False:
                return await _check_in_at(tx, member, post, fix, now, watch)
    await drafts.put(
        tx,
        member.id,
        CHECKIN_DRAFT,
        "choose",
        {
            "lat": fix.latitude,
            "lon": fix.longitude,
            "acc": fix.accuracy_m,
            "live": fix.live_message_id,
        },
        now,
        slot=drafts.CHECKIN,
    )
    key = geo.nearest(
        ((post.id, post.latitude, post.longitude) for post in assigned),
        fix.latitude,
        fix.longitude,
    )
    nearest = next((post for post in assigned if post.id == key), None)
    ordered = sorted(assigned, key=lambda post: (post.id != key, post.code))
    return CheckIn(CheckInStatus.CHOOSE, choices=tuple(ordered), nearest=nearest)


async def choose_post(
    db: Database, member: Member, post_id: int, now: datetime, watch: PostWatch | None = None
) -> CheckIn:
    """The officer picked a post from the buttons; only their own posts count."""
    async with db.transaction() as tx:
        assigned = {post.id: post for post in await posts.assigned_to(tx, member.id)}
        post = assigned.get(post_id)
        if post is None:
            return CheckIn(CheckInStatus.NOT_ASSIGNED)
        draft = await drafts.get(tx, member.id, drafts.CHECKIN)
        if draft is None or draft.kind != CHECKIN_DRAFT:
            return CheckIn(CheckInStatus.NOT_ASSIGNED)
        data = draft.data
        fix = Fix(float(data["lat"]), float(data["lon"]), data.get("acc"), data.get("live"))
        await drafts.delete(tx, member.id, drafts.CHECKIN)
        return await _check_in_at(tx, member, post, fix, now, watch)


async def move_to(
    db: Database, member: Member, post_id: int, now: datetime, watch: PostWatch | None = None
) -> CheckIn:
    """Checked in at the wrong post: carry the open shift over to another own post, judged
    against that post's geofence from the latest position."""
    async with db.transaction() as tx:
        current = await shifts.open_for_member(tx, member.id)
        if current is None or current.latitude is None or current.longitude is None:
            return CheckIn(CheckInStatus.NOT_ON_DUTY)
        assigned = {post.id: post for post in await posts.assigned_to(tx, member.id)}
        post = assigned.get(post_id)
        if post is None:
            return CheckIn(CheckInStatus.NOT_ASSIGNED)
        fix = Fix(current.latitude, current.longitude, current.accuracy_m, current.live_message_id)
        return await _check_in_at(tx, member, post, fix, now, watch)


async def other_posts(db: Database, member: Member) -> list[Post]:
    """The member's posts other than the one of the open shift (the choices to move to)."""
    async with db.read() as tx:
        current = await shifts.open_for_member(tx, member.id)
        if current is None:
            return []
        assigned = await posts.assigned_to(tx, member.id)
        return [post for post in assigned if post.id != current.post_id]


async def live_update(
    db: Database, member: Member, fix: Fix, now: datetime, watch: PostWatch | None = None
) -> bool:
    """A live-location edit: move the open shift's position; a signal at most every 5 min."""
    async with db.transaction() as tx:
        current = await shifts.open_for_member(tx, member.id)
        if current is None or current.live_message_id != fix.live_message_id:
            return False
        post = await posts.by_id(tx, current.post_id)
        assert post is not None
        await shifts.update_position(tx, current.id, now, _position(fix, judge(post, fix)), None)
        if post.last_signal_at is None or now - post.last_signal_at >= LIVE_SIGNAL_EVERY:
            await posts.record_signal(tx, post.id, member.id, "live_location", now)
            await touched(tx, watch, [post.id], now)
        return True


CLOSED_STATES = frozenset({"closed", "paused"})
"""Watch states in which nobody has to be at the post."""


@dataclass(frozen=True, slots=True)
class CheckOut:
    post: Post | None
    shift: Shift | None
    left_empty: bool = False
    """The post is open and now short of officers: the one leaving was the last needed."""


async def check_out(
    db: Database, member: Member, now: datetime, watch: PostWatch | None = None
) -> CheckOut:
    async with db.transaction() as tx:
        current = await shifts.open_for_member(tx, member.id)
        if current is None:
            return CheckOut(None, None)
        await shifts.end(tx, current.id, now, "checkout")
        await posts.mark_short(tx, current.post_id, now)
        post = await posts.by_id(tx, current.post_id)
        assert post is not None
        await roster_presence.depart(tx, member.id, post, now)
        await touched(tx, watch, [current.post_id], now)
        post = await posts.by_id(tx, current.post_id)
        assert post is not None
        return CheckOut(post, current, await _left_short(tx, post))


async def _left_short(tx: Tx, post: Post) -> bool:
    """The post is open and now short of officers (someone just left it)."""
    remaining = len(await shifts.on_duty(tx, post.id))
    return post.state not in CLOSED_STATES and remaining < post.min_staff


async def all_clear(
    db: Database, member: Member, note: str | None, now: datetime, watch: PostWatch | None = None
) -> Post | None:
    """Record 'situasi aman' for the post the officer is on duty at (None: not on duty)."""

    async def record(tx: Tx) -> Post | None:
        current = await posts.signal_from_open_shift(tx, member.id, "all_clear", now, note)
        if current is None:
            return None
        refreshed = await touched(tx, watch, [current.post_id], now)
        return refreshed[0] if refreshed else await posts.by_id(tx, current.post_id)

    return await db.concurrently(record)


async def current_post(tx: Tx, member: Member) -> Post | None:
    return await posts.of_open_shift(tx, member.id)
