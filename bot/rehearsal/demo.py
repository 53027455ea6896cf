"""``posko demo``: the whole system on this machine, no Telegram account, no network.

A local Bot API emulator, a temporary database with a sample city, the real bot with a
second-scale watch policy, and simulated people acting out an evening. Everything the bot
says and everything the people do is printed as a time-stamped transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.core.app import PoskoApp, build_application, running
from bot.core.clock import SystemClock, wib
from bot.core.config import Settings, load_settings
from bot.exchange.boundary_file import check as check_boundaries
from bot.rehearsal import disposisi_scene, piket_scene
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from storage import agencies, areas, boundaries, health, members, posts
from storage.areas import AreaRow
from storage.db import Database
from storage.members import MemberRow
from storage.posts import PostRow

DEMO_POLICY = {
    "staff_grace": "4s",
    "silence_after": "14s",
    "remind_before": "5s",
    "escalate_after": "6s",
    "repeat_every": "30s",
    "remind_before_open": "0s",
    "max_sleep": "1s",
}

CITY_AREAS = [
    AreaRow("31", "DKI Jakarta", "provinsi", None),
    AreaRow("31.73", "Kota Jakarta Barat", "kota", "31"),
    AreaRow("31.73.01", "Kec. Kebon Jeruk", "kecamatan", "31.73"),
    AreaRow("31.73.01.1001", "Kel. Kebon Jeruk", "kelurahan", "31.73.01"),
    AreaRow("31.73.01.1002", "Kel. Sukabumi Utara", "kelurahan", "31.73.01"),
    AreaRow("31.73.02", "Kec. Palmerah", "kecamatan", "31.73"),
    AreaRow("31.73.02.1001", "Kel. Palmerah", "kelurahan", "31.73.02"),
    AreaRow("31.73.02.1002", "Kel. Slipi", "kelurahan", "31.73.02"),
]
CITY_POSTS = [
    PostRow("KBJ-01", "Posko Kel. Kebon Jeruk", "31.73.01.1001", -6.1920, 106.7690, 150, 1, "24h"),
    PostRow(
        "KBJ-02", "Posko Kel. Sukabumi Utara", "31.73.01.1002", -6.2110, 106.7800, 150, 1, "24h"
    ),
    PostRow("PLM-01", "Posko Kel. Palmerah", "31.73.02.1001", -6.2070, 106.7960, 150, 1, "24h"),
    PostRow("PLM-02", "Posko Kel. Slipi", "31.73.02.1002", -6.1930, 106.7980, 150, 1, "24h"),
]


@dataclass(frozen=True)
class Person:
    ref: str
    name: str
    user: FakeUser
    roles: tuple[str, ...]
    posts: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    agency: str | None = None
    phone: str | None = None


PEOPLE = [
    Person("budi", "Budi Santoso", FakeUser(1001, "Budi"), ("officer",), ("KBJ-01",)),
    Person("sari", "Sari Dewi", FakeUser(1002, "Sari"), ("officer",), ("KBJ-02",)),
    Person("agus", "Agus Salim", FakeUser(1003, "Agus"), ("officer",), ("PLM-01",)),
    Person("rina", "Rina Wati", FakeUser(1004, "Rina"), ("officer",), ("PLM-02",)),
    # rostered in the piket scene
    Person("dodi", "Dodi Prasetyo", FakeUser(1005, "Dodi"), ("officer",), ("PLM-01",),
           phone="0812-3456-7890"),
    Person("wati", "Wati Lestari", FakeUser(1006, "Wati"), ("officer",), ("PLM-02",)),
    Person(
        "lurah_kbj",
        "Lurah Kebon Jeruk",
        FakeUser(2001, "Lurah"),
        ("supervisor",),
        (),
        ("31.73.01.1001",),
    ),
    Person(
        "camat_kbj",
        "Camat Kebon Jeruk",
        FakeUser(2002, "Camat"),
        ("supervisor",),
        (),
        ("31.73.01",),
    ),
    Person(
        "camat_plm", "Camat Palmerah", FakeUser(2003, "Camat P"), ("supervisor",), (), ("31.73.02",)
    ),
    Person(
        "ops", "Ops Kota Jakbar", FakeUser(3001, "Ops"), ("admin", "supervisor"), (), ("31.73",)
    ),
    *(
        Person(row.ref, row.name, FakeUser(row.telegram_id or 0, row.name.split()[0]), row.roles,
               row.posts, row.areas, row.agency)
        for row in disposisi_scene.LIAISONS
    ),
]  # fmt: skip
BY_REF = {person.ref: person for person in PEOPLE}
# Rough outlines of the demo's kecamatan and kelurahan, so /peta in the demo draws them;
# the same file shows the format of `posko import boundaries`.
BOUNDARIES_FILE = Path(__file__).with_name("demo_boundaries.geojson")
POST_SPOTS = {post.code: (post.latitude or 0.0, post.longitude or 0.0) for post in CITY_POSTS}


class Transcript:
    """Prints who said what to whom, in WIB, as it happens."""

    def __init__(self, emu: FakeBotApi, out: TextIO, started: float) -> None:
        self.emu = emu
        self.out = out
        self.started = started
        self.names = {person.user.id: person.name for person in PEOPLE}
        self._seen = 0
        self.counts: dict[str, int] = {}

    def _stamp(self) -> str:
        clock = wib(datetime.now(UTC)).strftime("%H:%M:%S")
        return f"{clock} +{time.monotonic() - self.started:5.1f}s"

    def say(self, who: str, what: str) -> None:
        self.flush()
        print(f"{self._stamp()}  {who} → bot: {what}", file=self.out, flush=True)

    def note(self, what: str) -> None:
        self.flush()
        print(f"{self._stamp()}  ── {what}", file=self.out, flush=True)

    def flush(self) -> None:
        records = self.emu.sent
        while self._seen < len(records):
            record = records[self._seen]
            self._seen += 1
            self._print(record)

    def _print(self, record: Sent) -> None:
        if record.method in ("setMyCommands", "editMessageReplyMarkup", "sendChatAction"):
            return
        who = self.names.get(record.chat_id or 0, str(record.chat_id))
        self.counts[record.method] = self.counts.get(record.method, 0) + 1
        if record.method == "answerCallbackQuery":
            text = record.params.get("text")
            if text:
                print(f"{self._stamp()}  bot ⇢ (pop-up) {text}", file=self.out, flush=True)
            return
        arrow = "✎" if record.method.startswith("edit") else "→"
        body = (media_line(record) or record.text or f"[{record.method}]").replace(
            "\n", "\n" + " " * 26
        )
        buttons = self.emu.inline_buttons(record) if record.method not in MEDIA_METHODS else []
        if buttons:
            body += "\n" + " " * 26 + "  ".join(f"[{label}]" for label, _ in buttons)
        print(f"{self._stamp()}  bot {arrow} {who}: {body}", file=self.out, flush=True)

    async def follow(self) -> None:
        while True:
            self.flush()
            await asyncio.sleep(0.05)


MEDIA_METHODS = frozenset({"sendPhoto", "sendMediaGroup", "sendLocation", "sendDocument"})


def media_line(record: Sent) -> str | None:
    """Photos, albums and map pins as one readable line: ``[📷 2 foto] caption``,
    ``[📍 -6.2108, 106.7800]``; None for other calls."""
    if record.method == "sendLocation":
        where: Mapping[str, Any] = record.params
        if isinstance(record.result, Mapping):
            where = record.result.get("location", where)
        try:
            return f"[📍 {float(where['latitude']):.4f}, {float(where['longitude']):.4f}]"
        except (KeyError, TypeError, ValueError):
            return "[📍 lokasi]"
    if record.method == "sendMediaGroup":
        count = len(record.result) if isinstance(record.result, list) else 0
        label = f"[📷 {count} foto]"
    elif record.method == "sendPhoto":
        label = "[📷 1 foto]"
    elif record.method == "sendDocument":
        label = "[📄 berkas]"
    else:
        return None
    return f"{label} {record.text}" if record.text else label


def demo_settings(db_path: Path, emu: FakeBotApi, web_port: int | None = None) -> Settings:
    # The command room without a basemap: the demo needs no network; the demo city's
    # outlines are drawn instead.
    web = {"web": {"port": web_port, "listen": "127.0.0.1"}} if web_port is not None else {}
    return load_settings(
        None,
        overrides={
            "telegram": {
                "token": emu.token,
                "base_url": emu.base_url,
                "base_file_url": emu.base_file_url,
                "bot_username": emu.bot_username,
                "poll_timeout": "1s",
            },
            "storage": {"path": str(db_path)},
            "watch": DEMO_POLICY,
            "roster": piket_scene.DEMO_ROSTER,
            "log": {"level": "WARNING"},
            **web,
        },
    )


async def seed(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        await db.migrate()
        now = datetime.now(UTC)
        rows = [
            MemberRow(
                p.ref, p.name, None, p.phone, p.roles, p.posts, p.areas, p.user.id, None, p.agency
            )
            for p in PEOPLE
        ]
        async with db.transaction() as tx:
            await areas.upsert(tx, CITY_AREAS, now)
            known = {row.code for row in CITY_AREAS}
            outlines = check_boundaries(BOUNDARIES_FILE.read_bytes(), BOUNDARIES_FILE.name, known)
            await boundaries.upsert(tx, outlines, now)
            await posts.upsert(tx, CITY_POSTS, now)
            await agencies.upsert(tx, disposisi_scene.AGENCIES, now)
            await members.upsert(tx, rows, now)
    finally:
        await db.close()


class Stage:
    """The simulated people: each action is printed, then the bot's answer awaited."""

    def __init__(self, emu: FakeBotApi, transcript: Transcript) -> None:
        self.emu = emu
        self.transcript = transcript
        self._busy: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def busy(self, ref: str) -> AsyncIterator[None]:
        """While ``ref`` is in the middle of something (writing a report), the background
        /aman of :func:`_keep_alive` waits, so its reply cannot be mistaken for a step's."""
        async with self._busy.setdefault(ref, asyncio.Lock()):
            yield

    async def text(self, ref: str, text: str, *, wait: str | None = None) -> Sent:
        person = BY_REF[ref]
        mark = self.emu.mark()
        self.transcript.say(person.name, text)
        self.emu.send_text(person.user, text)
        return await self.emu.wait_reply(person.user.id, after=mark, contains=wait, timeout=10)

    async def location(self, ref: str) -> Sent:
        person = BY_REF[ref]
        lat, lon = POST_SPOTS[person.posts[0]]
        mark = self.emu.mark()
        self.transcript.say(person.name, f"📍 lokasi ({lat:.4f}, {lon:.4f})")
        self.emu.send_location(person.user, lat + 0.0002, lon, horizontal_accuracy=12)
        return await self.emu.wait_reply(person.user.id, after=mark, timeout=10)

    async def photo(self, ref: str) -> Sent:
        person = BY_REF[ref]
        mark = self.emu.mark()
        self.transcript.say(person.name, "📷 foto")
        self.emu.send_photo(person.user, caption=None)
        return await self.emu.wait_reply(person.user.id, after=mark, timeout=10)

    async def press(self, ref: str, message: Sent, label_part: str) -> None:
        """Press the button labelled with ``label_part`` as the message shows it now
        (after any edit)."""
        person = BY_REF[ref]
        current: Sent | Mapping[str, Any] = message
        if message.chat_id is not None and message.message_id is not None:
            current = self.emu.message(message.chat_id, message.message_id) or message
        for label, data in self.emu.inline_buttons(current):
            if label_part in label:
                self.transcript.say(person.name, f"[tekan: {label}]")
                mark = self.emu.mark()
                self.emu.press_button(person.user, current, data)
                await self.emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)
                return
        raise RuntimeError(f"no button {label_part!r} on the message to {person.name}")

    async def wait_for_text(self, ref: str, contains: str, *, after: int = 0) -> Sent:
        """The first message to ``ref`` containing ``contains`` from record ``after`` on
        (waits up to 30 s)."""
        return await self.emu.wait_reply(
            BY_REF[ref].user.id, after=after, contains=contains, timeout=30
        )


