"""Who may do what (SPEC §1), end to end through the fake Bot API.

Every command (by its Indonesian name) and every kind of button, pressed by five actors:

* ``stranger``        a Telegram user the bot does not know;
* ``officer``         Sari, petugas at KBJ-01 (and KBJ-02);
* ``supervisor_in``   the lurah of 31.73.01.1001, the kelurahan of KBJ-01;
* ``supervisor_out``  a second lurah, of 31.73.01.1002: KBJ-01 is outside his subtree;
* ``admin``           the city operations team, over everything.

The objects the buttons point at all belong to KBJ-01 and exist before the actor starts:
an unstaffed alert opened by the real watcher, an issue reported by Budi with /lapor, two
circular drafts and one sent circular (to kelurahan 31.73.01.1001) made by the admin with
/siaran, and a scheduled announcement. Whoever received a button presses the real one;
everyone else sends the same callback data from a tampered client (a forged press).

"refused" means: a polite refusal (a catalog sentence, as a reply or a callback answer),
no state change at all (alerts, issues and their events, circulars and read receipts,
pauses, group bindings, outbox, shifts, signals, drafts, invites, announcements, audit),
and nothing in what the actor got back that their role and scope must not show.
"allowed" means: an answer that is no refusal, the intended change made, and no leak.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.core.runtime import Runtime
from bot.rehearsal.emulator import REPLY_METHODS, FakeBotApi, FakeUser, Sent
from bot.watch.texts import TAKE_PREFIX
from storage import members
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import ADMIN, BUDI, LURAH, MONAS, SARI, STRANGER, T0, AppFactory, Phone

A, R = "allowed", "refused"

LURAH2 = FakeUser(2003, "Lurah Sukabumi")
GROUP = -100_555  # a posko bersama group the /grup command is sent in

ACTORS: dict[str, FakeUser] = {
    "stranger": STRANGER,
    "officer": SARI,
    "supervisor_in": LURAH,
    "supervisor_out": LURAH2,
    "admin": ADMIN,
}
MEMBER_REF = {
    "officer": "sari",
    "supervisor_in": "lurah",
    "supervisor_out": "lurah2",
    "admin": "admin",
}
# The post an allowed overview of this actor must show.
HOME = {
    "officer": "KBJ-01",
    "supervisor_in": "KBJ-01",
    "supervisor_out": "KBJ-02",
    "admin": "KBJ-01",
}
# What each actor must never read (post codes, names, the issue's and circular's words):
# unknown people see nothing; scope keeps the other kelurahan and the kecamatan apart.
SECRETS: dict[str, tuple[str, ...]] = {
    "stranger": (
        "KBJ-01", "KBJ-02", "KEC-KBJ", "Kebon Jeruk", "Sukabumi", "Budi Santoso", "Sari Dewi",
        "John Doe", "Camat", "Ops Kota", "TPS 12", "netralitas",
    ),
    "officer": ("KEC-KBJ", "John Doe", "TPS 12", "Anggota Baru"),
    "supervisor_in": ("KBJ-02", "KEC-KBJ", "Sukabumi", "John Doe", "Anggota Baru"),
    "supervisor_out": (
        "KBJ-01", "Posko Kel. Kebon Jeruk", "KEC-KBJ", "Budi Santoso", "John Doe", "TPS 12",
        "netralitas", "Anggota Baru",
    ),
    "admin": (),
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# The matrix. One row per command or button kind; columns are the five actors.
# ---------------------------------------------------------------------------------------------

ACTOR_NAMES = tuple(ACTORS)
#                                                      stranger officer sup_in sup_out admin
TABLE: dict[str, tuple[str, str, str, str, str]] = {
    # buttons on things of KBJ-01 (pressed first, while they are fresh)
    "al: take the KBJ-01 alert":                        (R, R, A, R, A),
    "sv:i: accept the KBJ-01 issue":                    (R, R, A, R, A),
    "sv:i: reject the KBJ-01 issue, with a reason":     (R, R, A, R, A),
    "sv:p: page of the /pantau overview":               (R, R, A, A, A),
    "sv:l: page of the /laporan list":                  (R, R, A, A, A),
    "cr:ok: send the admin's circular draft":           (R, R, R, R, A),
    "cr:no: cancel the admin's circular draft":         (R, R, R, R, A),
    # a read receipt is personal: only recipients (kelurahan 31.73.01.1001) record one
    "cr:r: mark the kelurahan circular read":           (R, A, A, R, R),
    # everyone's commands
    "/start":                                           (R, A, A, A, A),
    "/bantuan":                                         (R, A, A, A, A),
    # officer commands and their buttons (only people with posts)
    "/hadir + share location":                          (R, A, R, R, R),
    "ci: choose the post to check in at":               (R, A, R, R, R),
    "ci: forged choice of a post not one's own":        (R, R, R, R, R),
    "/aman":                                            (R, A, R, R, R),
    # officers: their post; supervisors and admins: their subtree (the other kelurahan's
    # camat sees only KBJ-02)
    "/status":                                          (R, A, A, A, A),
    "/lapor <category> <text>":                         (R, A, R, R, R),
    "/laporanku":                                       (R, A, R, R, R),
    "rp: guided /lapor, first button":                  (R, A, R, R, R),
    "/batal":                                           (R, A, A, A, A),
    # a shift moves only between one's own posts, and only while on duty
    "mv: move the shift to KBJ-02":                     (R, A, R, R, R),
    "/pulang":                                          (R, A, R, R, R),
    # with no shift Sari's /lapor asks which post: she may pick only her own
    "rp: forged choice of a post not one's own":        (R, R, R, R, R),
    # supervisor commands (scoped to the subtree; admin over everything)
    "/pantau":                                          (R, R, A, A, A),
    "/pantau KBJ-01 (one post, with phones)":           (R, R, A, R, A),
    "sv:d: look at KBJ-01 from the overview":           (R, R, A, R, A),
    "/laporan":                                         (R, R, A, A, A),
    "/laporan <ref of the KBJ-01 issue>":               (R, R, A, R, A),
    "/rekap":                                           (R, R, A, A, A),
    "/peta":                                            (R, R, A, A, A),
    # admin commands
    "/jeda KBJ-01 30":                                  (R, R, R, R, A),
    "/grup 31.73.01.1001 (in a group)":                 (R, R, R, R, A),
    "/ekspor laporan csv":                              (R, R, R, R, A),
    "/siaran 31.73.01.1002 <text>":                     (R, R, R, R, A),
    "/siaran_status":                                   (R, R, R, R, A),
    "/jadwal":                                          (R, R, R, R, A),
    "/jadwal_tambah <day> <time> semua <text>":         (R, R, R, R, A),
    "/jadwal_hapus 1":                                  (R, R, R, R, A),
    "/undang newbie":                                   (R, R, R, R, A),
}  # fmt: skip

MATRIX: list[tuple[str, str, str]] = [
    (actor, action, expected)
    for action, row in TABLE.items()
    for actor, expected in zip(ACTOR_NAMES, row, strict=True)
]


# ---------------------------------------------------------------------------------------------
# Refusals are catalog sentences
# ---------------------------------------------------------------------------------------------

REFUSAL_KEYS = (
    "common.unknown_user",
    "common.stale_button",
    "admin.only",
    "power.only",
    "desk.only_supervisors",
    "desk.not_allowed",
    "desk.unknown_ref",
    "pantau.no_scope",
    "recap.only",
    "recap.no_scope",
    "circular.not_yours",
    "circular.read_not_recipient",
    "alert.not_yours",
    "presence.no_posts",
    "presence.move_not_on_duty",
    "pantau.post_unknown",
    "presence.choice_expired",
    "presence.not_on_duty",
    "presence.aman_not_on_duty",
    "report.problem_no_posts",
    "report.none_yet",
)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^{}]*\}", template)
    return re.compile(".*?".join(re.escape(part) for part in parts), re.DOTALL)


REFUSALS = {key: _pattern(catalog("id")[key]) for key in REFUSAL_KEYS}


def refusal_in(text: str) -> str | None:
    for key, pattern in REFUSALS.items():
        if pattern.fullmatch(text.strip()):
            return key
    return None


# ---------------------------------------------------------------------------------------------
# State: everything a refused actor must leave exactly as it was
# ---------------------------------------------------------------------------------------------

Snap = dict[str, list[tuple[Any, ...]]]

SNAPSHOT_SQL = {
    "alerts": "SELECT id, post_id, acked_by, acked_at FROM alerts ORDER BY id",
    "issues": "SELECT id, ref, status, assignee_id FROM issues ORDER BY id",
    "issue_events": "SELECT id, issue_id, kind, actor_id, to_status FROM issue_events ORDER BY id",
    # 'done' is the sender finishing a confirmed circular in the background
    "circulars": (
        "SELECT id, CASE status WHEN 'done' THEN 'sending' ELSE status END"
        " FROM circulars ORDER BY id"
    ),
    "circular_recipients": (
        "SELECT circular_id, member_id, read_at FROM circular_recipients ORDER BY 1, 2"
    ),
    "paused": "SELECT code, paused_until FROM posts ORDER BY code",
    "group_chats": "SELECT code, group_chat_id, group_topic_id FROM areas ORDER BY code",
    # delivery reports are edited by a background job whenever receipts come in
    "outbox": "SELECT id, chat_id, kind FROM outbox WHERE kind != 'circular_report' ORDER BY id",
    "shifts": "SELECT id, member_id, post_id, ended_at FROM shifts ORDER BY id",
    "signals": "SELECT id, post_id, member_id, kind FROM signals ORDER BY id",
    "drafts": "SELECT member_id, kind, step, data FROM drafts ORDER BY member_id",
    "invites": "SELECT code, member_id, used_at FROM invites ORDER BY code",
    "announcements": "SELECT id, fired_at FROM announcements ORDER BY id",
    "members": "SELECT id, telegram_id FROM members ORDER BY id",
    "audit": "SELECT id, actor_id, action FROM audit_log WHERE actor_id IS NOT NULL ORDER BY id",
}


def runtime_of(app: PoskoApp) -> Runtime:
    runtime = app.bot_data["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


async def snapshot(app: PoskoApp) -> Snap:
    async with runtime_of(app).database.read() as tx:
        return {
            name: [tuple(row) for row in await tx.all(sql)] for name, sql in SNAPSHOT_SQL.items()
        }


def diff(before: Snap, after: Snap) -> list[str]:
    return [name for name in SNAPSHOT_SQL if before[name] != after[name]]


# ---------------------------------------------------------------------------------------------
# The world the buttons point at
# ---------------------------------------------------------------------------------------------


@dataclass
class World:
    alert_id: int
    issue_id: int
    issue_ref: str
    post_ids: dict[str, int]
    member_ids: dict[str, int]


async def add_second_lurah(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await members.upsert(
                tx,
                [
                    MemberRow(
                        "lurah2",
                        "Lurah Sukabumi Utara",
                        None,
                        None,
                        ("supervisor",),
                        (),
                        ("31.73.01.1002",),
                        LURAH2.id,
                        None,
                    )
                ],
                T0,
            )
    finally:
        await db.close()


async def ask(emu: FakeBotApi, user: FakeUser, text: str, contains: str) -> Sent:
    mark = emu.mark()
    emu.send_text(user, text)
    return await emu.wait_reply(user.id, after=mark, contains=contains)


async def delivered(
    emu: FakeBotApi, app: PoskoApp, clock: FakeClock, user: FakeUser, contains: str
) -> Sent:
    """A message the outbox sends to ``user``. The sender's per-chat limits run on the fake
    clock, which stands still otherwise: move it on a little until the message is out."""
    sender = runtime_of(app).sender
    for _ in range(40):
        try:
            return await emu.wait_reply(user.id, after=0, contains=contains, timeout=0.1)
        except TimeoutError:
            clock.advance(timedelta(seconds=2))
            if sender is not None:
                sender.wake()
    raise AssertionError(f"nothing containing {contains!r} reached {user.first_name}")


async def build_world(emu: FakeBotApi, app: PoskoApp, clock: FakeClock) -> World:
    """KBJ-01's alert, issue, circulars and a scheduled announcement, made the real way."""
    runtime = runtime_of(app)
    watcher = runtime.watcher
    assert watcher is not None
    await watcher.sweep()
    for code in ("KBJ-02", "KEC-KBJ"):  # only KBJ-01's story is told
        await ask(emu, ADMIN, f"/jeda {code} 2h", "dijeda")
    # an issue, announced to the lurah with its action buttons
    filed = await ask(emu, BUDI, "/lapor logistik Kotak suara TPS 12 belum datang", "KBJ-01/")
    ref = re.search(r"KBJ-01/\d+", filed.text or "")
    assert ref is not None
    await delivered(emu, app, clock, LURAH, "TPS 12")
    # nobody checked in at KBJ-01: past the grace time the watcher opens an unstaffed alert
    clock.advance(timedelta(minutes=16))
    await watcher.sweep()
    alert_message = await delivered(emu, app, clock, LURAH, "posko kosong")
    assert "KBJ-01" in (alert_message.text or "")
    # circulars: #1 and #2 stay drafts, #3 is sent to kelurahan 31.73.01.1001
    admin = Phone(emu, ADMIN)
    for words in ("Edaran satu", "Edaran dua", "Mohon jaga netralitas ASN"):
        await ask(emu, ADMIN, f"/siaran 31.73.01.1001 {words}", words)
    preview = emu.sent_to(ADMIN.id, "sendMessage")[-1]
    assert ("✅ Kirim", "cr:ok:3") in admin.buttons(preview)
    await admin.press(preview, "cr:ok:3")
    for user in (BUDI, SARI, LURAH):
        await delivered(emu, app, clock, user, "Edaran #3")
    await ask(emu, ADMIN, "/jadwal_tambah 2026-11-27 07:00 semua Selamat bertugas", "#1")
    async with runtime.database.read() as tx:
        alert_id = await tx.scalar("SELECT id FROM alerts WHERE resolved_at IS NULL")
        issue_id = await tx.scalar("SELECT id FROM issues WHERE ref = ?", (ref.group(),))
        post_ids = {str(r[0]): int(r[1]) for r in await tx.all("SELECT code, id FROM posts")}
        member_ids = {str(r[0]): int(r[1]) for r in await tx.all("SELECT ref, id FROM members")}
    assert alert_id is not None and issue_id is not None
    return World(int(alert_id), int(issue_id), ref.group(), post_ids, member_ids)


