"""A reply Telegram could not take now (an outage, a network error) is not lost: it goes to
the outbox, whose sender delivers it once Telegram answers again (SPEC §11: nothing an
officer sent is lost, and that includes the answer they are waiting for)."""

from __future__ import annotations

import logging
from typing import Any

from bot.core.runtime import Runtime
from storage import outbox

log = logging.getLogger(__name__)

REPLY_KIND = "reply"


async def later(
    runtime: Runtime,
    chat_id: int,
    topic_id: int | None,
    text: str,
    reply_markup: dict[str, Any] | None,
) -> int:
    """Queue the reply for the sender; returns its outbox id."""
    # Not the update's done mark: the handler's own effects carry it (or, with none,
    # the processor's finish), so a crash here replays the update rather than losing them.
    async with runtime.database.transaction(bookkeeping=True) as tx:
        outbox_id = await outbox.enqueue(
            tx,
            chat_id,
            text,
            runtime.clock.now(),
            kind=REPLY_KIND,
            priority=outbox.Priority.NOTICE,
            reply_markup=reply_markup,
            topic_id=topic_id,
        )
    log.info("reply to chat %s queued in the outbox (%s)", chat_id, outbox_id)
    return outbox_id