async def _keep_alive(stage: Stage, refs: list[str], every: float) -> None:
    """The diligent officers: an /aman now and then, so that only Budi's post goes quiet."""
    while True:
        await asyncio.sleep(every)
        for ref in list(refs):
            async with stage.busy(ref):
                # A slow answer must not end the rounds (the map would turn orange).
                with contextlib.suppress(TimeoutError):
                    await stage.text(ref, "/aman")


async def scripted_evening(
    stage: Stage,
    transcript: Transcript,
    database: Database,
    settings: Settings,
    wait_for_page: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """The evening's script. ``wait_for_page`` (``--web``) is awaited once every officer
    has checked in and keeps sending /aman, so a page opened late finds a calm city
    rather than posts alerting since the start; each later step waits only for messages
    sent after it began, never for an older alert that happens to match."""
    hour = wib(datetime.now(UTC)).hour
    if 4 <= hour < 11:
        part = "Pagi"
    elif 11 <= hour < 15:
        part = "Siang"
    elif 15 <= hour < 18:
        part = "Sore"
    else:
        part = "Malam"
    transcript.note(f"{part} di Jakarta Barat: petugas tiba di posko dan mengirim lokasi.")
    for ref in ("budi", "sari", "agus", "rina"):
        await stage.text(ref, "/hadir")
        await stage.location(ref)
    refs = ["budi", "sari", "agus", "rina"]
    keeper = asyncio.create_task(_keep_alive(stage, refs, KEEP_ALIVE_S))
    try:
        if wait_for_page is not None:
            await wait_for_page()
        refs.remove("budi")  # only Budi's post is to go quiet
        start = stage.emu.mark()
        transcript.note("Sari melaporkan masalah logistik dengan foto.")
        async with stage.busy("sari"):
            ask = await stage.text("sari", "/lapor")
            await stage.press("sari", ask, "Logistik")
            severity = await stage.wait_for_text("sari", "keparahan")
            await stage.press("sari", severity, "Tinggi")
            await stage.wait_for_text("sari", "uraian")
            await stage.text("sari", "Kotak suara TPS 07 belum tiba, petugas KPPS menunggu.")
            attach = await stage.photo("sari")
            await stage.press("sari", attach, "Lanjut")
            summary = await stage.wait_for_text("sari", "periksa laporan")
            await stage.press("sari", summary, "Kirim")
            await stage.wait_for_text("sari", "terkirim")
        transcript.note("Camat menerima laporan itu; Sari diberi tahu.")
        announced = await stage.wait_for_text("camat_kbj", "KBJ-02/0001", after=start)
        await stage.press("camat_kbj", announced, "Terima")
        await stage.wait_for_text("sari", "sudah diterima oleh", after=start)
        transcript.note("Budi lupa mengirim kabar: posko KBJ-01 menjadi senyap.")
        await stage.wait_for_text("budi", "/aman untuk KBJ-01", after=start)
        first = await stage.wait_for_text("lurah_kbj", "senyap", after=start)
        transcript.note("Lurah tidak menanggapi; peringatan naik ke camat.")
        climbed = await stage.wait_for_text("camat_kbj", "diteruskan ke Kec.", after=start)
        await stage.press("camat_kbj", climbed, "Ambil alih")
        await stage.wait_for_text("lurah_kbj", "diambil alih", after=start)
        transcript.note("Camat menelepon Budi; Budi mengirim situasi aman.")
        recovered = stage.emu.mark()
        await stage.text("budi", "/aman sinyal sempat hilang, situasi kondusif")
        await stage.wait_for_text("camat_kbj", "pulih", after=recovered)
        await stage.wait_for_text("lurah_kbj", "pulih", after=recovered)
        refs.append("budi")  # back to his rounds: Budi now sends /aman like the others
        await stage.text("camat_kbj", "/pantau")
        assert first.text
        forward = await disposisi_scene.forward_scene(stage, transcript)
        piket = await piket_scene.piket_scene(stage, transcript, database, settings.roster)
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
    return {
        "report": True,
        "report_accepted": True,
        "alert_climbed": True,
        "taken": True,
        "recovered": True,
        **forward,
        **piket,
    }


async def _circular_scene(stage: Stage, transcript: Transcript) -> bool:
    """The admin's circular and its read receipts."""
    transcript.note("Admin mengirim edaran netralitas ASN kepada semua petugas.")
    preview = await stage.text(
        "ops", "/siaran petugas Mohon jaga netralitas ASN selama masa tenang. Terima kasih."
    )
    buttons = stage.emu.inline_buttons(preview)
    if not buttons:
        return False
    await stage.press("ops", preview, buttons[0][0])
    for ref in ("budi", "sari", "agus"):
        copy = await stage.wait_for_text(ref, "netralitas")
        await stage.press(ref, copy, "dibaca")
    await asyncio.sleep(3)
    return True


WEB_WAIT_S = 60.0
KEEP_ALIVE_S = 6.0
ON_ROUNDS = ("budi", "sari", "agus", "rina")
"""The officers who keep sending /aman after the script while the command room stays up."""


async def open_room(app: PoskoApp, out: TextIO) -> None:
    """``posko demo --web``: prints the admin's login link and a wall link."""
    from bot.web.auth import issue_link

    runtime = app.bot_data["runtime"]
    server = runtime.web
    async with runtime.database.read() as tx:
        ops = await members.by_telegram_id(tx, BY_REF["ops"].user.id)
    assert ops is not None and server is not None
    now = runtime.clock.now()
    login = await issue_link(runtime.database, ops, "login", now)
    wall = await issue_link(runtime.database, ops, "wall", now)
    print(f"Ruang komando / command room: {server.url}/login/{login}", file=out)
    print(f"  (masuk sebagai {ops.name}; tautan sekali pakai, 10 menit)", file=out)
    print(f"Layar dinding / wall screen:  {server.url}/layar/{wall}", file=out, flush=True)


async def wait_for_page(app: PoskoApp, out: TextIO) -> None:
    """Waits (up to a minute) for a page to open, so the newcomer sees the evening from
    its start; the officers are in and keep sending /aman meanwhile."""
    server = app.bot_data["runtime"].web
    assert server is not None
    print(f"Menunggu halaman dibuka (paling lama {WEB_WAIT_S:.0f} detik)…", file=out, flush=True)
    deadline = time.monotonic() + WEB_WAIT_S
    while not server.hub.subscribers and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)  # the hub has no "someone subscribed" signal to wait on


