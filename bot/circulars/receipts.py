"""What a circular's author sees: the delivery report (one message, edited in place as
figures change) and ``/siaran_status`` (who has not read it yet, by area)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.circulars.texts import area_label, snippet
from bot.core.access import language_of
from bot.core.i18n import t
from storage import audit, members
from storage import circulars as store
from storage.circulars import REPORT_KIND, Circular, Figures, Unread
from storage.db import Database, Tx
from storage.outbox import Priority, enqueue

log = logging.getLogger(__name__)

REPORT_EVERY = timedelta(seconds=2)
MAX_UNREAD_GROUPS = 8
MAX_UNREAD_NAMES = 24
MAX_NAMES_PER_GROUP = 3
MAX_NAME = 24


# --------------------------------------------------------------------------------------------
# The delivery report
# --------------------------------------------------------------------------------------------


def pct(part: int, whole: int) -> int:
    return min(100, round(100 * part / whole)) if whole else 0


def report_text(
    language: str, circular: Circular, figures: Figures, *, detail_hint: bool = True
) -> str:
    lines = [
        t(
            language,
            "circular.report_title",
            id=circular.id,
            scope=circular.scope,
            snippet=snippet(circular.text),
        ),
        t(
            language,
            "circular.report_figures",
            total=figures.total,
            sent=figures.sent,
            sent_pct=pct(figures.sent, figures.total),
            pending=figures.pending,
            failed=figures.failed,
            blocked=figures.blocked,
            read=figures.read,
            read_pct=pct(figures.read, figures.sent),
        ),
        t(
            language,
            "circular.report_status",
            status=t(language, f"circular.status_{circular.status}"),
        ),
    ]
    if figures.unpaid:
        lines.append(t(language, "circular.report_unpaid", count=figures.unpaid))
    if detail_hint:
        lines.append(t(language, "circular.report_hint", id=circular.id))
    return "\n".join(lines)


RETRY_PREFIX = "cr:again:"
"""The report's button that sends again the copies the bot's Stars could not pay for."""


def report_markup(language: str, circular: Circular, figures: Figures) -> dict[str, Any] | None:
    """The report's button, as Bot API JSON: send again what the Stars could not pay for."""
    if not figures.unpaid:
        return None
    label = t(language, "circular.retry_button", count=figures.unpaid)
    button = {"text": label, "callback_data": f"{RETRY_PREFIX}{circular.id}"}
    return {"inline_keyboard": [[button]]}


async def queue_report(
    tx: Tx, circular: Circular, figures: Figures, chat_id: int, language: str, now: datetime
) -> None:
    outbox_id = await enqueue(
        tx,
        chat_id,
        report_text(language, circular, figures),
        now,
        kind=REPORT_KIND,
        priority=Priority.NOTICE,
        reply_markup=report_markup(language, circular, figures),
        ref_type=REPORT_KIND,
        ref_id=circular.id,
    )
    await store.set_report_outbox(tx, circular.id, chat_id, outbox_id)


async def author_language(tx: Tx, author_id: int, default: str) -> str:
    author = await members.by_id(tx, author_id)
    return language_of(author, None, default)


async def refresh_reports(db: Database, now: datetime, default_language: str) -> int:
    """Queue an edit of every delivery report whose figures changed (throttled); finish
    circulars with nothing left to send. Returns the number of edits queued."""
    edits = 0
    async with db.transaction() as tx:
        for circular in await store.live(tx):
            edits += await _refresh_one(tx, circular, now, default_language)
    return edits


