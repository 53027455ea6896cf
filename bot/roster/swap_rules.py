"""The swap (tukar piket) state machine (pure).

diminta ──accept──▶ disetujui, or menunggu_persetujuan when a supervisor must approve
diminta ──decline──▶ ditolak          menunggu_persetujuan ──approve──▶ disetujui
diminta ──cancel───▶ dibatalkan       menunggu_persetujuan ──reject───▶ ditolak
any open state, at the slot's start ──▶ kedaluwarsa
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

OPEN = frozenset({"diminta", "menunggu_persetujuan"})


class SwapEvent(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"
    APPROVE = "approve"
    REJECT = "reject"


class SwapRefused(Exception):
    """The event does not apply; ``reason`` is a catalog key suffix (``roster.swap_<reason>``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_MOVES: dict[tuple[str, SwapEvent], str] = {
    ("diminta", SwapEvent.DECLINE): "ditolak",
    ("diminta", SwapEvent.CANCEL): "dibatalkan",
    ("menunggu_persetujuan", SwapEvent.APPROVE): "disetujui",
    ("menunggu_persetujuan", SwapEvent.REJECT): "ditolak",
    ("menunggu_persetujuan", SwapEvent.CANCEL): "dibatalkan",
}


def next_state(
    state: str, event: SwapEvent, approval_required: bool, expires_at: datetime, now: datetime
) -> str:
    """The state after ``event``, or :class:`SwapRefused` saying why not."""
    if state not in OPEN:
        raise SwapRefused("closed")
    if now >= expires_at:
        raise SwapRefused("expired")
    if state == "diminta" and event is SwapEvent.ACCEPT:
        return "menunggu_persetujuan" if approval_required else "disetujui"
    moved = _MOVES.get((state, event))
    if moved is None:
        raise SwapRefused("not_now")
    return moved