async def run_demo(
    out: TextIO = sys.stdout, interactive: bool = False, web_port: int | None = None
) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="posko-demo-") as folder:
        db_path = Path(folder) / "demo.db"
        await seed(db_path)
        async with FakeBotApi(bot_username="posko_demo_bot") as emu:
            transcript = Transcript(emu, out, started)
            follower = asyncio.create_task(transcript.follow())
            app = build_application(demo_settings(db_path, emu, web_port), SystemClock())
            print(
                "Posko demo: emulator Bot API lokal, kota contoh, kebijakan detik-an.",
                file=out,
                flush=True,
            )
            try:
                async with running(app):
                    stage = Stage(emu, transcript)
                    if web_port is not None:
                        await open_room(app, out)
                    if interactive:
                        await interactive_session(stage, transcript, out)
                    else:
                        runtime = app.bot_data["runtime"]
                        page = None if web_port is None else (lambda: wait_for_page(app, out))
                        outcome = await scripted_evening(
                            stage, transcript, runtime.database, runtime.settings, page
                        )
                        outcome["circular"] = await _circular_scene(stage, transcript)
                        await asyncio.sleep(0.5)
                        transcript.flush()
                        await _summary(app, emu, transcript, outcome, out, started)
                        if web_port is not None:
                            print(
                                "Ruang komando tetap menyala; petugas terus mengirim /aman."
                                " Ctrl+C untuk selesai.",
                                file=out,
                                flush=True,
                            )
                            # The officers stay on their rounds: the map stays green.
                            await _keep_alive(stage, list(ON_ROUNDS), KEEP_ALIVE_S)
            finally:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
    return 0


