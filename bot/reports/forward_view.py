"""A report's forwards as the one-report views show them (issue 10): ``/laporan REF`` for
supervisors in scope and ``/laporanku REF`` for the reporter list each forward (agency,
state, who accepted and when) and put its events in the report's timeline (who, what,
when in WIB). The caller has already checked that the member may see the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.clock import day_hhmm
from bot.core.i18n import t
from storage import forwards
from storage.db import Database
from storage.forwards import Forward, ForwardEvent

MAX_NOTE = 200


@dataclass(frozen=True, slots=True)
class ForwardsView:
    forwards: list[Forward]
    events: list[ForwardEvent]


async def load(db: Database, issue_id: int) -> ForwardsView:
    async with db.read() as tx:
        return ForwardsView(
            await forwards.of_issue(tx, issue_id), await forwards.events_of_issue(tx, issue_id)
        )


def _trim(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


def section(language: str, view: ForwardsView) -> list[str]:
    """One line per forward under a title; nothing when the report was never forwarded."""
    if not view.forwards:
        return []
    lines = [t(language, "room.forwards_title")]
    for forward in view.forwards:
        if forward.accepted_at is not None:
            accepted = t(
                language,
                "room.forward_accepted_by",
                name=forward.accepted_name or "-",
                time=day_hhmm(forward.accepted_at),
            )
        else:
            accepted = t(language, "room.forward_not_accepted")
        lines.append(
            t(
                language,
                "room.forward_line",
                agency=forward.agency_name,
                state=t(language, f"forward_state.{forward.state}"),
                time=day_hhmm(forward.forwarded_at),
                who=forward.forwarder_name or "-",
                accepted=accepted,
            )
        )
    return lines


def timeline_items(language: str, view: ForwardsView) -> list[tuple[datetime, str, str]]:
    """The forward events as timeline items: (when, who, what)."""
    items: list[tuple[datetime, str, str]] = []
    for event in view.events:
        what = t(language, f"room.event_{event.kind}", agency=event.agency_name)
        if event.note and event.kind != "closed":
            what = f"{what}: {_trim(event.note)}"
        items.append((event.at, event.actor_name or "-", what))
    return items
