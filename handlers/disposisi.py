"""Disposisi (SPEC §8): ➡️ Teruskan on a report card, the agency picked, the optional
note, and the liaison's ✅ Terima / 📝 Tindak lanjut / ✔️ Selesai / ↩️ Kembalikan.

Callback data all start with ``fw:``: ``fw:s:<issue>`` (Teruskan), ``fw:a:<issue>:<agency>``
(an agency), ``fw:n:<issue>:<agency>`` (no note), ``fw:x:<forward>:<action>`` (a liaison's
step). Role, agency and scope are checked on the server (bot.reports.disposisi)."""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.reports import disposisi
from bot.reports.disposisi import Outcome, Result
from handlers.common import PoskoContext, buttons, callback_id, edit_message, reply

log = logging.getLogger(__name__)

PREFIX = "fw:"


COMMANDS = ("disposisi", "forwards")
LIST_LIMIT = 10


def register(app: Application[Any, Any, Any, Any, Any, Any], group: int = 0) -> None:
    app.add_handler(CommandHandler(list(COMMANDS), disposisi_command), group)
    app.add_handler(CallbackQueryHandler(button, pattern=f"^{PREFIX}"), group)


async def disposisi_command(update: Update, context: PoskoContext) -> None:
    """A liaison's list: the reports forwarded to their agency within their scope."""
    member = context.me()
    agency, found = await disposisi.liaison_list(context.runtime.database, member, LIST_LIMIT)
    if agency is None:
        await reply(update, context, "disposisi.only_liaisons")
        return
    if not found:
        await reply(update, context, "disposisi.list_empty", agency=agency.name)
        return
    await reply(update, context, "disposisi.list_title", agency=agency.name, count=len(found))
    for forward, card in found:
        rows = disposisi.liaison_rows(context.lang, forward.id, forward.state)
        await reply(
            update,
            context,
            "common.raw",
            buttons(rows) if rows else None,
            text=disposisi.liaison_card(context.lang, forward, card),
        )


def _ids(raw: str, count: int) -> list[int] | None:
    parts = raw.split(":")
    if len(parts) != count:
        return None
    found = [callback_id(part) for part in parts]
    return None if any(value is None for value in found) else [v for v in found if v is not None]


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    context.me()
    data = query.data
    if data.startswith(disposisi.PICK):
        ids = _ids(data.removeprefix(disposisi.PICK), 1)
        if ids is not None:
            await _pick(update, context, ids[0])
            return
    elif data.startswith(disposisi.AGENCY) or data.startswith(disposisi.NO_NOTE):
        prefix = disposisi.AGENCY if data.startswith(disposisi.AGENCY) else disposisi.NO_NOTE
        ids = _ids(data.removeprefix(prefix), 2)
        if ids is not None:
            await _agency(update, context, ids[0], ids[1], ask=prefix == disposisi.AGENCY)
            return
    elif data.startswith(disposisi.STEP):
        forward_raw, _, action = data.removeprefix(disposisi.STEP).partition(":")
        forward_id = callback_id(forward_raw)
        if forward_id is not None and action in disposisi.LIAISON_ACTIONS:
            await _step(update, context, forward_id, action)
            return
    await query.answer(context.t("common.stale_button"), show_alert=True)


async def _private(update: Update, context: PoskoContext, text: str, markup: Any = None) -> bool:
    """Conversations about one forward happen in the member's private chat."""
    user = update.effective_user
    assert user is not None
    try:
        await context.bot.send_message(user.id, text, reply_markup=markup)
    except (Forbidden, BadRequest):
        return False
    return True


def _in_group(query: CallbackQuery) -> bool:
    return query.message is not None and query.message.chat.type != ChatType.PRIVATE