# ---------------------------------------------------------------------------------------------
# One actor's phone, with forged presses and a barrier that ends each action
# ---------------------------------------------------------------------------------------------

CARRIER = "·"


@dataclass
class Actor:
    name: str
    user: FakeUser
    emu: FakeBotApi
    app: PoskoApp
    world: World
    said: list[str] = field(default_factory=list)
    barriers: set[int] = field(default_factory=set)

    @property
    def member_id(self) -> int | None:
        ref = MEMBER_REF.get(self.name)
        return self.world.member_ids[ref] if ref else None

    def say(self, text: str, *, chat_id: int | None = None, chat_type: str = "private") -> None:
        self.said.append(text)
        self.emu.send_text(self.user, text, chat_id=chat_id, chat_type=chat_type)

    def locate(self, lat: float, lon: float) -> None:
        self.emu.send_location(self.user, lat, lon)

    async def settle(self) -> int:
        """Wait until everything the actor sent so far is handled (one person's updates
        run in order); returns the index of the barrier's reply."""
        mark = self.emu.mark()
        if self.member_id is None:
            self.emu.send_text(self.user, "/start -")
            words = "Kode undangan tidak dikenal"
        else:
            self.emu.send_text(self.user, "/sinkron")
            words = "Perintah tidak dikenal"
        reply = await self.emu.wait_reply(self.user.id, after=mark, contains=words, timeout=15)
        self.barriers.add(reply.index)
        return reply.index

    def button_with(self, wanted: Callable[[str], bool]) -> tuple[dict[str, Any], str] | None:
        """The newest message in the actor's chat that carries a matching button now."""
        for sent in reversed(self.emu.sent_to(self.user.id)):
            if sent.message_id is None or sent.method not in ("sendMessage", "sendPhoto"):
                continue
            current = self.emu.message(self.user.id, sent.message_id)
            if current is None:
                continue
            for _label, data in self.emu.inline_buttons(current):
                if wanted(data):
                    return current, data
        return None

    async def press(self, data: str) -> None:
        """Press the real button if the actor has it, else forge the callback on a fresh
        message of the bot in the actor's own chat."""
        found = self.button_with(lambda d: d == data)
        if found is not None:
            message, real = found
            self.emu.press_button(self.user, message, real)
            return
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(CARRIER, callback_data="noop")]])
        carrier = await self.app.bot.send_message(self.user.id, CARRIER, reply_markup=markup)
        ref = {"chat": {"id": self.user.id}, "message_id": carrier.message_id}
        self.emu.press_button(self.user, ref, data, check=False)

    def outputs(self, start: int, end: int) -> list[Sent]:
        chats = {self.user.id, GROUP}
        return [
            sent
            for sent in self.emu.sent[start:end]
            if sent.chat_id in chats
            and sent.index not in self.barriers
            and (sent.method in REPLY_METHODS or sent.method == "answerCallbackQuery")
            and not (sent.method == "sendMessage" and sent.text == CARRIER)
        ]


