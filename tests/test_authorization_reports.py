"""Who may do what with field reports (issue 9), end to end through the fake Bot API.

The same method as tests/test_authorization_matrix.py (whose world, actors, snapshots and
refusal patterns are reused): every new command and button, by

* ``stranger``        a Telegram user the bot does not know;
* ``reporter``        Budi, petugas at KBJ-01, who reported the world's KBJ-01 issue;
* ``officer``         Sari, petugas at KBJ-01 too, but not the reporter;
* ``supervisor_in``   the lurah of 31.73.01.1001, the kelurahan of KBJ-01;
* ``supervisor_out``  the camat of another kecamatan (31.73.02): KBJ-01 is outside it;
* ``admin``           the city operations team.

Besides the matrix's world there is a second KBJ-01 issue, rejected by the admin, for the
reopen button. Refused: a polite catalog sentence and no state change; allowed: an answer
that is no refusal and the intended change.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from storage import areas, members
from storage.areas import AreaRow
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import ADMIN, BUDI, LURAH, SARI, STRANGER, T0, AppFactory
from tests.test_authorization_matrix import (
    REFUSALS,
    SECRETS,
    Actor,
    Snap,
    World,
    _pattern,
    ask,
    build_world,
    diff,
    runtime_of,
    snapshot,
)

A, R = "allowed", "refused"

CAMAT2 = FakeUser(2004, "Camat Palmerah")

ACTORS: dict[str, FakeUser] = {
    "stranger": STRANGER,
    "reporter": BUDI,
    "officer": SARI,
    "supervisor_in": LURAH,
    "supervisor_out": CAMAT2,
    "admin": ADMIN,
}
MEMBER_REF = {
    "reporter": "budi",
    "officer": "sari",
    "supervisor_in": "lurah",
    "supervisor_out": "camat2",
    "admin": "admin",
}
NEVER_SHOWN: dict[str, tuple[str, ...]] = {
    "stranger": SECRETS["stranger"],
    "reporter": ("KEC-KBJ", "John Doe", "Anggota Baru"),
    "officer": SECRETS["officer"],
    "supervisor_in": SECRETS["supervisor_in"],
    "supervisor_out": SECRETS["supervisor_out"],
    "admin": (),
}

#                                                  stranger reporter officer sup_in sup_out admin
TABLE: dict[str, tuple[str, str, str, str, str, str]] = {
    "sv:i: reopen the rejected KBJ-01 issue":       (R, R, R, A, R, A),
    "/laporan darurat":                             (R, R, R, A, A, A),
    "/laporan KBJ-01":                              (R, R, R, A, A, A),
    "/laporanku <ref of the KBJ-01 issue>":         (R, A, R, R, R, R),
    "rf: change the severity of the KBJ-01 issue":  (R, A, R, R, R, R),
    "rf: change the category of the KBJ-01 issue":  (R, A, R, R, R, R),
    "rf: add a note to the KBJ-01 issue":           (R, A, R, R, R, R),
    "rf: withdraw the KBJ-01 issue":                (R, A, R, R, R, R),
    "/darurat <text>":                              (R, A, A, R, R, R),
    "/lapor darurat <text>":                        (R, A, A, R, R, R),
}  # fmt: skip
# Sari has two posts and no shift: her emergency one-shot is kept and asks which post.

REFUSALS_HERE = {
    **REFUSALS,
    **{
        key: _pattern(catalog("id")[key])
        for key in (
            "reports.unknown_ref",
            "reports.not_yours",
            "reports.not_new",
        )
    },
}


def refusal_in(text: str) -> str | None:
    for key, pattern in REFUSALS_HERE.items():
        if pattern.fullmatch(text.strip()):
            return key
    return None


@dataclass
class ReportActor(Actor):
    rejected_id: int = 0

    @property
    def member_id(self) -> int | None:
        ref = MEMBER_REF.get(self.name)
        return self.world.member_ids[ref] if ref else None


Effect = Callable[[Snap, Snap, ReportActor], bool]


@dataclass(frozen=True)
class Action:
    run: Callable[[ReportActor], Awaitable[None]]
    effect: Effect | None = None
    shows: tuple[str, ...] = ()


def _send(text: str) -> Callable[[ReportActor], Awaitable[None]]:
    async def run(actor: ReportActor) -> None:
        actor.say(text.format(ref=actor.world.issue_ref))

    return run


def _press(action: str) -> Callable[[ReportActor], Awaitable[None]]:
    async def run(actor: ReportActor) -> None:
        await actor.press(f"rf:{actor.world.issue_id}:{action}")

    return run


async def _note(actor: ReportActor) -> None:
    await actor.press(f"rf:{actor.world.issue_id}:note")
    await actor.settle()
    actor.say("Sudah tiga jam belum datang")


async def _reopen(actor: ReportActor) -> None:
    await actor.press(f"sv:i:{actor.rejected_id}:reopen")
    await actor.settle()
    actor.say("Ternyata masih perlu ditangani")


def _event(kind: str) -> Effect:
    def effect(before: Snap, after: Snap, actor: ReportActor) -> bool:
        new = [row for row in after["issue_events"] if row not in before["issue_events"]]
        return any(row[1] == actor.world.issue_id and row[2] == kind for row in new)

    return effect


def _status(which: str, status: str) -> Effect:
    def effect(_before: Snap, after: Snap, actor: ReportActor) -> bool:
        wanted = actor.rejected_id if which == "rejected" else actor.world.issue_id
        return any(row[0] == wanted and row[2] == status for row in after["issues"])

    return effect


def _filed_or_kept(before: Snap, after: Snap, _actor: ReportActor) -> bool:
    """Filed, or (several posts, none on duty) kept in a draft that asks for the post."""
    return len(after["issues"]) > len(before["issues"]) or after["drafts"] != before["drafts"]


ACTIONS: dict[str, Action] = {
    "sv:i: reopen the rejected KBJ-01 issue": Action(_reopen, _status("rejected", "diterima")),
    "/laporan darurat": Action(_send("/laporan darurat")),
    "/laporan KBJ-01": Action(_send("/laporan KBJ-01")),
    "/laporanku <ref of the KBJ-01 issue>": Action(
        _send("/laporanku {ref}"), None, ("Riwayat", "TPS 12")
    ),
    "rf: change the severity of the KBJ-01 issue": Action(
        _press("sev:tinggi"), _event("corrected")
    ),
    "rf: change the category of the KBJ-01 issue": Action(_press("cat:apk"), _event("corrected")),
    "rf: add a note to the KBJ-01 issue": Action(_note, _event("note")),
    "rf: withdraw the KBJ-01 issue": Action(_press("wdy"), _event("withdrawn")),
    "/darurat <text>": Action(_send("/darurat Banjir di TPS 4"), _filed_or_kept),
    "/lapor darurat <text>": Action(_send("/lapor darurat Pohon tumbang di TPS 9"), _filed_or_kept),
}
assert set(ACTIONS) == set(TABLE)


async def check_cell(actor: ReportActor, name: str, expected: str) -> str | None:
    action = ACTIONS[name]
    await actor.settle()
    before = await snapshot(actor.app)
    start = actor.emu.mark()
    actor.said.clear()
    await action.run(actor)
    end = await actor.settle()
    after = await snapshot(actor.app)
    texts = [sent.text for sent in actor.outputs(start, end) if sent.text]
    refusals = [key for key in map(refusal_in, texts) if key]
    said = " ".join(actor.said)
    leaks = sorted(
        {s for s in NEVER_SHOWN[actor.name] for text in texts if s in text and s not in said}
    )
    changes = diff(before, after)
    problems: list[str] = []
    if leaks:
        problems.append(f"leaked {leaks}")
    if expected == R:
        if not refusals:
            problems.append("no polite refusal")
        if changes:
            problems.append(f"changed {changes}")
    else:
        if not texts:
            problems.append("no answer")
        if refusals:
            problems.append(f"refused with {refusals}")
        if action.effect is not None and not action.effect(before, after, actor):
            problems.append(f"no effect (changed: {changes})")
        missing = [word for word in action.shows if not any(word in t for t in texts)]
        if missing:
            problems.append(f"does not show {missing}")
    if not problems:
        return None
    shown = " | ".join(text.replace("\n", " ")[:90] for text in texts) or "-"
    return f"{actor.name} × {name}: expected {expected}, {'; '.join(problems)} [{shown}]"


async def add_other_kecamatan(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await areas.upsert(tx, [AreaRow("31.73.02", "Palmerah", "kecamatan", "31.73")], T0)
            await members.upsert(
                tx,
                [
                    MemberRow(
                        "camat2", "Camat Palmerah", None, None, ("supervisor",), (),
                        ("31.73.02",), CAMAT2.id, None,
                    )
                ],
                T0,
            )  # fmt: skip
    finally:
        await db.close()


async def rejected_issue(emu: FakeBotApi, app: PoskoApp, world: World) -> int:
    """A second KBJ-01 issue by Budi, rejected by the admin with a reason."""
    filed = await ask(emu, BUDI, "/lapor apk Spanduk di pagar TPS 12", "KBJ-01/")
    ref = re.search(r"KBJ-01/\d+", filed.text or "")
    assert ref is not None
    async with runtime_of(app).database.read() as tx:
        issue_id = int(await tx.scalar("SELECT id FROM issues WHERE ref = ?", (ref.group(),)))
    admin = ReportActor("admin", ADMIN, emu, app, world)
    await admin.press(f"sv:i:{issue_id}:reject")
    await admin.settle()
    await ask(emu, ADMIN, "Sudah ditangani Bawaslu", "ditolak")
    async with runtime_of(app).database.read() as tx:
        assert await tx.scalar("SELECT status FROM issues WHERE id = ?", (issue_id,)) == "ditolak"
    return issue_id


@pytest.fixture
async def camat2(db_path: Path) -> Path:
    await add_other_kecamatan(db_path)
    return db_path


@pytest.mark.parametrize("actor_name", tuple(ACTORS))
async def test_report_authorization(
    actor_name: str, emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, camat2: Path
) -> None:
    async with start_bot() as app:
        world = await build_world(emu, app, clock)
        rejected = await rejected_issue(emu, app, world)
        actor = ReportActor(actor_name, ACTORS[actor_name], emu, app, world, rejected_id=rejected)
        column = tuple(ACTORS).index(actor_name)
        failures = [
            failure
            for name, row in TABLE.items()
            if (failure := await check_cell(actor, name, row[column])) is not None
        ]
    assert not failures, "\n".join(failures)