async def _refusal(query: CallbackQuery, context: PoskoContext, result: Result) -> None:
    """A short answer for every outcome that changes nothing."""
    card, agency, forward = result.card, result.agency, result.forward
    ref = card.issue.ref if card is not None else "-"
    if result.outcome is Outcome.NOT_ALLOWED:
        text = context.t("disposisi.not_allowed")
    elif result.outcome is Outcome.NO_AGENCIES:
        text = context.t("disposisi.no_agencies")
    elif result.outcome is Outcome.NO_LIAISON and agency is not None and card is not None:
        text = context.t(
            "disposisi.no_liaison", agency=agency.name, code=agency.code, post=card.post_code
        )
    elif result.outcome is Outcome.ALREADY and agency is not None:
        state = forward.state if forward is not None else "dikirim"
        text = context.t(
            "disposisi.already",
            ref=ref,
            agency=agency.name,
            state=context.t(f"forward_state.{state}"),
        )
    elif result.outcome is Outcome.MOVED and forward is not None:
        text = context.t(
            "disposisi.step_moved", ref=ref, state=context.t(f"forward_state.{forward.state}")
        )
    elif result.outcome is Outcome.MOVED and card is not None:
        status = context.t(f"issue_status.{card.issue.status}")
        text = context.t("disposisi.not_open", ref=ref, status=status)
    elif result.outcome is Outcome.BUSY:
        text = context.t("disposisi.busy")
    else:
        text = context.t("common.stale_button")
    await query.answer(text, show_alert=True)


async def _pick(update: Update, context: PoskoContext, issue_id: int) -> None:
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    member = context.me()
    result = await disposisi.options(
        runtime.database, member, issue_id, runtime.settings.reports.routing
    )
    if result.outcome is not Outcome.DONE or result.card is None:
        await _refusal(query, context, result)
        return
    rows = [
        [
            (
                ("⭐ " if routed else "") + f"{agency.name}",
                f"{disposisi.AGENCY}{issue_id}:{agency.id}",
            )
        ]
        for agency, routed in result.options[:20]
    ]
    text = context.t("disposisi.pick", ref=result.card.issue.ref)
    if not _in_group(query):
        await query.answer()
        await _private(update, context, text, buttons(rows))
        return
    if not await _private(update, context, text, buttons(rows)):
        await query.answer(context.t("desk.open_private"), show_alert=True)
        return
    await query.answer(context.t("desk.continue_private"))


async def _agency(
    update: Update, context: PoskoContext, issue_id: int, agency_id: int, *, ask: bool
) -> None:
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    member = context.me()
    now = runtime.clock.now()
    if ask:
        result = await disposisi.choose(runtime.database, member, issue_id, agency_id, now)
    else:
        result = await disposisi.send(
            runtime.database, member, issue_id, agency_id, None, now,
            runtime.settings.watch.escalate_after, runtime.settings.reports.follow_up_after,
        )  # fmt: skip
    card, agency = result.card, result.agency
    if result.outcome is Outcome.NEEDS_NOTE and card is not None and agency is not None:
        no_note = [
            [(context.t("disposisi.no_note_button"), f"{disposisi.NO_NOTE}{issue_id}:{agency_id}")]
        ]
        text = context.t(
            "disposisi.ask_note", ref=card.issue.ref, agency=agency.name, limit=disposisi.MAX_NOTE
        )
        await edit_message(query, text, buttons(no_note))
        await query.answer()
        return
    if result.outcome is Outcome.DONE and card is not None and agency is not None:
        await edit_message(query, _sent_text(context, result), None)
        await query.answer(context.t("disposisi.toast_sent", agency=agency.name))
        return
    await _refusal(query, context, result)


def _sent_text(context: PoskoContext, result: Result) -> str:
    assert result.card is not None and result.agency is not None
    names = ", ".join(liaison.name for liaison in result.liaisons) or "-"
    return context.t(
        "disposisi.sent", ref=result.card.issue.ref, agency=result.agency.name, names=names
    )


def _liaison_markup(context: PoskoContext, result: Result) -> InlineKeyboardMarkup | None:
    if result.forward is None:
        return None
    rows = disposisi.liaison_rows(context.lang, result.forward.id, result.forward.state)
    return buttons(rows) if rows else None


async def _step(update: Update, context: PoskoContext, forward_id: int, action: str) -> None:
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    member = context.me()
    origin = None
    if query.message is not None:
        origin = (query.message.chat.id, query.message.message_id)
    result = await disposisi.press(
        runtime.database, member, forward_id, action, runtime.clock.now(), origin
    )
    card, forward = result.card, result.forward
    if result.outcome is Outcome.DONE and card is not None and forward is not None:
        if origin is not None and _in_group(query):
            # the room's notice keeps its text (the room hears the step as a new notice)
            await _group_buttons(context, *origin, _liaison_markup(context, result))
        else:
            text = disposisi.liaison_card(context.lang, forward, card)
            await edit_message(query, text, _liaison_markup(context, result))
        await query.answer(context.t("disposisi.toast_ok", ref=card.issue.ref))
        return
    if result.outcome is Outcome.NEEDS_NOTE and card is not None:
        text = context.t(f"disposisi.ask_{action}", ref=card.issue.ref, limit=disposisi.MAX_NOTE)
        if not _in_group(query):
            await query.answer()
            await _private(update, context, text)
            return
        if not await _private(update, context, text):
            await disposisi.cancel_notes(runtime.database, member)
            await query.answer(context.t("desk.open_private"), show_alert=True)
            return
        await query.answer(context.t("desk.continue_private"))
        return
    await _refusal(query, context, result)