# ---------------------------------------------------------------------------------------------
# What each action does, the change it makes when allowed, what it must show
# ---------------------------------------------------------------------------------------------

Effect = Callable[[Snap, Snap, Actor], bool]


@dataclass(frozen=True)
class Action:
    run: Callable[[Actor], Awaitable[None]]
    effect: Effect | None = None
    shows: Callable[[Actor], tuple[str, ...]] = lambda _actor: ()
    prepare: Callable[[Actor], Awaitable[None]] | None = None
    """Done before the 'before' snapshot: a step that is not the thing being judged."""


def send(text: str, **kwargs: Any) -> Callable[[Actor], Awaitable[None]]:
    async def run(actor: Actor) -> None:
        actor.say(text, **kwargs)

    return run


def changed(table: str) -> Effect:
    return lambda before, after, _actor: before[table] != after[table]


def grew(table: str) -> Effect:
    return lambda before, after, _actor: len(after[table]) > len(before[table])


def _alert_taken(_before: Snap, after: Snap, actor: Actor) -> bool:
    return any(r[0] == actor.world.alert_id and r[2] == actor.member_id for r in after["alerts"])


def _issue_accepted(_before: Snap, after: Snap, actor: Actor) -> bool:
    return any(
        r[0] == actor.world.issue_id and r[2] == "diterima" and r[3] == actor.member_id
        for r in after["issues"]
    )


