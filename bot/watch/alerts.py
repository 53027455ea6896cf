"""Taking an alert: compare-and-swap ownership, and telling everyone else who took it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.core.i18n import DEFAULT_LANGUAGE, t
from bot.core.scope import area_in_scope
from bot.presence.checkin import PostWatch, touched
from storage import audit, members, posts
from storage import watch as store
from storage.db import Database
from storage.outbox import Priority, enqueue
from storage.records import Member

log = logging.getLogger(__name__)


class TakeStatus(Enum):
    TAKEN = "taken"
    ALREADY_TAKEN = "already_taken"
    OVER = "over"
    NOT_YOURS = "not_yours"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Take:
    status: TakeStatus
    post_code: str = ""
    taken_by: str | None = None


async def take(
    db: Database,
    member: Member,
    alert_id: int,
    now: datetime,
    watch: PostWatch | None = None,
    pressed_in: int | None = None,
) -> Take:
    """``pressed_in`` is the chat where the button was pressed: it is answered directly,
    so the outbox notice skips it."""
    async with db.transaction() as tx:
        alert = await store.alert_by_id(tx, alert_id)
        if alert is None:
            return Take(TakeStatus.UNKNOWN)
        post = await posts.by_id(tx, alert.post_id)
        assert post is not None
        if not await area_in_scope(tx, member, post.area_id):
            return Take(TakeStatus.NOT_YOURS, post.code)
        if alert.resolved_at is not None:
            return Take(TakeStatus.OVER, post.code)
        if not await store.acknowledge(tx, alert_id, member.id, now):
            taken = await store.alert_by_id(tx, alert_id)
            owner_id = taken.acked_by if taken is not None else None
            owner = await members.by_id(tx, owner_id) if owner_id is not None else None
            return Take(TakeStatus.ALREADY_TAKEN, post.code, owner.name if owner else None)
        await audit.record(tx, now, member.id, "take", "alert", alert_id, post=post.code)
        log.info("alert taken post=%s alert=%s by member=%s", post.code, alert_id, member.id)
        told = await store.notified(tx, [alert_id])
        for recipient in told.get(alert_id, []):
            if recipient.chat_id in (member.telegram_id, pressed_in):
                continue
            language = recipient.language or DEFAULT_LANGUAGE
            await enqueue(
                tx,
                recipient.chat_id,
                t(language, "alert.taken_by", post=post.code, who=member.name),
                now,
                kind="alert_taken",
                priority=Priority.ALERT,
                topic_id=recipient.topic_id,
                ref_type="alert",
                ref_id=alert_id,
            )
        await touched(tx, watch, [post.id], now)
        return Take(TakeStatus.TAKEN, post.code, member.name)
