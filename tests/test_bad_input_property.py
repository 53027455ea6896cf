"""Bad input, property-based: thousands of random updates against the real bot.

How it runs, and why this way
-----------------------------
Hypothesis and pytest-asyncio do not mix per example (an async fixture would be set up
once and reused by every example, on a loop hypothesis knows nothing about). So the bot is
started ONCE, in a background thread that runs its own event loop: the fake Bot API
(``bot/rehearsal/emulator/``) and the real Application built by ``build_application`` polling it
over HTTP. The test itself is a plain synchronous function; inside it a ``@given``
function receives one *example* — a list of update specs drawn from the strategies below —
and plays it on the bot's loop with ``asyncio.run_coroutine_threadsafe``: the specs are
injected (messages, commands, callbacks, locations, edits, raw updates, clock ticks, and
"walks": a command followed step by step by whatever the bot asks for — its buttons, a
location, a text — so that reports get filed and moved, circulars confirmed), then
the example waits until the bot has handled every injected update (counted by the
update processor's observer); its replies are sent by then.

The bot keeps its state between examples (that is the point: later examples meet the
drafts, shifts, issues and alerts earlier ones left), so a failing example is not
replayable on its own and shrinking would chase ghosts. Examples therefore do not raise:
every broken property is recorded with the update that triggered it, and the test fails
at the end with all of them. Only the ``generate`` phase runs, and no example database is
kept (a failing example would not replay anyway).

Properties checked after every example
--------------------------------------
* no unhandled exception: no ERROR log record at all (the error handler logs
  "error handling update …"; the watch runner logs failed passes) and no exception
  reported to the event loop;
* no reply longer than Telegram allows (4,096 characters of text, 1,024 of caption, 200
  of a callback answer) and no call refused as too long by the emulator;
* nobody sees data they have no right to: strangers never see post or area codes, member,
  post or area names; officers only their own posts' data; supervisors only their subtree
  (tokens the person typed themselves are exempt: an echo is not a leak; so are, for
  members, words others wrote that the bot relays: report texts, notes, circulars); also
  checked in the outbox, where the bot's own messages wait (an edited group message is
  read by the whole group and attributed to nobody);
* the database (every ten examples and at the end) stays consistent: foreign keys,
  integrity, one open shift per member, one open alert per post, unique issue references
  that match their post's code, drafts, shifts and issues only for registered members (and
  only at their own posts), alert and issue moves only by people whose scope covers the
  post.

The command list is the one below plus every command registered in the Application, so
new commands are fuzzed as soon as they are wired; commands the bot does not have are sent
anyway, under the same checks.

150 examples of 12-30 specs: some 4,000-5,500 random updates in 20-35 s
(``POSKO_FUZZ_EXAMPLES`` changes the number of examples).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import sqlite3
import threading
import time
import traceback
from collections import Counter
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from telegram.ext import CommandHandler

from bot.core.app import PoskoApp, build_application, running
from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from tests.conftest import (
    ADMIN,
    BUDI,
    CAMAT,
    JOHN,
    LURAH,
    MONAS,
    NEWBIE,
    SARI,
    STRANGER,
    T0,
    make_settings,
    seed_city,
)

T = TypeVar("T")

EXAMPLES = int(os.environ.get("POSKO_FUZZ_EXAMPLES", "100"))
MIN_UPDATES = 13 * EXAMPLES  # a run sends about 25 per example
UPDATE_TIMEOUT = 30.0

# --- who sends ----------------------------------------------------------------------------

STRANGER_EN = FakeUser(8888, "Stranger", language_code="en")
STRANGER_NOLANG = FakeUser(7777, "Tanpa Bahasa", language_code=None)
STRANGER_BIG = FakeUser(7_123_456_789, "Id Besar", username="besar_sekali", language_code="ar")
MEMBERS = (BUDI, SARI, JOHN, LURAH, CAMAT, ADMIN)
STRANGERS = (STRANGER, STRANGER_EN, STRANGER_NOLANG, STRANGER_BIG, NEWBIE)  # newbie: no id yet
SENDERS = (*MEMBERS, *MEMBERS, *STRANGERS)  # members twice as often
STRANGER_IDS = frozenset(user.id for user in STRANGERS)
ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}

GROUP = {"id": -4_000_100, "type": "group", "title": "Posko Bersama"}
SUPERGROUP = {"id": -1_002_000_000_001, "type": "supergroup", "title": "Posko Bersama Kota"}
FORUM = {"id": -1_002_000_000_002, "type": "supergroup", "title": "Forum", "is_forum": True}
CHANNEL = {"id": -1_003_000_000_001, "type": "channel", "title": "Saluran Edaran"}
TOPIC_ID = 7
CHATS = ("private",) * 6 + ("group", "supergroup", "topic")

# --- what nobody may see without the right (SPEC §1: strangers never see data) -------------

MEMBER_NAMES = (
    "Budi Santoso",
    "Sari Dewi",
    "John Doe",
    "Lurah Kebon",
    "Camat Kebon",
    "Ops Kota",
    "Anggota Baru",
)
EVERYTHING = (
    "KBJ",
    "31.73",
    "Kebon Jeruk",
    "Sukabumi",
    "Jakarta Barat",
    "DKI Jakarta",
    "Posko Kel",
    "Posko Kec",
    *MEMBER_NAMES,
)
FORBIDDEN: dict[int, tuple[str, ...]] = {
    # budi: KBJ-01 only. Sari may be on duty at KBJ-01, supervisors may take its alerts.
    BUDI.id: (
        "KBJ-02",
        "KEC-KBJ",
        "Sukabumi",
        "Posko Kec",
        "31.73.01.1002",
        "John Doe",
        "Anggota Baru",
    ),
    # sari: KBJ-01 and KBJ-02.
    SARI.id: ("KEC-KBJ", "Posko Kec", "John Doe"),
    # john: KEC-KBJ only.
    JOHN.id: (
        "KBJ-01",
        "KBJ-02",
        "Posko Kel",
        "Sukabumi",
        "31.73.01.100",
        "Budi Santoso",
        "Sari Dewi",
        "Anggota Baru",
    ),
    # the lurah oversees kelurahan 31.73.01.1001: KBJ-01 only.
    LURAH.id: (
        "KBJ-02",
        "KEC-KBJ",
        "Sukabumi",
        "Posko Kec",
        "31.73.01.1002",
        "John Doe",
        "Anggota Baru",
    ),
    CAMAT.id: (),  # the whole kecamatan: every seeded post
    ADMIN.id: (),
}
for _stranger in STRANGER_IDS:
    FORBIDDEN[_stranger] = EVERYTHING
NEVER = ("Traceback", "Exception", "sqlite3.", "aiosqlite")  # internals, for anyone

# Free text people write that the bot shows to others (quoted, not data of the bot's own).
RELAYED_SQL = (
    "SELECT text FROM issues",
    "SELECT note FROM issue_events WHERE note IS NOT NULL",
    "SELECT note FROM signals WHERE note IS NOT NULL",
    "SELECT text FROM circulars",
    "SELECT text FROM announcements",
)

# --- commands -----------------------------------------------------------------------------

# Every command the bot has or is specified to have (SPEC §3, the brief of each feature),
# with their English aliases; those registered in the Application are added at start-up.
KNOWN_COMMANDS = (
    "start",
    "bantuan",
    "help",
    "batal",
    "cancel",
    "hadir",
    "checkin",
    "pulang",
    "checkout",
    "aman",
    "allclear",
    "clear",
    "lapor",
    "report",
    "laporanku",
    "myreports",
    "status",
    "jeda",
    "pause",
    "grup",
    "group",
    "pantau",
    "monitor",
    "laporan",
    "issues",
    "rekap",
    "recap",
    "peta",
    "map",
    "siaran",
    "broadcast",
    "siaran_status",
    "broadcast_status",
    "jadwal",
    "schedule",
    "jadwal_tambah",
    "schedule_add",
    "jadwal_hapus",
    "schedule_remove",
    "undang",
    "invite",
    "ekspor",
    "export",
)

# Words the bot's parsers care about, to get past the first "usage" answer.
TOKENS = (
    "KBJ-01",
    "KBJ-02",
    "KEC-KBJ",
    "kbj-01",
    "XYZ-99",
    "KBJ-01,KBJ-02",
    "31",
    "31.73",
    "31.73.01",
    "31.73.01.1001",
    "31.73.01.1002",
    "99.99",
    "31.73.01.",
    "KBJ-01/0001",
    "KBJ-02/0001",
    "KEC-KBJ/0001",
    "KBJ-01/0002",
    "kbj-02/0001",
    "KBJ-01/9999",
    "KBJ-01/0000",
    "/",
    "KBJ-01/-1",
    "KBJ-01/²",
    "KBJ-01/99999999999999999999999",
    "keamanan",
    "logistik",
    "netralitas_asn",
    "apk",
    "politik_uang",
    "dpt",
    "kampanye",
    "bencana",
    "lainnya",
    "LOGISTIK",
    "logis",
    "politik uang",
    "Keamanan",
    "rendah",
    "sedang",
    "tinggi",
    "darurat",
    "baru",
    "diterima",
    "ditangani",
    "selesai",
    "ditolak",
    "open",
    "all",
    "semua",
    "terbuka",
    "0",
    "1",
    "2",
    "90",
    "10080",
    "10081",
    "-5",
    "2h",
    "7d",
    "8d",
    "1.5h",
    "45s",
    "90m",
    "off",
    "lanjut",
    "99999999999999999999",
    "1e9",
    "nan",
    "inf",
    "²",
    "٣",
    "①",
    "𝟗",
    "shifts",
    "issues",
    "alerts",
    "laporan",
    "peringatan",
    "shift",
    "csv",
    "xlsx",
    "CSV",
    "pdf",
    "2026-11-24",
    "2026-02-30",
    "24/11/2026",
    "31/02/2026",
    "0001-01-01",
    "9999-12-31",
    "2026-11-24T10:00",
    "kemarin",
    "2026-11-30",
    "2026-11-01",
    "24/11/26",
    "petugas",
    "pengawas",
    "admin",
    "officer",
    "supervisor",
    "semua",
    "budi",
    "sari",
    "john",
    "lurah",
    "camat",
    "newbie",
    "nobody",
    "07:00",
    "25:61",
    "mon-fri",
    "08:00-16:00",
    "@posko_test_bot",
    "ambil",
    "on",
    "ABCDEF123",
    "<script>",
    "%s",
    "{text}",
    "{0}",
    "'; DROP TABLE issues;--",
)
SPICE = (
    "مرحبا بالعالم",
    "\u202eKBJ-01\u202c",
    "שלום עולם",
    "🚨🔥",
    "👨\u200d👩\u200d👧\u200d👦",
    "\u200b",
    "\u200c\u200d",
    "\ufeff",
    "e\u0301\u0301\u0301",
    "\x01\x1b[31m\x7f",
    "\t",
    "Ｆｕｌｌｗｉｄｔｈ",
    "𝕏𝕪𝕫",
    "<b>tebal</b>",
    "*markdown*_[x](y)",
    "{text}",
    "{name!r}",
    "{0}",
    "%s %d",
    "{{}}",
    "\\",
    "\n\n\n",
    "ـــ",
    "🏳️\u200d🌈",
    "ⓚⓑⓙ",
    "\u2028",
    "\u0085",
    "ﷺ",
    "Z̸̢̛a̴l̷g̸o̵",
    "😀" * 30,
    "/",
    "@",
    "#",
    "$",
    "&amp;",
)

CALLBACK_PREFIXES = (
    "rp:",
    "rp:cat:",
    "rp:sev:",
    "rp:post:",
    "ci:",
    "al:",
    "sv:",
    "sv:i:",
    "sv:p:",
    "sv:l:",
    "sv:l:open:",
    "sv:l:all:",
    "sv:l:baru:",
    "sv:l:selesai:",
    "sv:x:",
    "cr:",
    "cr:ok:",
    "cr:no:",
    "cr:r:",
    # likely prefixes of features being built (broadcast, schedule, recap, map, export)
    "bc:",
    "br:",
    "si:",
    "sr:",
    "jd:",
    "sc:",
    "rk:",
    "pt:",
    "ex:",
    "iv:",
)
CALLBACK_VALID = (
    "rp:cancel",
    "rp:next",
    "rp:send",
    "rp:cat:logistik",
    "rp:cat:bencana",
    "rp:sev:darurat",
    "rp:sev:rendah",
    "rp:post:1",
    "rp:post:2",
    "rp:post:3",
    "ci:1",
    "ci:2",
    "ci:3",
    "al:1",
    "al:2",
    "sv:p:1",
    "sv:p:2",
    "sv:l:open:1",
    "sv:l:open:2",
    "sv:l:all:3",
    "sv:i:1:accept",
    "sv:i:1:start",
    "sv:i:1:resolve",
    "sv:i:1:reject",
    "sv:i:2:accept",
    "sv:i:3:reject",
    "cr:ok:1",
    "cr:no:1",
    "cr:r:1",
    "cr:r:2",
)
ODD_NUMBERS = (
    "",
    "0",
    "00",
    "-0",
    "-1",
    "1.0",
    "1e3",
    " 1",
    "1 ",
    "0x1",
    "NaN",
    "١",
    "²",
    "³",
    "①",
    "𝟙",
    "৩",
    "99999999999999999999",
    "18446744073709551616",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
)
MOVES = ("accept", "start", "resolve", "reject", "", "ACCEPT", "delete", "accept:1")

# --- strategies ---------------------------------------------------------------------------

SAFE_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def _telegramish(text: str) -> str:
    """Telegram trims what people send and never delivers an empty message."""
    return text.strip() or "."


def _repeat(unit: str, length: int) -> str:
    return (unit * (length // max(1, len(unit)) + 1))[:length]


plain = st.text(SAFE_CHARS, min_size=1, max_size=40)
word = st.one_of(
    st.sampled_from(TOKENS),
    st.text(SAFE_CHARS, min_size=1, max_size=12),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(ODD_NUMBERS),
)
spiced = st.lists(
    st.one_of(plain, st.sampled_from(SPICE), st.sampled_from(TOKENS)), min_size=1, max_size=6
).map(" ".join)
long_text = st.builds(
    _repeat,
    st.one_of(plain, st.sampled_from(SPICE)),
    st.one_of(st.sampled_from((4095, 4096, 4097, 5000)), st.integers(300, 5000)),
)
texts = st.one_of(plain, spiced, spiced, long_text).map(_telegramish)
separators = st.sampled_from((" ", " ", " ", "  ", "\n", "\t", " \u00a0"))


@st.composite
def command_texts(draw: st.DrawFn, names: tuple[str, ...]) -> str:
    name = draw(st.sampled_from(names))
    name = draw(st.sampled_from((name, name, name, name.upper(), name.title())))
    mention = draw(
        st.sampled_from(("", "", "", "@posko_test_bot", "@other_bot", "@POSKO_TEST_BOT"))
    )
    head = f"/{name}{mention}"
    shape = draw(st.sampled_from(("none", "words", "words", "free", "long")))
    if shape == "none":
        return head
    if shape == "words":
        args = draw(st.lists(word, min_size=1, max_size=5))
        sep = draw(separators)
        return _telegramish(head + sep + sep.join(args))
    if shape == "free":
        return _telegramish(head + " " + draw(texts))
    return head + " " + draw(long_text.map(_telegramish))


@st.composite
def callback_data(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(("valid", "prefix", "prefix", "issue", "random")))
    if shape == "valid":
        data = draw(st.sampled_from(CALLBACK_VALID))
    elif shape == "prefix":
        tail = draw(
            st.one_of(
                st.integers(-5, 60).map(str),
                st.sampled_from(ODD_NUMBERS),
                st.sampled_from(TOKENS),
                plain,
            )
        )
        data = draw(st.sampled_from(CALLBACK_PREFIXES)) + tail
    elif shape == "issue":
        ident = draw(st.one_of(st.integers(0, 40).map(str), st.sampled_from(ODD_NUMBERS)))
        data = f"sv:i:{ident}:{draw(st.sampled_from(MOVES))}"
    else:
        data = draw(st.text(SAFE_CHARS, min_size=1, max_size=64))
    # Telegram carries 1-64 bytes of callback data; nothing else can arrive.
    data = data.encode("utf-8")[:64].decode("utf-8", "ignore")
    return data or "x"


KBJ02 = (-6.2, 106.77)
coordinates = st.one_of(
    st.sampled_from(
        (
            MONAS,
            KBJ02,
            (0.0, 0.0),
            (90.0, 180.0),
            (-90.0, -180.0),
            (-90.0, 180.0),
            (90.0, -180.0),
            (MONAS[0], MONAS[1] + 0.0009),
            (-6.2, 106.7715),
        )
    ),
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(st.floats(-6.3, -6.1), st.floats(106.7, 106.9)),
    st.tuples(st.floats(-0.002, 0.002), st.floats(-0.002, 0.002)).map(
        lambda d: (MONAS[0] + d[0], MONAS[1] + d[1])
    ),
)
accuracy = st.one_of(st.none(), st.floats(0, 1500))
live_period = st.one_of(st.none(), st.none(), st.sampled_from((60, 900, 28800, 86400, 0x7FFFFFFF)))
senders = st.sampled_from(SENDERS)
chats = st.sampled_from(CHATS)
RAW_KINDS = (
    "sticker",
    "voice",
    "contact",
    "venue",
    "dice",
    "audio",
    "video_note",
    "animation",
    "new_members",
    "left_member",
    "my_chat_member",
    "blocked",
    "channel_post",
    "edited_channel_post",
    "anonymous_admin",
    "reply_to_bot",
    "forwarded_text",
    "caption_command",
    "media_group",
)


def _spec(kind: str, **values: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"kind": st.just(kind), **values})


def update_specs(commands: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    command = _spec("text", user=senders, chat=chats, text=command_texts(commands))
    return st.one_of(
        _spec("text", user=senders, chat=chats, text=texts),
        _spec("text", user=senders, chat=chats, text=texts),
        command,
        command,
        command,
        command,
        command,
        command,
        _spec(
            "callback",
            user=senders,
            chat=chats,
            real=st.booleans(),
            data=callback_data(),
            pick=st.integers(0, 10_000),
        ),
        _spec(
            "callback",
            user=senders,
            chat=st.just("private"),
            real=st.booleans(),
            data=callback_data(),
            pick=st.integers(0, 10_000),
        ),
        _spec(
            "callback",
            user=senders,
            chat=st.just("private"),
            real=st.just(True),
            data=callback_data(),
            pick=st.integers(0, 10_000),
        ),
        _spec(
            "location",
            user=senders,
            chat=st.sampled_from(("private",) * 5 + ("group",)),
            at=coordinates,
            accuracy=accuracy,
            live=live_period,
            forwarded=st.booleans(),
        ),
        _spec(
            "location",
            user=senders,
            chat=st.just("private"),
            at=coordinates,
            accuracy=accuracy,
            live=live_period,
            forwarded=st.just(False),
        ),
        _spec("edit_location", user=senders, at=coordinates, accuracy=accuracy),
        _spec("edit_text", user=senders, text=st.one_of(texts, command_texts(commands))),
        _spec(
            "photo",
            user=senders,
            chat=chats,
            caption=st.one_of(st.none(), texts.map(lambda s: s[:1024])),
            group=st.one_of(st.none(), st.sampled_from(("album-1", "album-2"))),
        ),
        _spec(
            "document",
            user=senders,
            chat=chats,
            name=st.sampled_from(
                ("laporan.pdf", "foto.jpg", "data.csv", "x" * 200, "../../etc/passwd", "ملف.txt")
            ),
            mime=st.sampled_from(
                ("application/pdf", "image/jpeg", "text/csv", "application/octet-stream")
            ),
            caption=st.one_of(st.none(), texts.map(lambda s: s[:1024])),
        ),
        _spec("raw", what=st.sampled_from(RAW_KINDS), user=senders, chat=chats, text=texts),
        _spec("raw", what=st.sampled_from(RAW_KINDS), user=senders, chat=chats, text=texts),
        _spec("text", user=senders, chat=st.just("private"), text=smart_commands),
        _spec("text", user=senders, chat=st.just("private"), text=smart_commands),
        _spec(
            "walk",
            user=st.sampled_from((*MEMBERS, *MEMBERS, *MEMBERS, STRANGER)),
            start=st.one_of(st.sampled_from(WALK_STARTS), smart_commands),
            picks=st.lists(st.integers(0, 999), min_size=1, max_size=7),
            texts=st.lists(texts, min_size=1, max_size=3),
        ),
        _spec(
            "walk",
            user=st.sampled_from((BUDI, SARI, JOHN)),
            start=st.sampled_from(("/lapor", "/lapor", "/report", "/hadir")),
            picks=st.lists(st.integers(0, 999), min_size=4, max_size=8),
            texts=st.lists(texts, min_size=1, max_size=3),
        ),
        _spec(
            "walk",
            user=st.sampled_from((LURAH, CAMAT, ADMIN)),
            start=st.sampled_from(("/laporan", "/laporan semua", "/laporan baru", "/issues")),
            picks=st.lists(st.integers(0, 999), min_size=2, max_size=6),
            texts=st.lists(texts, min_size=1, max_size=3),
        ),
        _spec(
            "tick",
            minutes=st.one_of(
                st.sampled_from((1, 5, 14, 16, 21, 31, 45, 76, 91, 120, 24 * 60)),
                st.integers(1, 240),
            ),
        ),
    )


def _fill(template: str, *parts: str) -> str:
    return _telegramish(template.format(*parts))


CATEGORIES = (
    "keamanan",
    "logistik",
    "netralitas_asn",
    "apk",
    "politik_uang",
    "dpt",
    "kampanye",
    "bencana",
    "lainnya",
)
POST_CODES = ("KBJ-01", "KBJ-02", "KEC-KBJ", "kbj-01", "XYZ-99")
AREA_CODES = ("31", "31.73", "31.73.01", "31.73.01.1001", "31.73.01.1002", "99.99")
SCOPES = ("semua", "petugas", "pengawas", "admin", *POST_CODES, *AREA_CODES, "budi", "")
DAYS = (
    "2026-11-24",
    "2026-11-25",
    "2026-11-27",
    "2026-02-30",
    "24/11/2026",
    "0001-01-01",
    "9999-12-31",
    "kemarin",
    "2025-01-01",
)
TIMES = ("07:00", "00:00", "23:59", "24:00", "7", "07.00", "25:61", "19:01")
# Commands with arguments shaped the way each command reads them, to get past "usage".
smart_commands = st.one_of(
    st.builds(_fill, st.just("/lapor {} {}"), st.sampled_from(CATEGORIES), texts),
    st.builds(_fill, st.just("/report {} {}"), st.sampled_from(CATEGORIES), texts),
    st.builds(_fill, st.just("/aman {}"), texts),
    st.builds(_fill, st.just("/jeda {} {}"), st.sampled_from(POST_CODES), word),
    st.builds(_fill, st.just("/laporan {}"), word),
    st.builds(_fill, st.just("/siaran {} {}"), st.sampled_from(SCOPES), texts),
    st.builds(_fill, st.just("/siaran_status {}"), word),
    st.builds(
        _fill,
        st.just("/jadwal_tambah {} {} {} {}"),
        st.sampled_from(DAYS),
        st.sampled_from(TIMES),
        st.sampled_from(SCOPES),
        texts,
    ),
    st.builds(_fill, st.just("/jadwal_hapus {}"), word),
    st.builds(
        _fill,
        st.just("/undang {}"),
        st.one_of(st.sampled_from(("budi", "sari", "newbie", "admin", "nobody", "NEWBIE")), word),
    ),
    st.builds(
        _fill,
        st.just("/ekspor {} {} {} {}"),
        st.sampled_from(("shifts", "issues", "alerts", "laporan", "peringatan", "x")),
        st.sampled_from(DAYS),
        st.sampled_from(DAYS),
        st.sampled_from(("csv", "xlsx", "", "pdf")),
    ),
    st.builds(
        _fill,
        st.just("/grup {} {}"),
        st.sampled_from(AREA_CODES),
        st.sampled_from(("", "off", "on")),
    ),
    st.builds(_fill, st.just("/rekap {}"), st.one_of(st.sampled_from(DAYS), word)),
    st.builds(_fill, st.just("/peta {}"), st.one_of(st.sampled_from(AREA_CODES), word)),
    st.builds(
        _fill,
        st.just("/start {}"),
        st.one_of(st.text("ABCDEFGHJKMNPQRSTUVWXYZ23456789", min_size=10, max_size=10), word),
    ),
)
WALK_STARTS = (
    "/lapor",
    "/hadir",
    "/laporan",
    "/laporan semua",
    "/pantau",
    "/status",
    "/laporanku",
    "/siaran semua Mohon jaga netralitas ASN.",
    "/siaran petugas Tes",
    "/siaran KBJ-01 Apel pagi",
    "/siaran_status",
    "/jadwal",
    "/undang newbie",
    "/rekap",
    "/peta",
    "/bantuan",
    "/batal",
)


def describe(spec: dict[str, Any]) -> str:
    shown = {}
    for key, value in spec.items():
        if isinstance(value, FakeUser):
            value = f"{value.first_name}({value.id})"
        elif isinstance(value, str) and len(value) > 120:
            value = f"{value[:60]!r}…({len(value)} chars)"
        shown[key] = value
    return repr(shown)


# --- the bot in its own thread --------------------------------------------------------------


class ErrorRecords(logging.Handler):
    """Every ERROR (or worse) record of any logger: the bot's, PTB's, asyncio's."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.records.append(record)


class WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.seen[f"{record.name}: {record.msg}"] += 1


def registered_commands(app: PoskoApp) -> set[str]:
    names: set[str] = set()
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                names |= set(handler.commands)
    return names


@dataclass
class Harness:
    db_path: Path
    clock: FakeClock = field(default_factory=lambda: FakeClock(T0))
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    loop_errors: list[dict[str, Any]] = field(default_factory=list)
    processed: int = 0
    emu: FakeBotApi | None = None
    app: PoskoApp | None = None
    _stack: AsyncExitStack | None = None
    _thread: threading.Thread | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="posko-bot")
        self._thread.start()
        self.call(self._boot())

    def stop(self) -> None:
        try:
            if self._stack is not None:
                self.call(self._stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self.loop.close()

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.loop_errors.append(context)

    async def _boot(self) -> None:
        self.loop.set_exception_handler(self._on_loop_error)
        await seed_city(self.db_path)
        self._stack = AsyncExitStack()
        self.emu = await self._stack.enter_async_context(FakeBotApi())
        fast = {"global_per_s": 500, "per_chat_per_s": 50, "per_group_per_min": 3000}
        app = build_application(make_settings(self.emu, self.db_path, delivery=fast), self.clock)
        processor = app.update_processor
        observer = getattr(processor, "observer", None)

        def counted(seconds: float, failed: bool) -> None:
            self.processed += 1
            if observer is not None:
                observer(seconds, failed)

        processor.observer = counted  # type: ignore[attr-defined]
        self.app = app
        await self._stack.enter_async_context(running(app, poll_timeout=timedelta(seconds=1)))

    async def sweep(self) -> None:
        assert self.app is not None
        watcher = self.app.bot_data["runtime"].watcher
        if watcher is not None:
            await watcher.sweep()


# --- playing examples -----------------------------------------------------------------------

MESSAGE_METHODS = ("sendMessage", "sendPhoto", "sendDocument", "sendLocation")


@dataclass
class Player:
    """Turns specs into updates on the bot's loop; remembers what each person sent."""

    harness: Harness
    inputs: dict[int, list[str]] = field(default_factory=dict)
    origin: dict[int, str] = field(default_factory=dict)  # update_id -> spec
    query_user: dict[str, int] = field(default_factory=dict)  # callback query id -> user
    relayed: str = ""  # people's words the bot passes on to members (lowercase)
    presses: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # message -> who
    last_text: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_live: dict[int, dict[str, Any]] = field(default_factory=dict)
    injected: int = 0
    random_updates: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    tick_errors: list[str] = field(default_factory=list)
    seen_sent: int = 0
    seen_rejected: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(50_000_000))

    @property
    def emu(self) -> FakeBotApi:
        assert self.harness.emu is not None
        return self.harness.emu

    def typed(self, user_id: int, *texts: str | None) -> None:
        self.inputs.setdefault(user_id, []).extend(t for t in texts if t)

    def _note(self, update: dict[str, Any], spec: dict[str, Any]) -> None:
        self.origin[int(update["update_id"])] = describe(spec)
        self.injected += 1

    @staticmethod
    def _chat(user: FakeUser, chat: str) -> dict[str, Any]:
        if chat == "private":
            return user.private_chat()
        return {"group": GROUP, "supergroup": SUPERGROUP, "topic": FORUM}[chat]

    def _raw_message(self, user: FakeUser, chat: str, extra: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": next(self._ids),
            "from": user.to_api(),
            "chat": self._chat(user, chat),
            "date": int(time.time()),
        }
        if chat == "topic":
            msg["message_thread_id"] = TOPIC_ID
            msg["is_topic_message"] = True
        msg.update(extra)
        return msg

    @staticmethod
    def _text_extra(text: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])", text)
        if command:
            extra["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(command.group())}
            ]
        return extra

    def _send_text(self, user: FakeUser, chat: str, text: str) -> dict[str, Any]:
        self.typed(user.id, text)
        if chat == "topic":
            update = self.emu.send_raw(
                {"message": self._raw_message(user, chat, self._text_extra(text))}
            )
        elif chat == "private":
            update = self.emu.send_text(user, text)
        else:
            target = self._chat(user, chat)
            update = self.emu.send_text(
                user,
                text,
                chat_id=target["id"],
                chat_type=target["type"],
                chat_title=target["title"],
            )
        self.last_text[user.id] = update
        return update

    def _bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for rec in self.emu.sent_to(chat_id):
            if rec.method in MESSAGE_METHODS and rec.message_id is not None:
                current = self.emu.message(chat_id, rec.message_id)
                if current is not None:
                    found[rec.message_id] = current
        return list(found.values())

    def apply(self, spec: dict[str, Any]) -> None:
        spec = dict(spec)  # a real press records the data it really carried
        kind = spec["kind"]
        self.by_kind[kind if kind != "raw" else f"raw:{spec['what']}"] += 1
        if kind == "tick":
            return
        user: FakeUser = spec["user"]
        update: dict[str, Any]
        if kind == "text":
            update = self._send_text(user, spec["chat"], spec["text"])
        elif kind == "callback":
            update = self._callback(user, spec)
        elif kind == "location":
            lat, lon = spec["at"]
            forward = STRANGER if spec["forwarded"] else None
            target = self._chat(user, spec["chat"])
            update = self.emu.send_location(
                user,
                lat,
                lon,
                live_period=spec["live"],
                horizontal_accuracy=spec["accuracy"],
                forward_from=forward,
                chat_id=None if spec["chat"] == "private" else target["id"],
                chat_type=target["type"],
            )
            if spec["live"] is not None and not spec["forwarded"]:
                self.last_live[user.id] = update
        elif kind == "edit_location":
            lat, lon = spec["at"]
            live = self.last_live.get(user.id)
            if live is None:
                update = self.emu.send_location(user, lat, lon, live_period=900)
                self.last_live[user.id] = update
            else:
                update = self.emu.edit_location(user, live, lat, lon, spec["accuracy"])
        elif kind == "edit_text":
            previous = self.last_text.get(user.id)
            self.typed(user.id, spec["text"])
            if previous is None:
                update = self._send_text(user, "private", spec["text"])
            else:
                update = self.emu.edit_text(user, previous, spec["text"])
                self.last_text[user.id] = update
        elif kind == "photo":
            self.typed(user.id, spec["caption"])
            update = self._media(user, spec["chat"], "photo", spec)
        elif kind == "document":
            self.typed(user.id, spec["caption"], spec["name"])
            update = self._media(user, spec["chat"], "document", spec)
        else:
            update = self._raw(user, spec)
        self._note(update, spec)
        self.random_updates += 1

    def _media(self, user: FakeUser, chat: str, what: str, spec: dict[str, Any]) -> dict[str, Any]:
        if chat == "topic":
            chat = "supergroup"
        target = self._chat(user, chat)
        where: dict[str, Any] = {}
        if chat != "private":
            where = {"chat_id": target["id"], "chat_type": target["type"]}
        if what == "photo":
            return self.emu.send_photo(
                user, caption=spec["caption"], media_group_id=spec["group"], **where
            )
        return self.emu.send_document(
            user, spec["name"], b"%PDF-1.4 fuzz", spec["mime"], caption=spec["caption"], **where
        )

    def _callback(self, user: FakeUser, spec: dict[str, Any]) -> dict[str, Any]:
        chat_id = user.id if spec["chat"] == "private" else self._chat(user, spec["chat"])["id"]
        messages = self._bot_messages(chat_id)
        if not messages:
            # nothing to press yet: say something to the bot instead
            spec["pressed"] = "nothing to press, sent /bantuan"
            return self._send_text(user, spec["chat"], "/bantuan")
        data = spec["data"]
        check = False
        spec["pressed"] = "forged"
        if spec["real"]:
            with_buttons = [m for m in messages if self.emu.inline_buttons(m)]
            if with_buttons:
                message = with_buttons[spec["pick"] % len(with_buttons)]
                buttons = self.emu.inline_buttons(message)
                data = buttons[spec["pick"] % len(buttons)][1]
                check = True
                spec["data"], spec["pressed"] = data, "a button it had"
            else:
                message = messages[spec["pick"] % len(messages)]
        else:
            message = messages[spec["pick"] % len(messages)]
        self.typed(user.id, data)
        update = self.emu.press_button(user, message, data, check=check)
        self.query_user[update["callback_query"]["id"]] = user.id
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self.presses.setdefault(key, []).append(f"{user.first_name}({user.id}) {data!r}")
        return update

    def _raw(self, user: FakeUser, spec: dict[str, Any]) -> dict[str, Any]:
        what, chat, text = spec["what"], spec["chat"], spec["text"]
        now = int(time.time())
        self.typed(user.id, text)
        if what == "channel_post":
            return self.emu.send_raw(
                {
                    "channel_post": {
                        "message_id": next(self._ids),
                        "chat": CHANNEL,
                        "sender_chat": CHANNEL,
                        "date": now,
                        **self._text_extra(text),
                    }
                }
            )
        if what == "edited_channel_post":
            return self.emu.send_raw(
                {
                    "edited_channel_post": {
                        "message_id": next(self._ids),
                        "chat": CHANNEL,
                        "sender_chat": CHANNEL,
                        "date": now - 30,
                        "edit_date": now,
                        **self._text_extra(text),
                    }
                }
            )
        if what in ("my_chat_member", "blocked"):
            target = user.private_chat() if what == "blocked" else self._chat(user, chat)
            old, new = ("member", "kicked") if what == "blocked" else ("left", "member")
            bot = self.emu.bot_user
            return self.emu.send_raw(
                {
                    "my_chat_member": {
                        "chat": target,
                        "from": user.to_api(),
                        "date": now,
                        "old_chat_member": {"status": old, "user": bot},
                        "new_chat_member": {
                            "status": new,
                            "user": bot,
                            **({"until_date": 0} if new == "kicked" else {}),
                        },
                    }
                }
            )
        if what == "anonymous_admin":
            msg = self._raw_message(user, "supergroup", self._text_extra(text))
            msg["from"] = ANONYMOUS_ADMIN
            msg["sender_chat"] = SUPERGROUP
            return self.emu.send_raw({"message": msg})
        if what == "new_members":
            if chat == "private":
                chat = "group"
            extra = {"new_chat_members": [self.emu.bot_user, user.to_api()]}
            return self.emu.send_raw({"message": self._raw_message(user, chat, extra)})
        if what == "left_member":
            if chat == "private":
                chat = "group"
            extra = {"left_chat_member": user.to_api()}
            return self.emu.send_raw({"message": self._raw_message(user, chat, extra)})
        if what == "reply_to_bot":
            chat_id = user.id if chat == "private" else self._chat(user, chat)["id"]
            messages = self._bot_messages(chat_id)
            extra = self._text_extra(text)
            if messages:
                target = messages[-1]
                extra["reply_to_message"] = {
                    k: v for k, v in target.items() if k != "reply_to_message"
                }
            return self.emu.send_raw({"message": self._raw_message(user, chat, extra)})
        if what == "forwarded_text":
            extra = {
                **self._text_extra(text),
                "forward_origin": {"type": "user", "sender_user": BUDI.to_api(), "date": now - 600},
            }
            return self.emu.send_raw({"message": self._raw_message(user, chat, extra)})
        if what == "caption_command":
            update = self._media(
                user, chat, "photo", {"caption": "/lapor logistik " + text[:900], "group": None}
            )
            return update
        if what == "media_group":
            update = self._media(user, chat, "photo", {"caption": None, "group": "album-9"})
            return update
        extra = self._content(what, user, text)
        return self.emu.send_raw({"message": self._raw_message(user, chat, extra)})

    def _content(self, what: str, user: FakeUser, text: str) -> dict[str, Any]:
        unique = f"u{next(self._ids)}"
        if what == "sticker":
            return {
                "sticker": {
                    "file_id": f"STK{unique}",
                    "file_unique_id": unique,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "🚨",
                }
            }
        if what == "voice":
            return {
                "voice": {
                    "file_id": f"VOI{unique}",
                    "file_unique_id": unique,
                    "duration": 3,
                    "mime_type": "audio/ogg",
                }
            }
        if what == "contact":
            return {
                "contact": {
                    "phone_number": "+6281234567890",
                    "first_name": text[:64],
                    "user_id": user.id,
                }
            }
        if what == "venue":
            location = {"latitude": MONAS[0], "longitude": MONAS[1]}
            return {
                "location": location,
                "venue": {"location": location, "title": text[:64], "address": "Jl. Medan Merdeka"},
            }
        if what == "dice":
            return {"dice": {"emoji": "🎲", "value": 6}}
        if what == "audio":
            return {
                "audio": {
                    "file_id": f"AUD{unique}",
                    "file_unique_id": unique,
                    "duration": 61,
                    "title": text[:64],
                }
            }
        if what == "video_note":
            return {
                "video_note": {
                    "file_id": f"VN{unique}",
                    "file_unique_id": unique,
                    "length": 240,
                    "duration": 2,
                }
            }
        return {
            "animation": {
                "file_id": f"AN{unique}",
                "file_unique_id": unique,
                "width": 320,
                "height": 240,
                "duration": 1,
            },
            "document": {"file_id": f"AN{unique}", "file_unique_id": unique},
        }

    async def walk(self, spec: dict[str, Any]) -> None:
        """A conversation: a command, then whatever the bot asks for — a button of its
        newest message (rarely the cancel one), a location, or a text — step by step."""
        user: FakeUser = spec["user"]
        self.by_kind["walk"] += 1
        mark = self.emu.mark()
        self._note(self._send_text(user, "private", spec["start"]), spec)
        self.random_updates += 1
        texts = spec["texts"]
        for step, pick in enumerate(spec["picks"]):
            await self.settle()
            replies = [
                r
                for r in self.emu.sent_to(user.id)
                if r.index >= mark and r.method in MESSAGE_METHODS and r.message_id is not None
            ]
            current = [self.emu.message(user.id, r.message_id) for r in replies]
            buttoned = [m for m in current if m is not None and self.emu.inline_buttons(m)]
            asks_location = any(
                "request_location" in json.dumps(r.params.get("reply_markup") or {})
                for r in replies
            )
            mark = self.emu.mark()
            what = {**spec, "step": step}
            if buttoned:
                message = buttoned[-1]
                options = [data for _, data in self.emu.inline_buttons(message)]
                onward = [d for d in options if "cancel" not in d and not d.startswith("cr:no")]
                data = (onward if onward and pick % 9 else options)[pick % len(onward or options)]
                what["pressed"] = data
                update = self.emu.press_button(user, message, data)
                self.query_user[update["callback_query"]["id"]] = user.id
                self.typed(user.id, data)
            elif asks_location:
                lat, lon = (MONAS, KBJ02)[pick % 2]
                update = self.emu.send_location(user, lat + (pick % 7) * 1e-5, lon)
                what["sent"] = "location"
            else:
                text = texts[pick % len(texts)]
                update = self._send_text(user, "private", text)
                what["sent"] = text
            self._note(update, what)
            self.random_updates += 1

    async def play(self, specs: list[dict[str, Any]]) -> tuple[list[Sent], list[Sent]]:
        """Inject one example, wait until the bot handled it all; new sent and rejected."""
        harness = self.harness
        for spec in specs:
            if spec["kind"] == "tick":
                harness.clock.advance(timedelta(minutes=spec["minutes"]))
                try:
                    await harness.sweep()
                except Exception as exc:  # a broken watcher is a finding, not a test crash
                    self.tick_errors.append(f"{describe(spec)}: {exc!r}")
            elif spec["kind"] == "walk":
                await self.walk(spec)
            else:
                self.apply(spec)
        await self.settle(linger=0.03)
        sent = self.emu.sent[self.seen_sent :]
        rejected = self.emu.rejected[self.seen_rejected :]
        self.seen_sent += len(sent)
        self.seen_rejected += len(rejected)
        return sent, rejected

    async def settle(self, linger: float = 0.0) -> None:
        """Until the bot has handled every injected update (its replies are sent by then),
        then ``linger`` seconds for anything a handler left running in the background."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + UPDATE_TIMEOUT
        while self.harness.processed < self.injected:
            if loop.time() > deadline:
                raise TimeoutError(
                    f"bot handled {self.harness.processed} of {self.injected} "
                    f"updates within {UPDATE_TIMEOUT}s"
                )
            await asyncio.sleep(0.002)
        if linger:
            await asyncio.sleep(linger)

    async def prime(self) -> None:
        """Give every chat a bot message to press buttons on."""
        for user in (*MEMBERS, *STRANGERS):
            self._note(self._send_text(user, "private", "/start"), {"kind": "prime"})
        for chat in ("group", "supergroup", "topic"):
            self._note(self._send_text(STRANGER, chat, "/status"), {"kind": "prime"})
        await self.settle()
        self.seen_sent = len(self.emu.sent)
        self.seen_rejected = len(self.emu.rejected)


# --- the properties -------------------------------------------------------------------------

LIMITS = {
    "sendMessage": 4096,
    "editMessageText": 4096,
    "sendPhoto": 1024,
    "sendDocument": 1024,
    "editMessageCaption": 1024,
    "answerCallbackQuery": 200,
}


@dataclass
class Findings:
    items: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, detail: str) -> None:
        self.items.setdefault(kind, []).append(detail)

    def report(self) -> str:
        """Each kind, then each distinct problem (same first line) once, with its count."""
        lines = []
        for kind, details in self.items.items():
            lines.append(f"== {kind}: {len(details)}")
            groups: dict[str, list[str]] = {}
            for detail in details:
                groups.setdefault(detail.split("\n")[0][:160], []).append(detail)
            for same in list(groups.values())[:12]:
                lines.append(f"  - ({len(same)}x) {same[0]}")
        return "\n".join(lines)


def leaked(player: Player, user_id: int, text: str) -> list[str]:
    """Forbidden tokens in ``text`` that the reader did not type themselves (nor, for
    members, someone else wrote in words the bot relays: report texts, notes, circulars)."""
    own = "\x00".join(player.inputs.get(user_id, ())).lower()
    if user_id not in STRANGER_IDS:
        own += "\x00" + player.relayed
    rules = FORBIDDEN.get(user_id, EVERYTHING)
    found = [token for token in rules if token in text and token.lower() not in own]
    found += [token for token in NEVER if token in text and token.lower() not in own]
    return found


def reader_of(player: Player, rec: Sent) -> int | None:
    """The person a recorded call speaks to (None: a group audience).

    A private chat is its person's; a new message in a group speaks to the person it
    quotes (PTB quotes the message it answers in groups)."""
    if rec.method == "answerCallbackQuery":
        return player.query_user.get(str(rec.params.get("callback_query_id")))
    if rec.chat_id is not None and rec.chat_id > 0:
        return rec.chat_id
    if rec.method != "sendMessage":
        return None  # an edited group message: the whole group reads it
    result = rec.result if isinstance(rec.result, dict) else {}
    replied = result.get("reply_to_message")
    if isinstance(replied, dict) and isinstance(replied.get("from"), dict):
        sender = replied["from"].get("id")
        return sender if isinstance(sender, int) and sender != player.emu.bot_id else None
    return None


def check_sent(player: Player, sent: list[Sent], rejected: list[Sent], out: Findings) -> None:
    for rec in sent:
        text = rec.text or ""
        limit = LIMITS.get(rec.method)
        if limit is not None and len(text) > limit:
            out.add(
                "reply too long",
                f"{rec.method} to {rec.chat_id}: {len(text)} chars (limit {limit}): {text[:80]!r}…",
            )
        reader = reader_of(player, rec)
        if reader is not None and text:
            tokens = leaked(player, reader, text)
            if tokens:
                pressed = ""
                if rec.method.startswith("edit") and rec.chat_id and rec.message_id:
                    history = player.presses.get((rec.chat_id, rec.message_id), [])
                    pressed = f"; buttons pressed on it: {history[-5:]}"
                out.add(
                    "data leak",
                    f"{rec.method} to user {reader} shows {tokens}: {text[:300]!r}{pressed}",
                )
    for rec in rejected:
        description = rec.description or ""
        if "too long" in description.lower() or "MESSAGE_TOO_LONG" in description:
            out.add(
                "reply too long",
                f"{rec.method} to {rec.chat_id} refused: {description}; "
                f"text {len(rec.text or '')} chars: "
                f"{(rec.text or '')[:80]!r}…",
            )


PROJECT = str(Path(__file__).resolve().parent.parent)


def _where(record: logging.LogRecord) -> tuple[str, str]:
    """(exception, the project frames it went through) of a logged exception."""
    if not record.exc_info or record.exc_info[1] is None:
        return "", ""
    exc = record.exc_info[1]
    frames = [
        f"{Path(frame.filename).relative_to(PROJECT)}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename.startswith(PROJECT) and "/.venv/" not in frame.filename
    ]
    return f"{type(exc).__name__}: {exc}", " > ".join(frames[-4:])


def check_errors(player: Player, errors: ErrorRecords, harness: Harness, out: Findings) -> None:
    for record in errors.records:
        trigger = ""
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg == "error handling update %s from user %s" and args:
            update_id = args[0]
            spec = player.origin.get(update_id, "?") if isinstance(update_id, int) else "?"
            trigger = f" <- update {update_id}: {spec}"
        exception, frames = _where(record)
        out.add(
            "unhandled exception",
            f"{exception[:200]} at {frames}\n"
            f"      ({record.name}: {record.getMessage()[:200]}{trigger})",
        )
    errors.records.clear()
    for context in harness.loop_errors:
        out.add("loop exception", f"{context.get('message')}: {context.get('exception')!r}")
    harness.loop_errors.clear()
    for problem in player.tick_errors:
        out.add("watcher failed", problem)
    player.tick_errors.clear()


def _ancestors(parents: dict[int, int | None], area_id: int) -> set[int]:
    seen: set[int] = set()
    current: int | None = area_id
    while current is not None and current not in seen:
        seen.add(current)
        current = parents.get(current)
    return seen


def check_database(db_path: Path, player: Player, out: Findings) -> None:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("PRAGMA foreign_key_check").fetchall()
        if rows:
            out.add("database", f"foreign_key_check: {rows[:5]}")
        integrity = conn.execute("PRAGMA integrity_check").fetchall()
        if integrity != [("ok",)]:
            out.add("database", f"integrity_check: {integrity[:5]}")
        queries = {
            "two open shifts for one member": "SELECT member_id, COUNT(*) FROM shifts "
            "WHERE ended_at IS NULL GROUP BY member_id HAVING COUNT(*) > 1",
            "two open alerts for one post": "SELECT post_id, COUNT(*) FROM alerts "
            "WHERE resolved_at IS NULL GROUP BY post_id HAVING COUNT(*) > 1",
            "duplicate issue ref": "SELECT ref, COUNT(*) FROM issues GROUP BY ref "
            "HAVING COUNT(*) > 1",
            "draft of a missing or unregistered member": "SELECT d.member_id, d.kind FROM drafts d "
            "LEFT JOIN members m ON m.id = d.member_id WHERE m.id IS NULL "
            "OR m.telegram_id IS NULL",
            "shift at a post the member is not assigned to": "SELECT s.id, s.member_id, s.post_id "
            "FROM shifts s WHERE NOT EXISTS (SELECT 1 FROM assignments a "
            "WHERE a.member_id = s.member_id AND a.post_id = s.post_id)",
            "issue at a post the reporter is not assigned to": "SELECT i.ref, i.reporter_id "
            "FROM issues i WHERE NOT EXISTS (SELECT 1 FROM assignments a "
            "WHERE a.member_id = i.reporter_id AND a.post_id = i.post_id)",
            "shift ends before it starts": "SELECT id FROM shifts WHERE ended_at < started_at",
            "stranger registered": "SELECT ref, telegram_id FROM members WHERE telegram_id IN "
            f"({','.join(str(i) for i in sorted(STRANGER_IDS))})",
            "work by an unregistered member": "SELECT 'shift', member_id FROM shifts WHERE "
            "member_id IN (SELECT id FROM members WHERE telegram_id IS NULL) UNION ALL "
            "SELECT 'issue', reporter_id FROM issues WHERE reporter_id IN "
            "(SELECT id FROM members WHERE telegram_id IS NULL)",
            "issue number beyond the post's sequence": "SELECT i.ref FROM issues i JOIN posts p "
            "ON p.id = i.post_id WHERE CAST(substr(i.ref, length(p.code) + 2) AS INTEGER) "
            "> p.issue_seq",
        }
        for name, sql in queries.items():
            found = conn.execute(sql).fetchall()
            if found:
                out.add("database", f"{name}: {found[:5]}")
        for ref, code in conn.execute(
            "SELECT i.ref, p.code FROM issues i JOIN posts p ON p.id = i.post_id"
        ):
            if not re.fullmatch(re.escape(code) + r"/\d{4,}", ref):
                out.add("database", f"issue ref {ref!r} does not match its post {code!r}")
        # moves only by people whose scope covers the post (forged al:/sv:i: buttons)
        parents = dict(conn.execute("SELECT id, parent_id FROM areas").fetchall())
        post_area = dict(conn.execute("SELECT id, area_id FROM posts").fetchall())
        roles: dict[int, set[str]] = {}
        for member_id, role in conn.execute("SELECT member_id, role FROM member_roles"):
            roles.setdefault(member_id, set()).add(role)
        scopes: dict[int, set[int]] = {}
        for member_id, area_id in conn.execute("SELECT member_id, area_id FROM scopes"):
            scopes.setdefault(member_id, set()).add(area_id)

        def covers(member_id: int, post_id: int) -> bool:
            if "admin" in roles.get(member_id, set()):
                return True
            if "supervisor" not in roles.get(member_id, set()):
                return False
            return bool(_ancestors(parents, post_area[post_id]) & scopes.get(member_id, set()))

        for alert_id, post_id, acked_by in conn.execute(
            "SELECT id, post_id, acked_by FROM alerts WHERE acked_by IS NOT NULL"
        ):
            if not covers(acked_by, post_id):
                out.add("database", f"alert {alert_id} taken by member {acked_by} out of scope")
        for ref, post_id, actor, to_status in conn.execute(
            "SELECT i.ref, i.post_id, e.actor_id, e.to_status FROM issue_events e "
            "JOIN issues i ON i.id = e.issue_id WHERE e.kind = 'status'"
        ):
            if actor is None or not covers(actor, post_id):
                out.add(
                    "database", f"issue {ref} moved to {to_status} by member {actor}, out of scope"
                )
        for ref, post_id, assignee in conn.execute(
            "SELECT ref, post_id, assignee_id FROM issues WHERE assignee_id IS NOT NULL"
        ):
            if not covers(assignee, post_id):
                out.add("database", f"issue {ref} assigned to member {assignee}, out of scope")
        # what the bot will send on its own initiative must not leak either
        members = dict(
            conn.execute(
                "SELECT telegram_id, id FROM members WHERE telegram_id IS NOT NULL"
            ).fetchall()
        )
        for outbox_id, chat_id, kind, payload in conn.execute(
            "SELECT id, chat_id, kind, payload FROM outbox WHERE chat_id > 0"
        ):
            try:
                data = json.loads(payload)
            except ValueError:
                out.add("database", f"outbox {outbox_id}: payload is not JSON")
                continue
            text = str(data.get("text") or data.get("caption") or "")
            tokens = leaked(player, chat_id, text)
            if tokens:
                who = "member" if chat_id in members else "stranger"
                out.add(
                    "data leak",
                    f"outbox {outbox_id} ({kind}) to {who} {chat_id} shows "
                    f"{tokens}: {text[:200]!r}",
                )
            if len(text) > 4096:
                out.add("reply too long", f"outbox {outbox_id} ({kind}): {len(text)} chars")
    finally:
        conn.close()


def relayed_words(db_path: Path) -> str:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        found: list[str] = []
        for sql in RELAYED_SQL:
            try:
                found += [str(row[0]) for row in conn.execute(sql)]
            except sqlite3.Error:
                continue  # a table another feature has not created yet
        return "\x00".join(found).lower()
    finally:
        conn.close()


def reached(db_path: Path) -> dict[str, int]:
    """How far the random input got (rows it made), to see that the checks had material."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = (
            "shifts",
            "signals",
            "issues",
            "issue_events",
            "alerts",
            "drafts",
            "outbox",
            "circulars",
            "invites",
            "audit_log",
        )
        counts = {}
        for table in tables:
            try:
                counts[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            except sqlite3.Error:
                counts[table] = -1
        return counts
    finally:
        conn.close()


# --- the test -------------------------------------------------------------------------------


def test_random_updates_break_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    errors = ErrorRecords()
    warnings = WarningCounter()
    root = logging.getLogger()
    root.addHandler(errors)
    root.addHandler(warnings)
    harness = Harness(tmp_path / "posko.db")
    player = Player(harness)
    findings = Findings()
    examples = 0
    try:
        harness.start()
        assert harness.app is not None
        commands = tuple(sorted(set(KNOWN_COMMANDS) | registered_commands(harness.app)))
        harness.call(player.prime())

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(st.lists(update_specs(commands), min_size=12, max_size=30))
        def one_example(specs: list[dict[str, Any]]) -> None:
            nonlocal examples
            examples += 1
            try:
                sent, rejected = harness.call(player.play(specs))
            except TimeoutError as exc:
                findings.add("bot stalled", f"{exc}; example: {[describe(s) for s in specs]}")
                return
            player.relayed = relayed_words(harness.db_path)
            check_sent(player, sent, rejected, findings)
            check_errors(player, errors, harness, findings)
            if examples % 10 == 0:
                check_database(harness.db_path, player, findings)

        one_example()

        # still alive and answering after all that
        async def still_answers() -> list[str]:
            answers = []
            for user in (BUDI, LURAH, ADMIN, STRANGER):
                mark = player.emu.mark()
                player._note(player._send_text(user, "private", "/bantuan"), {"kind": "final"})
                answer = await player.emu.wait_reply(user.id, after=mark, timeout=10)
                answers.append(answer.text or "")
            await player.settle()
            return answers

        answers = harness.call(still_answers())
        assert all(answers), answers
        sent, rejected = harness.call(player.play([]))
        player.relayed = relayed_words(harness.db_path)
        check_sent(player, sent, rejected, findings)
        check_errors(player, errors, harness, findings)
        check_database(harness.db_path, player, findings)
    finally:
        harness.stop()
        root.removeHandler(errors)
        root.removeHandler(warnings)
    check_errors(player, errors, harness, findings)  # anything from shutdown
    elapsed = time.monotonic() - started
    print(
        f"\n{player.random_updates} random updates tried in {examples} examples "
        f"({player.injected} updates in all, {len(player.emu.sent)} bot calls, "
        f"{len(player.emu.rejected)} refused) in {elapsed:.1f}s"
    )
    print("by kind:", dict(player.by_kind.most_common()))
    if player.emu.rejected:
        print(
            "refused calls:",
            Counter(f"{r.method}: {r.description}" for r in player.emu.rejected).most_common(8),
        )
    print("left behind:", reached(harness.db_path))
    if warnings.seen:
        print("warnings:", warnings.seen.most_common(8))
    assert not findings.items, "\n" + findings.report()
    assert player.random_updates >= MIN_UPDATES, player.random_updates
