"""Building and running the Application: handlers, lifecycle hooks, error handling.

The one place that wires everything; it decides nothing itself.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.core.clock import Clock, SystemClock
from bot.core.config import Settings, check_token
from bot.core.health import HealthServer, Metrics
from bot.core.i18n import t
from bot.core.inbox import (
    PRUNE_EVERY,
    AlreadyHandled,
    Inbox,
    InboxBot,
    InboxQueue,
    UpdatesRequest,
)
from bot.core.leader import Leadership
from bot.core.logs import RedactingFilter
from bot.core.processing import PerChatUpdateProcessor
from bot.core.runtime import Runtime
from bot.core.transport import AiohttpRequest
from bot.delivery.direct import DirectSendCounter
from bot.delivery.sender import Sender
from bot.watch.runner import WatchRunner
from bot.watch.texts import CALL_PREFIX, TAKE_PREFIX
from bot.watch.watcher import Watcher
from bot.web.server import WebServer
from handlers import (
    admin,
    alerts,
    circulars,
    dashboard,
    disposisi,
    fallback,
    hours,
    monitor,
    myreports,
    onboarding,
    people,
    presence,
    recap,
    reports,
    roster,
    supervision,
)
from handlers import export as export_handlers
from handlers.common import PoskoContext
from handlers.gate import gate
from storage import watch as watch_store
from storage.db import Database
from storage.leadership import leader_lock

log = logging.getLogger(__name__)

PoskoApp = Application[Any, PoskoContext, Any, Any, Any, Any]

# Indonesian command, then its English aliases (SPEC §3: "English aliases are accepted").
OFFICER_COMMANDS: dict[str, tuple[str, ...]] = {
    "hadir": ("checkin",),
    "pulang": ("checkout",),
    "aman": ("allclear", "clear"),
    "lapor": ("report",),
    "darurat": ("emergency",),
    "laporanku": ("myreports",),
    "status": (),
}


def build_application(settings: Settings, clock: Clock | None = None) -> PoskoApp:
    token = check_token(settings.telegram.token)
    runtime = Runtime(settings=settings, clock=clock or SystemClock())
    redact = RedactingFilter(token)
    logging.getLogger().addFilter(redact)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    timeout = settings.telegram.poll_timeout.total_seconds()
    processor = PerChatUpdateProcessor(256)
    direct_sends = DirectSendCounter()
    metrics = Metrics()
    processor.observer = metrics.observe_update
    runtime.metrics = metrics
    inbox = Inbox(runtime.clock) if settings.telegram.inbox else None
    queue = InboxQueue()
    queue.inbox = inbox
    processor.inbox = inbox
    # Built here rather than by the builder: only an InboxBot stores each getUpdates batch
    # before the Updater can acknowledge it.
    bot = InboxBot(
        token,
        base_url=settings.telegram.base_url,
        base_file_url=settings.telegram.base_file_url or "https://api.telegram.org/file/bot",
        request=AiohttpRequest(connection_pool_size=256),
        get_updates_request=UpdatesRequest(
            connection_pool_size=2, read_timeout=timeout + 10, inbox=inbox
        ),
        rate_limiter=direct_sends,
        inbox=inbox,
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .update_queue(queue)
        .concurrent_updates(processor)
        .context_types(ContextTypes(context=PoskoContext))
        .post_init(_on_start)
        .post_shutdown(_on_stop)
    )
    app: PoskoApp = builder.build()  # type: ignore[assignment]
    app.bot_data["runtime"] = runtime
    if inbox is not None:
        app.bot_data["inbox"] = inbox
    app.bot_data["direct_sends"] = direct_sends
    _add_handlers(app)
    recap.register(app)
    circulars.register(app)
    export_handlers.register(app)
    people.register(app)
    hours.register(app)
    dashboard.register(app)
    roster.register(app)
    app.add_error_handler(_on_error)
    return app


def _command(names: tuple[str, ...], callback: Any) -> CommandHandler[Any, Any]:
    return CommandHandler(list(names), callback)


def _add_handlers(app: PoskoApp) -> None:
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handler(_command(("start",), onboarding.start))
    app.add_handler(_command(("bantuan", "help"), onboarding.help_command))
    app.add_handler(_command(("batal", "cancel"), reports.batal))
    handlers = {
        "hadir": presence.hadir,
        "pulang": presence.pulang,
        "aman": presence.aman,
        "lapor": reports.lapor,
        "darurat": reports.darurat,
        "laporanku": myreports.laporanku,
        "status": presence.status,
    }
    for name, callback in handlers.items():
        app.add_handler(_command((name, *OFFICER_COMMANDS[name]), callback))
    app.add_handler(_command(("jeda", "pause"), admin.jeda))
    app.add_handler(_command(("grup", "group"), admin.grup))
    app.add_handler(CallbackQueryHandler(presence.chosen, pattern=f"^{presence.CHOOSE_PREFIX}"))
    app.add_handler(CallbackQueryHandler(presence.move, pattern=f"^{presence.MOVE_PREFIX}"))
    app.add_handler(CallbackQueryHandler(alerts.take, pattern=f"^{TAKE_PREFIX}"))
    app.add_handler(CallbackQueryHandler(alerts.call, pattern=f"^{CALL_PREFIX}"))
    app.add_handler(CallbackQueryHandler(reports.button, pattern=f"^{reports.PREFIX}"))
    monitor.register(app)
    app.add_handler(CallbackQueryHandler(myreports.button, pattern=f"^{myreports.PREFIX}"))
    supervision.register(app)
    disposisi.register(app)
    app.add_handler(CallbackQueryHandler(_stale_button))
    app.add_handler(
        MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.LOCATION, presence.live_location)
    )
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.LOCATION, presence.location)
    )
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & (filters.PHOTO | filters.VIDEO | filters.Document.ALL),
            reports.photo,
        )
    )
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, fallback.unknown_command)
    )
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, fallback.text))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, fallback.unsupported))


async def _stale_button(update: Update, context: PoskoContext) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(context.t("common.stale_button"), show_alert=True)


CHECKPOINT_EVERY = 5.0
"""Seconds between WAL checkpoints on a worker thread (see Database.checkpoint)."""


async def _checkpoint(context: Any) -> None:
    runtime: Runtime = context.application.bot_data["runtime"]
    await runtime.database.checkpoint()


async def _prune_inbox(context: Any) -> None:
    inbox: Inbox = context.application.bot_data["inbox"]
    await inbox.prune()


ADOPT_EVERY = 1.0
"""Seconds between a webhook leader's looks for updates the standing-by replicas stored."""
LEADER_JOBS = ("inbox_prune", "inbox_adopt", recap.JOB_NAME, circulars.JOB_NAME)
"""Scheduled jobs only the leader runs (the watcher's own job is WatchRunner's)."""


