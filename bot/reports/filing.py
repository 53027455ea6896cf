"""Field reports (laporan): the guided flow as a durable draft, and the one-shot form.

The guided flow's state lives in the ``drafts`` table, not in memory, so that a report
half-written when the bot restarts is still there when the officer carries on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from bot.presence.checkin import PostWatch, current_post, touched
from bot.reports.desk import announce_new_issue
from storage import drafts, issues, posts
from storage import web as web_store
from storage.db import Database, Tx
from storage.records import SEVERITIES, Draft, Issue, Member, Post

REPORT_DRAFT = "report"
ONE_SHOT_SEVERITY = "sedang"
PHOTO = "photo"
IMAGE = "image"
VIDEO = "video"
MEDIA_KINDS = (PHOTO, IMAGE, VIDEO)


class Step(StrEnum):
    POST = "post"
    CATEGORY = "category"
    SEVERITY = "severity"
    TEXT = "text"
    ATTACH = "attach"
    CONFIRM = "confirm"


@dataclass(slots=True)
class ReportDraft:
    step: Step
    post_id: int | None = None
    post_code: str | None = None
    category: str | None = None
    severity: str | None = None
    text: str | None = None
    photos: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    """What each of ``photos`` is: photo, image (a picture sent as a file) or video."""
    latitude: float | None = None
    longitude: float | None = None
    media_group: str | None = None
    album_reply: int | None = None
    """The message that answered the current album; edited as its photos arrive."""
    album_refused: bool = False
    one_shot: bool = False
    """A one-shot whose text is kept: filed as soon as the category is chosen."""

    @classmethod
    def from_draft(cls, draft: Draft) -> ReportDraft:
        data = draft.data
        photos = list(data.get("photos", []))
        kinds = list(data.get("kinds", []))
        kinds += [PHOTO] * (len(photos) - len(kinds))
        return cls(
            step=Step(draft.step),
            post_id=data.get("post_id"),
            post_code=data.get("post_code"),
            category=data.get("category"),
            severity=data.get("severity"),
            text=data.get("text"),
            photos=photos,
            kinds=kinds[: len(photos)],
            latitude=data.get("lat"),
            longitude=data.get("lon"),
            media_group=data.get("media_group"),
            album_reply=data.get("album_reply"),
            album_refused=bool(data.get("album_refused", False)),
            one_shot=bool(data.get("one_shot", False)),
        )

    def data(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "post_code": self.post_code,
            "category": self.category,
            "severity": self.severity,
            "text": self.text,
            "photos": self.photos,
            "kinds": self.kinds,
            "lat": self.latitude,
            "lon": self.longitude,
            "media_group": self.media_group,
            "album_reply": self.album_reply,
            "album_refused": self.album_refused,
            "one_shot": self.one_shot,
        }


class Problem(Enum):
    NO_POSTS = "no_posts"
    NO_DRAFT = "no_draft"
    WRONG_STEP = "wrong_step"
    BAD_CHOICE = "bad_choice"
    TOO_LONG = "too_long"
    TOO_MANY_PHOTOS = "too_many_photos"
    UNKNOWN_CATEGORY = "unknown_category"
    EMPTY = "empty"
    SLOT_TAKEN = "slot_taken"  # several posts, none on duty, and a draft holds the slot
    NOTE_PENDING = "note_pending"  # a note or reason the member was asked for is not in yet


@dataclass(frozen=True, slots=True)
class Outcome:
    draft: ReportDraft | None = None
    problem: Problem | None = None
    issue: Issue | None = None
    choices: tuple[Post, ...] = ()
    new_photo: bool = False
    album_reply: int | None = None
    """For the 2nd+ photo of an album: the message to update instead of a new reply."""
    caption_added: bool = False
    quiet: bool = False
    """A refusal already told for this album: say nothing again."""


async def _load(tx: Tx, member: Member) -> ReportDraft | None:
    draft = await drafts.get(tx, member.id)
    if draft is None or draft.kind != REPORT_DRAFT:
        return None
    return ReportDraft.from_draft(draft)


async def _save(tx: Tx, member: Member, draft: ReportDraft, now: datetime) -> None:
    await drafts.put(tx, member.id, REPORT_DRAFT, draft.step.value, draft.data(), now)


async def _note_pending(tx: Tx, member: Member) -> bool:
    """The conversation slot holds a note or reason being asked for (not a report): a new
    report must not overwrite it, or the typed note would land in the report."""
    held = await drafts.get(tx, member.id)
    return held is not None and held.kind != REPORT_DRAFT


async def _busy(tx: Tx, member: Member) -> bool:
    """A report being written (past choosing its post) holds the conversation slot."""
    held = await drafts.get(tx, member.id)
    if held is None:
        return False
    return held.kind != REPORT_DRAFT or held.step != Step.POST.value


async def _default_post(tx: Tx, member: Member) -> tuple[Post | None, list[Post]]:
    """The post a report is about: where the officer is on duty, else their only post."""
    on_duty = await current_post(tx, member)
    if on_duty is not None:
        return on_duty, []
    assigned = await posts.assigned_to(tx, member.id)
    if len(assigned) == 1:
        return assigned[0], []
    return None, assigned


async def start(db: Database, member: Member, now: datetime) -> Outcome:
    async with db.transaction() as tx:
        return await _begin(tx, member, now)


async def _begin(
    tx: Tx, member: Member, now: datetime, shape: Callable[[ReportDraft], None] | None = None
) -> Outcome:
    """A new draft: at the category when the post is clear, else asking for the post.
    ``shape`` fills in what the one-shot already knows before it is saved."""
    if await _note_pending(tx, member):
        return Outcome(problem=Problem.NOTE_PENDING)
    post, choices = await _default_post(tx, member)
    if post is None and not choices:
        return Outcome(problem=Problem.NO_POSTS)
    if post is None:
        draft = ReportDraft(Step.POST)
    else:
        draft = ReportDraft(Step.CATEGORY, post_id=post.id, post_code=post.code)
    if shape is not None:
        shape(draft)
    await _save(tx, member, draft, now)
    return Outcome(draft=draft, choices=tuple(choices))


async def current(db: Database, member: Member) -> ReportDraft | None:
    async with db.read(consistent=False) as tx:
        return await _load(tx, member)


async def cancel(db: Database, member: Member) -> bool:
    async with db.transaction() as tx:
        return await drafts.delete(tx, member.id)


Change = Callable[[Tx, ReportDraft], Awaitable[Problem | None]]


async def _advance(
    db: Database, member: Member, expected: Step, change: Change, now: datetime
) -> Outcome:
    """The one shape of every step: load the draft, check it is at ``expected``, apply
    ``change`` (which may refuse with a Problem), save."""
    async with db.transaction() as tx:
        draft = await _load(tx, member)
        if draft is None:
            return Outcome(problem=Problem.NO_DRAFT)
        if draft.step is not expected:
            return Outcome(draft=draft, problem=Problem.WRONG_STEP)
        problem = await change(tx, draft)
        if problem is not None:
            return Outcome(draft=draft, problem=problem)
        await _save(tx, member, draft, now)
        return Outcome(draft=draft)


async def choose_post(
    db: Database, member: Member, post_id: int, now: datetime, watch: PostWatch | None = None
) -> Outcome:
    """The post of the report; a one-shot that already has its category is filed now."""

    async def change(tx: Tx, draft: ReportDraft) -> Problem | None:
        assigned = await posts.assigned_to(tx, member.id)
        post = next((p for p in assigned if p.id == post_id), None)
        if post is None:
            return Problem.BAD_CHOICE
        draft.post_id, draft.post_code, draft.step = post.id, post.code, Step.CATEGORY
        if draft.one_shot and draft.category is not None:
            draft.step = Step.CONFIRM
        return None

    outcome = await _advance(db, member, Step.POST, change, now)
    if outcome.draft is not None and outcome.draft.step is Step.CONFIRM and outcome.draft.one_shot:
        return await submit(db, member, now, watch)
    return outcome


async def choose_category(
    db: Database,
    member: Member,
    category: str,
    categories: list[str],
    now: datetime,
    watch: PostWatch | None = None,
) -> Outcome:
    async def change(_tx: Tx, draft: ReportDraft) -> Problem | None:
        if category not in categories:
            return Problem.BAD_CHOICE
        draft.category = category
        draft.step = Step.CONFIRM if draft.one_shot else Step.SEVERITY
        return None

    outcome = await _advance(db, member, Step.CATEGORY, change, now)
    if outcome.draft is not None and outcome.draft.one_shot and outcome.problem is None:
        return await submit(db, member, now, watch)
    return outcome


async def choose_severity(db: Database, member: Member, severity: str, now: datetime) -> Outcome:
    async def change(_tx: Tx, draft: ReportDraft) -> Problem | None:
        if severity not in SEVERITIES:
            return Problem.BAD_CHOICE
        draft.severity, draft.step = severity, Step.TEXT
        return None

    return await _advance(db, member, Step.SEVERITY, change, now)


async def give_text(
    db: Database, member: Member, text: str, max_text: int, now: datetime
) -> Outcome:
    cleaned = text.strip()

    async def change(_tx: Tx, draft: ReportDraft) -> Problem | None:
        if not cleaned:
            return Problem.EMPTY
        if len(cleaned) > max_text:
            return Problem.TOO_LONG
        draft.text, draft.step = cleaned, Step.ATTACH
        return None

    return await _advance(db, member, Step.TEXT, change, now)


@dataclass(frozen=True, slots=True)
class Media:
    file_id: str
    kind: str
    caption: str | None = None
    media_group: str | None = None


def _with_caption(text: str | None, caption: str, max_text: int) -> str:
    """The report text with a caption added on its own line, cut to ``max_text``."""
    joined = f"{text}\n{caption}" if text else caption
    return joined if len(joined) <= max_text else joined[: max_text - 1].rstrip() + "…"


async def add_media(
    db: Database, member: Member, media: Media, max_photos: int, max_text: int, now: datetime
) -> Outcome:
    """Attach a photo, an image file or a video, its caption added to the report text.

    An album arrives as one message per item sharing a ``media_group``: only its first item
    gets a reply (``new_photo``); the others carry ``album_reply``, the message to update
    with the new count. Past ``max_photos`` the item is refused, once per album."""
    same_album = False
    refused = False
    quiet = False
    caption = (media.caption or "").strip()
    added_caption = False

    async def change(_tx: Tx, draft: ReportDraft) -> Problem | None:
        nonlocal same_album, refused, quiet, added_caption
        same_album = media.media_group is not None and media.media_group == draft.media_group
        if not same_album:
            draft.media_group, draft.album_reply, draft.album_refused = (
                media.media_group,
                None,
                False,
            )
        if len(draft.photos) >= max_photos:
            refused, quiet = True, same_album and draft.album_refused
            draft.album_refused = True
            return None
        draft.photos.append(media.file_id)
        draft.kinds.append(media.kind if media.kind in MEDIA_KINDS else PHOTO)
        if caption and max_text > 0:
            draft.text = _with_caption(draft.text, caption, max_text)
            added_caption = True
        return None

    outcome = await _advance(db, member, Step.ATTACH, change, now)
    if outcome.problem is not None:
        return outcome
    if refused:
        return replace(outcome, problem=Problem.TOO_MANY_PHOTOS, quiet=quiet)
    album_reply = outcome.draft.album_reply if same_album and outcome.draft else None
    return replace(
        outcome,
        new_photo=not same_album,
        album_reply=album_reply,
        caption_added=added_caption,
    )


async def remember_album_reply(
    db: Database, member: Member, media_group: str, message_id: int, now: datetime
) -> None:
    """The reply to an album's first photo, so that its other photos update it."""

    async def change(_tx: Tx, draft: ReportDraft) -> Problem | None:
        if draft.media_group != media_group:
            return Problem.WRONG_STEP
        draft.album_reply = message_id
        return None

    await _advance(db, member, Step.ATTACH, change, now)


