"""Admin: /ekspor (alias /export) — shifts, issues, alerts, the roster or its attendance as
a CSV or XLSX document.

``/ekspor <shift|laporan|peringatan|piket|kehadiran> [DARI] [SAMPAI] [csv|xlsx]``; without
dates, the last seven days (WIB); without a format, XLSX. ``/ekspor laporan foto``: a zip of
the issues sheet and every photo (bot/exchange/evidence_zip.py). The file is built in a worker
thread on its own SQLite connection, so the bot keeps answering everyone else meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.core.clock import wib
from bot.exchange.evidence_zip import bot_fetch, export_zip
from bot.exchange.export import (
    ExportError,
    Format,
    Kind,
    Period,
    export,
    file_name,
    looks_like_day,
    parse_day,
    parse_format,
    parse_kind,
)
from handlers.common import (
    PoskoContext,
    command_args,
    power_reach,
    put_first,
    refused,
    reply,
    say,
)
from storage import audit

log = logging.getLogger(__name__)

COMMANDS = ("ekspor", "export")
DEFAULT_DAYS = 7
DEFAULT_FORMAT: Format = "xlsx"
MAX_UPLOAD = 50 * 1024 * 1024  # what the Bot API accepts from a bot
_SLOTS_KEY = "export_slots"
_PARALLEL = 2  # exports built at once; more wait their turn with a polite "busy"


PHOTO_WORDS = frozenset({"foto", "photos", "photo", "zip"})


def _request(words: list[str], now: datetime) -> tuple[Kind, Period, Format]:
    """kind, then up to two days and a format in any order; ExportError when unclear."""
    if not words:
        raise ExportError("usage", "no kind given")
    kind = parse_kind(words[0])
    days: list[date] = []
    fmt: Format = DEFAULT_FORMAT
    for word in words[1:]:
        if word.lower() in ("csv", "xlsx"):
            fmt = parse_format(word)
        elif word.lower() in PHOTO_WORDS and kind == "issues":
            continue  # the zip with photos: see _with_photos
        elif looks_like_day(word) or any(ch.isdigit() for ch in word):
            days.append(parse_day(word))
        else:
            raise ExportError("usage", f"unexpected '{word}'")
    if len(days) > 2:
        raise ExportError("usage", "too many dates")
    if not days:
        return kind, Period.last_days(now, DEFAULT_DAYS), fmt
    until = days[1] if len(days) == 2 else Period.last_days(now, 1).until
    if len(days) == 1 and until is not None and until < days[0]:
        until = days[0]  # a single future day: that day alone
    return kind, Period(days[0], until), fmt


def _slots(context: PoskoContext) -> asyncio.Semaphore:
    slots = context.application.bot_data.get(_SLOTS_KEY)
    if not isinstance(slots, asyncio.Semaphore):
        slots = asyncio.Semaphore(_PARALLEL)
        context.application.bot_data[_SLOTS_KEY] = slots
    return slots


async def ekspor(update: Update, context: PoskoContext) -> None:
    member = context.me()
    # Checked here, whatever menu the person sees: admins export everything, supervisors
    # given the power (``[powers] ekspor``) only the rows of their own subtree.
    reach = await power_reach(context, "ekspor")
    if refused(reach):
        await reply(update, context, "power.only")
        return
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    runtime = context.runtime
    now = runtime.clock.now()
    try:
        kind, period, fmt = _request(command_args(message).split(), now)
    except ExportError as exc:
        key = f"export.bad_{exc.code}" if exc.code in ("date", "range") else "export.usage"
        await say(update, context, context.t(key, **exc.values))
        return
    slots = _slots(context)
    if slots.locked():
        await reply(update, context, "export.busy")
        return
    with_photos = kind == "issues" and any(
        word.lower() in PHOTO_WORDS for word in command_args(message).split()[1:]
    )
    async with slots:
        with contextlib.suppress(TelegramError):  # only a courtesy
            await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
        if with_photos:
            await _send_zip(update, context, period, reach)
            return
        name = file_name(kind, fmt, now)
        with tempfile.TemporaryDirectory(prefix="posko-export-") as folder:
            target = Path(folder) / name
            try:
                rows = await asyncio.to_thread(
                    export,
                    runtime.settings.storage.target,
                    kind,
                    period,
                    fmt,
                    target,
                    context.lang,
                    reach,
                    now,
                )
            except Exception:
                log.exception("export of %s for member %s failed", kind, member.id)
                await reply(update, context, "export.failed")
                return
            size = target.stat().st_size
            if size > MAX_UPLOAD:
                await reply(update, context, "export.too_big", size=f"{size / 1_048_576:.0f}")
                return
            caption = context.t(
                "export.caption",
                kind=context.t(f"export.kind.{kind}"),
                since=_day(period.since),
                until=_day(period.until),
                rows=rows,
            )
            with target.open("rb") as handle:
                await message.reply_document(
                    document=handle,
                    filename=name,
                    caption=caption,
                    read_timeout=120,
                    write_timeout=120,
                )
    async with runtime.database.transaction() as tx:
        await audit.record(
            tx,
            now,
            member.id,
            "export",
            kind,
            None,
            since=_day(period.since),
            until=_day(period.until),
            format=fmt,
            rows=rows,
            subtree=reach is not None,
        )
    log.info("exported %s %s rows of %s for member %s", rows, fmt, kind, member.id)


async def _send_zip(
    update: Update, context: PoskoContext, period: Period, reach: set[int] | None
) -> None:
    """``/ekspor laporan foto``: the issues sheet and every photo (getFile) in one zip."""
    message = update.effective_message
    assert message is not None
    member = context.me()
    runtime = context.runtime
    now = runtime.clock.now()
    name = f"posko-issues-{wib(now).date().isoformat()}.zip"
    with tempfile.TemporaryDirectory(prefix="posko-export-") as folder:
        target = Path(folder) / name
        try:
            result = await export_zip(
                runtime.settings.storage.target,
                period,
                target,
                context.lang,
                bot_fetch(context.bot),
                reach,
            )
        except Exception:
            log.exception("zip export for member %s failed", member.id)
            await reply(update, context, "export.failed")
            return
        size = target.stat().st_size
        if size > MAX_UPLOAD:
            await reply(update, context, "export.too_big", size=f"{size / 1_048_576:.0f}")
            return
        caption = context.t(
            "export.caption_zip",
            since=_day(period.since),
            until=_day(period.until),
            rows=result.rows,
            photos=result.photos,
            missing=result.missing,
        )
        with target.open("rb") as handle:
            await message.reply_document(
                document=handle, filename=name, caption=caption, read_timeout=120, write_timeout=120
            )
    async with runtime.database.transaction() as tx:
        await audit.record(
            tx,
            now,
            member.id,
            "export",
            "issues",
            None,
            since=_day(period.since),
            until=_day(period.until),
            format="zip",
            rows=result.rows,
            photos=result.photos,
            missing=result.missing,
            subtree=reach is not None,
        )
    log.info("exported %s issues, %s photos for %s", result.rows, result.photos, member.id)


def _day(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day is not None else "–"


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    put_first(app, [CommandHandler(list(COMMANDS), ekspor)])
