"""Crash safety: the real ``posko run`` process is SIGKILLed a dozen times under mixed load.

The bot runs as a subprocess (``python -m bot run --config F``) against the fake Bot API
served by this test process, with a second-scale watch policy. While officers check in,
send ``/aman`` and one-shot ``/lapor``, a silent post raises an alert that climbs from the
lurah to the camat, and supervisors press "Ambil alih", the bot is killed with SIGKILL at
random moments (0.2–1.5 s after it polls again) and restarted each time. At the end an
admin pauses every post, the bot drains its outbox and is stopped with SIGTERM; the
SQLite file is then read directly.

What is asserted, precisely:

* **Acknowledged by a reply.** Every person's phone here is sequential: it sends one
  update, then waits until that update is answered, or until it is provably lost — the
  fake server saw it acknowledged (a later ``getUpdates`` offset) by a process that has
  since been killed without answering. So each update U sent to chat C owns the window
  of emulator records from its injection up to the injection of C's next update. U is
  *acknowledged by a reply* iff that window holds, in chat C, a reply: for a message,
  a ``sendMessage``/``editMessageText`` (etc.) whose text is not the text of any outbox
  row for C (outbox rows are the bot speaking on its own initiative, not answering); for
  a button press, the ``answerCallbackQuery`` carrying that press's callback_query_id.
  Every such update must have its effect in the database: a "Hadir tercatat" reply → a
  new shifts row (per member, shifts ≥ such replies); a "Situasi aman" reply → a signals
  row of kind all_clear with that /aman's unique note; a "Laporan <ref> terkirim" reply →
  the issues row <ref> by that member with that report's unique text; a take answered
  with no text → the alert acked by that member ("already taken" → acked by someone,
  "already over" → resolved); a "dijeda" reply → the post paused. A phone that got its
  answer also waits until the inbox holds the update as done, so an update replayed after
  a kill cannot answer into the next update's window.
* **Durable inbox (SPEC §11).** No update is lost to a kill: at the end every update sent
  is in the inbox, done, and none is pending. An update may go unanswered only if a killed
  process had marked it done (its effect committed, the process died before replying).
  None is processed twice: no /aman note and no /lapor text is in the database twice.
* **Outbox.** Every row ends 'sent' — with an emulator record of the same chat,
  message_id and text — or 'failed' only for the deliberately blocked supervisor's chat.
* **Duplicates.** Emulator records are matched to outbox rows by (chat, method, text):
  no row is delivered more than twice, and the surplus of records over rows, per text,
  never exceeds how many of those rows were in 'sending' (in flight) at the instant of
  a kill (read from the killed process's database before the restart). The total is
  printed against the number of kills and against that in-flight bound.
* **Alerts.** Per post, no two alerts overlap in [opened_at, resolved_at); no (alert,
  step, chat) was notified twice, so no alert message was raised twice for one step.

Figures are printed (run with ``-s``), the last line as JSON. ``POSKO_CRASH_SEED`` replays
a run's random choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent, inline_buttons, render_text
from storage import areas, members, posts
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import AREAS, MONAS, POSTS, T0

ROOT = Path(__file__).resolve().parents[1]
KILLS = 12
KILL_DELAY = (0.2, 1.5)
LATENCY = 0.05
SETTLE = 0.1
"""After a kill is reaped: anything the dead process had fully sent is recorded by then."""

SILENT = FakeUser(5001, "Diam")
OFFICERS = [
    (FakeUser(5101, "Ani"), (-6.2, 106.77)),
    (FakeUser(5102, "Bayu"), (-6.2, 106.77)),
    (FakeUser(5103, "Citra"), MONAS),
    (FakeUser(5104, "Dedi"), MONAS),
]
LURAH = FakeUser(2001, "Lurah")
CAMAT = FakeUser(2002, "Camat")
BLOCKED = FakeUser(2099, "Tak Terjangkau")
ADMIN = FakeUser(3001, "Admin")

MEMBERS = [
    MemberRow("diam", "Diam Saja", None, None, ("officer",), ("KBJ-01",), (), SILENT.id, None),
    MemberRow("ani", "Ani", None, None, ("officer",), ("KBJ-02",), (), 5101, None),
    MemberRow("bayu", "Bayu", None, None, ("officer",), ("KBJ-02",), (), 5102, None),
    MemberRow("citra", "Citra", None, None, ("officer",), ("KEC-KBJ",), (), 5103, None),
    MemberRow("dedi", "Dedi", None, None, ("officer",), ("KEC-KBJ",), (), 5104, None),
    MemberRow(
        "lurah",
        "Lurah Kebon Jeruk",
        None,
        None,
        ("supervisor",),
        (),
        ("31.73.01.1001",),
        LURAH.id,
        None,
    ),
    MemberRow(
        "camat",
        "Camat Kebon Jeruk",
        None,
        None,
        ("supervisor",),
        (),
        ("31.73.01",),
        CAMAT.id,
        None,
    ),
    MemberRow(
        "blocked",
        "Wakil Camat",
        None,
        None,
        ("supervisor",),
        (),
        ("31.73.01",),
        BLOCKED.id,
        None,
    ),
    MemberRow("admin", "Ops Kota", None, None, ("admin",), (), (), ADMIN.id, None),
]

CONFIG = """\
[telegram]
base_url = "{base_url}"
bot_username = "{username}"
poll_timeout = "1s"

