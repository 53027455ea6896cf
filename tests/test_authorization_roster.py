"""Who may use /piket KODE, /tukar and the piket buttons (issue 11), end to end through the
fake Bot API, like the other test_authorization_*.py files.

Budi holds slots at KBJ-01; Sari, his colleague there, is asked one swap (waiting for her)
and has accepted three more that wait for approval (``swap_approval = true``). Each actor
then sends the command or presses the button (a forged press from a tampered client for
everyone, so only the server's checks decide). "refused": a catalog sentence, no swap,
slot, swap notice or swap audit row changed, and nothing of the roster in the answer.
"allowed": an answer that is no refusal, and the intended change made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from bot.roster import swaps
from bot.roster.swap_rules import SwapEvent
from bot.roster.views import DAY_PREFIX, day_key
from storage import members
from storage.db import Database
from tests.agencies_seed import CAMAT_OTHER, LIAISON_IN, seed_agencies
from tests.conftest import ADMIN, BUDI, CAMAT, JOHN, LURAH, SARI, STRANGER, T0, AppFactory
from tests.roster_seed import SETTINGS, WEDNESDAY, seed_slots
from tests.test_authorization_matrix import runtime_of

A, R = "allowed", "refused"
ACTORS: dict[str, FakeUser] = {
    "stranger": STRANGER,
    "holder (Budi)": BUDI,
    "colleague (Sari)": SARI,
    "officer of another post": JOHN,
    "supervisor_in (lurah)": LURAH,
    "supervisor above (camat)": CAMAT,
    "supervisor_out (camat Kembangan)": CAMAT_OTHER,
    "admin": ADMIN,
    "liaison": LIAISON_IN,
}
#                                 stranger budi sari john lurah camat out admin liaison
TABLE: dict[str, tuple[str, ...]] = {
    "/piket":                       (R, A, A, A, A, A, A, A, R),
    "/piket KBJ-01":                (R, R, R, R, A, A, R, A, R),
    "pk: KBJ-01 tomorrow":          (R, R, R, R, A, A, R, A, R),
    "/tukar":                       (R, A, A, A, R, R, R, R, R),
    "tk:s: Budi's free slot":       (R, A, R, R, R, R, R, R, R),
    "tk:m: Budi's free slot, Sari": (R, A, R, R, R, R, R, R, R),
    "tk:x:a accept the request":    (R, R, A, R, R, R, R, R, R),
    "tk:x:d decline the request":   (R, R, A, R, R, R, R, R, R),
    "tk:x:c cancel the request":    (R, A, R, R, R, R, R, R, R),
    "tk:x:y approve":               (R, R, R, R, A, A, R, A, R),
    "tk:x:n reject":                (R, R, R, R, A, A, R, A, R),
}  # fmt: skip

REFUSAL_KEYS = (
    "common.unknown_user",
    "common.stale_button",
    "agencies.liaison_only",
    "roster.swap_not_yours",
    "roster.swap_not_officer",
    "roster.piket_only_supervisors",
    "roster.piket_unknown_post",
)
REFUSALS = {catalog(lang)[key] for lang in ("id", "en") for key in REFUSAL_KEYS}
SECRETS = ("Budi Santoso", "Sari Dewi", "08:00", "KBJ-01")


@pytest.fixture
async def world(db_path: Path) -> AsyncIterator[dict[str, int]]:
    """Slots, one open request and three accepted ones waiting for approval."""
    await seed_agencies(db_path)
    slot_ids = await seed_slots(
        db_path,
        *[("KBJ-01", "budi", WEDNESDAY.replace(day=25 + n), "08:00", "16:00") for n in range(5)],
    )
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            budi = await members.by_ref(tx, "budi")
            sari = await members.by_ref(tx, "sari")
            post = int(await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-01'"))
        assert budi is not None and sari is not None
        swap_ids = []
        for slot_id in slot_ids[:4]:
            await swaps.request(db, budi, slot_id, sari.id, T0, "id")
            async with db.read() as tx:
                swap_ids.append(int(await tx.scalar("SELECT max(id) FROM swaps")))
        for swap_id in swap_ids[1:]:
            answer = await swaps.press(db, sari, swap_id, SwapEvent.ACCEPT, T0, "id",
                                       approval_required=True,
                                       remind_before=SETTINGS.remind_before)  # fmt: skip
            assert answer.outcome is swaps.Outcome.DONE
    finally:
        await db.close()
    yield {
        "free_slot": slot_ids[4],
        "open": swap_ids[0],
        "waiting": swap_ids[1],
        "waiting2": swap_ids[2],
        "waiting3": swap_ids[3],
        "post": post,
        "sari": sari.id,
    }


async def snapshot(app: PoskoApp) -> tuple[Any, ...]:
    async with runtime_of(app).database.read() as tx:
        return (
            tuple(tuple(r) for r in await tx.all("SELECT id, state, version FROM swaps")),
            tuple(tuple(r) for r in await tx.all("SELECT id, member_id, version FROM slots")),
            await tx.scalar("SELECT count(*) FROM outbox WHERE kind LIKE 'swap%'"),
            await tx.scalar("SELECT count(*) FROM audit_log WHERE entity = 'swap'"),
        )


async def command(emu: FakeBotApi, user: FakeUser, text: str) -> str:
    mark = emu.mark()
    emu.send_text(user, text)
    return (await emu.wait_reply(user.id, after=mark)).text or ""


async def forged(emu: FakeBotApi, app: PoskoApp, user: FakeUser, data: str) -> str:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("·", callback_data="noop")]])
    carrier = await app.bot.send_message(user.id, "·", reply_markup=markup)
    ref = {"chat": {"id": user.id}, "message_id": carrier.message_id}
    mark = emu.mark()
    emu.press_button(user, ref, data, check=False)
    answer = await emu.wait_for(
        lambda sent: sent.method == "answerCallbackQuery" and sent.index >= mark, after=mark
    )
    return str(answer.params.get("text") or "")


def action(name: str, ids: dict[str, int], approver: int) -> tuple[str, str]:
    """('command' | 'press', text or callback data)."""
    tomorrow = day_key(WEDNESDAY)
    waiting = (ids["waiting"], ids["waiting2"], ids["waiting3"])[approver]
    return {
        "/piket": ("command", "/piket"),
        "/piket KBJ-01": ("command", "/piket KBJ-01"),
        "pk: KBJ-01 tomorrow": ("press", f"{DAY_PREFIX}{ids['post']}:{tomorrow}"),
        "/tukar": ("command", "/tukar"),
        "tk:s: Budi's free slot": ("press", f"{swaps.PICK_SLOT}{ids['free_slot']}"),
        "tk:m: Budi's free slot, Sari": (
            "press", f"{swaps.PICK_COLLEAGUE}{ids['free_slot']}:{ids['sari']}",
        ),
        "tk:x:a accept the request": ("press", swaps.step_data(ids["open"], SwapEvent.ACCEPT)),
        "tk:x:d decline the request": ("press", swaps.step_data(ids["open"], SwapEvent.DECLINE)),
        "tk:x:c cancel the request": ("press", swaps.step_data(ids["open"], SwapEvent.CANCEL)),
        "tk:x:y approve": ("press", swaps.step_data(waiting, SwapEvent.APPROVE)),
        "tk:x:n reject": ("press", swaps.step_data(waiting, SwapEvent.REJECT)),
    }[name]  # fmt: skip


@pytest.mark.parametrize("name", list(TABLE))
async def test_who_may(
    name: str,
    emu: FakeBotApi,
    start_bot: AppFactory,
    clock: FakeClock,
    world: dict[str, int],
) -> None:
    expected = dict(zip(ACTORS, TABLE[name], strict=True))
    # the refused first (on the same objects the allowed will change), then the allowed,
    # each approver on a swap of their own
    order = [a for a in ACTORS if expected[a] == R] + [a for a in ACTORS if expected[a] == A]
    async with start_bot(roster={"swap_approval": True}) as app:
        approvers = 0
        for actor in order:
            user = ACTORS[actor]
            kind, value = action(name, world, min(approvers, 2))
            before = await snapshot(app)
            if kind == "command":
                text = await command(emu, user, value)
            else:
                text = await forged(emu, app, user, value)
            after = await snapshot(app)
            if expected[actor] == R:
                assert text in REFUSALS, (actor, text)
                assert after == before, actor
                assert not any(secret in text for secret in SECRETS), (actor, text)
                continue
            assert text not in REFUSALS, (actor, text)
            if name.startswith("tk:m") or name.startswith("tk:x"):
                assert after[0] != before[0], actor  # the swap moved (or was made)
            if name in ("tk:x:y approve", "tk:x:n reject"):
                approvers += 1
        assert clock.now() == T0