async def _adopt_updates(context: Any) -> None:
    inbox: Inbox = context.application.bot_data["inbox"]
    app: PoskoApp = context.application
    await inbox.adopt(app.update_queue, app.bot)


async def _start_inbox(app: PoskoApp, db: Database) -> None:
    """Queue what the last leader stored but did not finish: before polling starts, so
    those updates run first, each chat's in order."""
    inbox = app.bot_data.get("inbox")
    if not isinstance(inbox, Inbox):
        return
    await inbox.prune()
    await inbox.replay(app.update_queue, app.bot)
    assert app.job_queue is not None
    every = PRUNE_EVERY.total_seconds()
    app.job_queue.run_repeating(_prune_inbox, interval=every, first=every, name="inbox_prune")
    runtime: Runtime = app.bot_data["runtime"]
    if runtime.settings.telegram.mode == "webhook":
        app.job_queue.run_repeating(
            _adopt_updates,
            interval=ADOPT_EVERY,
            first=ADOPT_EVERY,
            name="inbox_adopt",
            job_kwargs={"max_instances": 1, "coalesce": True},
        )


async def _on_start(app: PoskoApp) -> None:
    runtime: Runtime = app.bot_data["runtime"]
    db = await Database.open(runtime.settings.storage.target)
    before, after = await db.migrate()
    if before != after:
        log.info("database migrated from version %s to %s", before, after)
    runtime.db = db
    db.checkpoint_elsewhere()
    inbox = app.bot_data.get("inbox")
    if isinstance(inbox, Inbox):
        inbox.db = db
    runtime.bot_username = runtime.settings.telegram.bot_username or app.bot.username
    watcher = Watcher(db, runtime.settings, runtime.clock)
    runtime.watcher = watcher
    sender = Sender(db, app.bot, runtime.settings.delivery, runtime.clock)
    runtime.sender = sender
    counter = app.bot_data.get("direct_sends")
    if isinstance(counter, DirectSendCounter):
        counter.sender = sender
    db.on_outbox.append(sender.wake)
    watcher.listeners.append(sender.wake)
    assert app.job_queue is not None
    runner = WatchRunner(watcher, app.job_queue, runtime.settings.watch.max_sleep)
    app.bot_data["watch_runner"] = runner
    db.on_deadlines.append(runner.poke)
    app.job_queue.run_repeating(
        _checkpoint, interval=CHECKPOINT_EVERY, first=CHECKPOINT_EVERY, name="wal_checkpoint"
    )
    # Leading (polling, the watcher, the sender, the jobs) starts in running(), once the
    # Application runs; with SQLite at once, on PostgreSQL when the leader lock is ours.
    runtime.leadership = Leadership(leader_lock(db), lambda: _lead(app), lambda: _stand_by(app))
    http = runtime.settings.http
    if http.port is not None and isinstance(runtime.metrics, Metrics):
        server = HealthServer(runtime, runtime.metrics, http.listen, http.port)
        await server.start()
        app.bot_data["health_server"] = server
    if runtime.settings.web.port is not None:
        room = WebServer(runtime)
        await room.start()
        runtime.web = room
    language = runtime.settings.bot.default_language
    try:
        await app.bot.set_my_commands(
            [BotCommand(name, t(language, f"menu.{name}")) for name in ("start", "bantuan")],
            scope=BotCommandScopeDefault(),
        )
    except TelegramError as exc:
        log.warning("could not set the default command menu: %s", exc)


