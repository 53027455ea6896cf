"""The officer's own reports: /laporanku (the latest, or one report with its history) and the
correction buttons, ``rf:<issue_id>:<action>[:<value>]``: ``wd`` (withdraw? asks),
``wdy`` (yes, withdraw), ``keep``, ``cat``/``sev`` (show the choices) and
``cat:<name>``/``sev:<name>`` (set), ``note`` (the next text is a note).
The reporter and the status are checked on the server for every button.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from telegram import InlineKeyboardMarkup, Update

from bot.core.clock import day_hhmm
from bot.reports import corrections, desk, filing, forward_view
from bot.reports.corrections import Fix, FixResult
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    drop_buttons,
    grid,
    reply,
)
from storage.issues import IssueCard, IssueEvent
from storage.records import SEVERITIES

PREFIX = "rf:"
MAX_EVENTS = 12
MAX_EVENT_NOTE = 120


# --- /laporanku ------------------------------------------------------------------------------


async def laporanku(update: Update, context: PoskoContext) -> None:
    member = context.me()
    words = command_args(update.effective_message)
    if words:
        await _show(update, context, words.split()[0][:40])
        return
    found = await filing.mine(context.runtime.database, member)
    if not found:
        await reply(update, context, "report.none_yet")
        return
    lines = [context.t("report.mine_title")]
    for issue in found:
        lines.append(
            context.t(
                "report.mine_line",
                ref=issue.ref,
                category=context.label("category", issue.category),
                severity=context.t(f"severity.{issue.severity}"),
                status=context.t(f"issue_status.{issue.status}"),
                time=day_hhmm(issue.created_at),
            )
        )
    lines += ["", context.t("reports.mine_hint", ref=found[0].ref)]
    await reply(update, context, "common.raw", text="\n".join(lines))


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_EVENT_NOTE else text[: MAX_EVENT_NOTE - 1] + "…"


def _word(context: PoskoContext, field: str, value: str) -> str:
    if field == "category":
        return context.label("category", value)
    return context.t(f"severity.{value}") if value in SEVERITIES else value


def _event_what(context: PoskoContext, event: IssueEvent) -> str:
    if event.kind == "created":
        return context.t("reports.event_created")
    if event.kind == "withdrawn":
        return context.t("reports.event_withdrawn")
    if event.kind == "note":
        return context.t("reports.event_note", note=_trim(event.note or ""))
    if event.kind == "corrected" and event.note and event.note.count(":") == 2:
        field, old, new = event.note.split(":")
        return context.t(
            f"reports.event_corrected_{'category' if field == 'category' else 'severity'}",
            old=_word(context, field, old),
            new=_word(context, field, new),
        )
    if event.kind == "status" and event.to_status:
        status = context.t(f"issue_status.{event.to_status}")
        what = context.t("reports.event_status", status=status)
        return f"{what}: {_trim(event.note)}" if event.note else what
    return event.kind


def timeline(
    context: PoskoContext,
    events: list[IssueEvent],
    extra: Sequence[tuple[datetime, str, str]] = (),
) -> list[str]:
    """A report's history, one line per event (the latest ``MAX_EVENTS``), times in WIB;
    shared by /laporanku REF and the supervisor's /laporan REF. ``extra``: more items
    (when, who, what), such as its forwards' events, merged in time order."""
    lines = [context.t("reports.history_title")]
    items = [(e.at, e.actor_name or "-", _event_what(context, e)) for e in events]
    items = sorted([*items, *extra], key=lambda item: item[0])
    shown = items[-MAX_EVENTS:]
    if len(items) > len(shown):
        lines.append(context.t("reports.history_more", count=len(items) - len(shown)))
    for at, who, what in shown:
        lines.append(context.t("reports.event_line", time=day_hhmm(at), who=who, what=what))
    return lines


async def with_forwards(
    context: PoskoContext, card: IssueCard, events: list[IssueEvent]
) -> list[str]:
    """The forwards section and the timeline with the forwards' events (issue 10)."""
    view = await forward_view.load(context.runtime.database, card.issue.id)
    section = forward_view.section(context.lang, view)
    items = forward_view.timeline_items(context.lang, view)
    return [*section, *([""] if section else []), *timeline(context, events, items)]


def _history(context: PoskoContext, card: IssueCard, lines_after: list[str]) -> str:
    lines = [desk.card_text(context.lang, card), "", *lines_after, ""]
    if corrections.may_correct(card):
        lines.append(context.t("reports.can_correct"))
    elif corrections.may_add_note(card):
        lines.append(context.t("reports.can_add_note"))
    else:
        lines.append(context.t("reports.cannot_correct"))
    return "\n".join(lines)


def _markup(context: PoskoContext, card: IssueCard) -> InlineKeyboardMarkup | None:
    at = f"{PREFIX}{card.issue.id}:"
    if not corrections.may_correct(card):
        if corrections.may_add_note(card):
            return buttons(
                [
                    [
                        (context.t("reports.note_button"), f"{at}note"),
                        (context.t("reports.photos_button"), f"{at}ph"),
                    ]
                ]
            )
        return None
    return buttons(
        [
            [
                (context.t("reports.category_button"), f"{at}cat"),
                (context.t("reports.severity_button"), f"{at}sev"),
            ],
            [
                (context.t("reports.note_button"), f"{at}note"),
                (context.t("reports.photos_button"), f"{at}ph"),
            ],
            [(context.t("reports.withdraw_button"), f"{at}wd")],
        ]
    )


