"""Single-use invite codes bound to a member."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from storage.db import Tx, from_db, to_db


class InviteOutcome(Enum):
    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


async def create(
    tx: Tx,
    code: str,
    member_id: int,
    now: datetime,
    expires_at: datetime,
    rebind: bool = False,
) -> None:
    """``rebind``: the code may move an already registered member to the account using it."""
    await tx.execute(
        "INSERT INTO invites (code, member_id, created_at, expires_at, rebind)"
        " VALUES (?, ?, ?, ?, ?)",
        (code, member_id, to_db(now), to_db(expires_at), int(rebind)),
    )


async def is_rebind(tx: Tx, code: str) -> bool:
    return bool(await tx.scalar("SELECT rebind FROM invites WHERE code = ?", (code,)))


async def consume(
    tx: Tx, code: str, telegram_id: int, now: datetime
) -> tuple[InviteOutcome, int | None]:
    """Use the code once. The UPDATE is a compare-and-swap, so two presses cannot both win."""
    changed = await tx.execute(
        "UPDATE invites SET used_at = ?, used_by_telegram_id = ?"
        " WHERE code = ? AND used_at IS NULL AND expires_at > ?",
        (to_db(now), telegram_id, code, to_db(now)),
    )
    row = await tx.one("SELECT member_id, used_at, expires_at FROM invites WHERE code = ?", (code,))
    if row is None:
        return InviteOutcome.UNKNOWN, None
    if changed:
        return InviteOutcome.OK, int(row["member_id"])
    expires = from_db(row["expires_at"])
    if row["used_at"] is not None:
        return InviteOutcome.USED, int(row["member_id"])
    if expires is not None and expires <= now:
        return InviteOutcome.EXPIRED, int(row["member_id"])
    return InviteOutcome.UNKNOWN, None