async def _lead(app: PoskoApp) -> None:
    """This process became the leader: take over the duties only one process may run."""
    runtime: Runtime = app.bot_data["runtime"]
    db = runtime.database
    if isinstance(app.bot, InboxBot):
        leadership = runtime.leadership
        gate = leadership.still_leading if isinstance(leadership, Leadership) else None
        app.bot.allow_polling(True, gate)
    if isinstance(app.update_queue, InboxQueue):
        app.update_queue.processing = True
    async with db.transaction() as tx:
        await watch_store.make_all_due_without_deadline(tx, runtime.clock.now())
    if isinstance(runtime.sender, Sender):
        await runtime.sender.take_over()
    runner = app.bot_data.get("watch_runner")
    if isinstance(runner, WatchRunner):
        runner.start()
    await recap.start_jobs(app)
    await circulars.start_jobs(app)
    await _start_inbox(app, db)
    await _start_polling(app)


async def _stand_by(app: PoskoApp) -> None:
    """This process is no longer the leader: stop taking updates first, then the rest."""
    runtime: Runtime = app.bot_data["runtime"]
    if isinstance(app.bot, InboxBot):
        app.bot.allow_polling(False)
    if isinstance(app.update_queue, InboxQueue):
        app.update_queue.processing = False
    if (
        runtime.settings.telegram.mode != "webhook"
        and app.updater is not None
        and app.updater.running
    ):
        await app.updater.stop()
    runner = app.bot_data.get("watch_runner")
    if isinstance(runner, WatchRunner):
        runner.stop()
    if app.job_queue is not None:
        for name in LEADER_JOBS:
            for job in app.job_queue.get_jobs_by_name(name):
                job.schedule_removal()
    inbox = app.bot_data.get("inbox")
    if isinstance(inbox, Inbox):
        inbox.standing_down()
    if isinstance(runtime.sender, Sender):
        await runtime.sender.stop()


