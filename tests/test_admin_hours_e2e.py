"""Opening hours without a restart, end to end over HTTP on the fake clock: /jam changes a
post's (or an area's) weekly hours and /jam_khusus adds or removes dated hours; the
watcher follows at once (the change makes the posts due and wakes it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.app import PoskoApp
from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from storage.db import Database
from tests.conftest import ADMIN, BUDI, LURAH, MONAS, Phone
from tests.test_authorization_matrix import runtime_of

pytestmark = pytest.mark.usefixtures("bot")

Phones = Callable[[FakeUser], Phone]
# T0 is Tuesday 24 November 2026, 19:00 WIB; every seeded post is open 24h.


async def query(
    db_path: Path, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql, params)]
    finally:
        await db.close()


async def state_of(db_path: Path, code: str) -> str:
    rows = await query(db_path, "SELECT state FROM posts WHERE code = ?", (code,))
    return str(rows[0][0])


async def becomes(db_path: Path, code: str, state: str) -> None:
    """The watcher, woken by the change (nobody calls sweep here), decides the post."""
    for _ in range(100):
        if await state_of(db_path, code) == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{code} stayed {await state_of(db_path, code)!r}, expected {state!r}")


async def start(phone: Phones, bot: PoskoApp, db_path: Path) -> Phone:
    admin = phone(ADMIN)
    watcher = runtime_of(bot).watcher
    assert watcher is not None
    await watcher.sweep()
    assert await state_of(db_path, "KBJ-01") == "opening"
    return admin


async def test_jam_closes_a_post_now_and_no_alert_follows(
    phone: Phones, bot: PoskoApp, db_path: Path, clock: FakeClock, emu: FakeBotApi
) -> None:
    admin = await start(phone, bot, db_path)
    for code in ("KBJ-02", "KEC-KBJ"):
        await admin.send(f"/jeda {code} 2h")
    await phone(BUDI).location(*MONAS)  # Budi is on duty at KBJ-01 when its hours change
    changed = await admin.send("/jam KBJ-01 mon-fri 08:00-16:00; sat 08.00-12.00")
    text = changed.text or ""
    assert "1 petugas sedang bertugas di sana" in text
    assert "mon-fri 08:00-16:00; sat 08:00-12:00" in text and "«24h»" in text
    await becomes(db_path, "KBJ-01", "closed")
    rows = await query(db_path, "SELECT hours FROM posts WHERE code = 'KBJ-01'")
    assert rows == [("mon-fri 08:00-16:00; sat 08:00-12:00",)]
    audit = await query(db_path, "SELECT detail FROM audit_log WHERE action = 'hours'")
    assert [json.loads(str(row[0])) for row in audit] == [
        {"before": {"24h": ["KBJ-01"]}, "after": "mon-fri 08:00-16:00; sat 08:00-12:00"}
    ]
    # past the grace time nobody is alerted: KBJ-01 is closed now
    clock.advance(timedelta(minutes=20))
    watcher = runtime_of(bot).watcher
    assert watcher is not None
    await watcher.sweep()
    assert await query(db_path, "SELECT COUNT(*) FROM alerts") == [(0,)]
    # and back to 24h: open again at once
    await admin.send("/jam KBJ-01 24h")
    await becomes(db_path, "KBJ-01", "opening")


async def test_jam_for_an_area_changes_every_post_below_it(
    phone: Phones, bot: PoskoApp, db_path: Path
) -> None:
    admin = await start(phone, bot, db_path)
    changed = await admin.send("/jam 31.73.01 08:00-16:00")
    assert "3 posko" in (changed.text or "")
    for code in ("KBJ-01", "KBJ-02", "KEC-KBJ"):
        await becomes(db_path, code, "closed")
    rows = await query(db_path, "SELECT DISTINCT hours FROM posts")
    assert rows == [("08:00-16:00",)]


async def test_dated_hours_list_and_remove(
    phone: Phones, bot: PoskoApp, db_path: Path, clock: FakeClock
) -> None:
    admin = await start(phone, bot, db_path)
    # counting running late on voting day, here: today only until 18:00 for KBJ-01
    added = await admin.send("/jam_khusus 2026-11-24 06:00-18:00 KBJ-01")
    assert "#1" in (added.text or "") and "Selasa 2026-11-24" in (added.text or "")
    await becomes(db_path, "KBJ-01", "closed")
    assert await state_of(db_path, "KBJ-02") == "opening"  # the other posts keep 24h
    city = await admin.send("/jam_khusus 2026-12-09 06:00-24:00")
    assert "semua posko" in (city.text or "")
    listed = await admin.send("/jam_khusus")
    text = listed.text or ""
    assert "#1 Selasa 2026-11-24: 06:00-18:00 — KBJ-01" in text
    assert "#2 Rabu 2026-12-09: 06:00-24:00 — semua posko" in text
    assert [data for _label, data in admin.buttons(listed)] == ["jk:rm:1", "jk:rm:2"]
    removed = await admin.press_and_reply(listed, "jk:rm:1")
    assert "dihapus" in (removed.text or "")
    await becomes(db_path, "KBJ-01", "opening")
    again = await admin.press(listed, "jk:rm:1", forge=True)
    assert "tidak berlaku" in str(again.params.get("text"))
    rows = await query(db_path, "SELECT id FROM hours_overrides WHERE removed_at IS NULL")
    assert rows == [(2,)]
    actions = await query(
        db_path, "SELECT action FROM audit_log WHERE action LIKE 'hours_override%' ORDER BY id"
    )
    assert actions == [("hours_override",), ("hours_override",), ("hours_override_removed",)]


async def test_dated_hours_survive_a_restart_of_the_watcher(
    phone: Phones, bot: PoskoApp, db_path: Path
) -> None:
    admin = await start(phone, bot, db_path)
    await admin.send("/jam_khusus 2026-11-24 tutup KBJ-02")
    await becomes(db_path, "KBJ-02", "closed")
    watcher = runtime_of(bot).watcher
    assert watcher is not None
    watcher.dated_stale = True  # as a new process would: read from the database again
    await admin.send("/jam KBJ-02 24h")  # weekly hours change; the dated ones still rule today
    await watcher.sweep()
    assert await state_of(db_path, "KBJ-02") == "closed"
    assert await query(db_path, "SELECT hours FROM posts WHERE code = 'KBJ-02'") == [("24h",)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/jam", "Format: /jam"),
        ("/jam KBJ-01", "Format: /jam"),
        ("/jam KBJ-01 senin 25:00-26:00", "Jam tidak terbaca"),
        ("/jam KBJ-01 kadang-kadang", "Jam tidak terbaca"),
        ("/jam NOPE 24h", "tidak ditemukan"),
        ("/jam " + "x" * 5000, "Format: /jam"),
        ("/jam_khusus 2026-11-24", "Format: /jam_khusus"),
        ("/jam_khusus 1999-12-31 24h", "2000–2100"),
        ("/jam_khusus 2101-01-01 24h", "2000–2100"),
        ("/jam_khusus 99999-01-01 24h", "tidak terbaca"),
        ("/jam_khusus 2026-02-30 24h", "tidak terbaca"),
        ("/jam_khusus besok 24h", "tidak terbaca"),
        ("/jam_khusus 2026-11-23 24h", "sudah lewat"),
        ("/jam_khusus 2026-11-25 08:00-08:00", "Jam tidak terbaca"),
        ("/jam_khusus 2026-11-25 24h NOPE", "Jam tidak terbaca"),
    ],
)
async def test_bad_hours_input(phone: Phones, db_path: Path, text: str, words: str) -> None:
    answer = await phone(ADMIN).send(text)
    assert words in (answer.text or ""), answer.text
    assert await query(db_path, "SELECT COUNT(*) FROM hours_overrides") == [(0,)]
    assert await query(db_path, "SELECT DISTINCT hours FROM posts") == [("24h",)]


async def test_others_are_refused(phone: Phones, db_path: Path) -> None:
    for text in ("/jam KBJ-01 08:00-16:00", "/jam_khusus 2026-11-25 24h", "/jam_khusus"):
        answer = await phone(LURAH).send(text)
        assert "khusus admin" in (answer.text or "")
    assert await query(db_path, "SELECT COUNT(*) FROM hours_overrides") == [(0,)]
    assert await query(db_path, "SELECT DISTINCT hours FROM posts") == [("24h",)]
