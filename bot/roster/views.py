"""/piket (SPEC §9): an officer's coming week of slots, and a post's roster for one day
with each slot's mark, for the supervisors in scope and admins.

Reading and rendering only; nothing here changes the roster. A post outside the
reader's scope is answered exactly as one that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum

from bot.core.access import Role, has_role
from bot.core.clock import hhmm, wib_date, wib_day
from bot.core.i18n import t
from bot.core.scope import covers, scope_area_ids
from bot.roster.attendance import Attendance, Mark
from bot.roster.slots import EARLIEST, LATEST
from bot.roster.standing import standing
from storage import posts
from storage import roster as store
from storage.db import Database, Tx
from storage.records import Member, Post
from storage.roster import Slot

WEEK = timedelta(days=7)
DAY_PREFIX = "pk:"
"""``pk:<post_id>:<YYYYMMDD>``: ◀ ▶ on a post's day view."""

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{4}))?$")
_RELATIVE = {
    "hariini": 0,
    "today": 0,
    "besok": 1,
    "tomorrow": 1,
    "lusa": 2,
    "kemarin": -1,
    "yesterday": -1,
}


class DayError(ValueError):
    """A day that cannot be read (``reason`` 'bad') or lies outside 2000-2100 ('range')."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_day(text: str, today: date) -> date:
    """'2026-11-27', '27/11' (this year), '27/11/2026', 'besok', 'hari ini', 'kemarin'."""
    value = text.strip().lower()
    relative = _RELATIVE.get(value.replace(" ", ""))
    day = _calendar_day(value, today) if relative is None else today + timedelta(days=relative)
    if not EARLIEST <= day <= LATEST:
        raise DayError("range")
    return day


def _calendar_day(value: str, today: date) -> date:
    iso = _ISO.match(value)
    day_month = _DAY_MONTH.match(value)
    if iso:
        year, month, day = int(iso.group(1)), int(iso.group(2)), int(iso.group(3))
    elif day_month:
        year = int(day_month.group(3)) if day_month.group(3) else today.year
        month, day = int(day_month.group(2)), int(day_month.group(1))
    else:
        raise DayError("bad")
    if not EARLIEST.year <= year <= LATEST.year:
        raise DayError("range")
    try:
        return date(year, month, day)
    except ValueError:
        raise DayError("bad") from None


def day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def parse_day_key(raw: str) -> date | None:
    """The day of a ◀ ▶ button (a tampered client can send anything)."""
    if not re.fullmatch(r"\d{8}", raw):
        return None
    try:
        day = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


# --- words --------------------------------------------------------------------------------


def day_label(language: str, day: date) -> str:
    """'Rab 25/11'."""
    return f"{t(language, f'roster.day_{day.weekday()}')} {day.strftime('%d/%m')}"


def _end(moment: datetime) -> str:
    text = hhmm(moment)
    return "24:00" if text == "00:00" else text


def hours(slot: Slot) -> str:
    return f"{hhmm(slot.start_at)}–{_end(slot.end_at)}"


def slot_text(language: str, slot: Slot, post: Post) -> str:
    """'Rab 25/11 08:00–16:00 KBJ-01 Posko Kel. Kebon Jeruk'."""
    return f"{day_label(language, wib_date(slot.start_at))} {hours(slot)} {post.code} {post.name}"


def slot_button(language: str, slot: Slot, post: Post) -> str:
    return f"{day_label(language, wib_date(slot.start_at))} {hours(slot)} {post.code}"


def mark_text(language: str, attendance: Attendance) -> str:
    if attendance.mark is Mark.LATE:
        text = t(language, "roster.mark_terlambat", minutes=attendance.late_minutes)
    else:
        text = t(language, f"roster.mark_{attendance.mark.value}")
    return text


def attendance_of(slot: Slot, now: datetime) -> Attendance:
    """The slot's mark now; an ended slot keeps the outcome the watcher stored."""
    return standing(
        slot.start_at,
        slot.end_at,
        slot.arrived_at,
        slot.left_at,
        slot.outcome,
        slot.late_minutes,
        now,
    )


def marked(language: str, slot: Slot, now: datetime, attendance: Attendance | None = None) -> str:
    """'terlambat 12 menit, pulang awal 14:00': the one wording of a slot's mark
    (``attendance``: when the caller has worked it out already)."""
    if attendance is None:
        attendance = attendance_of(slot, now)
    text = mark_text(language, attendance)
    if attendance.left_early and slot.left_at is not None:
        text += ", " + t(language, "roster.left_early", time=hhmm(slot.left_at))
    return text