def _circular(circular_id: int, status: str) -> Effect:
    return lambda _b, after, _a: (circular_id, status) in after["circulars"]


def _read(_before: Snap, after: Snap, actor: Actor) -> bool:
    return any(
        r[0] == 3 and r[1] == actor.member_id and r[2] is not None
        for r in after["circular_recipients"]
    )


def _on_duty(_before: Snap, after: Snap, actor: Actor) -> bool:
    return any(r[1] == actor.member_id and r[3] is None for r in after["shifts"])


def _off_duty(before: Snap, after: Snap, actor: Actor) -> bool:
    return changed("shifts")(before, after, actor) and not _on_duty(before, after, actor)


async def _hadir(actor: Actor) -> None:
    actor.say("/hadir")
    actor.locate(*MONAS)


async def _take(actor: Actor) -> None:
    await actor.press(f"{TAKE_PREFIX}{actor.world.alert_id}")


async def _accept(actor: Actor) -> None:
    await actor.press(f"sv:i:{actor.world.issue_id}:accept")


async def _reject(actor: Actor) -> None:
    await actor.press(f"sv:i:{actor.world.issue_id}:reject")
    await actor.settle()
    actor.say("Bukan wewenang posko")


def _issue_rejected(_before: Snap, after: Snap, actor: Actor) -> bool:
    return any(r[0] == actor.world.issue_id and r[2] == "ditolak" for r in after["issues"])


