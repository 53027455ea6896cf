"""A report that is withdrawn by its reporter, or rejected or resolved at the desk, closes
its open forwards (issue 10): in the same transaction each open forward becomes 'ditutup'
(no more climbing; a liaison's button of it answers that nothing changed) and the liaisons
who hold it, and the one who accepted it, are told through the outbox.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.i18n import DEFAULT_LANGUAGE, t
from storage import forwards, members
from storage.db import Tx
from storage.issues import IssueCard
from storage.outbox import Priority, enqueue
from storage.records import Member
from storage.watch import recipient_language

CLOSED_KIND = "forward_closed"
WHY = {"ditarik": "withdrawn", "ditolak": "rejected", "selesai": "resolved"}
"""The report's status (as read back) → why its forwards close."""


async def close_forwards(tx: Tx, card: IssueCard, actor: Member, status: str, now: datetime) -> int:
    """Close the report's open forwards because it became ``status`` (ditarik, ditolak,
    selesai); returns how many were closed."""
    why = WHY.get(status)
    if why is None:
        return 0
    closed = await forwards.close_open(tx, card.issue.id, actor.id, why, now)
    for forward_id in closed:
        forward = await forwards.by_id(tx, forward_id)
        if forward is None:
            continue
        holders = await members.liaisons_of_area(tx, forward.area_id, forward.agency_id)
        accepted_by = await tx_accepted_by(tx, forward_id)
        if accepted_by is not None and all(m.id != accepted_by.id for m in holders):
            holders.append(accepted_by)
        for liaison in holders:
            if liaison.telegram_id is None or liaison.id == actor.id:
                continue
            language = (
                recipient_language(liaison.language, liaison.client_language) or DEFAULT_LANGUAGE
            )
            text = t(
                language,
                "room.forward_closed",
                ref=card.issue.ref,
                agency=forward.agency_name,
                why=t(language, f"room.why_{why}"),
                who=actor.name,
            )
            await enqueue(
                tx, liaison.telegram_id, text, now, kind=CLOSED_KIND, priority=Priority.NOTICE,
                ref_type="forward", ref_id=forward_id,
            )  # fmt: skip
    return len(closed)


async def tx_accepted_by(tx: Tx, forward_id: int) -> Member | None:
    member_id = await forwards.accepted_by(tx, forward_id)
    return None if member_id is None else await members.by_id(tx, member_id)
