"""Shared by every conversation area: the context type, the gate and reply helpers."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, NetworkError
from telegram.ext import Application, ApplicationHandlerStop, BaseHandler, CallbackContext, ExtBot

from bot.core.access import Role, has_role
from bot.core.i18n import label, t
from bot.core.runtime import Runtime
from bot.core.scope import Scope, power_scope, scope_area_ids
from bot.delivery import replies
from storage.db import Tx
from storage.records import Member

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True, slots=True)
class Room:
    """A posko bersama group bound to areas (/grup): what /pantau, /peta and /rekap show
    when asked there (the whole subtree of those areas), and its name."""

    area_ids: frozenset[int]
    name: str


class PoskoContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The PTB context plus the member behind the update, resolved once by the gate."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.member: Member | None = None
        self.lang: str = "id"
        self.room: Room | None = None
        """Set by the gate for a command or button in a group bound to an area."""

    @property
    def runtime(self) -> Runtime:
        runtime = self.application.bot_data["runtime"]
        assert isinstance(runtime, Runtime)
        return runtime

    def t(self, key: str, **values: object) -> str:
        return t(self.lang, key, **values)

    def label(self, group: str, name: str) -> str:
        return label(self.lang, group, name)

    def me(self) -> Member:
        """The member; handlers behind the gate may rely on it being there."""
        if self.member is None:
            raise ApplicationHandlerStop
        return self.member


async def viewing_scope(tx: Tx, context: PoskoContext) -> Scope:
    """What an overview may show: in a bound group the group's subtree, as far as the
    member may see it (never more than in private); elsewhere the member's own scope
    (None: everywhere)."""
    own = await scope_area_ids(tx, context.me())
    if context.room is None:
        return own
    room = set(context.room.area_ids)
    return room if own is None else room & own


def require(context: PoskoContext, role: Role) -> bool:
    return has_role(context.member, role)


async def power_reach(context: PoskoContext, power: str) -> Scope:
    """Where the member may use ``power`` (``[powers]``): None everywhere (admins), the
    area ids of their subtree, or an empty set (not at all)."""
    runtime = context.runtime
    async with runtime.database.read() as tx:
        return await power_scope(tx, context.member, runtime.settings.powers.levels()[power])


def refused(reach: Scope) -> bool:
    return reach is not None and not reach


async def reply(
    update: Update, context: PoskoContext, key: str, markup: Markup | None = None, **values: object
) -> Message | None:
    return await say(update, context, context.t(key, **values), markup)


async def say(
    update: Update, context: PoskoContext, text: str, markup: Markup | None = None
) -> Message | None:
    """Answer in the chat the update came from. When Telegram cannot be reached now the
    answer goes to the outbox, whose sender delivers it once it can (a timed-out send that
    did arrive is then repeated: a second answer beats none); one Telegram refused is not."""
    message = update.effective_message
    if message is None:
        return None
    try:
        return await message.reply_text(text, reply_markup=markup)
    except BadRequest:
        raise
    except NetworkError as exc:
        log.warning("reply to chat %s not sent now (%s); queued", message.chat_id, exc)
        topic = message.message_thread_id if message.is_topic_message else None
        await replies.later(
            context.runtime,
            message.chat_id,
            topic,
            text,
            None if markup is None else markup.to_dict(),
        )
        return None


async def answer(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    await query.answer(text, show_alert=alert)


def buttons(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def grid(items: list[tuple[str, str]], per_row: int = 2) -> list[list[tuple[str, str]]]:
    return [items[i : i + per_row] for i in range(0, len(items), per_row)]


def command_args(message: Message | None) -> str:
    """Everything after the command word, with its original spacing inside."""
    if message is None or not message.text:
        return ""
    parts = message.text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


_ID = re.compile(r"[0-9]{1,18}")


def callback_id(raw: str) -> int | None:
    """An id from callback data, which a tampered client can set to anything: ASCII digits
    only ('²'.isdigit() is true but int('²') fails) and small enough for SQLite."""
    return int(raw) if _ID.fullmatch(raw) else None


async def drop_buttons(query: CallbackQuery) -> None:
    """Remove a message's buttons once used; a double tap (already removed) is no error."""
    if query.message is None:
        return
    try:
        await query.edit_message_reply_markup(None)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("could not remove buttons: %s", exc)


async def edit_message(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Replace a message's text and buttons; an unchanged message is not an error."""
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("could not edit message: %s", exc)


async def drop_pressed_button(query: CallbackQuery) -> None:
    """Remove only the pressed button from a message that carries several (a list of
    alerts, each with its own take); the whole keyboard when it was the last."""
    message = query.message
    markup = getattr(message, "reply_markup", None)
    if not isinstance(markup, InlineKeyboardMarkup):
        await drop_buttons(query)
        return
    rows = [
        [button for button in row if button.callback_data != query.data]
        for row in markup.inline_keyboard
    ]
    rows = [row for row in rows if row]
    if not rows:
        await drop_buttons(query)
        return
    try:
        await query.edit_message_reply_markup(InlineKeyboardMarkup(rows))
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("could not remove a button: %s", exc)


def put_first(
    app: Application[Any, Any, Any, Any, Any, Any], handlers: list[BaseHandler[Any, Any, Any]]
) -> None:
    """Put a conversation area's handlers at the head of group 0, ahead of the catch-alls
    (unknown command, stale button), whenever it is wired; a callback already there is not
    added twice, so wiring twice changes nothing."""
    group: list[BaseHandler[Any, Any, Any]] = app.handlers.setdefault(0, [])
    known = {getattr(handler, "callback", None) for handler in group}
    fresh = [handler for handler in handlers if getattr(handler, "callback", None) not in known]
    for handler in fresh:
        app.add_handler(handler, group=0)
    group = app.handlers[0]
    for handler in fresh:
        group.remove(handler)
    group[0:0] = fresh
