"""/healthz and Prometheus /metrics on ``[http] port``.

/healthz is 200 only when the database answers, the watcher swept within its expected
interval, and the outbox backlog is under the threshold; the body is JSON with the figures
and the process's ``role`` (SPEC §11): ``leader``, or ``standby`` — a standby runs no
watcher, so it is healthy when the database answers.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.core.leader import LEADER
from bot.core.runtime import Runtime
from storage.health import figures

log = logging.getLogger(__name__)

BACKLOG_LIMIT = 5000
WATCHER_LATE = timedelta(seconds=30)  # on top of [watch] max_sleep


class Metrics:
    """The process's Prometheus registry: counters updated as things happen, gauges at scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "posko_updates_total", "Telegram updates handled", registry=self.registry
        )
        self.update_errors = Counter(
            "posko_update_errors_total", "Updates whose handler failed", registry=self.registry
        )
        self.latency = Histogram(
            "posko_handler_seconds",
            "Time to handle one update",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.posts = Gauge("posko_posts", "Posts by watch state", ["state"], registry=self.registry)
        self.open_alerts = Gauge(
            "posko_open_alerts", "Alerts not yet resolved", registry=self.registry
        )
        self.backlog = Gauge(
            "posko_outbox_backlog", "Outbox messages waiting", registry=self.registry
        )
        self.oldest = Gauge(
            "posko_outbox_oldest_seconds",
            "Age of the oldest waiting message",
            registry=self.registry,
        )
        self.sent = Gauge(
            "posko_messages_sent", "Messages delivered by the sender", registry=self.registry
        )
        self.failed = Gauge(
            "posko_messages_failed",
            "Messages given up, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.watch_pass = Gauge(
            "posko_watch_pass_seconds", "Duration of the last watcher pass", registry=self.registry
        )
        self.watch_passes = Gauge(
            "posko_watch_passes", "Watcher passes since start", registry=self.registry
        )
        self.leader = Gauge(
            "posko_leader",
            "1 while this process leads, 0 while it stands by",
            registry=self.registry,
        )
        self.leader_terms = Gauge(
            "posko_leader_terms", "Times this process became the leader", registry=self.registry
        )

    def observe_update(self, seconds: float, failed: bool) -> None:
        self.updates.inc()
        self.latency.observe(seconds)
        if failed:
            self.update_errors.inc()


async def snapshot(runtime: Runtime, metrics: Metrics | None = None) -> tuple[bool, dict[str, Any]]:
    """(healthy, figures) — also refreshes the scrape-time gauges when given ``metrics``."""
    leadership = runtime.leadership
    role = LEADER if leadership is None else str(leadership.role)
    if metrics is not None:
        metrics.leader.set(1 if role == LEADER else 0)
        metrics.leader_terms.set(0 if leadership is None else leadership.terms)
    body: dict[str, Any] = {"role": role, "database": "ok"}
    healthy = True
    now = runtime.clock.now()
    try:
        async with runtime.database.read() as tx:
            found = await figures(tx)
    except Exception as exc:  # the point of a health check is to report, not to raise
        log.warning("health check: database did not answer: %s", exc)
        return False, {"role": role, "database": "error"}
    oldest = (now - found.outbox_oldest).total_seconds() if found.outbox_oldest else 0.0
    body.update(
        posts=found.posts_by_state,
        open_alerts=found.open_alerts,
        outbox_backlog=found.outbox_backlog,
        outbox_oldest_s=round(oldest, 1),
        outbox_failed=found.outbox_failed,
    )
    watcher = runtime.watcher
    if watcher is not None and role == LEADER:
        last = watcher.last_pass_at
        allowed = runtime.settings.watch.max_sleep + WATCHER_LATE
        swept_ago = None if last is None else (now - last).total_seconds()
        body["watcher_swept_s_ago"] = None if swept_ago is None else round(swept_ago, 1)
        body["watcher_pass_ms"] = round(watcher.last_pass_ms, 2)
        if swept_ago is None or swept_ago > allowed.total_seconds():
            healthy = False
            body["watcher"] = "late"
    if found.outbox_backlog > BACKLOG_LIMIT:
        healthy = False
        body["outbox"] = "backlog"
    sender_stats: dict[str, int] = {}
    if runtime.sender is not None and hasattr(runtime.sender, "stats"):
        sender_stats = runtime.sender.stats()
        body["sender"] = sender_stats
    if metrics is not None:
        for state in ("closed", "opening", "unstaffed", "staffed", "reminded", "silent", "paused"):
            metrics.posts.labels(state).set(found.posts_by_state.get(state, 0))
        metrics.open_alerts.set(found.open_alerts)
        metrics.backlog.set(found.outbox_backlog)
        metrics.oldest.set(oldest)
        metrics.sent.set(sender_stats.get("sent", 0))
        for key, value in sender_stats.items():
            if key.startswith("failed_"):
                metrics.failed.labels(key.removeprefix("failed_")).set(value)
        if watcher is not None:
            metrics.watch_pass.set(watcher.last_pass_ms / 1000)
            metrics.watch_passes.set(watcher.passes)
    body["status"] = "ok" if healthy else "unhealthy"
    return healthy, body


class HealthServer:
    def __init__(self, runtime: Runtime, metrics: Metrics, listen: str, port: int) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.listen = listen
        self.port = port
        self._runner: web.AppRunner | None = None
        self.started = time.monotonic()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        await site.start()
        log.info("health and metrics on http://%s:%s", self.listen, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        healthy, body = await snapshot(self.runtime)
        return web.Response(
            status=200 if healthy else 503, text=json.dumps(body), content_type="application/json"
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        await snapshot(self.runtime, self.metrics)
        return web.Response(
            body=generate_latest(self.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )
