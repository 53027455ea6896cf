"""The watch state machine, pure: every transition with an injected 'now'."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.config import WatchSettings
from bot.watch.rules import Act, AlertFacts, Facts, Policy, State, decide

M = timedelta(minutes=1)
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 WIB
WINDOW = (T0, T0 + timedelta(hours=8))
POLICY = Policy(
    staff_grace=15 * M,
    silence_after=90 * M,
    remind_before=15 * M,
    escalate_after=20 * M,
    repeat_every=30 * M,
    remind_before_open=30 * M,
)


def facts(**changes: object) -> Facts:
    base = Facts(
        state=State.CLOSED,
        window=WINDOW,
        next_open=None,
        paused_until=None,
        on_duty=0,
        min_staff=1,
        window_opened_at=None,
        short_since=None,
        last_signal_at=None,
        silence_reminded_at=None,
        open_reminded_for=None,
        alert=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def acts(decision: object) -> list[Act]:
    return [action.act for action in decision.actions]  # type: ignore[attr-defined]


def test_window_opens_then_grace_then_unstaffed() -> None:
    opening = decide(facts(), POLICY, T0)
    assert opening.state is State.OPENING
    assert opening.window_opened_at == T0
    assert (opening.next_due_at, opening.due_kind) == (T0 + 15 * M, "unstaffed")
    assert acts(opening) == []
    later = facts(state=State.OPENING, window_opened_at=T0, short_since=T0)
    unstaffed = decide(later, POLICY, T0 + 15 * M)
    assert unstaffed.state is State.UNSTAFFED
    assert acts(unstaffed) == [Act.OPEN_ALERT]
    assert unstaffed.actions[0].kind == "unstaffed"


def test_first_sight_mid_window_gives_grace_from_now() -> None:
    late = T0 + timedelta(hours=3)
    decision = decide(facts(), POLICY, late)
    assert decision.window_opened_at == late
    assert decision.next_due_at == late + 15 * M


def test_staffed_reminder_silent_path() -> None:
    signal = T0 + 5 * M
    staffed = facts(state=State.OPENING, window_opened_at=T0, on_duty=1, last_signal_at=signal)
    first = decide(staffed, POLICY, signal)
    assert first.state is State.STAFFED
    assert (first.next_due_at, first.due_kind) == (signal + 75 * M, "remind")
    remind = decide(replace(staffed, state=State.STAFFED), POLICY, signal + 75 * M)
    assert remind.state is State.REMINDED
    assert acts(remind) == [Act.REMIND_SILENCE]
    assert remind.actions[0].at == signal + 90 * M
    assert (remind.next_due_at, remind.due_kind) == (signal + 90 * M, "silent")
    # the reminder is not sent twice for the same silence
    again = decide(
        replace(staffed, state=State.REMINDED, silence_reminded_at=signal + 75 * M),
        POLICY,
        signal + 80 * M,
    )
    assert acts(again) == []
    silent = decide(replace(staffed, state=State.REMINDED), POLICY, signal + 90 * M)
    assert silent.state is State.SILENT
    assert acts(silent) == [Act.OPEN_ALERT]
    assert silent.actions[0].kind == "silent"


def test_signal_before_window_does_not_count() -> None:
    decision = decide(
        facts(state=State.CLOSED, on_duty=1, last_signal_at=T0 - timedelta(hours=5)), POLICY, T0
    )
    assert decision.state is State.STAFFED
    assert decision.next_due_at == T0 + 75 * M


def test_escalate_then_repeat_then_ack_stops_climbing() -> None:
    alert = AlertFacts(7, "silent", acked=False, next_due_at=T0 + 120 * M)
    silent = facts(
        state=State.SILENT, window_opened_at=T0, on_duty=1, last_signal_at=T0, alert=alert
    )
    waiting = decide(silent, POLICY, T0 + 110 * M)
    assert acts(waiting) == []
    assert (waiting.next_due_at, waiting.due_kind) == (T0 + 120 * M, "escalate")
    climbing = decide(silent, POLICY, T0 + 120 * M)
    assert acts(climbing) == [Act.ESCALATE]
    acked = replace(silent, alert=replace(alert, acked=True, next_due_at=None))
    quiet = decide(acked, POLICY, T0 + 200 * M)
    assert acts(quiet) == []
    assert quiet.due_kind == "close"


def test_signal_recovers_silent_alert() -> None:
    alert = AlertFacts(7, "silent", acked=True, next_due_at=None)
    signal = T0 + 200 * M
    decision = decide(
        facts(
            state=State.SILENT, window_opened_at=T0, on_duty=1, last_signal_at=signal, alert=alert
        ),
        POLICY,
        signal,
    )
    assert decision.state is State.STAFFED
    assert acts(decision) == [Act.RESOLVE_ALERT]
    assert decision.actions[0].kind == "signal"


def test_check_in_recovers_unstaffed_alert() -> None:
    alert = AlertFacts(3, "unstaffed", acked=False, next_due_at=T0 + 40 * M)
    decision = decide(
        facts(
            state=State.UNSTAFFED,
            window_opened_at=T0,
            on_duty=1,
            last_signal_at=T0 + 30 * M,
            alert=alert,
        ),
        POLICY,
        T0 + 30 * M,
    )
    assert decision.state is State.STAFFED
    assert acts(decision) == [Act.RESOLVE_ALERT]
    assert decision.actions[0].kind == "staffed"


def test_last_officer_leaving_turns_silent_alert_into_unstaffed() -> None:
    alert = AlertFacts(3, "silent", acked=False, next_due_at=T0 + 200 * M)
    left = T0 + 150 * M
    decision = decide(
        facts(
            state=State.SILENT,
            window_opened_at=T0,
            on_duty=0,
            short_since=left,
            last_signal_at=T0,
            alert=alert,
        ),
        POLICY,
        left,
    )
    assert decision.state is State.OPENING
    assert acts(decision) == [Act.RESOLVE_ALERT]
    assert decision.next_due_at == left + 15 * M


def test_window_close_closes_shifts_and_resolves() -> None:
    alert = AlertFacts(3, "silent", acked=False, next_due_at=None)
    closed = decide(
        facts(
            state=State.SILENT,
            window=None,
            next_open=T0 + timedelta(days=1),
            on_duty=2,
            alert=alert,
        ),
        POLICY,
        T0 + timedelta(hours=8),
    )
    assert closed.state is State.CLOSED
    assert acts(closed) == [Act.RESOLVE_ALERT, Act.CLOSE_SHIFTS]
    assert closed.actions[0].kind == "closed"
    assert (closed.next_due_at, closed.due_kind) == (
        T0 + timedelta(days=1) - 30 * M,
        "remind_open",
    )


def test_reminder_before_opening_once() -> None:
    next_open = T0 + timedelta(days=1)
    closed = facts(state=State.CLOSED, window=None, next_open=next_open)
    remind = decide(closed, POLICY, next_open - 30 * M)
    assert acts(remind) == [Act.REMIND_OPEN]
    assert remind.open_reminded_for == next_open
    assert (remind.next_due_at, remind.due_kind) == (next_open, "open")
    again = decide(replace(closed, open_reminded_for=next_open), POLICY, next_open - 10 * M)
    assert acts(again) == []


def test_pause_resolves_and_resumes() -> None:
    alert = AlertFacts(3, "unstaffed", acked=False, next_due_at=T0 + 60 * M)
    until = T0 + 90 * M
    paused = decide(
        facts(state=State.UNSTAFFED, paused_until=until, alert=alert), POLICY, T0 + 30 * M
    )
    assert paused.state is State.PAUSED
    assert acts(paused) == [Act.RESOLVE_ALERT]
    assert (paused.next_due_at, paused.due_kind) == (until, "resume")
    resumed = decide(facts(state=State.PAUSED, paused_until=until), POLICY, until)
    assert resumed.state is State.OPENING
    assert resumed.window_opened_at == until  # grace counts from the resume, not the window
    assert resumed.next_due_at == until + 15 * M


def test_per_post_policy_overrides() -> None:
    policy = Policy.from_settings(WatchSettings(), {"silence_after": "30m", "staff_grace": "5m"})
    assert policy.silence_after == 30 * M
    assert policy.staff_grace == 5 * M
    assert policy.escalate_after == WatchSettings().escalate_after


def test_early_check_in_before_the_window_is_not_closed() -> None:
    """The reminder asks officers to /hadir when they arrive, possibly before opening."""
    early = decide(
        facts(state=State.CLOSED, window=None, next_open=T0, on_duty=1, open_reminded_for=T0),
        POLICY,
        T0 - 10 * M,
    )
    assert acts(early) == []
    ended = decide(
        facts(state=State.STAFFED, window=None, next_open=None, on_duty=1),
        POLICY,
        T0 + timedelta(hours=8),
    )
    assert acts(ended) == [Act.CLOSE_SHIFTS]


def test_nothing_opens_within_the_horizon_is_looked_at_again() -> None:
    closed = decide(facts(state=State.CLOSED, window=None, next_open=None), POLICY, T0)
    assert closed.next_due_at is not None and closed.due_kind == "recheck"


def test_post_needing_nobody_is_never_silent() -> None:
    quiet = decide(
        facts(state=State.STAFFED, window_opened_at=T0, min_staff=0, on_duty=0),
        POLICY,
        T0 + timedelta(hours=5),
    )
    assert quiet.state is State.STAFFED and acts(quiet) == []


def test_long_24h_window_keeps_its_opening() -> None:
    """The schedule looks 14 days back; a window open longer keeps its real opening."""
    now = T0 + timedelta(days=20)
    capped = (now - timedelta(days=14), now + timedelta(days=14))
    alert = AlertFacts(9, "silent", acked=True, next_due_at=None)
    decision = decide(
        facts(
            state=State.SILENT,
            window=capped,
            window_opened_at=T0,
            on_duty=1,
            last_signal_at=now - 200 * M,
            alert=alert,
        ),
        POLICY,
        now,
    )
    assert decision.window_opened_at == T0
    assert acts(decision) == []  # still silent: no fake recovery