[storage]
path = "{db}"

[watch]
staff_grace = "1s"
silence_after = "3s"
remind_before = "1s"
escalate_after = "2s"
repeat_every = "30s"
remind_before_open = "0s"
max_sleep = "1s"

[delivery]
per_chat_per_s = 10
request_timeout = "5s"

[log]
level = "WARNING"
"""

ERROR_TEXT = "terjadi kesalahan"
ANSWERS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
"""How the bot answers a message: with a new message (edits of earlier ones are not answers)."""


# --------------------------------------------------------------------------------------------
# The bot process
# --------------------------------------------------------------------------------------------


@dataclass
class Kill:
    at: float
    acknowledged: int
    """The emulator's acknowledged update id once the killed process was reaped."""
    in_flight: frozenset[int]
    """Outbox ids the killed process left in 'sending'."""
    done: frozenset[int]
    """Update ids the inbox held as done once the killed process was reaped."""


class BotProcess:
    def __init__(self, emu: FakeBotApi, config: Path, db: Path, log: IO[bytes]) -> None:
        self.emu = emu
        self.config = config
        self.db = db
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.kills: list[Kill] = []
        self.restart_seconds: list[float] = []

    async def start(self) -> None:
        polls = self.emu.n_requests["getUpdates"]
        started = time.monotonic()
        env = dict(os.environ, POSKO_TELEGRAM__TOKEN=self.emu.token)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(self.config),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        while self.emu.n_requests["getUpdates"] <= polls:
            if self.proc.returncode is not None:
                raise AssertionError(f"the bot exited with {self.proc.returncode} at start")
            if time.monotonic() - started > 20:
                raise AssertionError("the bot did not poll within 20 s of starting")
            await asyncio.sleep(0.01)
        self.restart_seconds.append(time.monotonic() - started)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await asyncio.sleep(SETTLE)
        with _connect(self.db) as conn:
            sending = frozenset(
                row[0] for row in conn.execute("SELECT id FROM outbox WHERE status = 'sending'")
            )
            done = frozenset(
                row[0] for row in conn.execute("SELECT update_id FROM inbox WHERE state = 'done'")
            )
        loop = asyncio.get_running_loop()
        self.kills.append(Kill(loop.time(), self.emu.acknowledged_update_id, sending, done))

    async def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 20)

    def unanswered(self, update_id: int, injected_at: float) -> bool:
        """Done by a process that was killed after the update was injected: its effect
        committed, its reply may have died with the process."""
        return any(k.at > injected_at and update_id in k.done for k in self.kills)

    def done(self, update_id: int) -> bool:
        with _connect(self.db) as conn:
            row = conn.execute(
                "SELECT state FROM inbox WHERE update_id = ?", (update_id,)
            ).fetchone()
        return row is not None and row[0] == "done"


