"""The admin's people in chat: /petugas (add an officer, assign, move, remove an
assignment) and moving a registered member to a new Telegram account (lost phone) after
/undang.

Callback data: ``ad:rb:<member id>`` (issue a code that rebinds the member), ``ad:no``
(cancel that), ``ad:ok:<change id>`` / ``ad:x:<change id>`` (save / cancel a /petugas
change), ``ad:iv:<member id>`` (invite the officer just added). Every command and button
checks the role on the server.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.core.access import Role
from bot.core.clock import day_hhmm
from bot.exchange.member_rows import Problem
from bot.presence import staffing
from bot.presence.registration import Invitation, deep_link, invite_member
from bot.presence.staffing import Outcome, Plan, Status
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    drop_buttons,
    put_first,
    reply,
    require,
)
from storage import members
from storage.records import Member

App = Application[Any, Any, Any, Any, Any, Any]

PREFIX = "ad:"
REBIND_PREFIX = "ad:rb:"
CANCEL = "ad:no"
SAVE_PREFIX = "ad:ok:"
DROP_PREFIX = "ad:x:"
INVITE_PREFIX = "ad:iv:"


def invite_text(context: PoskoContext, invitation: Invitation, rebind: bool = False) -> str:
    text = context.t(
        "invite.created",
        name=invitation.member.name,
        ref=invitation.member.ref,
        code=invitation.code,
        expires=day_hhmm(invitation.expires_at),
        link=deep_link(context.runtime.bot_username, invitation.code),
    )
    if rebind:
        text += "\n\n" + context.t("people.rebind_note")
    return text


async def ask_rebind(update: Update, context: PoskoContext, target: Member) -> None:
    """/undang for a member who is already registered: confirm the move first."""
    markup = buttons(
        [
            [
                (context.t("people.rebind_button"), f"{REBIND_PREFIX}{target.id}"),
                (context.t("people.cancel_button"), CANCEL),
            ]
        ]
    )
    await reply(update, context, "people.rebind_confirm", markup, name=target.name, ref=target.ref)


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None
    member = context.me()
    if not require(context, Role.ADMIN):
        await query.answer(context.t("admin.only"), show_alert=True)
        return
    data = query.data or ""
    if data == CANCEL:
        await query.answer(context.t("people.cancelled"))
        await drop_buttons(query)
        return
    actions = (
        (SAVE_PREFIX, _save),
        (DROP_PREFIX, _drop),
        (INVITE_PREFIX, _invite_new),
        (REBIND_PREFIX, _rebind),
    )
    for prefix, action in actions:
        if data.startswith(prefix):
            number = callback_id(data.removeprefix(prefix))
            if number is not None:
                await action(update, context, member, number)
                return
    await query.answer(context.t("common.stale_button"), show_alert=True)


async def _send(update: Update, context: PoskoContext, text: str, markup: Any = None) -> None:
    query = update.callback_query
    if query is not None and query.message is not None:
        await context.bot.send_message(query.message.chat.id, text, reply_markup=markup)


async def _rebind(update: Update, context: PoskoContext, member: Member, target_id: int) -> None:
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    now = runtime.clock.now()
    invitation = await invite_member(
        runtime.database,
        target_id,
        now,
        runtime.settings.invites.expiry,
        rebind=True,
        actor_id=member.id,
    )
    if invitation is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    await _send(update, context, invite_text(context, invitation, rebind=True))


async def _invite_new(
    update: Update, context: PoskoContext, member: Member, target_id: int
) -> None:
    """The step after adding an officer: the invite code to forward to them."""
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    async with runtime.database.read() as tx:
        target = await members.by_id(tx, target_id)
    if target is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    if target.telegram_id is not None:
        await query.answer(context.t("people.invite_registered", name=target.name), show_alert=True)
        return
    now = runtime.clock.now()
    invitation = await invite_member(
        runtime.database, target_id, now, runtime.settings.invites.expiry, actor_id=member.id
    )
    if invitation is None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    await _send(update, context, invite_text(context, invitation))


# --- /petugas ---------------------------------------------------------------------------------


def _posts(context: PoskoContext, codes: tuple[str, ...]) -> str:
    return ", ".join(codes) if codes else context.t("people.no_post")


def problems_text(context: PoskoContext, problems: tuple[Problem, ...]) -> str:
    lines = [context.t("people.problems_title")]
    for problem in problems:
        field = context.t(f"people.field_{problem.column}")
        lines.append(f"• {field}: " + context.t(f"member_row.{problem.code}", **problem.values))
    lines.append(context.t("people.problems_hint"))
    return "\n".join(lines)


def _plan_text(context: PoskoContext, plan: Plan) -> str:
    """Why a /petugas change cannot be made (anything but READY)."""
    args = plan.args
    name = plan.row.name if plan.row is not None else args.get("ref", "")
    ref = plan.row.ref if plan.row is not None else args.get("ref", "")
    if plan.status is Status.PROBLEMS:
        return problems_text(context, plan.problems)
    if plan.status is Status.UNKNOWN_MEMBER:
        return context.t("people.unknown_member", ref=ref)
    if plan.status is Status.EXISTS:
        return context.t("people.exists", ref=ref)
    post = args.get("to") if plan.status is Status.ALREADY_ASSIGNED and "to" in args else None
    post = post or args.get("post") or args.get("from", "")
    key = (
        "people.already_assigned"
        if plan.status is Status.ALREADY_ASSIGNED
        else "people.not_assigned"
    )
    return context.t(key, name=name, ref=ref, post=post, posts=_posts(context, plan.before))


def _preview(context: PoskoContext, plan: Plan) -> str:
    row = plan.row
    assert row is not None
    if plan.kind == "add":
        empty = context.t("people.empty")
        head = context.t(
            "people.preview_add",
            name=row.name,
            ref=row.ref,
            nip=row.nip or empty,
            phone=row.phone or empty,
            posts=_posts(context, row.posts),
        )
    else:
        head = context.t(
            f"people.preview_{plan.kind}",
            name=row.name,
            ref=row.ref,
            post=plan.args.get("post", ""),
            source=plan.args.get("from", ""),
            target=plan.args.get("to", ""),
        )
        head += "\n" + context.t(
            "people.preview_posts",
            before=_posts(context, plan.before),
            after=_posts(context, row.posts),
        )
    return head + "\n\n" + context.t("people.preview_press")


async def petugas(update: Update, context: PoskoContext) -> None:
    member = context.me()
    if not require(context, Role.ADMIN):
        await reply(update, context, "admin.only")
        return
    runtime = context.runtime
    text = command_args(update.effective_message)
    plan = await staffing.draft(runtime.database, member.id, text, runtime.clock.now())
    if plan.status is Status.USAGE:
        await reply(update, context, "people.usage")
        return
    if plan.status is not Status.READY or plan.change_id is None:
        await reply(update, context, "common.raw", text=_plan_text(context, plan))
        return
    markup = buttons(
        [
            [
                (context.t("people.save_button"), f"{SAVE_PREFIX}{plan.change_id}"),
                (context.t("people.cancel_button"), f"{DROP_PREFIX}{plan.change_id}"),
            ]
        ]
    )
    await reply(update, context, "common.raw", markup, text=_preview(context, plan))


async def _save(update: Update, context: PoskoContext, member: Member, change_id: int) -> None:
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    decision = await staffing.confirm(
        runtime.database, member.id, change_id, runtime.clock.now(), runtime.watcher
    )
    if decision.outcome is Outcome.STALE:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    plan = decision.plan
    assert plan is not None
    if decision.outcome is Outcome.REFUSED:
        text = context.t("people.changed_meanwhile") + "\n" + _plan_text(context, plan)
        await _send(update, context, text)
        return
    row = plan.row
    assert row is not None and decision.member_id is not None
    posts = _posts(context, row.posts)
    if plan.kind == "add":
        markup = buttons(
            [[(context.t("people.invite_button"), f"{INVITE_PREFIX}{decision.member_id}")]]
        )
        text = context.t("people.added", name=row.name, ref=row.ref, posts=posts)
        await _send(update, context, text, markup)
        return
    text = context.t("people.saved", name=row.name, ref=row.ref, posts=posts)
    if decision.ended_shift_at is not None:
        text += "\n" + context.t("people.saved_shift_ended", post=decision.ended_shift_at)
    await _send(update, context, text)


async def _drop(update: Update, context: PoskoContext, member: Member, change_id: int) -> None:
    query = update.callback_query
    assert query is not None
    runtime = context.runtime
    outcome = await staffing.cancel(runtime.database, member.id, change_id, runtime.clock.now())
    if outcome is not Outcome.CANCELLED:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await query.answer(context.t("people.cancelled"))
    await drop_buttons(query)


def register(app: App) -> None:
    put_first(
        app,
        [
            CommandHandler(["petugas", "officers"], petugas),
            CallbackQueryHandler(button, pattern=f"^{PREFIX}"),
        ],
    )