async def _summary(
    app: PoskoApp,
    emu: FakeBotApi,
    transcript: Transcript,
    outcome: dict[str, Any],
    out: TextIO,
    started: float,
) -> None:
    runtime = app.bot_data["runtime"]
    async with runtime.database.read() as tx:
        done = await health.totals(tx)
    alerts, issues, signals, outbox = done.alerts, done.issues, done.signals, done.sent
    print("\nRingkasan / summary", file=out)
    print(f"  durasi: {time.monotonic() - started:.0f} s", file=out)
    print(
        f"  pesan bot: {transcript.counts.get('sendMessage', 0)} · "
        f"pesan diedit: {transcript.counts.get('editMessageText', 0)}",
        file=out,
    )
    print(
        f"  sinyal: {signals} · laporan: {issues} · peringatan: {alerts} · "
        f"pesan outbox terkirim: {outbox}",
        file=out,
    )
    for key, value in outcome.items():
        print(f"  {key}: {'ya' if value else 'tidak'}", file=out)
    print(
        "Jalankan `posko demo --interactive` untuk mencoba sendiri sebagai petugas.",
        file=out,
        flush=True,
    )


HELP = """Ketik pesan sebagai {name}. Perintah khusus:
  :lokasi          kirim lokasi di posko
  :foto            kirim foto
  :tekan TEKS      tekan tombol yang memuat TEKS pada pesan terakhir bertombol
  :sebagai REF     ganti orang ({refs})
  :keluar          selesai"""