async def add_location(
    db: Database, member: Member, latitude: float, longitude: float, now: datetime
) -> Outcome:
    async def change(_tx: Tx, draft: ReportDraft) -> Problem | None:
        draft.latitude, draft.longitude = latitude, longitude
        return None

    return await _advance(db, member, Step.ATTACH, change, now)


async def to_confirm(db: Database, member: Member, now: datetime) -> Outcome:
    async def change(_tx: Tx, draft: ReportDraft) -> Problem | None:
        draft.step = Step.CONFIRM
        return None

    return await _advance(db, member, Step.ATTACH, change, now)


async def _file(
    tx: Tx, member: Member, draft: ReportDraft, now: datetime, watch: PostWatch | None
) -> Issue:
    assert draft.post_id is not None and draft.post_code is not None
    assert draft.category is not None and draft.severity is not None and draft.text is not None
    issue = await issues.create(
        tx,
        issues.NewIssue(
            post_id=draft.post_id,
            post_code=draft.post_code,
            reporter_id=member.id,
            category=draft.category,
            severity=draft.severity,
            text=draft.text,
            photos=draft.photos,
            kinds=draft.kinds,
            latitude=draft.latitude,
            longitude=draft.longitude,
        ),
        now,
    )
    await announce_new_issue(tx, issue, now)
    await web_store.publish_issue(tx, issue.id, "new")
    if watch is not None:
        await watch.track_issue(tx, issue.id, issue.post_id, issue.severity, now)
    await posts.record_signal(tx, draft.post_id, member.id, "issue", now, issue.ref)
    await touched(tx, watch, [draft.post_id], now)
    return issue


