"""Opening hours changed without a restart: a post's (or an area subtree's) weekly hours
(/jam) and dated hours (/jam_khusus) stored beside the config's ``[[schedule.override]]``.

Hours are read by the same parser as ``posts.csv`` (:func:`bot.watch.schedule.parse_hours`);
every change makes the affected posts due at once, so the watcher re-decides them on its
next pass (woken by the commit), and is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Protocol

from bot.core.clock import wib
from bot.watch.schedule import POST_KEY, DateOverride, HoursError, parse_hours
from storage import areas, audit, hours, posts
from storage import watch as watch_store
from storage.db import Database, Tx
from storage.hours import HoursOverride
from storage.records import Post
from storage.watch import make_due

FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_TEXT = 300
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class Follower(Protocol):
    """The watcher, as far as an hours change needs it."""

    dated_stale: bool

    def wake_now(self, now: datetime) -> None: ...


async def stored_overrides(tx: Tx) -> list[DateOverride]:
    """The dated hours kept in the database, as the schedule reads them (a row whose hours
    no longer parse is skipped: it could only have come from an older parser)."""
    found: list[DateOverride] = []
    for row in await hours.active(tx):
        try:
            weekly = parse_hours(row.hours)
        except HoursError:
            continue
        if row.post_code is not None:
            scope: frozenset[str] | None = frozenset({POST_KEY + row.post_code})
        elif row.area_code is not None:
            scope = frozenset({row.area_code})
        else:
            scope = None
        found.append(DateOverride(row.day, weekly, scope))
    return found


class Status(Enum):
    DONE = "done"
    USAGE = "usage"
    BAD_HOURS = "bad_hours"
    BAD_DATE = "bad_date"
    DATE_RANGE = "date_range"
    PAST = "past"
    UNKNOWN_TARGET = "unknown_target"
    NO_POSTS = "no_posts"


@dataclass(frozen=True, slots=True)
class Target:
    """A post or an area (its whole subtree); neither means the whole city."""

    post_code: str | None = None
    area_code: str | None = None
    name: str = ""
    posts: tuple[Post, ...] = ()


@dataclass(frozen=True, slots=True)
class Result:
    status: Status
    target: Target | None = None
    hours: str = ""
    detail: str = ""
    day: date | None = None
    before: tuple[str, ...] = field(default_factory=tuple)
    override_id: int | None = None
    on_duty: int = 0
    """Officers on duty at the target's posts when the hours changed: if the new hours
    have the posts closed now, the watcher ends those duties (and tells them)."""


async def resolve(tx: Tx, code: str) -> Target | None:
    """A post by its code, else an area by its code with every post below it."""
    post = await posts.by_code(tx, code)
    if post is not None:
        return Target(post_code=post.code, name=post.name, posts=(post,))
    area = await areas.by_code(tx, code)
    if area is None:
        return None
    below = await areas.subtree_ids(tx, [area.id])
    return Target(
        area_code=area.code, name=area.name, posts=tuple(await posts.in_areas(tx, sorted(below)))
    )


def _hours(text: str) -> tuple[str | None, str]:
    """(canonical hours, '') or (None, the parser's explanation)."""
    try:
        return str(parse_hours(text)), ""
    except HoursError as exc:
        return None, str(exc)


async def set_weekly(
    db: Database, actor_id: int, text: str, now: datetime, watcher: Follower | None = None
) -> Result:
    """``/jam KODE|AREA <hours>``."""
    parts = text.split(maxsplit=1)
    if len(parts) != 2 or len(text) > MAX_TEXT:
        return Result(Status.USAGE)
    code, hours_text = parts[0][:64], parts[1]
    canonical, detail = _hours(hours_text)
    if canonical is None:
        return Result(Status.BAD_HOURS, detail=detail)
    async with db.transaction() as tx:
        target = await resolve(tx, code)
        if target is None:
            return Result(Status.UNKNOWN_TARGET, Target(name=code))
        if not target.posts:
            return Result(Status.NO_POSTS, target)
        ids = [post.id for post in target.posts]
        on_duty = sum((await watch_store.on_duty_counts(tx, ids)).values())
        await posts.set_hours(tx, ids, canonical, now)
        # One audit row for the change, however many posts it covers (a whole kota is
        # thousands): the hours each had before, with the posts that had them.
        earlier: dict[str, list[str]] = {}
        for post in target.posts:
            earlier.setdefault(post.hours, []).append(post.code)
        await audit.record(
            tx, now, actor_id, "hours", "target", code, after=canonical, before=earlier
        )
        _follow(tx, watcher, now)
    before = tuple(sorted({post.hours for post in target.posts}))
    return Result(Status.DONE, target, canonical, before=before, on_duty=on_duty)


def parse_day(text: str) -> tuple[date | None, Status | None]:
    match = _DATE.match(text)
    if match is None:
        return None, Status.BAD_DATE
    year, month, day = (int(group) for group in match.groups())
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None, Status.DATE_RANGE
    try:
        return date(year, month, day), None
    except ValueError:
        return None, Status.BAD_DATE


async def add_dated(
    db: Database, actor_id: int, text: str, now: datetime, watcher: Follower | None = None
) -> Result:
    """``/jam_khusus TANGGAL <hours> [KODE|AREA]``."""
    words = text.split()
    if len(words) < 2 or len(text) > MAX_TEXT:
        return Result(Status.USAGE)
    day, problem = parse_day(words[0])
    if day is None:
        return Result(problem or Status.BAD_DATE, detail=words[0][:32])
    if day < today(now):
        return Result(Status.PAST, day=day)
    async with db.transaction() as tx:
        target = Target()
        hours_words = words[1:]
        if len(words) >= 3:
            found = await resolve(tx, words[-1][:64])
            if found is not None:
                target, hours_words = found, words[1:-1]
        canonical, detail = _hours(" ".join(hours_words))
        if canonical is None:
            return Result(Status.BAD_HOURS, detail=detail)
        override_id = await hours.add(
            tx, day, canonical, target.area_code, target.post_code, actor_id, now
        )
        await audit.record(
            tx,
            now,
            actor_id,
            "hours_override",
            "hours_override",
            override_id,
            day=day.isoformat(),
            hours=canonical,
            area=target.area_code,
            post=target.post_code,
        )
        await _make_affected_due(tx, target, now, watcher)
    return Result(Status.DONE, target, canonical, day=day, override_id=override_id)


async def _make_affected_due(
    tx: Tx, target: Target, now: datetime, watcher: Follower | None
) -> None:
    ids = [post.id for post in target.posts] if target.posts else await posts.all_ids(tx)
    await make_due(tx, ids, now)
    _follow(tx, watcher, now)


def _follow(tx: Tx, watcher: Follower | None, now: datetime) -> None:
    """The posts are due now: the watcher reads the dated hours again and sweeps as soon
    as this transaction commits (no other transaction runs in between)."""
    tx.touched_deadlines = True
    if watcher is not None:
        watcher.dated_stale = True
        watcher.wake_now(now)


def today(now: datetime) -> date:
    """The local (WIB) date of ``now``."""
    return wib(now).date()


async def upcoming(db: Database, now: datetime) -> list[HoursOverride]:
    async with db.read() as tx:
        return await hours.active(tx, today(now))


async def remove_dated(
    db: Database,
    actor_id: int,
    override_id: int,
    now: datetime,
    watcher: Follower | None = None,
) -> HoursOverride | None:
    """Remove a dated override once; None when it is unknown or already removed."""
    async with db.transaction() as tx:
        found = await hours.by_id(tx, override_id)
        if found is None or not await hours.remove(tx, override_id, now):
            return None
        target = Target()
        code = found.post_code or found.area_code
        if code is not None:
            target = await resolve(tx, code) or Target()
        await audit.record(
            tx, now, actor_id, "hours_override_removed", "hours_override", override_id
        )
        await _make_affected_due(tx, target, now, watcher)
    return found
