"""Field reports: the guided /lapor flow, the one-shot form and /batal (/laporanku and the
corrections are in handlers/myreports.py)."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardRemove, Update
from telegram.error import TelegramError

from bot.core.logs import bind
from bot.reports import corrections, desk, disposisi, filing
from bot.reports.filing import Outcome, Problem, ReportDraft, Step
from handlers.common import (
    PoskoContext,
    buttons,
    callback_id,
    command_args,
    drop_buttons,
    grid,
    reply,
)
from storage.records import SEVERITIES, Post

log = logging.getLogger(__name__)

PREFIX = "rp:"
MAX_SUMMARY_TEXT = 300


def _category_list(context: PoskoContext) -> str:
    """What to type after /lapor: the key, and its name where that differs (English)."""
    shown = []
    for name in context.runtime.settings.reports.categories:
        words = context.label("category", name)
        same = words.lower().replace(" ", "_") == name
        shown.append(name if same else f"{name} ({words})")
    return ", ".join(shown)


def _cancel_row(context: PoskoContext) -> list[tuple[str, str]]:
    return [(context.t("report.cancel_button"), f"{PREFIX}cancel")]


def _category_markup(context: PoskoContext) -> InlineKeyboardMarkup:
    items = [
        (context.label("category", name), f"{PREFIX}cat:{name}")
        for name in context.runtime.settings.reports.categories
    ]
    return buttons([*grid(items), _cancel_row(context)])


def _severity_markup(context: PoskoContext) -> InlineKeyboardMarkup:
    items = [(context.t(f"severity.{name}"), f"{PREFIX}sev:{name}") for name in SEVERITIES]
    return buttons([*grid(items), _cancel_row(context)])


def _post_markup(context: PoskoContext, choices: tuple[Post, ...]) -> InlineKeyboardMarkup:
    rows = [[(f"{post.code} · {post.name}"[:60], f"{PREFIX}post:{post.id}")] for post in choices]
    return buttons([*rows, _cancel_row(context)])


def _attach_markup(context: PoskoContext) -> InlineKeyboardMarkup:
    return buttons([[(context.t("report.next_button"), f"{PREFIX}next")], _cancel_row(context)])


def _confirm_markup(context: PoskoContext) -> InlineKeyboardMarkup:
    return buttons(
        [
            [
                (context.t("report.send_button"), f"{PREFIX}send"),
                (context.t("report.cancel_button"), f"{PREFIX}cancel"),
            ]
        ]
    )


def _summary(context: PoskoContext, draft: ReportDraft) -> str:
    text = draft.text or ""
    if len(text) > MAX_SUMMARY_TEXT:
        text = text[:MAX_SUMMARY_TEXT] + "…"
    location = context.t("report.yes") if draft.latitude is not None else context.t("report.no")
    return context.t(
        "report.summary",
        post=draft.post_code or "-",
        category=context.label("category", draft.category) if draft.category else "-",
        severity=context.t(f"severity.{draft.severity}") if draft.severity else "-",
        text=text,
        photos=len(draft.photos),
        location=location,
    )


async def _prompt(update: Update, context: PoskoContext, outcome: Outcome) -> None:
    """Show what the current step needs (used after every move and to re-ask)."""
    draft = outcome.draft
    if draft is None:
        await reply(update, context, "report.no_draft")
        return
    if draft.step is Step.POST:
        await reply(update, context, "report.ask_post", _post_markup(context, outcome.choices))
    elif draft.step is Step.CATEGORY:
        await reply(
            update, context, "report.ask_category", _category_markup(context), post=draft.post_code
        )
    elif draft.step is Step.SEVERITY:
        await reply(update, context, "report.ask_severity", _severity_markup(context))
    elif draft.step is Step.TEXT:
        await reply(
            update,
            context,
            "report.ask_text",
            ReplyKeyboardRemove(),
            limit=context.runtime.settings.reports.max_text,
        )
    elif draft.step is Step.ATTACH:
        await reply(update, context, "report.ask_attach", _attach_markup(context))
    else:
        await reply(
            update, context, "common.raw", _confirm_markup(context), text=_summary(context, draft)
        )


async def _problem(update: Update, context: PoskoContext, outcome: Outcome) -> None:
    problem = outcome.problem
    assert problem is not None
    if problem is Problem.WRONG_STEP:
        await reply(
            update,
            context,
            f"report.wrong_step_{outcome.draft.step.value}" if outcome.draft else "report.no_draft",
        )
        return
    await reply(
        update,
        context,
        f"report.problem_{problem.value}",
        limit=context.runtime.settings.reports.max_text,
        max_photos=context.runtime.settings.reports.max_photos,
        categories=_category_list(context),
    )


def _filed(outcome: Outcome) -> None:
    issue = outcome.issue
    assert issue is not None
    bind(post=issue.ref.split("/")[0])
    log.info(
        "report filed ref=%s category=%s severity=%s photos=%s",
        issue.ref,
        issue.category,
        issue.severity,
        issue.photo_count,
    )


EMERGENCY_WORDS = frozenset({"darurat", "emergency"})
EMERGENCY_CATEGORY = "lainnya"


def _emergency_category(words: str, categories: list[str]) -> tuple[str, str]:
    """The category of an emergency one-shot: its first word when that names one exactly,
    else 'lainnya' (the officer can correct it from /laporanku)."""
    first, _, rest = words.partition(" ")
    if first.lower() in categories and rest.strip():
        return first.lower(), rest
    fallback = EMERGENCY_CATEGORY if EMERGENCY_CATEGORY in categories else categories[-1]
    return fallback, words


async def _one_shot(
    update: Update, context: PoskoContext, category: str, text: str, severity: str
) -> None:
    runtime = context.runtime
    outcome = await filing.one_shot(
        runtime.database,
        context.me(),
        category,
        text,
        runtime.settings.reports.max_text,
        runtime.clock.now(),
        runtime.watcher,
        severity,
    )
    if outcome.issue is None and outcome.draft is not None:
        # Several posts and on duty at none: the text is kept until the post is chosen.
        await reply(
            update,
            context,
            "reports.ask_post_for_text",
            _post_markup(context, outcome.choices),
            severity=context.t(f"severity.{severity}"),
        )
        return
    if outcome.issue is None:
        if severity == "darurat" and outcome.problem is Problem.EMPTY:
            await reply(update, context, "reports.darurat_usage")
        else:
            await _problem(update, context, outcome)
        return
    _filed(outcome)
    await _tell_filed(update, context, outcome)


async def _tell_filed(update: Update, context: PoskoContext, outcome: Outcome) -> None:
    """Every filed report says its severity and where to follow (or correct) it."""
    issue = outcome.issue
    assert issue is not None
    key = "reports.filed_darurat" if issue.severity == "darurat" else "reports.filed"
    await reply(
        update,
        context,
        key,
        None,
        ref=issue.ref,
        severity=context.t(f"severity.{issue.severity}"),
        category=context.label("category", issue.category),
    )


async def darurat(update: Update, context: PoskoContext) -> None:
    """/darurat <teks>: an emergency report in one message, announced at once."""
    context.me()
    words = command_args(update.effective_message)
    if not words:
        await reply(update, context, "reports.darurat_usage")
        return
    category, text = _emergency_category(words, context.runtime.settings.reports.categories)
    await _one_shot(update, context, category, text, "darurat")


async def lapor(update: Update, context: PoskoContext) -> None:
    member = context.me()
    runtime = context.runtime
    now = runtime.clock.now()
    args = command_args(update.effective_message)
    unfinished = await filing.current(runtime.database, member)
    if args:
        word, _, text = args.partition(" ")
        categories = runtime.settings.reports.categories
        if word.lower() in EMERGENCY_WORDS:
            if not text.strip():
                await reply(update, context, "reports.darurat_usage")
                return
            emergency, rest = _emergency_category(text, categories)
            await _one_shot(update, context, emergency, rest, "darurat")
            return
        named = filing.match_category(word, categories)
        if named is not None:
            await _one_shot(update, context, named, text, filing.ONE_SHOT_SEVERITY)
            return
        if unfinished is not None and unfinished.step is not Step.POST:
            await reply(update, context, "reports.finish_first")
            return
        # No category named: keep the text, ask for the category with buttons.
        outcome = await filing.one_shot_without_category(
            runtime.database, member, args, runtime.settings.reports.max_text, now
        )
        if outcome.problem is not None or outcome.draft is None:
            await _problem(update, context, outcome)
            return
        if outcome.draft.step is Step.CATEGORY:
            await reply(
                update,
                context,
                "reports.ask_category_for_text",
                _category_markup(context),
                post=outcome.draft.post_code,
                severity=context.t(f"severity.{filing.ONE_SHOT_SEVERITY}"),
            )
        else:
            await _prompt(update, context, outcome)
        return
    if unfinished is not None and unfinished.step is not Step.POST:
        # Never throw away a half-written report: carry on where it stopped.
        await reply(update, context, "report.resume")
        await _prompt(update, context, Outcome(draft=unfinished))
        return
    outcome = await filing.start(runtime.database, member, now)
    if outcome.problem is not None:
        await _problem(update, context, outcome)
        return
    await _prompt(update, context, outcome)


async def batal(update: Update, context: PoskoContext) -> None:
    member = context.me()
    db = context.runtime.database
    # A supervisor's pending note is cancelled as a note, not as "the report".
    if await desk.cancel_note(db, member):
        await reply(update, context, "desk.note_dropped", ReplyKeyboardRemove())
        return
    if await disposisi.cancel_notes(db, member):
        await reply(update, context, "disposisi.cancelled", ReplyKeyboardRemove())
        return
    if await corrections.cancel_note(db, member):
        await reply(update, context, "reports.note_dropped", ReplyKeyboardRemove())
        return
    if await corrections.stop_photos(db, member):
        await reply(update, context, "reports.photos_done", ReplyKeyboardRemove())
        return
    cancelled = await filing.cancel(db, member)
    key = "report.cancelled" if cancelled else "report.nothing_to_cancel"
    await reply(update, context, key, ReplyKeyboardRemove())


async def button(update: Update, context: PoskoContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    member = context.me()
    runtime = context.runtime
    db = runtime.database
    now = runtime.clock.now()
    action, _, value = query.data.removeprefix(PREFIX).partition(":")
    if action == "cancel":
        await filing.cancel(db, member)
        await query.answer()
        await drop_buttons(query)
        await reply(update, context, "report.cancelled")
        return
    if action == "post" and callback_id(value) is not None:
        outcome = await filing.choose_post(db, member, int(value), now, runtime.watcher)
    elif action == "cat":
        outcome = await filing.choose_category(
            db, member, value, runtime.settings.reports.categories, now, runtime.watcher
        )
    elif action == "sev":
        outcome = await filing.choose_severity(db, member, value, now)
    elif action == "next":
        outcome = await filing.to_confirm(db, member, now)
    elif action == "send":
        outcome = await filing.submit(db, member, now, runtime.watcher)
    else:
        outcome = Outcome(problem=Problem.BAD_CHOICE)
    if outcome.problem is not None:
        await query.answer(context.t("common.stale_button"), show_alert=True)
        return
    await query.answer()
    await drop_buttons(query)
    if outcome.issue is not None:
        _filed(outcome)
        await _tell_filed(update, context, outcome)
        return
    await _prompt(update, context, outcome)


async def text(update: Update, context: PoskoContext) -> bool:
    """A plain text while a report is being written; False when there is no draft."""
    member = context.me()
    runtime = context.runtime
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = await filing.current(runtime.database, member)
    if draft is None:
        return False
    if draft.step is not Step.TEXT:
        await reply(update, context, f"report.wrong_step_{draft.step.value}")
        return True
    outcome = await filing.give_text(
        runtime.database,
        member,
        message.text,
        runtime.settings.reports.max_text,
        runtime.clock.now(),
    )
    if outcome.problem is not None:
        await _problem(update, context, outcome)
        return True
    await _prompt(update, context, outcome)
    return True


def _media(message: Message) -> filing.Media | None:
    """The attachable part of a message: a photo, a picture or video sent as a file, a video."""
    kind: str | None = None
    file_id = ""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        kind, file_id = filing.PHOTO, largest.file_id
    elif message.video is not None:
        kind, file_id = filing.VIDEO, message.video.file_id
    elif message.document is not None:
        mime = (message.document.mime_type or "").lower()
        if mime.startswith("image/"):
            kind, file_id = filing.IMAGE, message.document.file_id
        elif mime.startswith("video/"):
            kind, file_id = filing.VIDEO, message.document.file_id
    if kind is None:
        return None
    return filing.Media(file_id, kind, message.caption, message.media_group_id)


async def _photo_added(update: Update, context: PoskoContext, added: corrections.Added) -> None:
    """A photo for an own open report (the 📷 step of /laporanku REF)."""
    card = added.result.card
    ref = card.issue.ref if card is not None else "-"
    verdict = added.result.verdict
    if verdict is corrections.Fix.DONE:
        await reply(update, context, "reports.photo_appended", ref=ref, count=added.count)
    elif verdict is corrections.Fix.FULL:
        await reply(update, context, "reports.photos_full", ref=ref, count=added.count)
    else:
        await reply(update, context, "reports.photos_closed", ref=ref)


async def photo(update: Update, context: PoskoContext) -> None:
    """A photo, video or document: attached to the report being written, else explained."""
    member = context.me()
    runtime = context.runtime
    message = update.effective_message
    assert message is not None
    media = _media(message)
    if media is not None:
        added = await corrections.add_photo(
            runtime.database, member, media.file_id, media.kind,
            runtime.settings.reports.max_photos, runtime.clock.now(),
        )  # fmt: skip
        if added is not None:
            await _photo_added(update, context, added)
            return
    if media is None:
        draft = await filing.current(runtime.database, member)
        if draft is None:
            await reply(update, context, "common.unsupported")
        else:
            await reply(update, context, "reports.media_not_accepted", _attach_markup(context))
        return
    settings = runtime.settings.reports
    now = runtime.clock.now()
    outcome = await filing.add_media(
        runtime.database, member, media, settings.max_photos, settings.max_text, now
    )
    if outcome.problem is Problem.NO_DRAFT:
        await reply(update, context, "report.photo_without_report")
        return
    if outcome.quiet:
        return
    if outcome.problem is not None:
        await _problem(update, context, outcome)
        return
    draft = outcome.draft
    if draft is None:
        return
    text = context.t("report.photo_added", count=len(draft.photos))
    if outcome.caption_added:
        text = f"{text}\n{context.t('reports.caption_added')}"
    if outcome.new_photo:
        sent = await reply(update, context, "common.raw", _attach_markup(context), text=text)
        if sent is not None and media.media_group is not None:
            await filing.remember_album_reply(
                runtime.database, member, media.media_group, sent.message_id, now
            )
    elif outcome.album_reply is not None and message.chat is not None:
        # The album's one reply counts every photo of it.
        try:
            await context.bot.edit_message_text(
                text,
                chat_id=message.chat.id,
                message_id=outcome.album_reply,
                reply_markup=_attach_markup(context),
            )
        except TelegramError as exc:
            log.debug("could not update the album reply: %s", exc)


async def location(update: Update, context: PoskoContext) -> None:
    member = context.me()
    runtime = context.runtime
    message = update.effective_message
    assert message is not None and message.location is not None
    outcome = await filing.add_location(
        runtime.database,
        member,
        message.location.latitude,
        message.location.longitude,
        runtime.clock.now(),
    )
    if outcome.problem is not None:
        await _problem(update, context, outcome)
        return
    await reply(update, context, "report.location_added", _attach_markup(context))