async def interactive_session(stage: Stage, transcript: Transcript, out: TextIO) -> None:
    current = "budi"
    print(HELP.format(name=BY_REF[current].name, refs=", ".join(BY_REF)), file=out, flush=True)
    actions: dict[str, Callable[[str], Awaitable[Any]]] = {
        ":lokasi": lambda _: stage.location(current),
        ":foto": lambda _: stage.photo(current),
    }
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if not line or line == ":keluar":
            if not line and sys.stdin.closed:
                return
            if line == ":keluar":
                return
            continue
        word, _, rest = line.partition(" ")
        try:
            if word == ":sebagai" and rest in BY_REF:
                current = rest
                print(f"Sekarang sebagai {BY_REF[current].name}.", file=out, flush=True)
            elif word == ":tekan":
                chat = BY_REF[current].user.id
                with_buttons = [s for s in stage.emu.sent_to(chat) if stage.emu.inline_buttons(s)]
                if with_buttons:
                    await stage.press(current, with_buttons[-1], rest)
            elif word in actions:
                await actions[word](rest)
            else:
                await stage.text(current, line)
        except (TimeoutError, RuntimeError) as exc:
            print(f"  ({exc})", file=out, flush=True)
        await asyncio.sleep(0.3)
        transcript.flush()


def main(interactive: bool = False, web_port: int | None = None) -> int:
    try:
        return asyncio.run(run_demo(interactive=interactive, web_port=web_port))
    except KeyboardInterrupt:
        return 0