@contextlib.contextmanager
def _connect(path: Path) -> Any:
    conn = sqlite3.connect(path, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Phones: one sequential driver per person
# --------------------------------------------------------------------------------------------


@dataclass
class Asked:
    """One update a person sent, and what became of it."""

    chat_id: int
    user_id: int
    kind: str  # checkin | aman | lapor | take | read | jeda | siaran | confirm
    update_id: int
    mark: int
    injected_at: float
    marker: str = ""
    """The unique word in an /aman note or a /lapor text; the post code of a /jeda."""
    alert_id: int | None = None
    circular_id: int | None = None
    query_id: str | None = None
    reply: Sent | None = None
    lost: bool = False
    timed_out: bool = False


def _proactive(text: str) -> bool:
    """Texts the bot sends on its own (reminders, circulars), never as an answer.

    Only the phones use this guess, to know when to go on; the checks afterwards tell the
    bot's own messages apart exactly, by the outbox, and must agree with the phones.
    """
    return text.startswith(("⏰", "📢 Edaran #")) or "ditutup otomatis" in text


class Load:
    def __init__(self, emu: FakeBotApi, bot: BotProcess, rng: random.Random) -> None:
        self.emu = emu
        self.bot = bot
        self.rng = rng
        self.asked: list[Asked] = []
        self.stop = asyncio.Event()

    async def ask(self, asked: Asked, limit: float = 30.0) -> Sent | None:
        self.asked.append(asked)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        records = self.emu.sent_to(asked.chat_id)
        pos = 0
        while True:
            records = self.emu.sent_to(asked.chat_id)
            while pos < len(records):
                rec = records[pos]
                pos += 1
                if rec.index < asked.mark:
                    continue
                if asked.query_id is not None:
                    if (
                        rec.method == "answerCallbackQuery"
                        and rec.params.get("callback_query_id") == asked.query_id
                    ):
                        asked.reply = rec
                elif rec.method in ANSWERS and not _proactive(rec.text or ""):
                    asked.reply = rec
                if asked.reply is not None:
                    await self._until_done(asked, deadline)
                    return asked.reply
            if self.bot.unanswered(asked.update_id, asked.injected_at):
                asked.lost = True
                return None
            if loop.time() > deadline:
                asked.timed_out = True
                return None
            await asyncio.sleep(0.03)

    async def _until_done(self, asked: Asked, deadline: float) -> None:
        """Wait until the inbox holds the answered update as done: a handler that wrote
        nothing is marked done just after it replied, and if a kill falls in between, the
        update is replayed and answered again. Going on earlier would let that second
        answer land in the window of this person's next update."""
        loop = asyncio.get_running_loop()
        while not self.bot.done(asked.update_id):
            if loop.time() > deadline:
                asked.timed_out = True
                return
            await asyncio.sleep(0.03)

    def _message(self, user: FakeUser, kind: str, send: Callable[[], dict[str, Any]]) -> Asked:
        mark = self.emu.mark()
        update = send()
        return Asked(
            user.id,
            user.id,
            kind,
            int(update["update_id"]),
            mark,
            asyncio.get_running_loop().time(),
        )

    async def say(self, user: FakeUser, kind: str, text: str, marker: str = "") -> Sent | None:
        asked = self._message(user, kind, lambda: self.emu.send_text(user, text))
        asked.marker = marker
        return await self.ask(asked)

    async def check_in(self, user: FakeUser, where: tuple[float, float]) -> bool:
        asked = self._message(user, "checkin", lambda: self.emu.send_location(user, *where))
        reply = await self.ask(asked)
        text = reply.text or "" if reply else ""
        return "Hadir tercatat" in text or "sudah bertugas" in text

    async def press(self, user: FakeUser, message: Sent, data: str, kind: str) -> Asked | None:
        mark = self.emu.mark()
        try:
            update = self.emu.press_button(user, message, data)
        except ValueError:
            return None  # the button is gone (edited away): nothing to press
        asked = Asked(
            user.id,
            user.id,
            kind,
            int(update["update_id"]),
            mark,
            asyncio.get_running_loop().time(),
            query_id=str(update["callback_query"]["id"]),
        )
        if data.startswith("al:"):
            asked.alert_id = int(data.removeprefix("al:"))
        elif data.startswith("cr:"):
            asked.circular_id = int(data.rsplit(":", 1)[1])
        await self.ask(asked)
        return asked

    async def read_circulars(self, user: FakeUser, done: set[int]) -> None:
        """Press "Sudah dibaca" on every circular copy not pressed yet."""
        for rec in self.emu.sent_to(user.id, "sendMessage"):
            if rec.message_id is None or rec.message_id in done:
                continue
            reads = [data for _, data in inline_buttons(rec) if data.startswith("cr:r:")]
            if reads:
                done.add(rec.message_id)
                await self.press(user, rec, reads[0], "read")

    async def officer(self, user: FakeUser, where: tuple[float, float]) -> None:
        on_duty = False
        n = 0
        read: set[int] = set()
        while not self.stop.is_set():
            await self.read_circulars(user, read)
            if not on_duty:
                on_duty = await self.check_in(user, where)
            else:
                n += 1
                marker = f"m{user.id}x{n}"
                if self.rng.random() < 0.3:
                    text = f"/lapor logistik kotak suara kurang {marker}"
                    reply = await self.say(user, "lapor", text, marker)
                else:
                    reply = await self.say(user, "aman", f"/aman cek {marker}", marker)
                if reply is not None and "belum tercatat hadir" in (reply.text or ""):
                    on_duty = False
            await self.rest(self.rng.uniform(0.1, 0.5))

    async def rest(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def silent_officer(self) -> None:
        """Checks in at KBJ-01, then stays silent 8–11 s at a time: the post goes silent, an
        alert opens and climbs from the lurah to the camat; then one /aman ends it."""
        n = 0
        while not self.stop.is_set():
            if not await self.check_in(SILENT, MONAS):
                await self.rest(0.2)
                continue
            while not self.stop.is_set():
                await self.rest(self.rng.uniform(8.0, 11.0))
                if self.stop.is_set():
                    break
                n += 1
                marker = f"m{SILENT.id}x{n}"
                reply = await self.say(SILENT, "aman", f"/aman cek {marker}", marker)
                if reply is not None and "belum tercatat hadir" in (reply.text or ""):
                    break

    async def supervisor(self, user: FakeUser, delay: tuple[float, float]) -> None:
        """Presses "Ambil alih" on every alert it receives, ``delay`` seconds after it came."""
        due: dict[int, float] = {}
        while not self.stop.is_set():
            now = time.monotonic()
            for rec in self.emu.sent_to(user.id, "sendMessage"):
                if rec.message_id is None:
                    continue
                takes = [data for _, data in inline_buttons(rec) if data.startswith("al:")]
                if not takes:
                    continue
                when = due.setdefault(rec.message_id, rec.at + self.rng.uniform(*delay))
                if when > now or when < 0:
                    continue
                due[rec.message_id] = -1.0
                await self.press(user, rec, takes[0], "take")
                if self.stop.is_set():
                    break
            await asyncio.sleep(0.1)

    async def admin(self, text: str, kind: str, post: str = "") -> Sent | None:
        return await self.say(ADMIN, kind, text, post)

    async def circular(self, marker: str) -> str:
        """A small circular with its confirm button, where /siaran exists (best effort)."""
        reply = await self.admin(f"/siaran semua Edaran netralitas ASN {marker}", "siaran")
        if reply is None:
            return "no reply"
        confirm = [data for _, data in inline_buttons(reply) if data.startswith("cr:ok:")]
        if not confirm:
            return f"no confirm button: {(reply.text or '')[:60]!r}"
        asked = await self.press(ADMIN, reply, confirm[0], "confirm")
        if asked is None or asked.reply is None:
            return "confirm unanswered"
        return str(asked.reply.params.get("text") or "")


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


async def _seed(path: Path) -> None:
    db = await Database.open(path)
    await db.migrate()
    async with db.transaction() as tx:
        await areas.upsert(tx, AREAS, T0)
        await posts.upsert(tx, POSTS, T0)
        await members.upsert(tx, MEMBERS, T0)
    await db.close()


async def _quiescent(db: Path, limit: float = 30.0) -> None:
    """Wait until nothing is pending or in flight and no row was added for a second."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    last: tuple[int, int] | None = None
    quiet_since = loop.time()
    while loop.time() < deadline:
        with _connect(db) as conn:
            busy = conn.execute(
                "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
            ).fetchone()[0]
            newest = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
        state = (busy, newest)
        if state != last or busy:
            last, quiet_since = state, loop.time()
        elif loop.time() - quiet_since >= 1.0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the outbox did not drain within {limit:g}s: {last}")


def _rendered(payload: dict[str, Any]) -> str:
    text = str(payload.get("text", payload.get("caption", "")))
    return render_text(text, payload.get("parse_mode"), payload.get("entities"))[0]


async def test_sigkill_a_dozen_times_under_load_loses_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("POSKO_CRASH_SEED", str(time.time_ns() % 2**32)))
    rng = random.Random(seed)
    db_path = tmp_path / "posko.db"
    await _seed(db_path)
    circulars = importlib.util.find_spec("handlers.circulars") is not None
    started = time.monotonic()
    log_path = tmp_path / "bot.log"
    async with FakeBotApi() as emu:
        emu.block_chat(BLOCKED.id)
        # Every sendMessage takes LATENCY to answer, as over a real network: messages are
        # in flight when the kills come.
        emu.delay_next("sendMessage", LATENCY, count=10**9)
        config = tmp_path / "config.toml"
        config.write_text(
            CONFIG.format(base_url=emu.base_url, username=emu.bot_username, db=db_path),
            encoding="utf-8",
        )
        with log_path.open("ab") as log:
            bot = BotProcess(emu, config, db_path, log)
            load = Load(emu, bot, rng)
            try:
                await bot.start()
                drivers = [
                    asyncio.create_task(load.silent_officer()),
                    *(asyncio.create_task(load.officer(u, w)) for u, w in OFFICERS),
                    asyncio.create_task(load.supervisor(CAMAT, (1.0, 3.0))),
                    asyncio.create_task(load.supervisor(LURAH, (4.0, 6.0))),
                ]
                circular = "skipped: no handlers/circulars.py"
                if circulars:
                    circular = await load.circular(f"siaran{seed}")
                await asyncio.sleep(0.5)
                phases = {"warm": round(time.monotonic() - started, 1)}
                for _ in range(KILLS):
                    await asyncio.sleep(rng.uniform(*KILL_DELAY))
                    await bot.kill()
                    await bot.start()
                phases["kills"] = round(time.monotonic() - started, 1)
                await asyncio.sleep(1.0)
                load.stop.set()
                await asyncio.gather(*drivers)
                phases["stopped"] = round(time.monotonic() - started, 1)
                for code in ("KBJ-01", "KBJ-02", "KEC-KBJ"):
                    await load.admin(f"/jeda {code} 1h", "jeda", code)
                await _quiescent(db_path)
                phases["quiet"] = round(time.monotonic() - started, 1)
                returncode = await bot.terminate()
                phases["end"] = round(time.monotonic() - started, 1)
            except BaseException:
                if bot.proc is not None and bot.proc.returncode is None:
                    bot.proc.kill()
                    await bot.proc.wait()
                raise
        assert returncode == 0, log_path.read_text(errors="replace")[-3000:]
        assert not emu.pending_updates, "updates left unfetched after a clean stop"
        figures = _check(emu, bot, load, db_path)
    figures.update(
        seed=seed,
        circular=circular,
        restart_s_max=round(max(bot.restart_seconds), 2),
        restart_s_avg=round(sum(bot.restart_seconds) / len(bot.restart_seconds), 2),
        phases=phases,
        wall_s=round(time.monotonic() - started, 1),
    )
    print()
    for key, value in figures.items():
        print(f"crash-safety {key}: {value}")
    print(json.dumps({"test": "crash_safety", **figures}, sort_keys=True))


def _check(emu: FakeBotApi, bot: BotProcess, load: Load, db_path: Path) -> dict[str, Any]:
    with _connect(db_path) as conn:
        outbox = [dict(row) for row in conn.execute("SELECT * FROM outbox ORDER BY id")]
        member_ids = {
            int(row["telegram_id"]): int(row["id"])
            for row in conn.execute("SELECT id, telegram_id FROM members")
            if row["telegram_id"] is not None
        }
        names = {
            int(row["id"]): row["name"] for row in conn.execute("SELECT id, name FROM members")
        }
        shifts = Counter(row[0] for row in conn.execute("SELECT member_id FROM shifts"))
        notes = {
            (row["member_id"], row["note"])
            for row in conn.execute("SELECT member_id, note FROM signals WHERE kind = 'all_clear'")
        }
        issues = {
            row["ref"]: (row["reporter_id"], row["text"])
            for row in conn.execute("SELECT ref, reporter_id, text FROM issues")
        }
        inbox = {
            int(row["update_id"]): str(row["state"])
            for row in conn.execute("SELECT update_id, state FROM inbox")
        }
        note_counts = Counter(
            str(row[0]) for row in conn.execute("SELECT note FROM signals WHERE kind = 'all_clear'")
        )
        alerts = {row["id"]: dict(row) for row in conn.execute("SELECT * FROM alerts")}
        paused = {row["code"]: row["paused_until"] for row in conn.execute("SELECT * FROM posts")}
        doubled = conn.execute(
            "SELECT alert_id, step, chat_id, count(*) FROM alert_notifications"
            " GROUP BY alert_id, step, chat_id HAVING count(*) > 1"
        ).fetchall()
        circulars = {
            row["id"]: dict(row) for row in conn.execute("SELECT id, status, text FROM circulars")
        }
        reads = {
            (row["circular_id"], row["member_id"])
            for row in conn.execute(
                "SELECT circular_id, member_id FROM circular_recipients WHERE read_at IS NOT NULL"
            )
        }

    found = Db(notes, issues, alerts, paused, names, circulars, reads)

    # ---- outbox rows: delivered (truthfully) or failed only where unreachable on purpose
    by_message = {
        (rec.chat_id, rec.method, rec.message_id): rec for rec in emu.sent if rec.message_id
    }
    outbox_texts: dict[int, set[str]] = defaultdict(set)
    rows_by_key: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    sent_rows = 0
    problems: list[str] = []
    for row in outbox:
        payload = json.loads(row["payload"])
        text = _rendered(payload)
        outbox_texts[row["chat_id"]].add(text)
        rows_by_key[(row["chat_id"], row["method"], text)].append(row["id"])
        if row["status"] == "sent":
            sent_rows += 1
            rec = by_message.get((row["chat_id"], row["method"], row["message_id"]))
            if rec is None or rec.text != text:
                problems.append(f"outbox {row['id']} marked sent without that message: {row}")
        elif row["status"] == "failed":
            if row["chat_id"] != BLOCKED.id:
                problems.append(f"outbox {row['id']} failed for a reachable chat: {row}")
        else:
            problems.append(f"outbox {row['id']} still {row['status']}: {row}")
    to_blocked = [row for row in outbox if row["chat_id"] == BLOCKED.id]
    assert all(row["status"] == "failed" for row in to_blocked), to_blocked

    # ---- duplicates: records per (chat, method, text) against rows and what was in flight
    records_by_key: Counter[tuple[int, str, str]] = Counter()
    for rec in emu.sent:
        if rec.chat_id is not None and rec.text is not None:
            key = (rec.chat_id, rec.method, rec.text)
            if key in rows_by_key:
                records_by_key[key] += 1
    in_flight_total = sum(len(kill.in_flight) for kill in bot.kills)
    duplicates = 0
    for key, ids in rows_by_key.items():
        delivered = records_by_key[key]
        surplus = delivered - len(ids)
        if delivered > 2 * len(ids):
            problems.append(f"{key} delivered {delivered} times for {len(ids)} rows")
        if surplus > 0:
            duplicates += surplus
            bound = sum(len(kill.in_flight.intersection(ids)) for kill in bot.kills)
            if surplus > bound:
                problems.append(
                    f"{key}: {surplus} duplicates but only {bound} of its rows were in flight"
                    " at a kill"
                )

    # ---- every update acknowledged by a reply has its effect
    per_chat: dict[int, list[Asked]] = defaultdict(list)
    for asked in load.asked:
        per_chat[asked.chat_id].append(asked)
    replied = lost = missing = errors = dropped = 0
    checked_in: Counter[int] = Counter()
    for chat_id, asks in per_chat.items():
        asks.sort(key=lambda a: a.update_id)
        records = emu.sent_to(chat_id)
        for i, asked in enumerate(asks):
            end = asks[i + 1].mark if i + 1 < len(asks) else len(emu.sent)
            window = [rec for rec in records if asked.mark <= rec.index < end]
            if asked.query_id is not None:
                reply = next(
                    (
                        rec
                        for rec in window
                        if rec.method == "answerCallbackQuery"
                        and rec.params.get("callback_query_id") == asked.query_id
                    ),
                    None,
                )
            else:
                reply = next(
                    (
                        rec
                        for rec in window
                        if rec.method in ANSWERS and (rec.text or "") not in outbox_texts[chat_id]
                    ),
                    None,
                )
            # A phone that gave up waiting (a kill, a takeover) may see its answer come
            # later; what must never happen is taking another update's answer as its own.
            if asked.reply is not None and (reply and reply.index) != asked.reply.index:
                problems.append(
                    f"update {asked.update_id} ({asked.kind}): the phone took"
                    f" {asked.reply and asked.reply.text!r} as its answer, the outbox says"
                    f" {reply and reply.text!r}"
                )
            if inbox.get(asked.update_id) != "done":
                dropped += 1
                problems.append(
                    f"update {asked.update_id} ({asked.kind}) is"
                    f" {inbox.get(asked.update_id) or 'not'} in the inbox at the end"
                )
            if asked.timed_out:
                problems.append(f"update {asked.update_id} ({asked.kind}) timed out")
            if reply is None:
                if not (asked.lost or bot.unanswered(asked.update_id, asked.injected_at)):
                    problems.append(f"update {asked.update_id} ({asked.kind}) never answered")
                lost += 1
                continue
            replied += 1
            text = reply.text or ""
            if asked.query_id is not None:
                text = str(reply.params.get("text") or "")
            if ERROR_TEXT in text:
                errors += 1
                problems.append(f"update {asked.update_id} ({asked.kind}) answered: {text!r}")
                continue
            member = member_ids[asked.user_id]
            effect = _effect(asked, text, member, found)
            if asked.kind == "checkin" and "Hadir tercatat" in text:
                checked_in[member] += 1
            if effect is not None:
                missing += 1
                problems.append(f"update {asked.update_id} ({asked.kind}): {effect}")
    # ---- nothing processed twice: every /aman note and /lapor text is unique per update
    twice = 0
    for asked in load.asked:
        if asked.kind == "aman":
            found_times = note_counts[f"cek {asked.marker}"]
        elif asked.kind == "lapor":
            found_times = sum(asked.marker in text.split() for _, text in issues.values())
        else:
            continue
        if found_times > 1:
            twice += 1
            problems.append(f"update {asked.update_id} ({asked.kind}) processed {found_times}x")
    pending = [update_id for update_id, state in inbox.items() if state != "done"]
    if pending:
        problems.append(f"updates still pending in the inbox at the end: {pending[:10]}")
    for member, count in checked_in.items():
        if shifts[member] < count:
            missing += count - shifts[member]
            problems.append(f"member {member}: {count} check-ins answered, {shifts[member]} shifts")

    # ---- alerts: never two at once for a post, never one step notified twice
    by_post: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for alert in alerts.values():
        by_post[alert["post_id"]].append(alert)
    for post_alerts in by_post.values():
        post_alerts.sort(key=lambda a: (a["opened_at"], a["id"]))
        for before, after in itertools.pairwise(post_alerts):
            if before["resolved_at"] is None or before["resolved_at"] > after["opened_at"]:
                problems.append(f"overlapping alerts {before} and {after}")
    for alert_id, step, chat_id, count in doubled:
        problems.append(f"alert {alert_id} step {step} notified chat {chat_id} {count} times")

    assert not problems, "\n".join(problems[:40])

    kinds = Counter(asked.kind for asked in load.asked)
    takes = [a for a in load.asked if a.kind == "take" and a.reply is not None]
    assert len(bot.kills) == KILLS
    assert max((a["step"] for a in alerts.values()), default=0) >= 1, "no alert climbed"
    assert any(not (a.reply.params.get("text") if a.reply else "x") for a in takes), "no take"
    assert kinds["aman"] and kinds["lapor"] and checked_in
    return {
        "kills_survived": len(bot.kills),
        "updates_sent": len(load.asked),
        "updates_by_kind": dict(sorted(kinds.items())),
        "updates_answered": replied,
        "updates_lost_to_kills": dropped,
        "replies_lost_to_kills": lost,
        "processed_twice": twice,
        "items_lost": missing,
        "error_replies": errors,
        "outbox_rows": len(outbox),
        "outbox_sent": sent_rows,
        "outbox_failed_unreachable": len(to_blocked),
        "duplicates": duplicates,
        "in_flight_at_kills": in_flight_total,
        "alerts": len(alerts),
        "alert_max_step": max((a["step"] for a in alerts.values()), default=0),
        "issues": len(issues),
    }


@dataclass
class Db:
    """What the checks read back from the database."""

    notes: set[tuple[int, str]]
    issues: dict[str, tuple[int, str]]
    alerts: dict[int, dict[str, Any]]
    paused: dict[str, str | None]
    names: dict[int, str]
    circulars: dict[int, dict[str, Any]]
    reads: set[tuple[int, int]]


def _effect(asked: Asked, text: str, member: int, db: Db) -> str | None:
    """None if the answered update's effect is in the database, else what is missing."""
    if asked.kind == "aman" and "Situasi aman" in text:
        if (member, f"cek {asked.marker}") not in db.notes:
            return f"answered {text!r} but no all_clear signal with note {asked.marker}"
    elif asked.kind == "lapor" and "terkirim" in text:
        found = re.search(r"Laporan (\S+) terkirim", text)
        assert found, text
        issue = db.issues.get(found.group(1))
        if issue is None or issue[0] != member or asked.marker not in issue[1]:
            return f"answered {text!r} but issue {found.group(1)} is {issue}"
    elif asked.kind == "take":
        alert = db.alerts.get(asked.alert_id or -1)
        if alert is None:
            return f"take of unknown alert {asked.alert_id}"
        if not text and alert["acked_by"] != member:
            return f"take answered as taken, but alert {alert['id']} acked by {alert['acked_by']}"
        taken_by = db.names.get(alert["acked_by"], "?")
        if "Sudah diambil alih oleh" in text and taken_by not in text:
            return f"answered {text!r} but alert {alert['id']} is {alert}"
        if "sudah selesai" in text and alert["resolved_at"] is None:
            return f"answered {text!r} but alert {alert['id']} is open"
    elif asked.kind == "jeda" and "dijeda" in text and db.paused.get(asked.marker) is None:
        return f"answered {text!r} but {asked.marker} is not paused"
    elif asked.kind == "confirm" and ("sedang dikirim" in text or "sudah dikirim" in text):
        circular = db.circulars.get(asked.circular_id or -1)
        if circular is None or circular["status"] not in ("sending", "done"):
            return f"answered {text!r} but circular {asked.circular_id} is {circular}"
    elif asked.kind == "read" and "dibaca" in text and (asked.circular_id, member) not in db.reads:
        return f"answered {text!r} but circular {asked.circular_id} is unread by {member}"
    return None
