"""Taking an alert: compare-and-swap ownership, and telling everyone else who took it;
calling a post's officers on behalf of the supervisor who took it."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.core.i18n import DEFAULT_LANGUAGE, t
from bot.core.scope import area_in_scope, covers
from bot.presence.checkin import PostWatch, touched
from bot.watch.texts import call_markup, people_text
from storage import alerts as alerts_store
from storage import audit, members, posts
from storage import watch as store
from storage.alerts import Person
from storage.db import Database, Tx
from storage.outbox import Priority, enqueue
from storage.overview import AlertLine
from storage.records import Member
from storage.watch import AlertRow, Recipient, recipient_language

log = logging.getLogger(__name__)

DEFAULT_TAKEN_TIMEOUT = timedelta(minutes=30)
CALL_AGAIN_AFTER = timedelta(minutes=1)


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
    alert_id: int = 0
    people: tuple[Person, ...] = ()


def language_of(member: Member) -> str:
    return recipient_language(member.language, member.client_language) or DEFAULT_LANGUAGE


def taken_text(language: str, post_code: str, people: tuple[Person, ...]) -> str:
    """What the taker reads in private: who to call, and the 📣 button below it."""
    return "\n".join(
        (
            t(language, "alert.taken_you", post=post_code),
            t(language, "followup.taken_people"),
            people_text(language, people, private=True),
        )
    )


def may_take(line: AlertLine, member_id: int, scope: Collection[int] | None) -> bool:
    """Whether "Ambil alih" is offered: untaken; or taken by someone else, not recovered,
    and climbed to a level this member covers (the take-over the alert message offers)."""
    if line.taken_by is None:
        return True
    if not line.climbed_past_taker or line.taker_id == member_id:
        return False
    return line.step_area_id is not None and covers(scope, line.step_area_id)


NO_CHAT = 0
"""``pressed_in`` of a take from outside Telegram (the command room): every chat is told
through the outbox, and the taker gets the people to call in private."""


async def _take_over(tx: Tx, member: Member, alert: AlertRow, now: datetime) -> int | None:
    """An alert that climbed because its taker's post did not recover may be taken over by
    a supervisor of the area it climbed to; returns the previous owner's id."""
    previous = alert.acked_by
    if previous is None or previous == member.id or alert.taken_stage < 2:
        return None
    if alert.step_area_id is None or not await area_in_scope(tx, member, alert.step_area_id):
        return None
    return previous


async def take(
    db: Database,
    member: Member,
    alert_id: int,
    now: datetime,
    watch: PostWatch | None = None,
    pressed_in: int | None = None,
    taken_timeout: timedelta = DEFAULT_TAKEN_TIMEOUT,
) -> Take:
    """``pressed_in`` is the chat where the button was pressed: it is answered directly,
    so the outbox notice skips it. Taken in a group, the people to call (with phones) go
    to the taker's private chat instead."""
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
        follow_up_at = now + taken_timeout
        previous: int | None = None
        if not await store.acknowledge(tx, alert_id, member.id, now, follow_up_at):
            previous = await _take_over(tx, member, alert, now)
            if previous is None or not await alerts_store.retake(
                tx, alert_id, member.id, previous, now, follow_up_at
            ):
                taken = await store.alert_by_id(tx, alert_id)
                owner_id = taken.acked_by if taken is not None else None
                owner = await members.by_id(tx, owner_id) if owner_id is not None else None
                return Take(TakeStatus.ALREADY_TAKEN, post.code, owner.name if owner else None)
        await audit.record(tx, now, member.id, "take", "alert", alert_id, post=post.code)
        tx.publish(
            "alert", id=alert_id, post=post.code, area_id=post.area_id, kind=alert.kind,
            action="taken", taken_by=member.name,
        )  # fmt: skip
        log.info("alert taken post=%s alert=%s by member=%s", post.code, alert_id, member.id)
        told = await store.notified(tx, [alert_id])
        recipients = list(told.get(alert_id, []))
        if previous is not None and all(r.member_id != previous for r in recipients):
            # the previous taker took it in a group chat: tell them in private
            owner = await members.by_id(tx, previous)
            if owner is not None and owner.telegram_id is not None:
                recipients.append(Recipient(owner.telegram_id, owner.id, language_of(owner)))
        for recipient in recipients:
            if recipient.chat_id in (member.telegram_id, pressed_in):
                continue
            language = recipient.language or DEFAULT_LANGUAGE
            key = "followup.taken_over" if recipient.member_id == previous else "alert.taken_by"
            await enqueue(
                tx,
                recipient.chat_id,
                t(language, key, post=post.code, who=member.name),
                now,
                kind="alert_taken",
                priority=Priority.ALERT,
                topic_id=recipient.topic_id,
                ref_type="alert",
                ref_id=alert_id,
            )
        if member.telegram_id is not None and all(
            r.chat_id != member.telegram_id for r in told.get(alert_id, [])
        ):
            # Taken from /pantau or a group: the taker hears the end in private like
            # everyone who was alerted (the reminders promise it).
            me = Recipient(member.telegram_id, member.id, language_of(member))
            await store.record_notifications(tx, [(alert_id, alert.step, me)], now)
        people = tuple((await alerts_store.people(tx, [post.id])).get(post.id, []))
        if member.telegram_id is not None and pressed_in not in (None, member.telegram_id):
            language = language_of(member)
            await enqueue(
                tx,
                member.telegram_id,
                taken_text(language, post.code, people),
                now,
                kind="alert_taken",
                priority=Priority.ALERT,
                ref_type="alert",
                ref_id=alert_id,
                reply_markup=call_markup(language, alert_id),
            )
        await touched(tx, watch, [post.id], now)
        return Take(TakeStatus.TAKEN, post.code, member.name, alert_id, people)


class CallStatus(Enum):
    SENT = "sent"
    NOBODY = "nobody"
    AGAIN_LATER = "again_later"
    RECOVERED = "recovered"
    NOT_YOURS = "not_yours"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Call:
    status: CallStatus
    post_code: str = ""
    count: int = 0


async def call_officers(db: Database, member: Member, alert_id: int, now: datetime) -> Call:
    """ "📣 Panggil petugas": every officer assigned to the post (with a Telegram account)
    gets a high-priority message from the outbox; at most once a minute per alert."""
    async with db.transaction() as tx:
        alert = await store.alert_by_id(tx, alert_id)
        if alert is None:
            return Call(CallStatus.UNKNOWN)
        post = await posts.by_id(tx, alert.post_id)
        assert post is not None
        if alert.acked_by != member.id and not await area_in_scope(tx, member, post.area_id):
            return Call(CallStatus.NOT_YOURS, post.code)
        if alert.resolved_at is not None:
            return Call(CallStatus.RECOVERED, post.code)
        officers = (await store.officers(tx, [post.id], on_duty=False)).get(post.id, [])
        if not officers:
            return Call(CallStatus.NOBODY, post.code)
        if not await alerts_store.mark_called(tx, alert_id, now, now - CALL_AGAIN_AFTER):
            return Call(CallStatus.AGAIN_LATER, post.code)
        for officer in officers:
            language = officer.language or DEFAULT_LANGUAGE
            await enqueue(
                tx,
                officer.chat_id,
                t(language, "followup.call_officer", who=member.name, post=post.code),
                now,
                kind="alert_call",
                priority=Priority.ALERT,
                ref_type="alert",
                ref_id=alert_id,
            )
        await audit.record(tx, now, member.id, "call", "alert", alert_id, post=post.code)
        log.info("officers called post=%s alert=%s count=%s", post.code, alert_id, len(officers))
        return Call(CallStatus.SENT, post.code, len(officers))