async def _choose(actor: Actor) -> None:
    found = actor.button_with(lambda d: d.startswith("ci:"))
    await actor.press(found[1] if found else f"ci:{actor.world.post_ids['KBJ-01']}")


async def _choose_other(actor: Actor) -> None:
    await actor.press(f"ci:{actor.world.post_ids['KEC-KBJ']}")


async def _report_flow(actor: Actor) -> None:
    actor.say("/lapor")
    await actor.settle()
    found = actor.button_with(lambda d: d.startswith("rp:"))
    await actor.press(found[1] if found else "rp:cat:logistik")


async def _report_other_post(actor: Actor) -> None:
    await actor.press(f"rp:post:{actor.world.post_ids['KEC-KBJ']}")


async def _look_kbj01(actor: Actor) -> None:
    await actor.press(f"sv:d:{actor.world.post_ids['KBJ-01']}")


async def _move_kbj02(actor: Actor) -> None:
    await actor.press(f"mv:{actor.world.post_ids['KBJ-02']}")


def _press(data: str) -> Callable[[Actor], Awaitable[None]]:
    async def run(actor: Actor) -> None:
        await actor.press(data)

    return run


def _ref_lookup(actor: Actor) -> Awaitable[None]:
    return send(f"/laporan {actor.world.issue_ref}")(actor)


