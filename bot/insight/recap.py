"""The recap of one WIB day: how much of its open hours each post was staffed, the alerts
and how fast they were taken and recovered, the issues, and the posts that need attention.

The arithmetic is pure (intervals in, figures out) and takes ``now`` as an argument; the
few async functions at the bottom read the facts (storage/recap.py) and queue the daily
recap through the outbox, once per person per day.

"Staffed" is faithful to SPEC §4: a moment counts when the post is open (its schedule,
dated overrides included, minus the time it was paused with /jeda) and at least
``min_staff`` shifts are running at that moment.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from io import BytesIO

from bot.core.clock import hhmm, wib, wib_day
from bot.core.config import Settings
from bot.core.i18n import duration_text, label, t
from bot.insight.agency_recap import AgencyStat, agency_stats
from bot.insight.agency_recap import render_lines as render_agencies
from bot.insight.attendance_recap import AttendanceRecap, summarise_attendance
from bot.insight.attendance_recap import render_lines as render_attendance
from bot.insight.map_picture import COLOURS, DPI, HEIGHT_PX, TEXT, WIDTH_PX
from bot.watch.escalation import area_path
from bot.watch.hours import stored_overrides
from bot.watch.schedule import PostSchedules
from storage import outbox
from storage import recap as store
from storage.db import Database
from storage.records import Area

log = logging.getLogger(__name__)

# The daily recap goes out at this WIB time unless the settings carry ``[recap] time``.
DEFAULT_RECAP_TIME = time(21, 0)
WORST_IN_TEXT = 5
WORST_IN_CHART = 15
CATEGORIES_IN_TEXT = 5
LOW_SHARE = 0.8  # "under 80 %" is what the text counts as poorly staffed
RECOVERED = frozenset({"signal", "staffed", "resolved"})  # alert resolutions that are recoveries

Interval = tuple[datetime, datetime]
_LEVEL_RANK = {"provinsi": 0, "kota": 1, "kecamatan": 2, "kelurahan": 3}


# --- intervals ----------------------------------------------------------------------------


def day_bounds(day: date) -> Interval:
    """The WIB day as UTC instants ``[00:00, 24:00)``."""
    return wib_day(day)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Both merged and sorted."""
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            result.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def subtract(a: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``a`` minus ``holes`` (both merged and sorted)."""
    result: list[Interval] = []
    for start, end in a:
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
        if cursor < end:
            result.append((cursor, end))
    return result


def total(intervals: Iterable[Interval]) -> timedelta:
    return sum((end - start for start, end in intervals), timedelta(0))


def at_least(shifts: Sequence[Interval], needed: int) -> list[Interval]:
    """Where at least ``needed`` of the intervals overlap (a sweep over their ends)."""
    events = sorted([(s, 1) for s, e in shifts if e > s] + [(e, -1) for s, e in shifts if e > s])
    result: list[Interval] = []
    count = 0
    since: datetime | None = None
    for moment, step in events:
        count += step
        if count >= needed and since is None:
            since = moment
        elif count < needed and since is not None:
            if moment > since:
                result.append((since, moment))
            since = None
    return merge(result)


def staffed_time(
    open_intervals: Sequence[Interval], shifts: Sequence[Interval], min_staff: int
) -> timedelta:
    """Open time during which at least ``min_staff`` shifts ran."""
    if min_staff <= 0:
        return total(open_intervals)
    return total(intersect(merge(open_intervals), at_least(shifts, min_staff)))


def pause_intervals(marks: Sequence[store.PauseMark]) -> list[Interval]:
    """Each /jeda lasts until its end or the next /jeda of the post, whichever is first."""
    result: list[Interval] = []
    ordered = sorted(marks, key=lambda mark: mark.at)
    for index, mark in enumerate(ordered):
        if mark.until is None:
            continue
        stop = mark.until
        if index + 1 < len(ordered):
            stop = min(stop, ordered[index + 1].at)
        result.append((mark.at, stop))
    return merge(result)


def subtree(tree: Mapping[int, Area], roots: Iterable[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for area in tree.values():
        if area.parent_id is not None:
            children.setdefault(area.parent_id, []).append(area.id)
    found: set[int] = set()
    todo = [root for root in roots if root in tree]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, []))
    return found


def scope_name(tree: Mapping[int, Area], area_ids: Iterable[int]) -> str:
    areas = sorted(
        (tree[i] for i in area_ids if i in tree),
        key=lambda area: (_LEVEL_RANK.get(area.level, 9), area.name),
    )
    name = ", ".join(area.name for area in areas)
    return name if len(name) <= 48 else name[:47] + "…"


# --- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostStat:
    post_id: int
    code: str
    name: str
    area_id: int
    open_time: timedelta
    staffed: timedelta
    silent: int = 0
    unstaffed: int = 0

    @property
    def share(self) -> float | None:
        if self.open_time <= timedelta(0):
            return None
        return min(1.0, self.staffed / self.open_time)

    @property
    def incidents(self) -> int:
        return self.silent + self.unstaffed


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(value.total_seconds() for value in values))


def _worst_key(stat: PostStat) -> tuple[float, int, str]:
    share = stat.share
    return (2.0 if share is None else share, -stat.incidents, stat.code)


@dataclass(frozen=True)
class Recap:
    day: date
    until: datetime  # the end of the period looked at: the day's end, or now for today
    complete: bool
    scope: str
    posts: list[PostStat]
    silent: int
    unstaffed: int
    median_ack: timedelta | None
    median_recover: timedelta | None
    issues_opened: dict[str, int]
    issues_resolved: dict[str, int]
    agencies: list[AgencyStat] = field(default_factory=list)
    attendance: AttendanceRecap | None = None  # the piket section (None: no roster)

    @property
    def open_posts(self) -> list[PostStat]:
        return [stat for stat in self.posts if stat.share is not None]

    @property
    def share(self) -> float | None:
        """Staffed time over open time, all open posts together."""
        open_time = sum((stat.open_time for stat in self.open_posts), timedelta(0))
        if open_time <= timedelta(0):
            return None
        staffed = sum((stat.staffed for stat in self.open_posts), timedelta(0))
        return min(1.0, staffed / open_time)

    @property
    def incidents(self) -> int:
        return self.silent + self.unstaffed

    def worst(self, limit: int) -> list[PostStat]:
        """Posts that need attention: lowest staffed share, then most incidents."""
        needing = [
            stat
            for stat in self.posts
            if stat.incidents > 0 or (stat.share is not None and stat.share < 0.995)
        ]
        return sorted(needing, key=_worst_key)[:limit]

    def chart_posts(self, limit: int = WORST_IN_CHART) -> list[PostStat]:
        shown = [stat for stat in self.posts if stat.share is not None or stat.incidents]
        return sorted(shown, key=_worst_key)[:limit]


def post_stats(
    facts: store.DayFacts, schedules: PostSchedules, now: datetime
) -> dict[int, PostStat]:
    """Staffed and open time of every post in the facts, over the day up to ``now``."""
    start, end = facts.start, min(facts.end, now)
    result: dict[int, PostStat] = {}
    for post in facts.posts:
        if end <= start:
            open_intervals: list[Interval] = []
        else:
            schedule = schedules.of(post, area_path(facts.tree, post.area_id))
            open_intervals = schedule.intervals(start, end)
            open_intervals = subtract(
                open_intervals, pause_intervals(facts.pauses.get(post.id, []))
            )
        shifts = [
            (max(began, start), min(ended or end, end))
            for began, ended in facts.shifts.get(post.id, [])
        ]
        result[post.id] = PostStat(
            post_id=post.id,
            code=post.code,
            name=post.name,
            area_id=post.area_id,
            open_time=total(open_intervals),
            staffed=staffed_time(open_intervals, shifts, post.min_staff),
        )
    for alert in facts.alerts:
        stat = result.get(alert.post_id)
        if stat is None:
            continue
        silent = stat.silent + (alert.kind == "silent")
        unstaffed = stat.unstaffed + (alert.kind == "unstaffed")
        result[alert.post_id] = PostStat(
            stat.post_id,
            stat.code,
            stat.name,
            stat.area_id,
            stat.open_time,
            stat.staffed,
            silent,
            unstaffed,
        )
    return result


def summarise(
    facts: store.DayFacts,
    stats: Mapping[int, PostStat],
    area_ids: Collection[int] | None,
    scope: str,
    now: datetime,
) -> Recap:
    """The recap of the posts in ``area_ids`` (None: all of them)."""
    posts = [
        stats[post.id]
        for post in facts.posts
        if post.id in stats and (area_ids is None or post.area_id in area_ids)
    ]
    ids = {stat.post_id for stat in posts}
    alerts = [alert for alert in facts.alerts if alert.post_id in ids]
    acks = [a.acked_at - a.opened_at for a in alerts if a.acked_at is not None]
    recoveries = [
        a.resolved_at - a.opened_at
        for a in alerts
        if a.resolved_at is not None and (a.resolution or "resolved") in RECOVERED
    ]
    opened: dict[str, int] = {}
    for post_id, category in facts.issues_opened:
        if post_id in ids:
            opened[category] = opened.get(category, 0) + 1
    resolved: dict[str, int] = {}
    for post_id, category in facts.issues_resolved:
        if post_id in ids:
            resolved[category] = resolved.get(category, 0) + 1
    until = min(facts.end, now)
    return Recap(
        day=wib(facts.start).date(),
        until=until,
        complete=until >= facts.end,
        scope=scope,
        posts=posts,
        silent=sum(1 for a in alerts if a.kind == "silent"),
        unstaffed=sum(1 for a in alerts if a.kind == "unstaffed"),
        median_ack=_median(acks),
        median_recover=_median(recoveries),
        issues_opened=opened,
        issues_resolved=resolved,
        agencies=agency_stats(facts.forwards, ids),
        attendance=summarise_attendance(facts.tree, facts.posts, facts.slots, ids, until, now),
    )


# --- words and pictures ---------------------------------------------------------------------


def percent(share: float | None, language: str) -> str:
    if share is None:
        return t(language, "recap.no_value")
    return f"{share * 100:.0f}%"


def date_text(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def render_text(language: str, recap: Recap, *, daily: bool = False) -> str:
    """At most about 22 short lines: one phone screen."""

    def tr(key: str, **values: object) -> str:
        return t(language, f"recap.{key}", **values)

    day = date_text(recap.day)
    lines = [tr("title_daily" if daily else "title", date=day, scope=recap.scope)]
    open_count = len(recap.open_posts)
    if recap.complete:
        lines.append(tr("period_full", open=open_count, total=len(recap.posts)))
    else:
        lines.append(
            tr("period_partial", time=hhmm(recap.until), open=open_count, total=len(recap.posts))
        )
    share = recap.share
    if share is None:
        lines.append(tr("staffed_none"))
    else:
        full = sum(1 for s in recap.open_posts if s.share is not None and s.share >= 0.995)
        low = sum(1 for s in recap.open_posts if s.share is not None and s.share < LOW_SHARE)
        lines.append(tr("staffed", share=percent(share, language)))
        lines.append(tr("staffed_detail", full=full, low=low, threshold=round(LOW_SHARE * 100)))
    if recap.incidents:
        lines.append(
            tr("alerts", total=recap.incidents, silent=recap.silent, unstaffed=recap.unstaffed)
        )
        none = tr("no_value")
        lines.append(
            tr(
                "alerts_times",
                ack=duration_text(language, recap.median_ack) if recap.median_ack else none,
                recover=duration_text(language, recap.median_recover)
                if recap.median_recover
                else none,
            )
        )
    else:
        lines.append(tr("alerts_none"))
    opened, resolved = recap.issues_opened, recap.issues_resolved
    lines.append(tr("issues", opened=sum(opened.values()), resolved=sum(resolved.values())))
    categories = sorted(
        set(opened) | set(resolved), key=lambda c: (-opened.get(c, 0), -resolved.get(c, 0), c)
    )
    for category in categories[:CATEGORIES_IN_TEXT]:
        lines.append(
            tr(
                "issue_line",
                category=label(language, "category", category),
                opened=opened.get(category, 0),
                resolved=resolved.get(category, 0),
            )
        )
    if len(categories) > CATEGORIES_IN_TEXT:
        lines.append(tr("issue_more", count=len(categories) - CATEGORIES_IN_TEXT))
    lines += render_agencies(language, recap.agencies)
    worst = recap.worst(WORST_IN_TEXT)
    if worst:
        lines.append(tr("worst_title"))
        for rank, stat in enumerate(worst, start=1):
            lines.append(
                tr(
                    "worst_line",
                    rank=rank,
                    post=stat.code,
                    share=percent(stat.share, language),
                    incidents=stat.incidents,
                )
            )
    elif recap.open_posts:
        lines.append(tr("worst_none"))
    lines += render_attendance(language, recap.attendance)
    lines.append(tr("footer_daily" if daily else "footer"))
    return "\n".join(lines)


def chart_words(language: str, recap: Recap) -> dict[str, str]:
    def tr(key: str, **values: object) -> str:
        return t(language, f"recap.{key}", **values)

    return {
        "title": tr("chart_title", date=date_text(recap.day), scope=recap.scope),
        "summary": tr(
            "chart_summary",
            share=percent(recap.share, language),
            incidents=recap.incidents,
            issues=sum(recap.issues_opened.values()),
        ),
        "share": tr("chart_share"),
        "incidents": tr("chart_incidents"),
        "silent": tr("chart_silent"),
        "unstaffed": tr("chart_unstaffed"),
        "until": tr("chart_until", time=hhmm(recap.until)) if not recap.complete else "",
    }


def _share_colour(share: float | None) -> str:
    if share is None:
        return COLOURS["closed"]
    if share >= LOW_SHARE:
        return COLOURS["ok"]
    if share >= 0.5:
        return COLOURS["silent"]
    return COLOURS["unstaffed"]


def render_chart(recap: Recap, words: Mapping[str, str]) -> bytes:
    """Bars of the staffed share of the worst posts, with their alerts beside: a PNG 1080 px
    wide and as tall as its rows need (at most 1350). Pure and thread-safe (object API only,
    no pyplot)."""
    shown = recap.chart_posts()
    rows = max(len(shown), 1)
    head, row_px, foot = 240, 66, 170  # pixels: titles, one post, axis and legend
    height_px = min(HEIGHT_PX, max(760, head + rows * row_px + foot))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)  # attaches itself: no pyplot, no global state

    def y(pixels: float) -> float:  # from the top, in figure coordinates
        return 1 - pixels / height_px

    figure.text(
        0.5, y(28), words["title"], ha="center", va="top", fontsize=28, weight="bold", color=TEXT
    )
    summary = words["summary"]
    if words.get("until"):
        summary = f"{summary} · {words['until']}"
    figure.text(0.5, y(90), summary, ha="center", va="top", fontsize=20, color=TEXT)
    bottom = foot / height_px
    box_height = y(head) - bottom
    bars = figure.add_axes((0.2, bottom, 0.52, box_height))
    alerts = figure.add_axes((0.76, bottom, 0.2, box_height), sharey=bars)
    positions = list(range(len(shown)))
    shares = [100 * (stat.share or 0.0) for stat in shown]
    bars.barh(positions, shares, color=[_share_colour(stat.share) for stat in shown], height=0.7)
    bars.barh(positions, [100] * len(shown), color="#eeeeee", height=0.7, zorder=0)
    for position, stat in zip(positions, shown, strict=True):
        text = "–" if stat.share is None else f"{100 * stat.share:.0f}%"
        bars.text(2, position, text, va="center", ha="left", fontsize=17, color=TEXT, weight="bold")
    bars.set_xlim(0, 100)
    bars.set_yticks(positions, [stat.code for stat in shown], fontsize=18, color=TEXT)
    bars.invert_yaxis()
    bars.set_xticks([0, 50, 80, 100], ["0", "50", "80", "100"], fontsize=15)
    bars.axvline(LOW_SHARE * 100, color="#777777", linewidth=1, linestyle="--", zorder=1)
    bars.set_title(words["share"], fontsize=20, color=TEXT, loc="left")
    silent = [stat.silent for stat in shown]
    unstaffed = [stat.unstaffed for stat in shown]
    alerts.barh(positions, silent, color=COLOURS["silent"], height=0.7, label=words["silent"])
    alerts.barh(
        positions,
        unstaffed,
        left=silent,
        color=COLOURS["unstaffed"],
        height=0.7,
        label=words["unstaffed"],
    )
    most = max([s + u for s, u in zip(silent, unstaffed, strict=True)] + [1])
    alerts.set_xlim(0, most * 1.35 + 0.5)
    for position, stat in zip(positions, shown, strict=True):
        if stat.incidents:
            alerts.text(
                stat.incidents + most * 0.05,
                position,
                str(stat.incidents),
                va="center",
                fontsize=17,
                color=TEXT,
            )
    alerts.tick_params(axis="y", left=False, labelleft=False)
    alerts.set_xticks([])
    alerts.set_title(words["incidents"], fontsize=20, color=TEXT, loc="left")
    for ax in (bars, alerts):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if any(silent) or any(unstaffed):
        figure.legend(
            loc="lower center", ncol=2, fontsize=20, frameon=False, bbox_to_anchor=(0.5, 0.01)
        )
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


# --- reading, and the daily recap -------------------------------------------------------------


def recap_time(settings: Settings) -> time:
    """``[recap] time`` when the settings have it (a time or 'HH:MM'), else 21:00 WIB."""
    section = getattr(settings, "recap", None)
    value = getattr(section, "time", None) if section is not None else None
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            log.warning("recap.time %r is not HH:MM; using %s", value, DEFAULT_RECAP_TIME)
    return DEFAULT_RECAP_TIME


async def load(
    db: Database,
    settings: Settings,
    area_ids: Collection[int] | None,
    scope: str,
    day: date,
    now: datetime,
) -> Recap:
    start, end = day_bounds(day)
    async with db.read() as tx:
        facts = await store.day_facts(tx, area_ids, start, end)
        dated = await stored_overrides(tx)  # /jam_khusus, as the watcher reads them
    schedules = PostSchedules.from_settings(settings, dated)

    def compute() -> Recap:
        return summarise(facts, post_stats(facts, schedules, now), None, scope, now)

    # Thousands of posts' intervals are CPU work: keep the event loop answering meanwhile.
    return await asyncio.to_thread(compute)


def _compose(
    facts: store.DayFacts,
    schedules: PostSchedules,
    due: Sequence[store.RecapRecipient],
    settings: Settings,
    now: datetime,
) -> list[tuple[store.RecapRecipient, str | None]]:
    """Each person's daily recap text (None when their scope has no posts)."""
    stats = post_stats(facts, schedules, now)
    default = settings.bot.default_language
    texts: list[tuple[store.RecapRecipient, str | None]] = []
    subtrees: dict[tuple[int, ...], set[int]] = {}
    for person in due:
        language = person.language or default
        if person.admin:
            recap = summarise(facts, stats, None, t(language, "recap.all_areas"), now)
        else:
            areas = subtrees.get(person.scope_area_ids)
            if areas is None:
                areas = subtrees[person.scope_area_ids] = subtree(facts.tree, person.scope_area_ids)
            recap = summarise(
                facts, stats, areas, scope_name(facts.tree, person.scope_area_ids), now
            )
        texts.append((person, render_text(language, recap, daily=True) if recap.posts else None))
    return texts


async def queue_daily(db: Database, settings: Settings, now: datetime) -> int:
    """Queue today's recap for every supervisor and admin who has not had it; returns how
    many were queued. Safe to call as often as one likes: a (member, day) key decides."""
    local = wib(now)
    if local.time() < recap_time(settings):
        return 0
    day = local.date()
    key = day.isoformat()
    async with db.read() as tx:
        due = await store.recipients_due(tx, key)
        if not due:
            return 0
        start, end = day_bounds(day)
        facts = await store.day_facts(tx, None, start, end)
        dated = await stored_overrides(tx)
    texts = await asyncio.to_thread(
        _compose, facts, PostSchedules.from_settings(settings, dated), due, settings, now
    )
    queued = 0
    async with db.transaction() as tx:
        for person, text in texts:
            if not await store.claim_delivery(tx, person.member_id, key, now):
                continue
            if text is None:
                continue  # nothing to tell (no posts in the scope); counted as done
            outbox_id = await outbox.enqueue(
                tx,
                person.chat_id,
                text,
                now,
                kind="recap",
                priority=outbox.Priority.NOTICE,
                ref_type="recap",
                ref_id=person.member_id,
            )
            await store.note_outbox(tx, person.member_id, key, outbox_id)
            queued += 1
    if queued:
        log.info("daily recap for %s queued for %s people", key, queued)
    return queued


TODAY_WORDS = frozenset({"", "hari ini", "hariini", "today", "sekarang", "now"})
YESTERDAY_WORDS = frozenset({"kemarin", "yesterday", "kmrn"})
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d")


EARLIEST_DAY = date(2000, 1, 1)


def parse_day(text: str, today: date) -> date | None:
    """'' (today), 'kemarin', '2026-11-24' (or 24-11-2026, 24/11/2026); None if unreadable."""
    words = " ".join(text.lower().split())
    if words in TODAY_WORDS:
        return today
    if words in YESTERDAY_WORDS:
        return today - timedelta(days=1)
    for pattern in _DATE_FORMATS:
        try:
            found = datetime.strptime(words, pattern).date()
        except ValueError:
            continue
        # Year 1 cannot even be turned into a WIB day in UTC; nothing before 2000 exists.
        return found if found >= EARLIEST_DAY else None
    return None
