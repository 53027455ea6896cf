"""Evidence that travels with a report card (SPEC §8): its photos and videos as one album,
its location as a map pin.

A card's attachments are re-sent by their Telegram ``file_id`` (never downloaded): two or
more as one ``sendMediaGroup`` (photos and videos together; pictures sent as files go as a
document album, since Telegram does not mix documents with other media), a single one as
``sendPhoto``/``sendVideo``/``sendDocument``, then one ``sendLocation``. So a card costs at
most two extra calls, not one per photo. The card itself stays a text message (its buttons
are edited in place when someone acts on it); the evidence follows it in the same chat,
captioned with the report's reference so the two are read together.

``calls`` is pure and is used both for queued cards (``queue``, in the transaction that
queues the card) and for direct replies (``/laporan REF``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.i18n import t
from bot.core.scope import covers, scope_area_ids
from storage import issues
from storage.db import Database, Tx
from storage.issues import IssueCard, IssueEvent
from storage.outbox import Priority, enqueue_call
from storage.records import Member

MAX_ALBUM = 10
"""Telegram's largest album; a report holds at most ``[reports] max_photos`` (≤ 10)."""
EVIDENCE_KIND = "issue_evidence"

_TYPE_OF = {"photo": "photo", "video": "video", "image": "document"}
_SINGLE = {
    "photo": ("sendPhoto", "photo"),
    "video": ("sendVideo", "video"),
    "document": ("sendDocument", "document"),
}


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API call without its chat: method and parameters."""

    method: str
    payload: dict[str, Any]


def _media_calls(caption: str, items: list[tuple[str, str]]) -> list[Call]:
    """Photos and videos in one album, documents in another (Telegram does not mix them)."""
    groups: dict[str, list[tuple[str, str]]] = {"visual": [], "document": []}
    for file_id, kind in items:
        media_type = _TYPE_OF.get(kind, "photo")
        groups["document" if media_type == "document" else "visual"].append((file_id, media_type))
    calls: list[Call] = []
    for group in groups.values():
        for start in range(0, len(group), MAX_ALBUM):
            chunk = group[start : start + MAX_ALBUM]
            text = caption if not calls else None
            if len(chunk) == 1:
                file_id, media_type = chunk[0]
                method, key = _SINGLE[media_type]
                payload: dict[str, Any] = {key: file_id}
                if text:
                    payload["caption"] = text
                calls.append(Call(method, payload))
                continue
            media: list[dict[str, Any]] = []
            for position, (file_id, media_type) in enumerate(chunk):
                item: dict[str, Any] = {"type": media_type, "media": file_id}
                if position == 0 and text:
                    item["caption"] = text
                media.append(item)
            calls.append(Call("sendMediaGroup", {"media": media}))
    return calls


def calls(language: str, card: IssueCard, items: list[tuple[str, str]]) -> list[Call]:
    """The calls that bring a card's evidence: album (or single file), then the pin."""
    issue = card.issue
    result = _media_calls(t(language, "evidence.caption", ref=issue.ref, count=len(items)), items)
    if issue.latitude is not None and issue.longitude is not None:
        result.append(
            Call("sendLocation", {"latitude": issue.latitude, "longitude": issue.longitude})
        )
    return result


async def load(tx: Tx, card: IssueCard) -> list[tuple[str, str]]:
    """(file_id, kind) of the card's attachments."""
    if card.issue.photo_count == 0:
        return []
    return await issues.media(tx, card.issue.id)


async def queue(
    tx: Tx,
    chat_id: int,
    language: str,
    card: IssueCard,
    now: datetime,
    *,
    priority: Priority = Priority.NOTICE,
    topic_id: int | None = None,
    items: list[tuple[str, str]] | None = None,
) -> int:
    """Queue the card's evidence to one chat, right behind the card (same priority, so the
    chat's queue keeps the order); call it after queuing the card, in its transaction.
    Returns the number of calls queued."""
    if items is None:
        items = await load(tx, card)
    planned = calls(language, card, items)
    for call in planned:
        await enqueue_call(
            tx,
            chat_id,
            call.method,
            call.payload,
            now,
            kind=EVIDENCE_KIND,
            priority=priority,
            topic_id=topic_id,
            ref_type="issue",
            ref_id=card.issue.id,
        )
    return len(planned)


# --- one report whole (/laporan REF, 📎) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Whole:
    """One report whole (/laporan REF): the card, every event, the attachments."""

    card: IssueCard
    events: list[IssueEvent]
    items: list[tuple[str, str]]


async def whole(db: Database, member: Member, ref: str) -> Whole | None:
    """The report ``ref`` with its timeline and evidence, only within the member's subtree."""
    async with db.read() as tx:
        card = await issues.card_by_ref(tx, ref)
        if card is None or not covers(await scope_area_ids(tx, member), card.area_id):
            return None
        return Whole(card, await issues.events(tx, card.issue.id), await load(tx, card))


async def evidence_of(db: Database, member: Member, issue_id: int) -> Whole | None:
    """The 📎 button on a listed card: the report (if in the member's subtree) and its
    attachments; no timeline."""
    async with db.read() as tx:
        card = await issues.card(tx, issue_id)
        if card is None or not covers(await scope_area_ids(tx, member), card.area_id):
            return None
        return Whole(card, [], await load(tx, card))


def has_evidence(card: IssueCard) -> bool:
    return card.issue.photo_count > 0 or card.issue.latitude is not None
