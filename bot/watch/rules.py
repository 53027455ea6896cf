"""The post state machine (SPEC §4): given what is true of a post now, what it should be.

``decide`` is pure: it takes the facts and ``now`` and returns the new state, the one next
deadline, and the actions to take (open/escalate/resolve an alert, remind, close shifts).
The same function runs when the watcher reaches a deadline and when a check-in, signal or
check-out changes the facts, so both paths agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.config import WatchSettings, parse_duration
from bot.watch.schedule import HORIZON, Schedule

# A transition into an open window this late is "on time": the window start counts as the
# opening. Later than that (first sight of a post, resume from a pause) the grace starts now.
ON_TIME = timedelta(minutes=5)
RECHECK_CLOSED = HORIZON - timedelta(days=1)
MIN_REPEAT = timedelta(seconds=1)
POLICY_FIELDS = (
    "staff_grace",
    "silence_after",
    "remind_before",
    "escalate_after",
    "repeat_every",
    "remind_before_open",
)


class State(StrEnum):
    CLOSED = "closed"
    OPENING = "opening"  # open, short of staff, still within the grace period
    UNSTAFFED = "unstaffed"
    STAFFED = "staffed"
    REMINDED = "reminded"  # staffed, the officers were asked for /aman
    SILENT = "silent"
    PAUSED = "paused"


OPEN_STATES = frozenset(
    {State.OPENING, State.UNSTAFFED, State.STAFFED, State.REMINDED, State.SILENT}
)


@dataclass(frozen=True, slots=True)
class Policy:
    staff_grace: timedelta
    silence_after: timedelta
    remind_before: timedelta
    escalate_after: timedelta
    repeat_every: timedelta
    remind_before_open: timedelta

    @classmethod
    def from_settings(cls, watch: WatchSettings, overrides: dict[str, str] | None = None) -> Policy:
        values = {name: getattr(watch, name) for name in POLICY_FIELDS}
        for name, text in (overrides or {}).items():
            if name in values:
                values[name] = parse_duration(text)
        for name in ("escalate_after", "repeat_every"):
            # A zero here would make an alert repeat without pause; the import refuses it,
            # and this keeps an old row from flooding anyone.
            values[name] = max(values[name], MIN_REPEAT)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class AlertFacts:
    id: int
    kind: str
    acked: bool
    next_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class Facts:
    state: State
    window: tuple[datetime, datetime] | None  # the open interval containing now
    next_open: datetime | None
    paused_until: datetime | None
    on_duty: int
    min_staff: int
    window_opened_at: datetime | None
    short_since: datetime | None
    last_signal_at: datetime | None
    silence_reminded_at: datetime | None
    open_reminded_for: datetime | None
    alert: AlertFacts | None


class Act(StrEnum):
    OPEN_ALERT = "open_alert"
    ESCALATE = "escalate"
    FOLLOW_TAKEN = "follow_taken"  # taken, not recovered by its deadline: remind, then climb
    RESOLVE_ALERT = "resolve_alert"
    REMIND_SILENCE = "remind_silence"
    REMIND_OPEN = "remind_open"
    CLOSE_SHIFTS = "close_shifts"


@dataclass(frozen=True, slots=True)
class Action:
    act: Act
    kind: str | None = None  # alert kind for OPEN_ALERT, reason for RESOLVE_ALERT
    at: datetime | None = None  # window start for REMIND_OPEN, silence deadline for reminders


@dataclass(slots=True)
class Decision:
    state: State
    next_due_at: datetime | None
    due_kind: str | None
    window_opened_at: datetime | None
    window_closes_at: datetime | None
    short_since: datetime | None
    silence_reminded_at: datetime | None
    open_reminded_for: datetime | None
    actions: list[Action] = field(default_factory=list)


class _Deadlines:
    def __init__(self) -> None:
        self.best: tuple[datetime, str] | None = None

    def add(self, when: datetime | None, kind: str) -> None:
        if when is not None and (self.best is None or when < self.best[0]):
            self.best = (when, kind)


def decide(facts: Facts, policy: Policy, now: datetime) -> Decision:
    deadlines = _Deadlines()
    result = Decision(
        state=facts.state,
        next_due_at=None,
        due_kind=None,
        window_opened_at=facts.window_opened_at,
        window_closes_at=None,
        short_since=facts.short_since,
        silence_reminded_at=facts.silence_reminded_at,
        open_reminded_for=facts.open_reminded_for,
    )
    alert = facts.alert
    if facts.paused_until is not None and facts.paused_until > now:
        result.state = State.PAUSED
        result.window_opened_at = None
        result.short_since = None
        if alert is not None:
            result.actions.append(Action(Act.RESOLVE_ALERT, kind="paused"))
        deadlines.add(facts.paused_until, "resume")
    elif facts.window is None:
        _closed(facts, policy, now, result, deadlines)
    else:
        _open(facts, policy, now, result, deadlines)
    if deadlines.best is not None:
        result.next_due_at, result.due_kind = deadlines.best
    return result


def _closed(
    facts: Facts, policy: Policy, now: datetime, result: Decision, deadlines: _Deadlines
) -> None:
    result.state = State.CLOSED
    result.window_opened_at = None
    result.short_since = None
    result.silence_reminded_at = None
    if facts.alert is not None:
        result.actions.append(Action(Act.RESOLVE_ALERT, kind="closed"))
    # Only a window that just ended closes shifts: an officer who checks in early, before
    # the window opens (as the reminder asks), stays checked in.
    if facts.on_duty > 0 and facts.state in OPEN_STATES:
        result.actions.append(Action(Act.CLOSE_SHIFTS))
    if facts.next_open is None:
        # Nothing opens within the schedule's horizon: look again before it runs out.
        deadlines.add(now + RECHECK_CLOSED, "recheck")
        return
    remind_at = facts.next_open - policy.remind_before_open
    if facts.open_reminded_for != facts.next_open and policy.remind_before_open > timedelta(0):
        if now >= remind_at:
            result.actions.append(Action(Act.REMIND_OPEN, at=facts.next_open))
            result.open_reminded_for = facts.next_open
        else:
            deadlines.add(remind_at, "remind_open")
    deadlines.add(facts.next_open, "open")


def _open(
    facts: Facts, policy: Policy, now: datetime, result: Decision, deadlines: _Deadlines
) -> None:
    assert facts.window is not None
    window_start, window_end = facts.window
    opened = facts.window_opened_at
    # The schedule only looks HORIZON back, so a long 24h window's start moves with now;
    # a window already opened stays opened.
    continuing = (
        facts.state in OPEN_STATES
        and opened is not None
        and (opened >= window_start or window_start <= now - HORIZON + timedelta(minutes=1))
    )
    if not continuing or opened is None:
        opened = window_start if now - window_start <= ON_TIME else now
    result.window_opened_at = opened
    result.window_closes_at = window_end
    deadlines.add(window_end, "close")
    alert = facts.alert
    if facts.min_staff == 0 and facts.on_duty == 0:
        # A post that needs nobody on duty has nobody to be silent: nothing to watch.
        result.state = State.STAFFED
        result.short_since = None
        if alert is not None:
            result.actions.append(Action(Act.RESOLVE_ALERT, kind="staffed"))
        return
    if facts.on_duty < facts.min_staff:
        short_since = max(facts.short_since or opened, opened)
        result.short_since = short_since
        if alert is not None and alert.kind == "silent":
            result.actions.append(Action(Act.RESOLVE_ALERT, kind="unstaffed"))
            alert = None
        unstaffed_at = short_since + policy.staff_grace
        if now >= unstaffed_at:
            result.state = State.UNSTAFFED
            if alert is None:
                result.actions.append(Action(Act.OPEN_ALERT, kind="unstaffed"))
        else:
            result.state = State.OPENING
            deadlines.add(unstaffed_at, "unstaffed")
    else:
        result.short_since = None
        if alert is not None and alert.kind == "unstaffed":
            result.actions.append(Action(Act.RESOLVE_ALERT, kind="staffed"))
            alert = None
        base = max(facts.last_signal_at or opened, opened)
        silent_at = base + policy.silence_after
        remind_at = silent_at - policy.remind_before
        if alert is not None and alert.kind == "silent" and now < silent_at:
            result.actions.append(Action(Act.RESOLVE_ALERT, kind="signal"))
            alert = None
        if now >= silent_at:
            result.state = State.SILENT
            if alert is None:
                result.actions.append(Action(Act.OPEN_ALERT, kind="silent"))
        elif now >= remind_at and policy.remind_before > timedelta(0):
            result.state = State.REMINDED
            reminded = facts.silence_reminded_at
            if reminded is None or reminded < base:
                result.actions.append(Action(Act.REMIND_SILENCE, at=silent_at))
                result.silence_reminded_at = now
            deadlines.add(silent_at, "silent")
        else:
            result.state = State.STAFFED
            deadlines.add(
                remind_at if policy.remind_before > timedelta(0) else silent_at,
                "remind" if policy.remind_before > timedelta(0) else "silent",
            )
    if alert is not None and alert.next_due_at is not None:
        # An untaken alert climbs; a taken one keeps a deadline until the post recovers.
        if alert.next_due_at <= now:
            result.actions.append(Action(Act.FOLLOW_TAKEN if alert.acked else Act.ESCALATE))
        else:
            deadlines.add(alert.next_due_at, "taken" if alert.acked else "escalate")


def facts_with_schedule(base: Facts, schedule: Schedule, now: datetime) -> Facts:
    """Fill in the window and next opening from the post's schedule."""
    window = schedule.current_window(now)
    next_open = schedule.next_open(now) if window is None else None
    return replace(base, window=window, next_open=next_open)