ACTIONS: dict[str, Action] = {
    "al: take the KBJ-01 alert": Action(_take, _alert_taken, lambda _a: ("KBJ-01",)),
    "sv:i: accept the KBJ-01 issue": Action(_accept, _issue_accepted),
    "sv:i: reject the KBJ-01 issue, with a reason": Action(_reject, _issue_rejected),
    "sv:p: page of the /pantau overview": Action(_press("sv:p:1"), None, lambda a: (HOME[a.name],)),
    "sv:l: page of the /laporan list": Action(_press("sv:l:open:1")),
    "cr:ok: send the admin's circular draft": Action(_press("cr:ok:1"), _circular(1, "sending")),
    "cr:no: cancel the admin's circular draft": Action(
        _press("cr:no:2"), _circular(2, "cancelled")
    ),
    "cr:r: mark the kelurahan circular read": Action(_press("cr:r:3"), _read),
    "/start": Action(send("/start")),
    "/bantuan": Action(send("/bantuan")),
    "/hadir + share location": Action(_hadir, changed("drafts")),
    "ci: choose the post to check in at": Action(_choose, _on_duty, lambda _a: ("KBJ-01",)),
    "ci: forged choice of a post not one's own": Action(_choose_other),
    "/aman": Action(send("/aman"), grew("signals")),
    "/status": Action(send("/status"), None, lambda a: (HOME[a.name],)),
    "/pantau KBJ-01 (one post, with phones)": Action(
        send("/pantau KBJ-01"), None, lambda _a: ("KBJ-01", "Budi Santoso")
    ),
    "sv:d: look at KBJ-01 from the overview": Action(_look_kbj01, None, lambda _a: ("KBJ-01",)),
    "mv: move the shift to KBJ-02": Action(_move_kbj02, changed("shifts"), lambda _a: ("KBJ-02",)),
    "/lapor <category> <text>": Action(
        send("/lapor apk Baliho calon di pagar posko"), grew("issues")
    ),
    "/laporanku": Action(send("/laporanku"), None, lambda _a: ("APK", "KBJ-01/")),
    "rp: guided /lapor, first button": Action(_report_flow, changed("drafts")),
    "/batal": Action(send("/batal")),
    "/pulang": Action(send("/pulang"), _off_duty),
    "rp: forged choice of a post not one's own": Action(_report_other_post, prepare=send("/lapor")),
    "/pantau": Action(send("/pantau"), None, lambda a: (HOME[a.name],)),
    "/laporan": Action(send("/laporan")),
    "/laporan <ref of the KBJ-01 issue>": Action(_ref_lookup, None, lambda _a: ("TPS 12",)),
    "/rekap": Action(send("/rekap")),
    "/peta": Action(send("/peta")),
    "/jeda KBJ-01 30": Action(send("/jeda KBJ-01 30"), changed("paused")),
    "/grup 31.73.01.1001 (in a group)": Action(
        send("/grup 31.73.01.1001", chat_id=GROUP, chat_type="supergroup"), changed("group_chats")
    ),
    "/ekspor laporan csv": Action(send("/ekspor laporan csv"), grew("audit")),
    "/siaran 31.73.01.1002 <text>": Action(
        send("/siaran 31.73.01.1002 Harap hadir tepat waktu"), grew("circulars")
    ),
    "/siaran_status": Action(send("/siaran_status")),
    "/jadwal": Action(send("/jadwal")),
    "/jadwal_tambah <day> <time> semua <text>": Action(
        send("/jadwal_tambah 2026-11-28 07:00 semua Apel pagi"), grew("announcements")
    ),
    "/jadwal_hapus 1": Action(
        send("/jadwal_hapus 1"), lambda b, a, _x: len(a["announcements"]) < len(b["announcements"])
    ),
    "/undang newbie": Action(send("/undang newbie"), grew("invites"), lambda _a: ("Anggota Baru",)),
}
assert set(ACTIONS) == set(TABLE), set(ACTIONS) ^ set(TABLE)