async def _start_polling(app: PoskoApp) -> None:
    runtime: Runtime = app.bot_data["runtime"]
    if runtime.settings.telegram.mode == "webhook" or app.updater is None:
        return
    if app.updater.running:
        return
    timeout = app.bot_data.get("poll_timeout", runtime.settings.telegram.poll_timeout)
    # start_polling first removes any webhook, so switching back is clean.
    await app.updater.start_polling(
        poll_interval=0.0,
        timeout=timeout,
        allowed_updates=Update.ALL_TYPES,
        error_callback=_polling_error,
    )


async def _on_stop(app: PoskoApp) -> None:
    runtime: Runtime = app.bot_data["runtime"]
    leadership = runtime.leadership
    if isinstance(leadership, Leadership):
        await leadership.stop()
    if isinstance(runtime.web, WebServer):
        await runtime.web.stop()
        runtime.web = None
    server = app.bot_data.pop("health_server", None)
    if isinstance(server, HealthServer):
        await server.stop()
    runner = app.bot_data.pop("watch_runner", None)
    if isinstance(runner, WatchRunner):
        runner.stop()
    if isinstance(runtime.sender, Sender):
        await runtime.sender.stop()
    if runtime.db is not None:
        await runtime.db.close()
        runtime.db = None


async def _on_error(update: object, context: PoskoContext) -> None:
    """Log every failure with its context; tell the person something went wrong."""
    update_id = update.update_id if isinstance(update, Update) else None
    user_id = (
        update.effective_user.id if isinstance(update, Update) and update.effective_user else None
    )
    if isinstance(context.error, AlreadyHandled):
        log.info("update %s was processed by another process; this run rolled back", update_id)
        return
    log.error("error handling update %s from user %s", update_id, user_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(context.t("common.error"), show_alert=True)
        elif (
            update.effective_message is not None
            and update.effective_chat is not None
            and update.effective_chat.type == "private"
        ):
            await update.effective_message.reply_text(context.t("common.error"))
    except TelegramError:
        log.warning("could not tell user %s about the error", user_id)


@asynccontextmanager
async def running(
    app: PoskoApp, poll_timeout: timedelta | None = None, *, freeze_startup: bool = False
) -> AsyncIterator[PoskoApp]:
    """Initialise, start (leading at once unless another process leads), and on exit stop
    in the order run_polling uses.

    ``freeze_startup`` (the long-running bot): what start-up built (PTB, handlers,
    catalogs) lives as long as the process, so it is put out of the garbage collector's
    sight; a full collection then no longer walks it, which had paused the loop for 55-75
    ms every few seconds under load (bench/updates.py). Undone on exit."""
    runtime: Runtime = app.bot_data["runtime"]
    app.bot_data["poll_timeout"] = poll_timeout or runtime.settings.telegram.poll_timeout
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        if freeze_startup:
            gc.collect()
            gc.freeze()
        assert app.updater is not None
        telegram = runtime.settings.telegram
        if telegram.mode == "webhook":
            assert telegram.url is not None  # checked when the settings were loaded
            if isinstance(app.update_queue, InboxQueue):
                app.update_queue.processing = False  # until this process leads
            # Every replica answers Telegram and stores what it gets; only the leader
            # handles (InboxQueue.processing), so a load balancer may pick any of them.
            await app.updater.start_webhook(
                listen=telegram.listen,
                port=telegram.port,
                url_path=urlsplit(telegram.url).path.lstrip("/"),
                webhook_url=telegram.url,
                allowed_updates=Update.ALL_TYPES,
                secret_token=telegram.secret_token,
            )
        await app.start()
        leadership = runtime.leadership
        if isinstance(leadership, Leadership):
            await leadership.start()
            if not leadership.leading:
                log.warning("another process leads; this one stands by")
        try:
            yield app
        finally:
            if isinstance(leadership, Leadership):
                await leadership.stop()
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        if freeze_startup:
            gc.unfreeze()


def _polling_error(error: TelegramError) -> None:
    log.warning("polling failed, retrying: %s", error)


async def serve(app: PoskoApp) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(app, freeze_startup=True):
        log.info("posko is running")
        await stop.wait()
        log.info("stopping")
