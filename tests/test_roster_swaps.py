"""Tukar piket services (bot.roster.swaps) on a real database with an injected clock:
request, accept, approval, decline, cancel, lapse at the slot's start, and every refusal
leaving the swap, the slot and the outbox as they were."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.roster import swaps
from bot.roster.swap_rules import SwapEvent
from bot.roster.swaps import Outcome
from storage import members, roster
from storage import swaps as swaps_store
from storage import watch as watch_store
from storage.db import Database
from storage.records import Member
from tests.conftest import T0
from tests.roster_seed import SETTINGS, WEDNESDAY, add_slot

REMIND = SETTINGS.remind_before


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(db_path)
    try:
        yield database
    finally:
        await database.close()


async def member(db: Database, ref: str) -> Member:
    async with db.read() as tx:
        found = await members.by_ref(tx, ref)
    assert found is not None
    return found


async def slot_on(db: Database, ref: str, start: str = "08:00", end: str = "16:00") -> int:
    async with db.transaction() as tx:
        return await add_slot(tx, "KBJ-01", ref, WEDNESDAY, start, end)


async def outbox(db: Database) -> list[tuple[int, str, dict[str, object]]]:
    async with db.read() as tx:
        rows = await tx.all("SELECT chat_id, kind, payload FROM outbox ORDER BY id")
    return [(row[0], row[1], json.loads(row[2])) for row in rows]


async def state(db: Database, swap_id: int) -> str:
    async with db.read() as tx:
        swap = await swaps_store.swap_by_id(tx, swap_id)
    assert swap is not None
    return swap.state


async def holder(db: Database, slot_id: int) -> int:
    async with db.read() as tx:
        slot = await roster.by_id(tx, slot_id)
    assert slot is not None
    return slot.member_id


async def ask(db: Database, slot_id: int, to: str = "sari") -> int:
    budi, colleague = await member(db, "budi"), await member(db, to)
    answer = await swaps.request(db, budi, slot_id, colleague.id, T0, "id")
    assert answer.outcome is Outcome.DONE, answer
    async with db.read() as tx:
        swap = await swaps_store.open_swap_of_slot(tx, slot_id)
    assert swap is not None
    return swap.id


async def test_choices_offer_only_coming_slots_and_free_registered_colleagues(
    db: Database,
) -> None:
    budi = await member(db, "budi")
    coming = await slot_on(db, "budi")
    async with db.transaction() as tx:
        running = await add_slot(tx, "KBJ-01", "budi", WEDNESDAY - timedelta(days=1),
                                 "18:00", "23:00")  # fmt: skip
    listed = await swaps.choices(db, budi, T0, "id")
    data = [d for row in listed.rows for _label, d in row]
    assert f"{swaps.PICK_SLOT}{coming}" in data
    assert f"{swaps.PICK_SLOT}{running}" not in data  # started at 18:00, it is 19:00
    assert all(len(d.encode()) < 64 for d in data)
    picked = await swaps.colleagues(db, budi, coming, T0, "id")
    names = [label for row in picked.rows for label, _d in row]
    assert names[0] == "Sari Dewi" and "Budi Santoso" not in names
    # Sari is rostered at the same time: nobody is left to take it
    async with db.transaction() as tx:
        await add_slot(tx, "KBJ-02", "sari", WEDNESDAY, "12:00", "20:00")
    busy = await swaps.colleagues(db, budi, coming, T0, "id")
    assert busy.outcome is Outcome.NO_COLLEAGUES and "KBJ-01" in (busy.message or "")


async def test_accept_hands_the_slot_over_and_tells_the_requester(db: Database) -> None:
    slot_id = await slot_on(db, "budi")
    swap_id = await ask(db, slot_id)
    request = (await outbox(db))[-1]
    assert request[0] == 1002 and request[1] == swaps.REQUEST_KIND
    markup = request[2]["reply_markup"]
    assert isinstance(markup, dict)
    assert [b["callback_data"] for b in markup["inline_keyboard"][0]] == [
        f"tk:x:{swap_id}:a",
        f"tk:x:{swap_id}:d",
    ]
    sari = await member(db, "sari")
    answer = await swaps.press(db, sari, swap_id, SwapEvent.ACCEPT, T0, "id",
                               approval_required=False, remind_before=REMIND)  # fmt: skip
    assert answer.outcome is Outcome.DONE
    assert "kini tugas Bapak/Ibu" in (answer.message or "")
    assert "Pengingat akan dikirim" in (answer.message or "")  # 08:00 - 30m is still ahead
    assert await holder(db, slot_id) == sari.id
    assert await state(db, swap_id) == "disetujui"
    told = (await outbox(db))[-1]
    assert told[0] == 1001 and "kini dipegang Sari Dewi" in str(told[2]["text"])
    async with db.read() as tx:
        slot = await roster.by_id(tx, slot_id)
        actions = [r[0] for r in await tx.all("SELECT action FROM audit_log WHERE entity='swap'")]
    assert slot is not None and slot.reminded_at is None
    assert actions == ["swap_request", "swap_accept"]
    # a second press changes nothing and says how it ended
    again = await swaps.press(db, sari, swap_id, SwapEvent.ACCEPT, T0, "id",
                              approval_required=False, remind_before=REMIND)  # fmt: skip
    assert again.outcome is Outcome.CLOSED and "disetujui" in (again.message or "")
    assert await holder(db, slot_id) == sari.id


async def test_past_the_reminder_the_notice_says_when_to_come(db: Database) -> None:
    async with db.transaction() as tx:
        # today (Tuesday) 19:20: 20 minutes ahead, inside the 30 minutes of the reminder
        soon = await add_slot(tx, "KBJ-01", "budi", WEDNESDAY - timedelta(days=1),
                              "19:20", "23:00")  # fmt: skip
    swap_id = await ask(db, soon)
    sari = await member(db, "sari")
    answer = await swaps.press(db, sari, swap_id, SwapEvent.ACCEPT, T0, "id",
                               approval_required=False, remind_before=REMIND)  # fmt: skip
    assert "Mohon /hadir di KBJ-01 pukul 19:20 WIB" in (answer.message or "")


async def test_with_approval_the_lurah_decides(db: Database) -> None:
    slot_id = await slot_on(db, "budi")
    swap_id = await ask(db, slot_id)
    sari = await member(db, "sari")
    accepted = await swaps.press(db, sari, swap_id, SwapEvent.ACCEPT, T0, "id",
                                 approval_required=True, remind_before=REMIND)  # fmt: skip
    assert accepted.outcome is Outcome.DONE and "persetujuan" in (accepted.message or "")
    assert await state(db, swap_id) == "menunggu_persetujuan"
    budi = await member(db, "budi")
    assert await holder(db, slot_id) == budi.id
    sent = await outbox(db)
    approvals = [row for row in sent if row[1] == swaps.APPROVAL_KIND]
    assert [row[0] for row in approvals] == [2001]  # the lurah of KBJ-01's kelurahan
    # an officer and the colleague cannot approve
    for ref in ("budi", "sari", "john"):
        refused = await swaps.press(db, await member(db, ref), swap_id, SwapEvent.APPROVE, T0,
                                    "id", approval_required=True, remind_before=REMIND)  # fmt: skip
        assert refused.outcome is Outcome.NOT_YOURS
    assert await state(db, swap_id) == "menunggu_persetujuan"
    lurah = await member(db, "lurah")
    approved = await swaps.press(db, lurah, swap_id, SwapEvent.APPROVE, T0, "id",
                                 approval_required=True, remind_before=REMIND)  # fmt: skip
    assert approved.outcome is Outcome.DONE
    assert await holder(db, slot_id) == sari.id
    told = {row[0] for row in (await outbox(db))[len(sent) :]}
    assert told == {1001, 1002}


async def test_reject_decline_and_cancel_keep_the_slot(db: Database) -> None:
    budi, sari, lurah = [await member(db, r) for r in ("budi", "sari", "lurah")]
    slot_id = await slot_on(db, "budi")

    async def go(who: Member, swap_id: int, event: SwapEvent) -> swaps.Answer:
        return await swaps.press(db, who, swap_id, event, T0, "id",
                                 approval_required=True, remind_before=REMIND)  # fmt: skip

    first = await ask(db, slot_id)
    await go(sari, first, SwapEvent.ACCEPT)
    rejected = await go(lurah, first, SwapEvent.REJECT)
    assert rejected.outcome is Outcome.DONE and await state(db, first) == "ditolak"
    second = await ask(db, slot_id)
    declined = await go(sari, second, SwapEvent.DECLINE)
    assert declined.outcome is Outcome.DONE and await state(db, second) == "ditolak"
    third = await ask(db, slot_id)
    # only the requester cancels; only the colleague answers
    wrong = await go(sari, third, SwapEvent.CANCEL)
    assert wrong.outcome is Outcome.NOT_YOURS
    wrong = await go(budi, third, SwapEvent.ACCEPT)
    assert wrong.outcome is Outcome.NOT_YOURS
    cancelled = await go(budi, third, SwapEvent.CANCEL)
    assert cancelled.outcome is Outcome.DONE and await state(db, third) == "dibatalkan"
    assert await holder(db, slot_id) == budi.id
    late = await go(sari, third, SwapEvent.ACCEPT)
    assert late.outcome is Outcome.CLOSED and await holder(db, slot_id) == budi.id


async def test_refusals_change_nothing(db: Database) -> None:
    budi, sari, john = [await member(db, r) for r in ("budi", "sari", "john")]
    slot_id = await slot_on(db, "budi")
    async with db.transaction() as tx:
        started = await add_slot(tx, "KBJ-01", "budi", WEDNESDAY - timedelta(days=1),
                                 "18:00", "23:00")  # fmt: skip
        sari_slot = await add_slot(tx, "KBJ-01", "sari", WEDNESDAY, "16:00", "23:00")
    before = await outbox(db)
    cases = [
        (budi, slot_id, budi.id, Outcome.SELF),
        (budi, slot_id, john.id, Outcome.NOT_COLLEAGUE),
        (budi, slot_id, 999_999, Outcome.NOT_COLLEAGUE),
        (budi, started, sari.id, Outcome.STARTED),
        (budi, sari_slot, sari.id, Outcome.NOT_YOURS),
        (budi, 999_999, sari.id, Outcome.UNKNOWN),
        (john, slot_id, sari.id, Outcome.NOT_YOURS),
    ]
    for who, slot, to, outcome in cases:
        answer = await swaps.request(db, who, slot, to, T0, "id")
        assert answer.outcome is outcome, (who.ref, slot, to)
        assert answer.toast and len(answer.toast) < 200
    assert await outbox(db) == before
    async with db.read() as tx:
        assert await tx.scalar("SELECT count(*) FROM swaps") == 0
    await ask(db, slot_id)
    twice = await swaps.request(db, budi, slot_id, sari.id, T0, "id")
    assert twice.outcome is Outcome.ALREADY_OPEN
    unknown = await swaps.press(db, sari, 999_999, SwapEvent.ACCEPT, T0, "id",
                                approval_required=False, remind_before=REMIND)  # fmt: skip
    assert unknown.outcome is Outcome.UNKNOWN


async def test_an_unanswered_request_lapses_at_the_start(db: Database) -> None:
    slot_id = await slot_on(db, "budi")
    swap_id = await ask(db, slot_id)
    async with db.read() as tx:
        slot = await roster.by_id(tx, slot_id)
        assert slot is not None
        assert await watch_store.next_deadline(tx) is not None
        assert await swaps_store.next_swap_expiry(tx) == slot.start_at
    start = slot.start_at
    async with db.transaction() as tx:
        assert await swaps.expire_due(tx, start - timedelta(seconds=1), 100) == 0
    sari = await member(db, "sari")
    # pressed at the start, before the pass: refused as lapsed, nothing moves
    late = await swaps.press(db, sari, swap_id, SwapEvent.ACCEPT, start, "id",
                             approval_required=False, remind_before=REMIND)  # fmt: skip
    assert late.outcome is Outcome.EXPIRED and "kedaluwarsa" in (late.message or "")
    before = len(await outbox(db))
    async with db.transaction() as tx:
        assert await swaps.expire_due(tx, start, 100) == 1
    async with db.transaction() as tx:
        assert await swaps.expire_due(tx, start, 100) == 0
    assert await state(db, swap_id) == "kedaluwarsa"
    notices = (await outbox(db))[before:]
    assert sorted(row[0] for row in notices) == [1001, 1002]
    assert all("kedaluwarsa" in str(row[2]["text"]) for row in notices)
    async with db.read() as tx:
        assert await swaps_store.next_swap_expiry(tx) is None
    budi = await member(db, "budi")
    assert await holder(db, slot_id) == budi.id


def test_callback_data_stays_short() -> None:
    biggest = 10**18 - 1
    for event in SwapEvent:
        assert len(swaps.step_data(biggest, event).encode()) < 64
    assert len(f"{swaps.PICK_COLLEAGUE}{biggest}:{biggest}".encode()) < 64


async def test_importing_the_same_roster_again_keeps_a_swap(db: Database) -> None:
    from bot.roster.planning import RosterPlan, write
    from bot.roster.slots import PlannedSlot, span

    slot_id = await slot_on(db, "budi")
    swap_id = await ask(db, slot_id)
    sari = await member(db, "sari")
    await swaps.press(db, sari, swap_id, SwapEvent.ACCEPT, T0, "id",
                      approval_required=False, remind_before=REMIND)  # fmt: skip
    budi = await member(db, "budi")
    async with db.transaction() as tx:
        post = int(await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'"))
        slot = PlannedSlot(post, budi.id, *span(WEDNESDAY, 8 * 60, 16 * 60))
        result = await write(tx, RosterPlan([post], [], [slot], {(post, WEDNESDAY)}), T0, SETTINGS)
    assert (result.kept, result.added, result.dropped) == (1, 0, 0)
    assert await holder(db, slot_id) == sari.id


async def test_a_new_roster_dropping_a_slot_cancels_its_request_and_tells_both(
    db: Database,
) -> None:
    from bot.roster.planning import RosterPlan, write

    slot_id = await slot_on(db, "budi")
    swap_id = await ask(db, slot_id)
    async with db.transaction() as tx:
        post = int(await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'"))
        result = await write(tx, RosterPlan([post], [], [], set()), T0, SETTINGS)
    assert result.dropped == 1
    told = [(chat, payload["text"]) for chat, _, payload in (await outbox(db))[-2:]]
    assert {chat for chat, _ in told} == {1001, 1002}
    assert all("jadwal piket posko diperbarui" in str(text) for _, text in told)
    async with db.read() as tx:
        assert await swaps_store.swap_by_id(tx, swap_id) is None  # gone with its slot
        audit = await tx.scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'swap_roster_changed'"
        )
    assert audit == 1


async def test_a_colleague_taken_off_the_post_cannot_accept(db: Database) -> None:
    slot_id = await slot_on(db, "budi")
    swap_id = await ask(db, slot_id)
    async with db.transaction() as tx:
        sari = int(await tx.scalar("SELECT id FROM members WHERE ref = 'sari'"))
        post = int(await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'"))
        await tx.execute(
            "DELETE FROM assignments WHERE member_id = ? AND post_id = ?", (sari, post)
        )
    answer = await swaps.press(db, await member(db, "sari"), swap_id, SwapEvent.ACCEPT, T0, "id",
                               approval_required=False, remind_before=REMIND)  # fmt: skip
    assert answer.outcome is Outcome.NOT_COLLEAGUE
    assert await holder(db, slot_id) == (await member(db, "budi")).id