async def submit(
    db: Database, member: Member, now: datetime, watch: PostWatch | None = None
) -> Outcome:
    async with db.transaction() as tx:
        draft = await _load(tx, member)
        if draft is None:
            return Outcome(problem=Problem.NO_DRAFT)
        if draft.step is not Step.CONFIRM:
            return Outcome(draft=draft, problem=Problem.WRONG_STEP)
        issue = await _file(tx, member, draft, now, watch)
        await drafts.delete(tx, member.id)
        return Outcome(issue=issue)


def match_category(word: str, categories: list[str]) -> str | None:
    """Exact name, or an unambiguous prefix ('netral' → 'netralitas_asn')."""
    wanted = word.strip().lower()
    if wanted in categories:
        return wanted
    found = [name for name in categories if name.startswith(wanted)]
    return found[0] if len(found) == 1 and wanted else None


async def one_shot(
    db: Database,
    member: Member,
    category: str,
    text: str,
    max_text: int,
    now: datetime,
    watch: PostWatch | None = None,
    severity: str = ONE_SHOT_SEVERITY,
) -> Outcome:
    if not text.strip():
        return Outcome(problem=Problem.EMPTY)
    if len(text.strip()) > max_text:
        return Outcome(problem=Problem.TOO_LONG)

    async def file(tx: Tx) -> Outcome:
        post, choices = await _default_post(tx, member)
        if post is None and not choices:
            return Outcome(problem=Problem.NO_POSTS)
        if post is None:
            # Several posts and on duty at none: keep the report, ask which post; it is
            # filed as soon as the post is chosen (an emergency must not wait for /hadir).
            if await _busy(tx, member):
                # The one conversation slot holds an unfinished report or a note: say so,
                # with the way out, rather than lose this one silently.
                return Outcome(problem=Problem.SLOT_TAKEN)
            waiting = ReportDraft(
                Step.POST,
                category=category,
                severity=severity,
                text=text.strip(),
                one_shot=True,
            )
            await _save(tx, member, waiting, now)
            return Outcome(draft=waiting, choices=tuple(choices))
        draft = ReportDraft(
            Step.CONFIRM,
            post_id=post.id,
            post_code=post.code,
            category=category,
            severity=severity,
            text=text.strip(),
        )
        return Outcome(issue=await _file(tx, member, draft, now, watch))

    return await db.concurrently(file)


async def one_shot_without_category(
    db: Database, member: Member, text: str, max_text: int, now: datetime
) -> Outcome:
    """'/lapor <text>' whose first word is no category: the text is kept in a draft that
    asks only for the category (and the post, where that is not clear), then is filed
    with the one-shot severity as soon as the category is chosen."""
    cleaned = text.strip()
    if not cleaned:
        return Outcome(problem=Problem.EMPTY)
    if len(cleaned) > max_text:
        return Outcome(problem=Problem.TOO_LONG)

    def one_shot_text(draft: ReportDraft) -> None:
        draft.text, draft.severity, draft.one_shot = cleaned, ONE_SHOT_SEVERITY, True

    async with db.transaction() as tx:
        return await _begin(tx, member, now, one_shot_text)


async def mine(db: Database, member: Member, limit: int = 10) -> list[Issue]:
    async with db.read() as tx:
        return await issues.by_reporter(tx, member.id, limit)