async def take_text(update: Update, context: PoskoContext) -> bool:
    """Plain text that is an awaited forward or liaison note; False if none is awaited."""
    message = update.effective_message
    if message is None or message.text is None or context.member is None:
        return False
    runtime = context.runtime
    result = await disposisi.give_note(
        runtime.database,
        context.member,
        message.text,
        runtime.clock.now(),
        runtime.settings.watch.escalate_after,
    )
    if result is None:
        return False
    outcome = result.outcome
    if outcome is Outcome.TOO_LONG:
        await reply(update, context, "disposisi.too_long", limit=disposisi.MAX_NOTE)
    elif outcome is Outcome.EMPTY:
        await reply(update, context, "disposisi.empty")
    elif outcome is Outcome.CANCELLED:
        await reply(update, context, "disposisi.cancelled")
    elif outcome is Outcome.DONE and result.action is None and result.agency is not None:
        await reply(update, context, "common.raw", text=_sent_text(context, result))
    elif outcome is Outcome.DONE and result.card is not None:
        await reply(update, context, f"disposisi.done_{result.action}", ref=result.card.issue.ref)
        if result.origin is not None and result.forward is not None:
            await _refresh(context, result)
    else:
        await _answer_text(update, context, result)
    return True


async def _answer_text(update: Update, context: PoskoContext, result: Result) -> None:
    """The refusals of :func:`_refusal`, as a reply to a text."""
    card, agency, forward = result.card, result.agency, result.forward
    ref = card.issue.ref if card is not None else "-"
    if result.outcome is Outcome.NOT_ALLOWED:
        await reply(update, context, "disposisi.not_allowed")
    elif result.outcome is Outcome.NO_LIAISON and agency is not None and card is not None:
        await reply(
            update, context, "disposisi.no_liaison",
            agency=agency.name, code=agency.code, post=card.post_code,
        )  # fmt: skip
    elif result.outcome is Outcome.ALREADY and agency is not None:
        state = forward.state if forward is not None else "dikirim"
        await reply(
            update, context, "disposisi.already",
            ref=ref, agency=agency.name, state=context.t(f"forward_state.{state}"),
        )  # fmt: skip
    elif result.outcome is Outcome.MOVED and forward is not None:
        await reply(
            update, context, "disposisi.step_moved",
            ref=ref, state=context.t(f"forward_state.{forward.state}"),
        )  # fmt: skip
    elif result.outcome is Outcome.MOVED and card is not None:
        status = context.t(f"issue_status.{card.issue.status}")
        await reply(update, context, "disposisi.not_open", ref=ref, status=status)
    else:
        await reply(update, context, "common.stale_button")


async def _refresh(context: PoskoContext, result: Result) -> None:
    """Show the new state on the card whose button asked for the note (best effort)."""
    assert result.origin is not None and result.forward is not None and result.card is not None
    chat_id, message_id = result.origin
    if chat_id < 0:  # a group's notice: only its buttons follow the new state
        await _group_buttons(context, chat_id, message_id, _liaison_markup(context, result))
        return
    try:
        await context.bot.edit_message_text(
            disposisi.liaison_card(context.lang, result.forward, result.card),
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=_liaison_markup(context, result),
        )
    except TelegramError as exc:
        log.debug("could not refresh forward card %s/%s: %s", chat_id, message_id, exc)


async def _group_buttons(
    context: PoskoContext, chat_id: int, message_id: int, markup: InlineKeyboardMarkup | None
) -> None:
    """The buttons of a group's forward notice follow the forward's state (best effort)."""
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except TelegramError as exc:
        log.debug("could not refresh group buttons %s/%s: %s", chat_id, message_id, exc)
