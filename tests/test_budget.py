"""The sender's budget (bot/delivery/budget.py) on its own: lanes, held chats, sweeps."""

from __future__ import annotations

from bot.core.config import DeliverySettings
from bot.delivery import budget as budget_module
from bot.delivery.budget import Budget

SPAN = 1.0 + 0.002  # a window's span with its margin


def test_a_chat_is_held_while_in_flight_and_for_a_span_after_the_answer() -> None:
    budget = Budget(DeliverySettings(per_chat_per_s=1))
    slots = budget.reserve(7, 0.0)
    assert budget.held_chats(0.5) == ({7}, float("inf"))  # in flight: frees on its answer
    budget.release(7, slots, 0.5)
    held, soonest = budget.held_chats(0.6)
    assert held == {7} and soonest == 0.5 + SPAN
    assert budget.held_chats(0.5 + SPAN) == (set(), float("inf"))


def test_a_group_stays_held_for_its_minute_though_its_second_is_free() -> None:
    budget = Budget(DeliverySettings(per_chat_per_s=10, per_group_per_min=2))
    for at in (0.0, 0.1):
        budget.release(-5, budget.reserve(-5, at), at)
    held, soonest = budget.held_chats(1.0)
    assert held == {-5} and soonest == 60.002
    assert budget.held_chats(59.9)[0] == {-5}
    assert budget.held_chats(60.002)[0] == set()  # the first send left the minute


def test_paid_lane_has_its_own_room_and_every_send_counts_against_paid_per_s() -> None:
    budget = Budget(DeliverySettings(global_per_s=2, paid_broadcast=True, paid_per_s=5))
    assert budget.room(0.0, 100)[0] == 1  # the pacing bucket's burst
    assert budget.paid_room(0.0, 100)[0] == 1
    budget.reserve(1, 0.0)
    for chat in (2, 3):
        budget.reserve(chat, 0.0, paid=True)
    assert budget.room(0.0, 100)[0] == 0
    assert budget.paid_room(2.0, 100)[0] == 1  # in flight, they still hold the 5/s window
    without = Budget(DeliverySettings())
    assert without.paid_room(0.0, 100) == (0, float("inf")) and not without.paid


def test_windows_of_quiet_chats_are_swept() -> None:
    budget = Budget(DeliverySettings(per_chat_per_s=5))
    budget._until_sweep = 3
    for chat in (1, 2, 3):
        budget.release(chat, budget.reserve(chat, 0.0), 0.0)
    assert len(budget._chat_windows) == 3  # the third reservation swept, nothing was quiet
    budget._until_sweep = 1
    budget.release(4, budget.reserve(4, 5.0), 5.0)
    assert set(budget._chat_windows) == {4}
    assert budget_module.SWEEP_EVERY > 1


def test_a_paid_broadcast_leaves_room_for_replies_sent_straight_to_people() -> None:
    """Direct replies are counted once answered: at the full paid rate one in flight would
    be one message too many, so the paid lane leaves 1/200 of the second free, and as many
    slots as direct replies were answered in the last second when that is more."""
    budget = Budget(DeliverySettings(paid_broadcast=True, paid_per_s=1000))
    at = 0.0
    for chat in range(994):  # the pacing bucket refills as the clock moves on
        at = chat / 1000
        assert budget.paid_room(at, 1000)[0] > 0
        budget.release(chat, budget.reserve(chat, at, paid=True), at)
    assert budget.paid_room(at, 1000)[0] == 1  # 6 free: one more, five kept
    budget.release(994, budget.reserve(994, at, paid=True), at)
    room, when = budget.paid_room(at, 1000)
    assert room == 0 and when == 0.0 + SPAN  # one must leave: the oldest, a span after its answer
    for n in range(7):  # a burst of direct replies: seven kept now, not five
        budget.note_direct_send(5000 + n, at)
    # 1,002 held (the replies too) and seven kept: ten must leave, the tenth oldest last
    assert budget.paid_room(at, 1000) == (0, 9 / 1000 + SPAN)
    assert budget.paid_room(0.0025 + SPAN, 1000)[0] == 0
    assert budget.paid_room(at + 1.0, 1000)[0] > 0  # the replies' second is over