async def check_cell(actor: Actor, action_name: str, expected: str) -> str | None:
    """Run one cell; None when it behaved as the matrix says, else what went wrong."""
    action = ACTIONS[action_name]
    if action.prepare is not None:
        await action.prepare(actor)
    await actor.settle()
    before = await snapshot(actor.app)
    start = actor.emu.mark()
    actor.said.clear()
    await action.run(actor)
    end = await actor.settle()
    after = await snapshot(actor.app)
    got = actor.outputs(start, end)
    texts = [sent.text for sent in got if sent.text]
    refusals = [key for key in map(refusal_in, texts) if key]
    said = " ".join(actor.said)
    leaks = sorted(
        {s for s in SECRETS[actor.name] for text in texts if s in text and s not in said}
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
        if not got:
            problems.append("no answer")
        if refusals:
            problems.append(f"refused with {refusals}")
        if action.effect is not None and not action.effect(before, after, actor):
            problems.append(f"no effect (changed: {changes})")
        missing = [word for word in action.shows(actor) if not any(word in t for t in texts)]
        if missing:
            problems.append(f"does not show {missing}")
    if not problems:
        return None
    shown = " | ".join(text.replace("\n", " ")[:90] for text in texts) or "-"
    return f"{actor.name} × {action_name}: expected {expected}, {'; '.join(problems)} [{shown}]"


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@pytest.fixture
async def lurah2(db_path: Path) -> Path:
    await add_second_lurah(db_path)
    return db_path


@pytest.mark.parametrize("actor_name", ACTOR_NAMES)
async def test_authorization_matrix(
    actor_name: str, emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, lurah2: Path
) -> None:
    """Each row of TABLE for one actor, in order, against one running bot."""
    async with start_bot() as app:
        world = await build_world(emu, app, clock)
        actor = Actor(actor_name, ACTORS[actor_name], emu, app, world)
        cells = [(action, exp) for who, action, exp in MATRIX if who == actor_name]
        failures = [
            failure
            for action, expected in cells
            if (failure := await check_cell(actor, action, expected)) is not None
        ]
    assert not failures, "\n".join(failures)


async def test_replayed_buttons_change_nothing_twice(
    emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock, lurah2: Path
) -> None:
    """A double tap or a replayed callback: one copy per recipient, one receipt, one take,
    one move; the second press only says it was already done."""
    async with start_bot() as app:
        world = await build_world(emu, app, clock)
        admin, sari, lurah = Phone(emu, ADMIN), Phone(emu, SARI), Phone(emu, LURAH)

        async def rows(sql: str, *params: object) -> list[tuple[Any, ...]]:
            async with runtime_of(app).database.read() as tx:
                return [tuple(row) for row in await tx.all(sql, params)]

        # confirm twice (a double tap, then a replay after the buttons were gone)
        preview = next(
            sent
            for sent in emu.sent_to(ADMIN.id, "sendMessage")
            if ("✅ Kirim", "cr:ok:1") in admin.buttons(sent)
        )
        mark = emu.mark()
        emu.press_button(ADMIN, preview, "cr:ok:1")
        emu.press_button(ADMIN, preview, "cr:ok:1", check=False)
        answers = await wait_answers(emu, mark, 2)
        assert sum("sedang dikirim" in (a.text or "") for a in answers) == 1
        assert sum("sudah dikirim" in (a.text or "") for a in answers) == 1
        replay = await admin.press(preview, "cr:ok:1", forge=True)
        assert "sudah dikirim" in (replay.text or "")
        cancel = await admin.press(preview, "cr:no:1", forge=True)
        assert "sudah dikirim" in (cancel.text or "")
        recipients = await rows(
            "SELECT member_id, outbox_id FROM circular_recipients WHERE circular_id = 1"
        )
        assert len(recipients) == 3 and len({r[0] for r in recipients}) == 3
        per_chat = await rows(
            "SELECT o.chat_id, count(*) FROM circular_recipients r JOIN outbox o"
            " ON o.id = r.outbox_id WHERE r.circular_id = 1 GROUP BY o.chat_id"
        )
        assert sorted(per_chat) == sorted((u.id, 1) for u in (BUDI, SARI, LURAH))
        for user in (BUDI, SARI, LURAH):
            await delivered(emu, app, clock, user, "Edaran #1")
        await asyncio.sleep(0.3)
        for user in (BUDI, SARI, LURAH):
            assert len(copies(emu, user.id, 1)) == 1

        # read twice: one receipt, its time kept
        copy = copies(emu, SARI.id, 1)[0]
        mark = emu.mark()
        emu.press_button(SARI, copy, "cr:r:1")
        emu.press_button(SARI, copy, "cr:r:1")
        answers = await wait_answers(emu, mark, 2)
        assert [("Terima kasih, sudah dicatat" in (a.text or "")) for a in answers].count(True) == 1
        assert [("sudah tercatat dibaca" in (a.text or "")) for a in answers].count(True) == 1
        sari_id = world.member_ids["sari"]
        first = await rows(
            "SELECT read_at FROM circular_recipients WHERE circular_id = 1 AND read_at IS NOT NULL"
        )
        assert len(first) == 1
        clock.advance(timedelta(minutes=1))
        again = await sari.press(copy, "cr:r:1")
        assert "sudah tercatat" in (again.text or "")
        assert (
            await rows(
                "SELECT read_at FROM circular_recipients WHERE circular_id = 1 AND member_id = ?",
                sari_id,
            )
            == first
        )

        # take the alert twice: one owner, one audit row, the others told once
        alert = next(
            sent
            for sent in emu.sent_to(LURAH.id, "sendMessage")
            if f"{TAKE_PREFIX}{world.alert_id}" in [d for _l, d in lurah.buttons(sent)]
        )
        data = f"{TAKE_PREFIX}{world.alert_id}"
        mark = emu.mark()
        emu.press_button(LURAH, alert, data)
        emu.press_button(LURAH, alert, data, check=False)
        answers = await wait_answers(emu, mark, 2)
        assert sum("Lurah Kebon Jeruk" in (a.text or "") for a in answers) == 1  # "already"
        taken = await rows("SELECT acked_by, acked_at FROM alerts WHERE id = ?", world.alert_id)
        assert taken[0][0] == world.member_ids["lurah"]
        clock.advance(timedelta(minutes=1))
        late = await Phone(emu, ADMIN).press(
            emu.sent_to(ADMIN.id, "sendMessage")[-1], data, forge=True
        )
        assert "Lurah Kebon Jeruk" in (late.text or "")
        assert (
            await rows("SELECT acked_by, acked_at FROM alerts WHERE id = ?", world.alert_id)
            == taken
        )
        assert len(await rows("SELECT id FROM audit_log WHERE action = 'take'")) == 1
        mine = [
            s
            for s in emu.sent_to(LURAH.id, "sendMessage")
            if "Bapak/Ibu mengambil alih" in (s.text or "")
        ]
        assert len(mine) == 1

        # accept an issue twice: one move, one event
        card = next(
            sent
            for sent in emu.sent_to(LURAH.id, "sendMessage")
            if f"sv:i:{world.issue_id}:accept" in [d for _l, d in lurah.buttons(sent)]
        )
        mark = emu.mark()
        emu.press_button(LURAH, card, f"sv:i:{world.issue_id}:accept")
        emu.press_button(LURAH, card, f"sv:i:{world.issue_id}:accept", check=False)
        await wait_answers(emu, mark, 2)
        events = await rows(
            "SELECT to_status FROM issue_events WHERE issue_id = ? AND to_status = 'diterima'",
            world.issue_id,
        )
        assert len(events) == 1
        notices = await rows(
            "SELECT id FROM outbox WHERE kind = 'issue_status' AND ref_id = ?", world.issue_id
        )
        assert len(notices) == 1


def copies(emu: FakeBotApi, chat_id: int, circular_id: int) -> list[Sent]:
    return [
        sent
        for sent in emu.sent_to(chat_id, "sendMessage")
        if (sent.text or "").startswith(f"📢 Edaran #{circular_id}\n")
    ]


async def wait_answers(emu: FakeBotApi, mark: int, count: int) -> list[Sent]:
    """The first ``count`` callback answers after ``mark``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        found = [s for s in emu.sent[mark:] if s.method == "answerCallbackQuery"]
        if len(found) >= count:
            return found[:count]
        assert loop.time() < deadline, f"only {len(found)} of {count} callback answers"
        await asyncio.sleep(0.02)