async def _show(update: Update, context: PoskoContext, ref: str) -> None:
    found = await corrections.mine(context.runtime.database, context.me(), ref)
    if found is None:
        await reply(update, context, "reports.unknown_ref", ref=ref)
        return
    card, events = found
    await reply(
        update, context, "common.raw", _markup(context, card),
        text=_history(context, card, await with_forwards(context, card, events)),
    )  # fmt: skip


# --- buttons -----------------------------------------------------------------------------------


async def _refused(update: Update, context: PoskoContext, result: FixResult) -> None:
    """Say why a button did nothing (as an alert on the button)."""
    query = update.callback_query
    assert query is not None
    card = result.card
    if result.verdict is Fix.NOT_NEW and card is not None:
        text = context.t(
            "reports.not_new",
            ref=card.issue.ref,
            status=context.t(f"issue_status.{card.issue.status}"),
        )
    elif result.verdict is Fix.NOT_YOURS:
        text = context.t("reports.not_yours")
    elif result.verdict is Fix.BUSY:
        text = context.t("reports.busy")
    elif result.verdict is Fix.SAME:
        text = context.t("reports.same")
    else:
        text = context.t("common.stale_button")
    await query.answer(text, show_alert=True)


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    member = context.me()
    runtime = context.runtime
    db = runtime.database
    now = runtime.clock.now()
    parts = query.data.removeprefix(PREFIX).split(":")
    issue_id = callback_id(parts[0])
    action = parts[1] if len(parts) > 1 else ""
    value = parts[2] if len(parts) > 2 else None
    if issue_id is None or len(parts) > 3:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    at = f"{PREFIX}{issue_id}:"
    if action in ("wd", "cat", "sev") and value is None:
        found = await corrections.own(db, member, issue_id)
        if found.verdict is not Fix.DONE or found.card is None:
            await _refused(update, context, found)
            return
        ref = found.card.issue.ref
        await query.answer()
        if action == "wd":
            markup = buttons(
                [
                    [
                        (context.t("reports.withdraw_yes"), f"{at}wdy"),
                        (context.t("reports.withdraw_no"), f"{at}keep"),
                    ]
                ]
            )
            await reply(update, context, "reports.confirm_withdraw", markup, ref=ref)
        elif action == "cat":
            items = [
                (context.label("category", name), f"{at}cat:{name}")
                for name in runtime.settings.reports.categories
            ]
            await reply(update, context, "reports.ask_category", buttons(grid(items)), ref=ref)
        else:
            items = [(context.t(f"severity.{name}"), f"{at}sev:{name}") for name in SEVERITIES]
            await reply(update, context, "reports.ask_severity", buttons(grid(items)), ref=ref)
        return
    if action == "keep" and value is None:
        await query.answer()
        await drop_buttons(query)
        await reply(update, context, "reports.kept")
        return
    if action == "wdy" and value is None:
        result = await corrections.withdraw(db, member, issue_id, now)
        done_key = "reports.withdrawn"
    elif action in ("cat", "sev") and value is not None:
        field = "category" if action == "cat" else "severity"
        result = await corrections.correct(
            db,
            member,
            issue_id,
            field,
            value,
            runtime.settings.reports.categories,
            now,
            runtime.watcher,
        )
        done_key = f"reports.corrected_{field}"
    elif action == "note" and value is None:
        result = await corrections.ask_note(db, member, issue_id, now)
        done_key = "reports.ask_note"
    elif action == "ph" and value is None:
        result = await corrections.ask_photos(db, member, issue_id, now)
        done_key = "reports.ask_photos"
    else:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    card = result.card
    if result.verdict not in (Fix.DONE, Fix.NEEDS_NOTE, Fix.NEEDS_PHOTOS) or card is None:
        await _refused(update, context, result)
        return
    await query.answer()
    if action not in ("note", "ph"):  # the card keeps its buttons; a used choice loses them
        await drop_buttons(query)
    words: dict[str, object] = {
        "ref": card.issue.ref,
        "category": context.label("category", card.issue.category),
        "severity": context.t(f"severity.{card.issue.severity}"),
        "limit": corrections.MAX_NOTE,
    }
    await reply(update, context, done_key, None, **words)


# --- the note after the note button ----------------------------------------------------------


async def take_text(update: Update, context: PoskoContext) -> bool:
    """A plain text that is the awaited note on an own report; False if none awaited."""
    message = update.effective_message
    if message is None or message.text is None or context.member is None:
        return False
    runtime = context.runtime
    result = await corrections.give_note(
        runtime.database, context.member, message.text, runtime.clock.now()
    )
    if result is None:
        return False
    ref = result.card.issue.ref if result.card is not None else "-"
    if result.verdict is Fix.DONE:
        await reply(update, context, "reports.note_added", ref=ref)
    elif result.verdict is Fix.EMPTY:
        await reply(update, context, "reports.ask_note", ref=ref, limit=corrections.MAX_NOTE)
    elif result.verdict is Fix.TOO_LONG:
        await reply(update, context, "reports.note_too_long", limit=corrections.MAX_NOTE)
    elif result.verdict is Fix.CANCELLED:
        await reply(update, context, "reports.note_cancelled", ref=ref)
    elif result.verdict is Fix.NOT_NEW and result.card is not None:
        await reply(
            update,
            context,
            "reports.note_not_new",
            ref=ref,
            status=context.t(f"issue_status.{result.card.issue.status}"),
        )
    else:
        await reply(update, context, "common.stale_button")
    return True