# --- the officer's week -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Week:
    slots: list[tuple[Slot, Post]]
    is_officer: bool


async def my_week(db: Database, member: Member, now: datetime) -> Week:
    """The member's slots running now or starting in the next 7 days."""
    async with db.read() as tx:
        found = await store.of_member(tx, member.id, now, now + WEEK)
        by_id: dict[int, Post] = {}
        pairs: list[tuple[Slot, Post]] = []
        for slot in found:
            post = by_id.get(slot.post_id)
            if post is None:
                fetched = await posts.by_id(tx, slot.post_id)
                if fetched is None:
                    continue
                post = by_id[slot.post_id] = fetched
            pairs.append((slot, post))
    return Week(pairs, has_role(member, Role.OFFICER))


def week_text(language: str, week: Week, now: datetime) -> str:
    if not week.slots:
        return t(language, "roster.piket_none")
    today = wib_date(now)
    lines = [t(language, "roster.piket_title")]
    previous: date | None = None
    for slot, post in week.slots:
        day = wib_date(slot.start_at)
        if previous is not None and day != previous:
            lines.append("")
        previous = day
        line = f"{day_label(language, day)}  {hours(slot)}  {post.code} {post.name}"
        if slot.start_at <= now or day == today:
            attendance = attendance_of(slot, now)
            if attendance.mark is not Mark.NOT_STARTED:
                line += f" — {marked(language, slot, now, attendance)}"
        lines.append(line)
    lines += ["", t(language, "roster.piket_hint")]
    return "\n".join(lines)


# --- a post's day -------------------------------------------------------------------------


class Access(Enum):
    OK = "ok"
    NOT_SUPERVISOR = "not_supervisor"
    UNKNOWN = "unknown"  # no such post, or outside the reader's scope


@dataclass(frozen=True, slots=True)
class PostDay:
    access: Access
    post: Post | None = None
    day: date | None = None
    rows: list[tuple[Slot, str]] = field(default_factory=list)


async def post_day(db: Database, member: Member, key: str | int, day: date) -> PostDay:
    """The slots of a post starting on ``day`` (WIB), for a supervisor in scope or an admin;
    ``key`` is a typed code or a button's post id."""
    if not has_role(member, Role.SUPERVISOR):
        return PostDay(Access.NOT_SUPERVISOR)
    async with db.read() as tx:
        post = await (posts.by_code(tx, key) if isinstance(key, str) else posts.by_id(tx, key))
        if post is None or not covers(await scope_area_ids(tx, member), post.area_id):
            return PostDay(Access.UNKNOWN)
        start, end = wib_day(day)
        rows = await store.day_of_post(tx, post.id, start, end)
    return PostDay(Access.OK, post, day, rows)


async def today_of_post(tx: Tx, post_id: int, now: datetime) -> list[tuple[Slot, str]]:
    """The post's slots of today (WIB) and last night's still running, with holders."""
    start, end = wib_day(wib_date(now))
    slots = await store.day_of_post(tx, post_id, start - timedelta(days=1), end)
    return [(slot, name) for slot, name in slots if slot.start_at >= start or slot.end_at > now]


def day_text(language: str, found: PostDay, now: datetime) -> str:
    assert found.post is not None and found.day is not None
    post, day = found.post, found.day
    lines = [
        t(
            language,
            "roster.day_title",
            code=post.code,
            name=post.name,
            day=day_label(language, day),
            year=day.year,
        )
    ]
    if not found.rows:
        lines.append(t(language, "roster.day_empty"))
    for slot, name in found.rows:
        lines.append(f"{hours(slot)}  {name} — {marked(language, slot, now)}")
    lines.append(t(language, "roster.day_hint"))
    return "\n".join(lines)


def day_rows(language: str, post_id: int, day: date) -> list[list[tuple[str, str]]]:
    """◀ the day before, ▶ the day after (within 2000-2100)."""
    row: list[tuple[str, str]] = []
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    if before >= EARLIEST:
        label = t(language, "roster.button_prev", day=day_label(language, before))
        row.append((label, f"{DAY_PREFIX}{post_id}:{day_key(before)}"))
    if after <= LATEST:
        label = t(language, "roster.button_next", day=day_label(language, after))
        row.append((label, f"{DAY_PREFIX}{post_id}:{day_key(after)}"))
    return [row] if row else []
