"""The group room hears disposisi (issue 10): every posko bersama group bound to an area on
the report's post path is told, through the outbox and in the same transaction as the step,
when the report is forwarded and of each outcome (accepted, done with its note, returned
with its reason). While the forward is open the notice carries the liaison's buttons, so a
liaison who is a member of the group can act from there (checked on the server as in
private); everyone else pressing them gets the polite refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.i18n import DEFAULT_LANGUAGE, t
from bot.reports.desk import markup_json
from bot.watch.escalation import path_groups
from storage import areas
from storage.db import Tx
from storage.forwards import Forward
from storage.issues import IssueCard
from storage.outbox import Priority, enqueue
from storage.records import Member
from storage.watch import recipient_language

ROOM_KIND = "forward_room"
ROOM_STEPS = frozenset({"sent", "accepted", "done", "returned"})
"""The steps a group hears of (progress notes stay between the liaison and the desk)."""

Rows = Callable[[str, int, str], list[list[tuple[str, str]]]]


async def tell_groups(
    tx: Tx,
    forward: Forward,
    card: IssueCard,
    actor: Member,
    step: str,
    note: str | None,
    now: datetime,
    rows: Rows,
) -> int:
    """Queue the step's notice for every group bound to an area of the post's path;
    returns how many were queued. ``rows`` renders the liaison buttons for a state."""
    if step not in ROOM_STEPS:
        return 0
    queued = 0
    for group in path_groups(await areas.path(tx, card.area_id)):
        language = recipient_language(group.language, None) or DEFAULT_LANGUAGE
        text = t(
            language,
            f"room.forward_{step}",
            ref=card.issue.ref,
            post=card.post_code,
            agency=forward.agency_name,
            who=actor.name,
            note=note or "-",
        )
        buttons = rows(language, forward.id, forward.state)
        await enqueue(
            tx,
            group.chat_id,
            text,
            now,
            kind=ROOM_KIND,
            priority=Priority.NOTICE,
            reply_markup=markup_json(buttons) if buttons else None,
            topic_id=group.topic_id,
            ref_type="forward",
            ref_id=forward.id,
        )
        queued += 1
    return queued
