"""A taken alert whose post has not recovered (SPEC §4): one tap must not leave a post
empty all night.

The taken alert keeps its deadline in ``alerts.next_due_at`` (and so in its post's
``next_due_at``, which the watcher probes through a partial index). At ``taken_timeout``
after the take the taker is reminded privately, with the people to call; after another
``taken_timeout`` the alert climbs one level with "diambil alih oleh X pukul HH:MM, belum
pulih" and a fresh take button, then keeps climbing (or repeating at the top) like an
untaken alert until the post recovers or someone above takes it over. Every write is a
compare-and-swap on ``alerts.taken_stage``; the caller retries the pass if one fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.clock import hhmm
from bot.core.i18n import duration_text, t
from bot.watch.texts import alert_text, call_markup, people_text, take_markup
from storage import alerts as alerts_store
from storage import watch as store
from storage.alerts import Person
from storage.db import Tx
from storage.outbox import Priority
from storage.records import Area, Post
from storage.watch import AlertRow, Recipient

if TYPE_CHECKING:
    from bot.watch.rules import Decision
    from bot.watch.watcher import Watcher, _Context, _Outgoing

log = logging.getLogger(__name__)

Item = tuple[Post, "Decision", list[Area], str | None, datetime | None]


async def follow(
    watcher: Watcher,
    tx: Tx,
    items: Sequence[Item],
    alerts: dict[int, AlertRow],
    context: _Context,
    people: Mapping[int, Sequence[Person]],
    outgoing: _Outgoing,
    now: datetime,
) -> tuple[dict[int, datetime], bool]:
    """Remind or climb each due taken alert; returns post id → its next deadline, and
    whether every compare-and-swap held (False: the pass must be retried)."""
    timeout = watcher.settings.watch.taken_timeout
    chosen = [alerts[post.id] for post, *_ in items]
    takers = await alerts_store.takers(tx, [alert.id for alert in chosen])
    moves: list[tuple[int, int, int, int, int | None, datetime | None]] = []
    notifications: list[tuple[int, int, Recipient]] = []
    result: dict[int, datetime] = {}
    for post, _, path, _, _ in items:
        alert = alerts[post.id]
        taker = takers.get(alert.id)
        post_people = people.get(post.id, ())
        taken_at = alert.acked_at or alert.opened_at
        to_taker = (
            Recipient(taker.telegram_id, taker.member_id, taker.language)
            if taker is not None and taker.telegram_id is not None
            else None
        )
        if alert.taken_stage == 0:
            due = now + timeout
            moves.append((alert.id, 0, 1, alert.step, alert.step_area_id, due))
            result[post.id] = due
            log.info("taken alert reminded post=%s alert=%s", post.code, alert.id)
            if to_taker is not None:
                language = watcher.language_of(to_taker)
                text = t(
                    language,
                    "followup.taken_remind",
                    post=post.code,
                    name=post.name,
                    time=hhmm(taken_at),
                    people=people_text(language, post_people, private=True),
                    wait=duration_text(language, timeout),
                )
                outgoing.add(
                    to_taker,
                    text,
                    "alert_followup",
                    Priority.ALERT,
                    ("alert", alert.id),
                    call_markup(language, alert.id),
                )
            continue
        levels = watcher.levels(post, path, context)
        if not levels:
            moves.append((alert.id, alert.taken_stage, alert.taken_stage, alert.step, None, None))
            continue
        index = next(
            (i for i, level in enumerate(levels) if level.area.id == alert.step_area_id), 0
        )
        climbed = index + 1 < len(levels)
        target = index + 1 if climbed else index
        due = watcher.policy_due(post, levels, target, now)
        level = levels[target]
        moves.append(
            (alert.id, alert.taken_stage, alert.taken_stage + 1, alert.step + 1, level.area.id, due)
        )
        result[post.id] = due
        tx.publish(
            "alert", id=alert.id, post=post.code, area_id=post.area_id, kind=alert.kind,
            action="climbed_past_taker",
        )  # fmt: skip
        log.info(
            "taken alert %s post=%s alert=%s area=%s",
            "escalated" if climbed else "repeated",
            post.code,
            alert.id,
            level.area.code,
        )
        since = post.last_signal_at if alert.kind == "silent" else post.short_since
        who = taker.name if taker is not None else "-"
        for recipient in level.recipients:
            if to_taker is not None and recipient.chat_id == to_taker.chat_id:
                continue
            language = watcher.language_of(recipient)
            lead = t(
                language, "followup.lead_taken", who=who, time=hhmm(taken_at), level=level.area.name
            )
            outgoing.add(
                recipient,
                alert_text(
                    language,
                    post,
                    alert.kind,
                    since,
                    now,
                    post_people,
                    private=recipient.member_id is not None,
                    lead=lead,
                ),
                "alert",
                Priority.ALERT,
                ("alert", alert.id),
                take_markup(language, alert.id),
            )
            notifications.append((alert.id, alert.step + 1, recipient))
        if to_taker is not None and climbed:
            language = watcher.language_of(to_taker)
            outgoing.add(
                to_taker,
                t(language, "followup.taken_climbed", post=post.code, level=level.area.name),
                "alert_followup",
                Priority.ALERT,
                ("alert", alert.id),
                call_markup(language, alert.id),
            )
    moved = await alerts_store.follow_taken(tx, moves, now)
    await store.record_notifications(tx, notifications, now)
    return result, moved == len(moves)