async def _refresh_one(tx: Tx, circular: Circular, now: datetime, default: str) -> int:
    figures = await store.figures(tx, circular.id)
    status = circular.status
    if status == "sending" and figures.pending == 0 and await store.finish(tx, circular.id):
        status = "done"
        await audit.record(
            tx, now, None, "done", "circular", circular.id, sent=figures.sent, total=figures.total
        )
    digest = figures.digest(status)
    if digest == circular.report_digest:
        if circular.report_dirty:
            await store.set_dirty(tx, circular.id, False)
        return 0
    updated = circular.report_updated_at
    if updated is not None and now - updated < REPORT_EVERY and now >= updated:
        await store.set_dirty(tx, circular.id, True)  # come back once the throttle allows
        return 0
    chat_id, message_id = circular.report_chat_id, circular.report_message_id
    if message_id is None and circular.report_outbox_id is not None:
        state = await store.outbox_state(tx, circular.report_outbox_id)
        if state is not None and state[0] == "sent" and state[1] is not None:
            message_id = state[1]
            await store.set_report_message(tx, circular.id, chat_id, message_id)
        elif state is not None and state[0] in ("pending", "sending"):
            await store.set_dirty(tx, circular.id, True)
            return 0
    if chat_id is None or message_id is None:
        await store.note_report(tx, circular.id, digest, now)  # nowhere to show it
        return 0
    if await store.edit_queued(tx, circular.id):
        await store.set_dirty(tx, circular.id, True)
        return 0
    language = await author_language(tx, circular.author_id, default)
    shown = replace(circular, status=status)
    await enqueue(
        tx,
        chat_id,
        report_text(language, shown, figures),
        now,
        kind=REPORT_KIND,
        priority=Priority.NOTICE,
        method="editMessageText",
        reply_markup=report_markup(language, shown, figures),
        ref_type=REPORT_KIND,
        ref_id=circular.id,
        extra={"message_id": message_id},
    )
    await store.note_report(tx, circular.id, digest, now)
    return 1


# --------------------------------------------------------------------------------------------
# /siaran_status
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusView:
    circular: Circular
    figures: Figures
    unread: list[Unread] = field(default_factory=list)
    areas: dict[int, tuple[str, str]] = field(default_factory=dict)
    """area id → (level, name) of the unread recipients' areas."""


async def status(
    db: Database, circular_id: int | None, author_id: int | None = None
) -> StatusView | Circular | None:
    """The figures and the unread list; a bare Circular when it was never sent.
    ``author_id``: only that author's circulars (a supervisor sees their own)."""
    async with db.read() as tx:
        if circular_id is None:
            circular = await store.latest_sent(tx, author_id)
        else:
            circular = await store.by_id(tx, circular_id)
        if circular is None or (author_id is not None and circular.author_id != author_id):
            return None
        if circular.status not in ("sending", "done"):
            return circular
        figures = await store.figures(tx, circular.id)
        unread = await store.unread(tx, circular.id)
        ids = {person.area_id for person in unread if person.area_id is not None}
        names = await store.area_labels(tx, ids)
    return StatusView(circular, figures, unread, names)


def unread_text(language: str, view: StatusView) -> str:
    if not view.unread:
        return t(language, "circular.unread_none")
    groups: dict[str, list[str]] = {}
    for person in view.unread:
        level, name = view.areas.get(person.area_id, ("", None)) if person.area_id else ("", None)
        label = area_label(language, level, name)
        shown = person.name if len(person.name) <= MAX_NAME else person.name[: MAX_NAME - 1] + "…"
        groups.setdefault(label, []).append(("🚫 " if person.unreachable else "") + shown)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    lines = [t(language, "circular.unread_title", count=len(view.unread))]
    shown_count = 0
    for label, names in ordered[:MAX_UNREAD_GROUPS]:
        room = min(MAX_NAMES_PER_GROUP, MAX_UNREAD_NAMES - shown_count)
        if room <= 0:
            break
        taken = names[:room]
        listed = ", ".join(taken) + (", …" if len(names) > len(taken) else "")
        lines.append(
            t(language, "circular.unread_group", area=label, count=len(names), names=listed)
        )
        shown_count += len(taken)
    rest = len(view.unread) - shown_count
    if rest > 0:
        lines.append(t(language, "circular.unread_more", count=rest))
    return "\n".join(lines)


def status_text(language: str, view: StatusView) -> str:
    return "\n\n".join(
        [
            report_text(language, view.circular, view.figures, detail_hint=False),
            unread_text(language, view),
        ]
    )
