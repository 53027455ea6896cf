"""Officers and their posts changed from chat (/petugas): add an officer, assign one to a
post, move between posts, remove an assignment.

Every change is checked exactly as a members.csv row is (bot.exchange.member_rows), drafted
for the admin to confirm with a button, checked again against the database of that moment
when confirmed, then written with the import's own upsert and audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot.core.i18n import DEFAULT_LANGUAGE, t
from bot.exchange.member_rows import Known, Problem, cells_of, check_row
from bot.presence.checkin import PostWatch, touched
from storage import audit, members, posts, roster, shifts, staff_changes
from storage.db import Database, Tx
from storage.members import MemberRow
from storage.outbox import Priority, enqueue
from storage.watch import recipient_language

PENDING_FOR = timedelta(hours=12)
"""A drafted change not confirmed within this time is no longer applied."""

MAX_TEXT = 600

VERBS: dict[str, str] = {
    "tambah": "add",
    "baru": "add",
    "add": "add",
    "tugaskan": "assign",
    "tugas": "assign",
    "assign": "assign",
    "pindah": "move",
    "pindahkan": "move",
    "move": "move",
    "lepas": "unassign",
    "lepaskan": "unassign",
    "remove": "unassign",
}
ARITY = {"assign": 2, "move": 3, "unassign": 2}
EMPTY = {"-", "—", "kosong", "none"}


class Status(Enum):
    READY = "ready"
    USAGE = "usage"
    UNKNOWN_MEMBER = "unknown_member"
    EXISTS = "exists"
    ALREADY_ASSIGNED = "already_assigned"
    NOT_ASSIGNED = "not_assigned"
    PROBLEMS = "problems"


@dataclass(frozen=True, slots=True)
class Plan:
    status: Status
    kind: str = ""
    args: dict[str, str] = field(default_factory=dict)
    row: MemberRow | None = None
    member_id: int | None = None
    before: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    change_id: int | None = None


def parse(text: str) -> tuple[str, dict[str, str]] | None:
    """(kind, arguments) of ``/petugas <verb> …``; None when it does not fit the usage."""
    if not text or len(text) > MAX_TEXT:
        return None
    words = text.split()
    kind = VERBS.get(words[0].lower())
    if kind is None:
        return None
    if kind == "add":
        parts = text.split(maxsplit=5)
        if len(parts) < 6:
            return None
        _verb, ref, post, nip, phone, name = parts
        return kind, {
            "ref": ref[:64],
            "post": post[:64],
            "nip": "" if nip.lower() in EMPTY else nip[:64],
            "phone": "" if phone.lower() in EMPTY else phone[:64],
            "name": " ".join(name.split())[:200],
        }
    if len(words) != ARITY[kind] + 1:
        return None
    names = {"assign": ("ref", "post"), "move": ("ref", "from", "to"), "unassign": ("ref", "post")}
    return kind, {name: word[:64] for name, word in zip(names[kind], words[1:], strict=True)}


def _has(codes: tuple[str, ...], code: str) -> str | None:
    return next((c for c in codes if c.casefold() == code.casefold()), None)


async def plan(tx: Tx, kind: str, args: dict[str, str]) -> Plan:
    """What the change would do to the database as it is now, checked as the import checks."""
    known = await Known.load(tx)
    if kind == "add":
        if await members.by_ref(tx, args["ref"]) is not None:
            return Plan(Status.EXISTS, kind, args)
        cells = {
            "ref": args["ref"],
            "name": args["name"],
            "nip": args["nip"],
            "phone": args["phone"],
            "roles": "officer",
            "posts": args["post"],
        }
        row, problems = check_row(cells, known)
        if problems or row is None:
            return Plan(Status.PROBLEMS, kind, args, problems=tuple(problems))
        return Plan(Status.READY, kind, args, row)
    found = await members.row_by_ref(tx, args["ref"])
    if found is None:
        return Plan(Status.UNKNOWN_MEMBER, kind, args)
    member_id, current = found
    posts = current.posts
    if kind == "assign":
        if _has(posts, args["post"]):
            return Plan(Status.ALREADY_ASSIGNED, kind, args, current, member_id, posts)
        after = (*posts, args["post"])
    else:
        old = _has(posts, args["post" if kind == "unassign" else "from"])
        if old is None:
            return Plan(Status.NOT_ASSIGNED, kind, args, current, member_id, posts)
        if kind == "unassign":
            after = tuple(c for c in posts if c != old)
        elif _has(posts, args["to"]):
            return Plan(Status.ALREADY_ASSIGNED, kind, args, current, member_id, posts)
        else:
            after = tuple(args["to"] if c == old else c for c in posts)
    cells = cells_of(current) | {"posts": ";".join(after)}
    row, problems = check_row(cells, known)
    if problems or row is None:
        return Plan(Status.PROBLEMS, kind, args, current, member_id, posts, tuple(problems))
    return Plan(Status.READY, kind, args, row, member_id, posts)


async def draft(db: Database, actor_id: int, text: str, now: datetime) -> Plan:
    """Check a /petugas command; when it can be applied, keep it for the confirm button."""
    parsed = parse(text)
    if parsed is None:
        return Plan(Status.USAGE)
    kind, args = parsed
    async with db.transaction() as tx:
        found = await plan(tx, kind, args)
        if found.status is not Status.READY:
            return found
        change_id = await staff_changes.create(tx, actor_id, kind, args, now)
    return Plan(found.status, kind, args, found.row, found.member_id, found.before, (), change_id)


class Outcome(Enum):
    APPLIED = "applied"
    CANCELLED = "cancelled"
    STALE = "stale"  # unknown, someone else's, already decided, or too old
    REFUSED = "refused"  # no longer valid against the database of now


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    plan: Plan | None = None
    member_id: int | None = None
    ended_shift_at: str | None = None
    """The post whose open shift the change ended (the officer was on duty there)."""


async def confirm(
    db: Database, actor_id: int, change_id: int, now: datetime, watch: PostWatch | None = None
) -> Decision:
    async with db.transaction() as tx:
        change = await staff_changes.by_id(tx, change_id)
        if change is None or change.actor_id != actor_id or change.decided_at is not None:
            return Decision(Outcome.STALE)
        if now - change.created_at > PENDING_FOR:
            return Decision(Outcome.STALE)
        if not await staff_changes.decide(tx, change_id, actor_id, "applied", now):
            return Decision(Outcome.STALE)
        args: dict[str, str] = {str(k): str(v) for k, v in change.data.items()}
        found = await plan(tx, change.kind, args)
        if found.status is not Status.READY or found.row is None:
            await staff_changes.set_outcome(tx, change_id, "refused")
            return Decision(Outcome.REFUSED, found)
        # plan() found the member (None: "add", a member who does not exist yet)
        serving = (
            await roster.officer_posts(tx, [found.member_id])
            if found.member_id is not None
            else set()
        )
        await members.upsert(tx, [found.row], now)
        after = await members.row_by_ref(tx, found.row.ref)
        assert after is not None
        member_id = after[0]
        # Off a post: the officer's coming piket there goes with the assignment.
        await roster.drop_pairs(tx, serving - await roster.officer_posts(tx, [member_id]), now)
        detail: dict[str, Any] = {"ref": found.row.ref, "before": list(found.before)}
        detail["after"] = list(found.row.posts)
        ended = await _end_shift_off_post(tx, member_id, found.row.posts, now, watch)
        if ended is not None:
            detail["ended_shift_at"] = ended
        await audit.record(tx, now, actor_id, f"staff_{change.kind}", "member", member_id, **detail)
        await _tell_officer(tx, member_id, found.row.posts, ended, now)
    return Decision(Outcome.APPLIED, found, member_id, ended)


async def _end_shift_off_post(
    tx: Tx, member_id: int, assigned: tuple[str, ...], now: datetime, watch: PostWatch | None
) -> str | None:
    """An officer moved off the post they are on duty at: that shift ends now (the post
    may be short from here, and the watcher is told), so nobody stays counted at a post
    they no longer belong to."""
    current = await shifts.open_for_member(tx, member_id)
    if current is None:
        return None
    post = await posts.by_id(tx, current.post_id)
    if post is None or any(code.casefold() == post.code.casefold() for code in assigned):
        return None
    await shifts.end(tx, current.id, now, "auto_closed")
    await posts.mark_short(tx, post.id, now)
    await touched(tx, watch, [post.id], now)
    return post.code


async def _tell_officer(
    tx: Tx, member_id: int, assigned: tuple[str, ...], ended: str | None, now: datetime
) -> None:
    """The officer hears of their new posts (and of a duty the change ended) at once."""
    officer = await members.by_id(tx, member_id)
    if officer is None or officer.telegram_id is None:
        return
    language = recipient_language(officer.language, officer.client_language) or DEFAULT_LANGUAGE
    text = t(language, "people.told_officer", posts=", ".join(assigned) or "-")
    if ended is not None:
        text += "\n" + t(language, "people.told_shift_ended", post=ended)
    await enqueue(tx, officer.telegram_id, text, now, kind="staff_change", priority=Priority.NOTICE)


async def cancel(db: Database, actor_id: int, change_id: int, now: datetime) -> Outcome:
    async with db.transaction() as tx:
        if await staff_changes.decide(tx, change_id, actor_id, "cancelled", now):
            return Outcome.CANCELLED
    return Outcome.STALE
