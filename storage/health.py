"""Figures for /healthz and /metrics, read in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, from_db


@dataclass(frozen=True, slots=True)
class Figures:
    posts_by_state: dict[str, int]
    open_alerts: int
    outbox_backlog: int
    outbox_oldest: datetime | None
    outbox_failed: int


async def figures(tx: Tx) -> Figures:
    states = {
        row[0]: row[1] for row in await tx.all("SELECT state, count(*) FROM posts GROUP BY state")
    }
    open_alerts = int(await tx.scalar("SELECT count(*) FROM alerts WHERE resolved_at IS NULL"))
    row = await tx.one(
        "SELECT count(*), min(created_at) FROM outbox WHERE status IN ('pending', 'sending')"
    )
    failed = int(await tx.scalar("SELECT count(*) FROM outbox WHERE status = 'failed'"))
    assert row is not None
    return Figures(states, open_alerts, int(row[0]), from_db(row[1]), failed)


@dataclass(frozen=True, slots=True)
class Totals:
    """What happened in a database so far (the rehearsal's closing summary)."""

    alerts: int
    issues: int
    signals: int
    sent: int


async def totals(tx: Tx) -> Totals:
    row = await tx.one(
        "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM issues),"
        " (SELECT count(*) FROM signals), (SELECT count(*) FROM outbox WHERE status = 'sent')"
    )
    assert row is not None
    return Totals(int(row[0]), int(row[1]), int(row[2]), int(row[3]))
