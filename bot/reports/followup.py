"""Reports left ``diterima`` or ``ditangani`` (issue 9): at ``[reports] follow_up_after``
the assignee is reminded privately with the buttons to act; after another
``follow_up_after`` the supervisors one level above the assignee hear of it, with the
report card and the same buttons (every press is checked against scope, as always).

The deadline is ``issues.follow_up_due_at`` (a partial index), set by every move into
diterima/ditangani and cleared by selesai/ditolak; each step is a compare-and-swap on
``issues.follow_up_stage`` so two watchers never send it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.core.clock import day_hhmm
from bot.core.i18n import duration_text, t
from bot.reports import evidence
from bot.reports.desk import (
    FOLLOWED_STATUSES,
    action_rows,
    card_text,
    language_for,
    markup_json,
)
from bot.watch.escalation import Level
from storage import areas, issues, members
from storage.db import Tx
from storage.issues import DueFollowUp, IssueCard
from storage.outbox import Priority, enqueue
from storage.records import Area
from storage.watch import Recipient, recipient_language

log = logging.getLogger(__name__)

REMIND_KIND = "issue_follow_up"
ABOVE_KIND = "issue_follow_up_above"


async def _send(
    tx: Tx,
    to: Recipient,
    key: str,
    card: IssueCard,
    kind: str,
    now: datetime,
    *,
    with_evidence: bool = False,
    **values: object,
) -> None:
    language = language_for(to.language)
    issue = card.issue
    text = t(
        language,
        key,
        ref=issue.ref,
        status=t(language, f"issue_status.{issue.status}"),
        card=card_text(language, card),
        **values,
    )
    await enqueue(
        tx,
        to.chat_id,
        text,
        now,
        kind=kind,
        priority=Priority.NOTICE,
        reply_markup=markup_json(action_rows(language, issue.id, issue.status)),
        topic_id=to.topic_id,
        ref_type="issue",
        ref_id=issue.id,
    )
    if with_evidence:
        await evidence.queue(tx, to.chat_id, language, card, now, topic_id=to.topic_id)


async def follow_up(
    tx: Tx,
    due: Sequence[DueFollowUp],
    now: datetime,
    after: timedelta,
    ladder_for: Callable[[list[Area]], list[Level]],
) -> bool:
    """Remind or pass up each due report; False when a compare-and-swap failed (the pass
    is retried)."""
    held = True
    for item in due:
        card = await issues.card(tx, item.id)
        if card is None or card.issue.status not in FOLLOWED_STATUSES:
            await issues.set_follow_up(tx, item.id, None)
            continue
        assignee_id = card.issue.assignee_id
        assignee = await members.by_id(tx, assignee_id) if assignee_id is not None else None
        since = await issues.updated_at(tx, item.id) or card.issue.created_at
        if item.stage == 0:
            held &= await issues.advance_follow_up(tx, item.id, 0, 1, now + after)
            if assignee is not None and assignee.telegram_id is not None:
                language = recipient_language(assignee.language, assignee.client_language)
                await _send(
                    tx,
                    Recipient(assignee.telegram_id, assignee.id, language),
                    "followup.report_remind",
                    card,
                    REMIND_KIND,
                    now,
                    time=day_hhmm(since),
                    wait=duration_text(language or "id", after),
                )
            log.info("report follow-up: assignee reminded issue=%s", item.id)
            continue
        # Like an alert, it never goes quiet while open: one level up per ``after``, then
        # repeated at the top every ``after``.
        held &= await issues.advance_follow_up(tx, item.id, item.stage, item.stage + 1, now + after)
        ladder = ladder_for(await areas.path(tx, card.area_id))
        mine = next(
            (
                index
                for index, level in enumerate(ladder)
                if any(r.member_id == assignee_id for r in level.recipients)
            ),
            0,
        )
        if mine + 1 >= len(ladder):
            log.info("report follow-up: nobody above the assignee issue=%s", item.id)
            continue
        level = ladder[min(mine + item.stage, len(ladder) - 1)]
        for recipient in level.recipients:
            await _send(
                tx,
                recipient,
                "followup.report_above",
                card,
                ABOVE_KIND,
                now,
                with_evidence=True,
                who=card.assignee_name or "-",
                time=day_hhmm(since),
            )
        log.info("report follow-up: passed up issue=%s area=%s", item.id, level.area.code)
    return held
