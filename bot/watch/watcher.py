"""The watcher: finds posts whose deadline has come, applies ``bot.watch.rules.decide``, and writes
the transitions and the messages they cause in one transaction.

A pass touches only due posts (a partial index on ``posts.next_due_at``). Post updates are
compare-and-swap on ``version``; if any row changed under us the whole pass rolls back and
is retried, so a second watcher, a restart or a crash never double-alerts or skips one.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.clock import Clock, hhmm
from bot.core.config import Settings
from bot.core.i18n import duration_text, t
from bot.reports import disposisi
from bot.reports import followup as report_followup
from bot.reports.desk import ESCALATING_SEVERITIES, escalate_issue
from bot.roster import swaps as roster_swaps
from bot.roster import watch as roster_watch
from bot.watch import hours as hours_rules
from bot.watch import taken
from bot.watch.escalation import Level, area_path, climbing, levels_for, opening
from bot.watch.rules import Act, AlertFacts, Decision, Facts, Policy, State, decide
from bot.watch.schedule import PostSchedules, Schedule
from bot.watch.texts import alert_text, take_markup
from storage import issues as issues_store
from storage import posts as posts_store
from storage import watch as store
from storage.alerts import Person
from storage.db import Database, Tx, WriteConflict
from storage.outbox import Priority
from storage.records import Area, Post
from storage.watch import AlertRow, PostUpdate, Recipient

log = logging.getLogger(__name__)

PASS_LIMIT = 5000
TREE_TTL = timedelta(seconds=30)


_JSON = json.JSONEncoder(ensure_ascii=False)
_json_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a pass decides and writes its posts: a pass
    builds tens of thousands of short-lived, acyclic objects (rows, facts, texts) that
    reference counting frees; letting the collector scan them mid-pass cost a full
    collection in one pass of two at city scale (bench/watch.py), with the database held.
    Garbage left meanwhile is collected as usual afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class ConcurrentChange(WriteConflict):
    """A post changed between read and write; the pass is retried."""


@dataclass
class _Outgoing:
    rows: list[tuple[int, int | None, int, str, str, str | None, int | None]] = field(
        default_factory=list
    )

    def add(
        self,
        recipient: Recipient,
        text: str,
        kind: str,
        priority: Priority,
        ref: tuple[str, int] | None = None,
        markup: dict[str, Any] | None = None,
    ) -> None:
        # The text of json.dumps({"text": text, "reply_markup": markup}, ensure_ascii=False),
        # written without building an encoder for every one of a pass's thousands of rows.
        payload = '{"text": ' + _json_string(text)
        if markup is not None:
            payload += ', "reply_markup": ' + _JSON.encode(markup)
        payload += "}"
        self.rows.append(
            (
                recipient.chat_id,
                recipient.topic_id,
                int(priority),
                kind,
                payload,
                ref[0] if ref else None,
                ref[1] if ref else None,
            )
        )


@dataclass
class _Context:
    """What one pass needs about the city, loaded at most once per pass."""

    tree: dict[int, Area]
    supervisors: dict[int, list[Recipient]]
    admins: list[Recipient]
    # The ladder of each area met in the pass (by the area's id: its path is the tree's).
    ladders: dict[int, list[Level]] = field(default_factory=dict)


class Watcher:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.default_language = settings.bot.default_language
        self._schedules = PostSchedules.from_settings(settings)
        self.dated_stale = True  # (re)read the dated hours stored in the database (/jam_khusus)
        self._policies: dict[tuple[tuple[str, str], ...], Policy] = {}
        self._tree: dict[int, Area] | None = None
        self._tree_loaded_at = 0.0
        self.listeners: list[Callable[[], None]] = []
        self.last_pass_at: datetime | None = None
        self.last_pass_ms = 0.0
        self.passes = 0
        # The soonest deadline written by refresh(); the runner reads it to wake in time.
        self.soonest_refreshed: datetime | None = None

    # --- pure-ish helpers -----------------------------------------------------------------

    def policy(self, post: Post) -> Policy:
        key = tuple(sorted(post.watch_policy.items()))
        policy = self._policies.get(key)
        if policy is None:
            policy = self._policies[key] = Policy.from_settings(
                self.settings.watch, post.watch_policy
            )
        return policy

    def schedule(self, post: Post, path: Sequence[Area]) -> Schedule:
        return self._schedules.of(post, path)

    def wake_now(self, now: datetime) -> None:
        """Posts were made due: the runner sweeps at once after the commit."""
        if self.soonest_refreshed is None or now < self.soonest_refreshed:
            self.soonest_refreshed = now

    def language_of(self, recipient: Recipient) -> str:
        return recipient.language or self.default_language

    # --- passes ---------------------------------------------------------------------------

    async def sweep(self, now: datetime | None = None) -> int:
        """Handle every post whose deadline has come; returns how many were handled."""
        moment = now or self.clock.now()
        started = time.perf_counter()
        handled = 0
        for attempt in range(3):
            try:
                async with self.db.transaction() as tx:
                    due = await store.due_posts(tx, moment, PASS_LIMIT)
                    with _collector_paused():
                        if due:
                            await self._process(tx, due, moment)
                        # a shift change: tens of thousands of slots and their steps
                        slot_steps, held = await roster_watch.walk(self, tx, moment)
                    if not held:
                        raise ConcurrentChange
                    issues_due = await store.due_issues(tx, moment, PASS_LIMIT)
                    if issues_due:
                        await self._climb_issues(tx, issues_due, moment)
                    follow_ups = await issues_store.due_follow_ups(tx, moment, PASS_LIMIT)
                    if follow_ups:
                        await self._follow_up_reports(tx, follow_ups, moment)
                    climbed = await disposisi.climb_due(
                        tx, moment, PASS_LIMIT, self.settings.watch.escalate_after
                    )
                    climbed += await roster_swaps.expire_due(tx, moment, PASS_LIMIT)
                    handled = len(due) + slot_steps + len(issues_due) + len(follow_ups) + climbed
                break
            except ConcurrentChange:
                log.warning("watch pass retried after a concurrent change (attempt %s)", attempt)
        self.last_pass_at = moment
        self.last_pass_ms = (time.perf_counter() - started) * 1000
        self.passes += 1
        if handled:
            self._notify()
        return handled

    async def refresh(self, tx: Tx, post_ids: Sequence[int], now: datetime) -> list[Post]:
        """Re-decide posts whose facts just changed (inside the caller's transaction);
        returns them as they are now."""
        posts, facts = await store.posts_for_decision(tx, post_ids, now)
        if not posts:
            return []
        soonest, decided = await self._process(tx, posts, now, facts)
        if soonest is not None:
            self.soonest_refreshed = min(soonest, self.soonest_refreshed or soonest)
        return [decided[post.id] for post in posts]

    async def track_issue(
        self, tx: Tx, issue_id: int, post_id: int, severity: str, now: datetime
    ) -> None:
        """A new tinggi/darurat issue climbs like an alert until someone accepts it
        (darurat was already announced one level up at once)."""
        if severity not in ESCALATING_SEVERITIES:
            return
        post = await posts_store.by_id(tx, post_id)
        if post is None:
            return
        step = 1 if severity == "darurat" else 0
        due = now + self.policy(post).escalate_after
        await store.set_issue_due(tx, issue_id, step, due)
        if self.soonest_refreshed is None or due < self.soonest_refreshed:
            self.soonest_refreshed = due
        tx.touched_deadlines = True

    async def _climb_issues(self, tx: Tx, due: Sequence[store.DueIssue], now: datetime) -> None:
        context = await self._context(tx)

        def ladder_for(path: list[Area]) -> list[Level]:
            return levels_for(path, context.supervisors, context.admins)

        for item in due:
            post = await posts_store.by_id(tx, item.post_id)
            if post is None:
                await store.set_issue_due(tx, item.id, item.step, None)
                continue
            policy = self.policy(post)
            step = item.step + 1
            if await escalate_issue(tx, item.id, step, now, ladder_for):
                ladder = ladder_for(self.path(context.tree, post.area_id))
                more_above = step + 1 < len(ladder)
                await store.set_issue_due(
                    tx,
                    item.id,
                    step,
                    now + (policy.escalate_after if more_above else policy.repeat_every),
                )
            else:
                # At the top already: remind the top level every repeat_every, like alerts.
                ladder = ladder_for(self.path(context.tree, post.area_id))
                top = max(0, len(ladder) - 1)
                repeated = await escalate_issue(tx, item.id, top, now, ladder_for)
                await store.set_issue_due(
                    tx, item.id, item.step, now + policy.repeat_every if repeated else None
                )
        tx.touched_outbox = True

    async def _follow_up_reports(
        self, tx: Tx, due: Sequence[issues_store.DueFollowUp], now: datetime
    ) -> None:
        context = await self._context(tx)

        def ladder_for(path: list[Area]) -> list[Level]:
            return levels_for(path, context.supervisors, context.admins)

        after = self.settings.reports.follow_up_after
        if not await report_followup.follow_up(tx, due, now, after, ladder_for):
            raise ConcurrentChange
        tx.touched_outbox = True

    async def next_deadline(self) -> datetime | None:
        async with self.db.read() as tx:
            return await store.next_deadline(tx)

    def _notify(self) -> None:
        for listener in self.listeners:
            listener()

    async def _context(self, tx: Tx) -> _Context:
        return _Context(
            tree=await self._area_tree(tx),
            supervisors=await store.supervisors_by_area(tx),
            admins=await store.admins(tx),
        )

    async def _area_tree(self, tx: Tx) -> dict[int, Area]:
        if self._tree is None or time.monotonic() - self._tree_loaded_at > TREE_TTL.seconds:
            self._tree = await store.area_tree(tx)
            self._tree_loaded_at = time.monotonic()
        return self._tree

    def forget_tree(self) -> None:
        self._tree = None

    @staticmethod
    def path(tree: dict[int, Area], area_id: int) -> list[Area]:
        return area_path(tree, area_id)

    async def _process(
        self,
        tx: Tx,
        posts: Sequence[Post],
        now: datetime,
        read: store.DecisionFacts | None = None,
    ) -> tuple[datetime | None, dict[int, Post]]:
        """Decide and write; returns the soonest new deadline among the posts, and each
        post as it is now. ``read``: the officers on duty, the open alert and the roster
        slots running per post, when read with the posts."""
        if self.dated_stale:
            stored_hours = await hours_rules.stored_overrides(tx)
            self._schedules = PostSchedules.from_settings(self.settings, stored_hours)
            self.dated_stale = False
        ids = [post.id for post in posts]
        given = read or await store.decision_facts(tx, ids, now)
        counts, alerts, running = given.counts, given.alerts, given.running  # running: piket
        tree = await self._area_tree(tx)
        decisions: list[tuple[Post, Decision, list[Area]]] = []
        updates: list[PostUpdate] = []
        # Posts share a handful of schedules; each answers "open now?" once per pass.
        windows: dict[int, tuple[tuple[datetime, datetime] | None, datetime | None]] = {}
        paths: dict[int, list[Area]] = {}  # posts share areas; each path is walked once
        for post in posts:
            path = paths.get(post.area_id)
            if path is None:
                path = paths[post.area_id] = self.path(tree, post.area_id)
            policy = self.policy(post)
            schedule = self.schedule(post, path)
            known = windows.get(id(schedule))
            if known is None:
                window = schedule.current_window(now)
                known = (window, schedule.next_open(now) if window is None else None)
                windows[id(schedule)] = known
            window, next_open = known
            alert = alerts.get(post.id)
            on_duty = counts.get(post.id, 0)
            required, short_since = roster_watch.staffing(post, running.get(post.id), on_duty)
            facts = Facts(
                state=State(post.state),
                window=window,
                next_open=next_open,
                paused_until=post.paused_until,
                on_duty=on_duty,
                min_staff=required,
                window_opened_at=post.window_opened_at,
                short_since=short_since,
                last_signal_at=post.last_signal_at,
                silence_reminded_at=post.silence_reminded_at,
                open_reminded_for=post.open_reminded_for,
                alert=None
                if alert is None
                else AlertFacts(
                    alert.id, alert.kind, alert.acked_by is not None, alert.next_due_at
                ),
            )
            decision = decide(facts, policy, now)
            decisions.append((post, decision, path))
        actions_needed = any(decision.actions for _, decision, _ in decisions)
        context = await self._context(tx) if actions_needed else None
        outgoing = _Outgoing()
        alert_due = await self._apply(tx, decisions, alerts, context, outgoing, now)
        for post, decision, _ in decisions:
            due = decision.next_due_at
            kind: str | None
            extra = alert_due.get(post.id)
            if extra is not None and (due is None or extra < due):
                due, kind = extra, "escalate"
            else:
                kind = decision.due_kind
            updates.append(
                PostUpdate(
                    post_id=post.id,
                    version=post.version,
                    state=decision.state.value,
                    next_due_at=due,
                    due_kind=kind,
                    window_opened_at=decision.window_opened_at,
                    window_closes_at=decision.window_closes_at,
                    short_since=decision.short_since,
                    silence_reminded_at=decision.silence_reminded_at,
                    open_reminded_for=decision.open_reminded_for,
                    state_changed=decision.state.value != post.state,
                )
            )
        changed = await store.save_posts(tx, updates, now)
        if changed != len(updates):
            raise ConcurrentChange
        for (post, _, _), update in zip(decisions, updates, strict=True):
            if update.state_changed:
                tx.publish(
                    "post", id=post.id, post=post.code, area_id=post.area_id,
                    state=update.state, reason="watch",
                )  # fmt: skip
        if outgoing.rows:
            await store.outbox_many(tx, outgoing.rows, now)
            tx.touched_outbox = True
        deadlines = [update.next_due_at for update in updates if update.next_due_at is not None]
        decided = {
            post.id: store.saved(post, update, now)
            for (post, _, _), update in zip(decisions, updates, strict=True)
        }
        return (min(deadlines) if deadlines else None), decided

    async def _apply(
        self,
        tx: Tx,
        decisions: list[tuple[Post, Decision, list[Area]]],
        alerts: dict[int, AlertRow],
        context: _Context | None,
        outgoing: _Outgoing,
        now: datetime,
    ) -> dict[int, datetime]:
        """Carry out the actions; returns post_id → the deadline of its (new) alert."""
        if context is None:
            return {}
        by_act: dict[Act, list[tuple[Post, Decision, list[Area], str | None, datetime | None]]]
        by_act = {}
        for post, decision, path in decisions:
            for action in decision.actions:
                by_act.setdefault(action.act, []).append(
                    (post, decision, path, action.kind, action.at)
                )
        alert_due: dict[int, datetime] = {}
        resolved = by_act.get(Act.RESOLVE_ALERT, [])
        if resolved:
            await self._resolve(tx, resolved, alerts, outgoing, now)
        closing = by_act.get(Act.CLOSE_SHIFTS, [])
        if closing:
            await self._close_shifts(tx, [item[0] for item in closing], outgoing, now)
        opening = by_act.get(Act.OPEN_ALERT, [])
        climbing = by_act.get(Act.ESCALATE, [])
        following = by_act.get(Act.FOLLOW_TAKEN, [])
        # The people to call, for every alert text of the pass in one query (after the
        # shifts closed above, as each text must see them).
        people = await roster_watch.people(
            tx, [item[0].id for group in (opening, climbing, following) for item in group], now
        )
        if opening:
            alert_due.update(await self._open_alerts(tx, opening, context, people, outgoing, now))
        if climbing:
            alert_due.update(
                await self._escalate(tx, climbing, alerts, context, people, outgoing, now)
            )
        if following:
            due, held = await taken.follow(
                self, tx, following, alerts, context, people, outgoing, now
            )
            if not held:
                raise ConcurrentChange
            alert_due.update(due)
        for act, on_duty in ((Act.REMIND_SILENCE, True), (Act.REMIND_OPEN, False)):
            items = by_act.get(act, [])
            if items:
                await self._remind(tx, act, items, on_duty, outgoing)
        return alert_due

    def policy_due(self, post: Post, levels: list[Level], step: int, now: datetime) -> datetime:
        policy = self.policy(post)
        more_above = step + 1 < len(levels)
        return now + (policy.escalate_after if more_above else policy.repeat_every)

    def levels(self, post: Post, path: list[Area], context: _Context) -> list[Level]:
        """The ladder of the post's area ``path``, worked out once per area and pass (the
        callers only read it)."""
        if not path:
            return levels_for(path, context.supervisors, context.admins)
        ladder = context.ladders.get(path[-1].id)
        if ladder is None:
            ladder = context.ladders[path[-1].id] = levels_for(
                path, context.supervisors, context.admins
            )
        return ladder

    async def _open_alerts(
        self,
        tx: Tx,
        items: list[tuple[Post, Decision, list[Area], str | None, datetime | None]],
        context: _Context,
        people: Mapping[int, Sequence[Person]],
        outgoing: _Outgoing,
        now: datetime,
    ) -> dict[int, datetime]:
        plans: list[tuple[Post, str, list[Level], datetime]] = []
        paths: dict[int, list[Area]] = {}
        for post, _, path, kind, _ in items:
            assert kind is not None
            levels = self.levels(post, path, context)
            paths[post.id] = path
            plans.append((post, kind, levels, self.policy_due(post, levels, 0, now)))
        ids = await store.insert_alerts(
            tx,
            [
                (post.id, kind, levels[0].area.id if levels else None, due)
                for post, kind, levels, due in plans
            ],
            now,
        )
        notifications: list[tuple[int, int, Recipient]] = []
        for post, kind, levels, _ in plans:
            alert_id = ids[post.id]
            log.info("alert opened post=%s kind=%s alert=%s", post.code, kind, alert_id)
            tx.publish(
                "alert", id=alert_id, post=post.code, area_id=post.area_id, kind=kind,
                action="opened",
            )  # fmt: skip
            if not levels:
                log.warning(
                    "alert on %s has nobody to go to (no supervisors, no admins)", post.code
                )
                continue
            since = post.last_signal_at if kind == "silent" else post.short_since
            texts: dict[tuple[str, bool], str] = {}  # one text per language and chat kind
            for recipient in opening(levels[0], paths[post.id]):
                language = self.language_of(recipient)
                private = recipient.member_id is not None
                text = texts.get((language, private))
                if text is None:
                    text = texts[language, private] = alert_text(
                        language,
                        post,
                        kind,
                        since,
                        now,
                        people.get(post.id, ()),
                        private=private,
                        lead="",
                    )
                outgoing.add(
                    recipient,
                    text,
                    "alert",
                    Priority.ALERT,
                    ("alert", alert_id),
                    take_markup(language, alert_id),
                )
                notifications.append((alert_id, 0, recipient))
        await store.record_notifications(tx, notifications, now)
        return {post.id: due for post, _, _, due in plans}

    async def _escalate(
        self,
        tx: Tx,
        items: list[tuple[Post, Decision, list[Area], str | None, datetime | None]],
        alerts: dict[int, AlertRow],
        context: _Context,
        people: Mapping[int, Sequence[Person]],
        outgoing: _Outgoing,
        now: datetime,
    ) -> dict[int, datetime]:
        updates: list[tuple[int, int, int | None, datetime | None]] = []
        notifications: list[tuple[int, int, Recipient]] = []
        result: dict[int, datetime] = {}
        for post, _, path, _, _ in items:
            alert = alerts[post.id]
            levels = self.levels(post, path, context)
            if not levels:
                continue
            index = next(
                (i for i, level in enumerate(levels) if level.area.id == alert.step_area_id), 0
            )
            climbed = index + 1 < len(levels)
            target = index + 1 if climbed else index
            due = self.policy_due(post, levels, target, now)
            updates.append((alert.id, alert.step + 1, levels[target].area.id, due))
            log.info(
                "alert %s post=%s alert=%s step=%s area=%s",
                "escalated" if climbed else "repeated",
                post.code,
                alert.id,
                alert.step + 1,
                levels[target].area.code,
            )
            result[post.id] = due
            level = levels[target]
            tx.publish(
                "alert", id=alert.id, post=post.code, area_id=post.area_id, kind=alert.kind,
                action="escalated" if climbed else "repeated", step=alert.step + 1,
            )  # fmt: skip
            texts: dict[tuple[str, bool], str] = {}
            lead_key = "alert.lead_escalated" if climbed else "alert.lead_repeat"
            since = post.last_signal_at if alert.kind == "silent" else post.short_since
            for recipient in climbing(level, path):
                language = self.language_of(recipient)
                private = recipient.member_id is not None
                text = texts.get((language, private))
                if text is None:
                    lead = t(
                        language, lead_key, opened=hhmm(alert.opened_at), level=level.area.name
                    )
                    text = texts[language, private] = alert_text(
                        language,
                        post,
                        alert.kind,
                        since,
                        now,
                        people.get(post.id, ()),
                        private=private,
                        lead=lead,
                    )
                outgoing.add(
                    recipient,
                    text,
                    "alert",
                    Priority.ALERT,
                    ("alert", alert.id),
                    take_markup(language, alert.id),
                )
                notifications.append((alert.id, alert.step + 1, recipient))
        await store.escalate_alerts(tx, updates, now)
        await store.record_notifications(tx, notifications, now)
        return result

    async def _resolve(
        self,
        tx: Tx,
        items: list[tuple[Post, Decision, list[Area], str | None, datetime | None]],
        alerts: dict[int, AlertRow],
        outgoing: _Outgoing,
        now: datetime,
    ) -> None:
        rows = [(alerts[post.id].id, reason or "resolved") for post, _, _, reason, _ in items]
        await store.resolve_alerts(tx, rows, now)
        told = await store.notified(tx, [alert_id for alert_id, _ in rows])
        for post, _, _, reason, _ in items:
            alert = alerts[post.id]
            log.info("alert resolved post=%s alert=%s reason=%s", post.code, alert.id, reason)
            tx.publish(
                "alert", id=alert.id, post=post.code, area_id=post.area_id, kind=alert.kind,
                action="resolved", reason=reason,
            )  # fmt: skip
            # Only a signal or check-ins mean the post recovered; the rest end the alert.
            key = {
                "signal": "alert.recovered",
                "staffed": "alert.recovered",
                "unstaffed": "alert.became_unstaffed",
            }.get(reason or "", "alert.ended")
            for recipient in told.get(alert.id, []):
                language = self.language_of(recipient)
                outgoing.add(
                    recipient,
                    t(
                        language,
                        key,
                        post=post.code,
                        name=post.name,
                        reason=t(language, f"alert.reason_{reason}"),
                        duration=duration_text(language, now - alert.opened_at),
                    ),
                    "recovered",
                    Priority.ALERT,
                    ("alert", alert.id),
                )

    async def _close_shifts(
        self, tx: Tx, posts: list[Post], outgoing: _Outgoing, now: datetime
    ) -> None:
        on_duty = await store.officers(tx, [post.id for post in posts], on_duty=True)
        await store.close_shifts(tx, [post.id for post in posts], now)
        for post in posts:
            for recipient in on_duty.get(post.id, []):
                outgoing.add(
                    recipient,
                    t(
                        self.language_of(recipient),
                        "remind.shift_closed",
                        post=post.code,
                        time=hhmm(now),
                    ),
                    "shift_closed",
                    Priority.NOTICE,
                )

    async def _remind(
        self,
        tx: Tx,
        act: Act,
        items: list[tuple[Post, Decision, list[Area], str | None, datetime | None]],
        on_duty: bool,
        outgoing: _Outgoing,
    ) -> None:
        people = await store.officers(tx, [item[0].id for item in items], on_duty=on_duty)
        key = "remind.silence" if act is Act.REMIND_SILENCE else "remind.open"
        for post, _, _, _, at in items:
            for recipient in people.get(post.id, []):
                outgoing.add(
                    recipient,
                    t(
                        self.language_of(recipient),
                        key,
                        post=post.code,
                        name=post.name,
                        time=hhmm(at) if at else "-",
                    ),
                    "reminder",
                    Priority.NOTICE,
                )
