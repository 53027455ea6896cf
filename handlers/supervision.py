"""Supervisors and admins: /laporan (issues with action buttons), the issue buttons
themselves and the note a resolve or reject asks for. (/pantau lives in ``monitor``.)

Callback data all start with ``sv:``: ``sv:l:<filter>:<page>`` (more issues),
``sv:i:<issue_id>:<action>`` (issue moves), ``sv:e:<issue_id>`` (its photos and pin);
``sv:p:`` and ``sv:d:`` belong to ``monitor``.
Role and scope are checked on the server for every command and every button.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.core.access import Role
from bot.delivery.direct import send_call
from bot.reports import desk, evidence
from bot.reports.desk import ISSUE_CALLBACK, DeskResult, Verdict
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    drop_buttons,
    edit_message,
    reply,
    require,
)
from handlers.myreports import with_forwards
from storage.issues import IssueCard

log = logging.getLogger(__name__)

PREFIX = "sv:"
LIST_PREFIX = "sv:l:"
EVIDENCE_PREFIX = "sv:e:"
"""``sv:e:<issue_id>``: send the report's album and map pin to this chat."""
ISSUES_PER_PAGE = 5


def register(app: Application[Any, Any, Any, Any, Any, Any], group: int = 0) -> None:
    """Add the supervisor commands and buttons. Call before the catch-all handlers of the
    same group (the stale-button callback handler and the unknown-command handler)."""
    handlers: list[Any] = [
        CommandHandler(["laporan", "issues"], laporan),
        CallbackQueryHandler(button, pattern=f"^{PREFIX}"),
    ]
    for handler in handlers:
        app.add_handler(handler, group)


# --- /laporan -------------------------------------------------------------------------------


def _card_markup(context: PoskoContext, card: IssueCard) -> InlineKeyboardMarkup | None:
    """The moves allowed now and, when the report has photos or a location, 📎 to see them."""
    rows = desk.action_rows(context.lang, card.issue.id, card.issue.status)
    if evidence.has_evidence(card):
        rows.append([(context.t("evidence.button"), f"{EVIDENCE_PREFIX}{card.issue.id}")])
    return buttons(rows) if rows else None


async def _send_evidence(
    update: Update, context: PoskoContext, card: IssueCard, items: list[tuple[str, str]]
) -> None:
    """The album and the pin, straight back to the chat that asked (a direct reply)."""
    chat = update.effective_chat
    assert chat is not None
    failed = False
    for call in evidence.calls(context.lang, card, items):
        try:
            await send_call(context.bot, chat.id, call.method, call.payload)
        except TelegramError as exc:
            # An expired or unknown file: say so instead of leaving a silent gap.
            log.info("evidence of %s not sent (%s): %s", card.issue.ref, call.method, exc)
            failed = True
    if failed:
        await reply(update, context, "evidence.unavailable", ref=card.issue.ref)


def _filter_label(context: PoskoContext, wanted: desk.Filter) -> str:
    if wanted.severity is not None:
        severity = context.t(f"severity.{wanted.severity}")
        return context.t("reports.filter_severity", severity=severity)
    if wanted.post_code is not None:
        return context.t("reports.filter_post", post=wanted.post_code)
    if wanted.token in ("open", "all"):
        return context.t(f"desk.filter_{wanted.token}")
    return context.t(f"issue_status.{wanted.token}")


async def _send_page(update: Update, context: PoskoContext, wanted: desk.Filter, page: int) -> None:
    member = context.me()
    token = wanted.token
    found = await desk.listing(context.runtime.database, member, wanted, page, ISSUES_PER_PAGE)
    if found.no_scope:
        await reply(update, context, "pantau.no_scope")
        return
    if found.unknown_post:
        await reply(update, context, "reports.unknown_post", post=wanted.post_code)
        return
    label = _filter_label(context, wanted)
    if found.total == 0:
        await reply(update, context, "desk.list_empty", filter=label)
        return
    first = (found.page - 1) * ISSUES_PER_PAGE + 1
    await reply(
        update,
        context,
        "desk.list_title",
        filter=label,
        total=found.total,
        first=first,
        last=first + len(found.cards) - 1,
    )
    for card in found.cards:
        await reply(
            update,
            context,
            "common.raw",
            _card_markup(context, card),
            text=desk.card_text(context.lang, card),
        )
    if found.page < found.pages:
        more = buttons(
            [[(context.t("desk.more_button"), f"{LIST_PREFIX}{token}:{found.page + 1}")]]
        )
        await reply(update, context, "desk.more", more, page=found.page, pages=found.pages)


async def laporan(update: Update, context: PoskoContext) -> None:
    member = context.me()
    if not require(context, Role.SUPERVISOR):
        # The refusal points officers to /lapor and /laporanku.
        await reply(update, context, "desk.only_supervisors")
        return
    word = command_args(update.effective_message)
    if "/" in word:  # a reference: /laporan KBJ-01/0042
        ref = word.split()[0][:40]
        found = await evidence.whole(context.runtime.database, member, ref)
        if found is None:
            await reply(update, context, "desk.unknown_ref", ref=ref)
            return
        card = found.card
        history = await with_forwards(context, card, found.events)
        lines = [desk.card_text(context.lang, card), "", *history]
        text = "\n".join(lines)
        await reply(update, context, "common.raw", _card_markup(context, card), text=text)
        await _send_evidence(update, context, card, found.items)
        return
    wanted = desk.parse_filter(word)
    if wanted is None:
        await reply(update, context, "desk.usage")
        return
    await _send_page(update, context, wanted, 1)


# --- buttons --------------------------------------------------------------------------------


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    context.me()
    data = query.data
    if data.startswith(ISSUE_CALLBACK):
        await _issue_button(update, context, data.removeprefix(ISSUE_CALLBACK))
    elif data.startswith(LIST_PREFIX):
        await _list_button(update, context, data.removeprefix(LIST_PREFIX))
    elif data.startswith(EVIDENCE_PREFIX):
        await _evidence_button(update, context, data.removeprefix(EVIDENCE_PREFIX))
    else:
        await query.answer(context.t("common.stale_button"), show_alert=True)


async def _list_button(update: Update, context: PoskoContext, raw: str) -> None:
    query = update.callback_query
    assert query is not None
    token, _, page = raw.partition(":")
    wanted = desk.parse_filter(token) if token else None
    if not require(context, Role.SUPERVISOR):
        await query.answer(context.t("desk.not_allowed"), show_alert=True)
        return
    number = callback_id(page)
    if wanted is None or number is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    await _send_page(update, context, wanted, number)


async def _evidence_button(update: Update, context: PoskoContext, raw: str) -> None:
    """📎 on a card: its album and pin, for a supervisor or admin whose subtree holds it."""
    query = update.callback_query
    assert query is not None
    issue_id = callback_id(raw)
    if issue_id is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    found = None
    if require(context, Role.SUPERVISOR):
        found = await evidence.evidence_of(context.runtime.database, context.me(), issue_id)
    if found is None:
        await query.answer(context.t("desk.not_allowed"), show_alert=True)
        return
    if not evidence.has_evidence(found.card):
        await query.answer(context.t("evidence.none", ref=found.card.issue.ref), show_alert=True)
        return
    await query.answer()
    await _send_evidence(update, context, found.card, found.items)


async def _issue_button(update: Update, context: PoskoContext, raw: str) -> None:
    query = update.callback_query
    assert query is not None
    member = context.me()
    runtime = context.runtime
    issue_raw, _, action = raw.partition(":")
    issue_id = callback_id(issue_raw)
    if issue_id is None or action not in desk.MOVES:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    origin = None
    if query.message is not None:
        origin = (query.message.chat.id, query.message.message_id)
    result = await desk.press(
        runtime.database,
        member,
        issue_id,
        action,
        runtime.clock.now(),
        origin,
        runtime.settings.reports.follow_up_after,
    )
    card = result.card
    if result.verdict is Verdict.DONE and card is not None:
        await query.answer(context.t(f"desk.toast_{action}", ref=card.issue.ref))
        await edit_message(query, desk.card_text(context.lang, card), _card_markup(context, card))
    elif result.verdict is Verdict.NEEDS_NOTE and card is not None:
        await _ask_note(update, context, result)
    elif result.verdict is Verdict.MOVED and card is not None:
        await query.answer(_moved_text(context, card), show_alert=True)
        await edit_message(query, desk.card_text(context.lang, card), _card_markup(context, card))
    elif result.verdict is Verdict.BUSY:
        await query.answer(context.t("desk.busy"), show_alert=True)
    elif result.verdict is Verdict.NOT_ALLOWED:
        await query.answer(context.t("desk.not_allowed"), show_alert=True)
    else:
        await query.answer(context.t("common.stale_button"), show_alert=True)


def _moved_text(context: PoskoContext, card: IssueCard) -> str:
    return context.t(
        "desk.moved",
        ref=card.issue.ref,
        status=context.t(f"issue_status.{card.issue.status}"),
        by=desk.moved_by(context.lang, card),
    )


async def _ask_note(update: Update, context: PoskoContext, result: DeskResult) -> None:
    """The prompt goes to the member's private chat, also when the button was in a group."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None and result.card is not None
    text = context.t(
        f"desk.ask_note_{result.action}", ref=result.card.issue.ref, limit=desk.MAX_NOTE
    )
    try:
        await context.bot.send_message(user.id, text)
    except (Forbidden, BadRequest):
        await desk.cancel_note(context.runtime.database, context.me())
        await query.answer(context.t("desk.open_private"), show_alert=True)
        return
    in_group = query.message is not None and query.message.chat.type != ChatType.PRIVATE
    await query.answer(context.t("desk.continue_private") if in_group else None)


# --- the note after resolve / reject ----------------------------------------------------------


async def take_text(update: Update, context: PoskoContext) -> bool:
    """A plain text that is the awaited note of a resolve or reject; False if none awaited."""
    message = update.effective_message
    if message is None or message.text is None or context.member is None:
        return False
    member = context.member
    runtime = context.runtime
    result = await desk.give_note(
        runtime.database,
        member,
        message.text,
        runtime.clock.now(),
        runtime.settings.reports.follow_up_after,
    )
    if result is None:
        return False
    card = result.card
    ref = card.issue.ref if card is not None else "-"
    verdict = result.verdict
    if verdict is Verdict.DONE and card is not None:
        await reply(update, context, f"desk.done_{result.action}", ref=ref)
        if result.origin is not None:
            await _refresh_origin(context, result.origin, card)
    elif verdict is Verdict.TOO_LONG:
        await reply(update, context, "desk.note_too_long", limit=desk.MAX_NOTE)
    elif verdict is Verdict.EMPTY:
        await reply(update, context, f"desk.ask_note_{result.action}", ref=ref, limit=desk.MAX_NOTE)
    elif verdict is Verdict.CANCELLED:
        await reply(update, context, "desk.note_cancelled", ref=ref)
    elif verdict is Verdict.MOVED and card is not None:
        await reply(
            update,
            context,
            "desk.note_stale",
            ref=ref,
            status=context.t(f"issue_status.{card.issue.status}"),
            by=desk.moved_by(context.lang, card),
        )
    elif verdict is Verdict.NOT_ALLOWED:
        await reply(update, context, "desk.note_not_allowed", ref=ref)
    else:
        await reply(update, context, "common.stale_button")
    return True


async def _refresh_origin(context: PoskoContext, origin: tuple[int, int], card: IssueCard) -> None:
    """Show the final state on the card whose button asked for the note (best effort)."""
    chat_id, message_id = origin
    try:
        await context.bot.edit_message_text(
            desk.card_text(context.lang, card),
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=_card_markup(context, card),
        )
    except TelegramError as exc:
        log.debug("could not refresh issue card %s/%s: %s", chat_id, message_id, exc)
