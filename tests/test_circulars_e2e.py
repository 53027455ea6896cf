"""Circulars, scheduled announcements and invites, end to end through the fake Bot API with
the real sender: /siaran with its confirm, read receipts, the delivery report edited in
place, blocked recipients, a restart in the middle of a circular, a scheduled announcement
firing once across restarts, /undang, and the refusals."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.circulars.circular import text_limit
from bot.core.app import PoskoApp, build_application, running
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from handlers import circulars
from storage import members
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import (
    ADMIN,
    BUDI,
    CAMAT,
    JOHN,
    LURAH,
    NEWBIE,
    SARI,
    T0,
    Phone,
    make_settings,
)
from tests.test_evidence_e2e import bind_group

QUIET = {"staff_grace": "12h", "silence_after": "12h", "escalate_after": "12h"}


class JumpClock:
    """Real time that starts at T0 (19:00 WIB) and can jump ahead, so that the sender's
    limits keep working while a test moves to a scheduled moment."""

    def __init__(self, start: datetime = T0) -> None:
        self._start = start
        self._origin = time.monotonic()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin) + self.offset

    def jump(self, delta: timedelta) -> None:
        self.offset += delta


Starter = Callable[..., AbstractAsyncContextManager[PoskoApp]]


@pytest.fixture
def jump_clock() -> JumpClock:
    return JumpClock()


@pytest.fixture
def start_circulars(emu: FakeBotApi, db_path: Path, jump_clock: JumpClock) -> Starter:
    """``async with start_circulars() as app`` runs the bot with this module wired in."""

    @asynccontextmanager
    async def _start(**sections: Any) -> AsyncIterator[PoskoApp]:
        sections.setdefault("watch", QUIET)
        app = build_application(make_settings(emu, db_path, **sections), jump_clock)
        circulars.register(app)
        async with running(app, poll_timeout=timedelta(seconds=1)):
            await circulars.start_jobs(app)
            yield app

    return _start


async def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql, params)]
    finally:
        await db.close()


def copies(emu: FakeBotApi, chat_id: int, words: str) -> list[Sent]:
    return [
        sent
        for sent in emu.sent_to(chat_id, "sendMessage")
        if sent.text
        and sent.text.startswith(("📢 Edaran #", "📢 Circular #"))
        and words in sent.text
    ]


async def wait_report(
    emu: FakeBotApi, chat_id: int, message_id: int, *words: str, limit: float = 10
) -> Sent:
    """The first edit of the report message that shows all ``words``."""

    def match(sent: Sent) -> bool:
        return (
            sent.method == "editMessageText"
            and sent.chat_id == chat_id
            and sent.message_id == message_id
            and all(word in (sent.text or "") for word in words)
        )

    return await emu.wait_for(match, timeout=limit)


async def test_circular_to_an_area_with_confirm_receipts_and_report(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    admin, budi, john = Phone(emu, ADMIN), Phone(emu, BUDI), Phone(emu, JOHN)
    async with start_circulars():
        preview = await admin.send("/siaran 31.73.01.1001 Mohon jaga netralitas ASN.")
        # the kelurahan's post officers (Budi, Sari) and its lurah
        assert "3 penerima" in (preview.text or "")
        assert "Kel. Kebon Jeruk (31.73.01.1001)" in (preview.text or "")
        assert "Mohon jaga netralitas ASN." in (preview.text or "")
        labels = [label for label, _ in admin.buttons(preview)]
        assert labels == ["✅ Kirim", "✖️ Batal"]
        assert await query(db_path, "SELECT status FROM circulars") == [("draft",)]
        assert not copies(emu, BUDI.id, "netralitas")

        answer = await admin.press(preview, admin.buttons(preview)[0][1])
        assert "sedang dikirim" in (answer.params.get("text") or "")
        for user in (BUDI, SARI, LURAH):
            copy = await emu.wait_reply(user.id, contains="netralitas", timeout=5)
            assert copy.text == "📢 Edaran #1\n\nMohon jaga netralitas ASN."
            assert emu.inline_buttons(copy) == [("✅ Sudah dibaca", "cr:r:1")]
        assert not copies(emu, JOHN.id, "netralitas") and not copies(emu, CAMAT.id, "netralitas")

        copy = copies(emu, BUDI.id, "netralitas")[0]
        thanks = await budi.press(copy, "cr:r:1")
        assert "Terima kasih" in (thanks.params.get("text") or "")
        again = await budi.press(copy, "cr:r:1")
        assert "sudah tercatat" in (again.params.get("text") or "")
        # John is no recipient: a tampered client sending the button's data is refused
        refused = await john.press(copy, "cr:r:1")
        assert "not addressed to you" in (refused.params.get("text") or "")
        rows = await query(
            db_path, "SELECT member_id FROM circular_recipients WHERE read_at IS NOT NULL"
        )
        assert len(rows) == 1

        assert preview.message_id is not None
        final = await wait_report(
            emu, ADMIN.id, preview.message_id, "Terkirim: 3 (100%)", "Sudah dibaca: 1", "selesai"
        )
        assert "Tidak terjangkau: 0" in (final.text or "")
        assert "Gagal: 0" in (final.text or "")
        assert "33% dari terkirim" in (final.text or "")
    # the report is one message edited in place: no new messages to the admin after the
    # preview, a handful of edits (not one per delivery)
    to_admin = emu.sent_to(ADMIN.id)
    assert [s.method for s in to_admin if s.method == "sendMessage"] == ["sendMessage"]
    edits = [s for s in to_admin if s.method == "editMessageText"]
    assert {s.message_id for s in edits} == {preview.message_id}
    assert 1 <= len(edits) <= 5
    gaps = [b.at - a.at for a, b in itertools.pairwise(edits[1:])]
    assert all(gap >= 1.5 for gap in gaps), gaps


async def test_blocked_recipients_count_and_status_lists_unread(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    admin = Phone(emu, ADMIN)
    emu.block_chat(SARI.id)
    async with start_circulars():
        preview = await admin.send("/siaran petugas Apel pagi pukul 07.00.")
        assert "3 penerima" in (preview.text or "")  # Budi, Sari, John (not the unregistered)
        await admin.press(preview, admin.buttons(preview)[0][1])
        assert preview.message_id is not None
        final = await wait_report(
            emu, ADMIN.id, preview.message_id, "selesai", "Tidak terjangkau: 1"
        )
        assert "Terkirim: 2 (67%)" in (final.text or "")
        unreachable = await query(
            db_path, "SELECT ref FROM members WHERE unreachable_at IS NOT NULL"
        )
        assert unreachable == [("sari",)]

        status = await admin.send("/siaran_status")
        text = status.text or ""
        assert "Rekap edaran #1" in text and "Belum membaca (3):" in text
        assert "Kel. Kebon Jeruk (2): Budi Santoso, 🚫 Sari Dewi" in text
        assert "Kec. Kebon Jeruk (1): John Doe" in text

        # known unreachable: counted as blocked at once, nothing is sent to her
        second = await admin.send("/siaran petugas Apel sore pukul 16.00.")
        assert "3 penerima (1 tidak terjangkau)" in (second.text or "")
        mark = emu.mark()
        await admin.press(second, admin.buttons(second)[0][1])
        assert second.message_id is not None
        await wait_report(emu, ADMIN.id, second.message_id, "selesai", "Tidak terjangkau: 1")
        rejected_to_sari = [r for r in emu.rejected[mark:] if r.chat_id == SARI.id]
        assert not rejected_to_sari

        older = await admin.send("/siaran_status 1")
        assert "Rekap edaran #1" in (older.text or "")
        missing = await admin.send("/siaran_status 99")
        assert "tidak ditemukan" in (missing.text or "")


async def test_an_unreachable_member_who_writes_again_gets_circulars_again(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    admin, sari = Phone(emu, ADMIN), Phone(emu, SARI)
    emu.block_chat(SARI.id)
    async with start_circulars():
        first = await admin.send("/siaran petugas Apel pagi pukul 07.00.")
        await admin.press(first, admin.buttons(first)[0][1])
        assert first.message_id is not None
        await wait_report(emu, ADMIN.id, first.message_id, "selesai", "Tidak terjangkau: 1")
        # Sari unblocks the bot and writes: she is reachable again at once.
        emu.unblock_chat(SARI.id)
        await sari.send("/status")
        still = await query(db_path, "SELECT ref FROM members WHERE unreachable_at IS NOT NULL")
        assert still == []
        second = await admin.send("/siaran petugas Apel sore pukul 16.00.")
        assert "tidak terjangkau" not in (second.text or "")
        mark = emu.mark()
        await admin.press(second, admin.buttons(second)[0][1])
        copy = await emu.wait_for(
            lambda r: r.chat_id == SARI.id and "Apel sore" in (r.text or ""), after=mark
        )
        assert copy.method == "sendMessage"
        audit = await query(db_path, "SELECT action FROM audit_log WHERE action = 'reachable'")
        assert audit == [("reachable",)]


async def test_restart_in_the_middle_sends_each_copy_once(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    extra = [FakeUser(700_000 + i, f"Petugas {i}") for i in range(60)]
    db = await Database.open(db_path)
    async with db.transaction() as tx:
        await members.upsert(
            tx,
            [
                MemberRow(
                    f"p{i}",
                    f"Petugas {i:02d}",
                    None,
                    None,
                    ("officer",),
                    ("KBJ-02",),
                    (),
                    u.id,
                    None,
                )
                for i, u in enumerate(extra)
            ],
            T0,
        )
    await db.close()
    slow = {"global_per_s": 10}
    admin = Phone(emu, ADMIN)
    everyone = [u.id for u in extra] + [BUDI.id, SARI.id, JOHN.id, LURAH.id, CAMAT.id, ADMIN.id]

    def delivered() -> int:
        return sum(1 for chat in everyone if copies(emu, chat, "Rapat koordinasi"))

    async with start_circulars(delivery=slow):
        preview = await admin.send("/siaran semua Rapat koordinasi pukul 20.00.")
        assert f"{len(everyone)} penerima" in (preview.text or "")
        await admin.press(preview, admin.buttons(preview)[0][1])
        while delivered() < 15:
            await emu.wait_for(lambda s: s.method == "sendMessage", after=emu.mark(), timeout=5)
    left = await query(db_path, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
    assert left[0][0] > 20, "the restart must happen in the middle"
    assert await query(db_path, "SELECT COUNT(*) FROM outbox WHERE status = 'sending'") == [(0,)]

    async with start_circulars(delivery=slow):
        assert preview.message_id is not None
        final = await wait_report(
            emu,
            ADMIN.id,
            preview.message_id,
            "selesai",
            f"Terkirim: {len(everyone)} (100%)",
            limit=20,
        )
        assert "Dalam antrean: 0" in (final.text or "")
        status = await admin.send("/siaran_status")
        text = status.text or ""
        assert f"Belum membaca ({len(everyone)}):" in text
        assert "lainnya" in text and len(text) < 1500
    per_chat = Counter(
        sent.chat_id
        for sent in emu.sent
        if sent.text
        and sent.chat_id is not None
        and "Rapat koordinasi" in sent.text
        and sent.method == "sendMessage"
        and sent.text.startswith(("📢 Edaran #", "📢 Circular #"))
    )
    assert sorted(per_chat) == sorted(everyone)
    assert set(per_chat.values()) == {1}


async def test_scheduled_announcement_fires_once_across_restarts(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path, jump_clock: JumpClock
) -> None:
    admin = Phone(emu, ADMIN)
    async with start_circulars():
        past = await admin.send("/jadwal_tambah 2026-11-24 18:00 semua Terlambat.")
        assert "sudah lewat" in (past.text or "")
        bad = await admin.send("/jadwal_tambah besok 07:00 semua Teks.")
        assert "tidak dapat dibaca" in (bad.text or "")
        usage = await admin.send("/jadwal_tambah 2026-11-24 19:30")
        assert "Format: /jadwal_tambah" in (usage.text or "")
        added = await admin.send("/jadwal_tambah 2026-11-24 19:30 petugas Masa tenang dimulai.")
        assert "Jadwal #1 tersimpan: 24/11 19:30 WIB" in (added.text or "")
        assert "3 penerima" in (added.text or "")
        other = await admin.send("/jadwal_tambah 2026-11-25 07:00 semua Hari pemungutan suara.")
        assert "Jadwal #2" in (other.text or "")
        removed = await admin.send("/jadwal_hapus 2")
        assert "dihapus" in (removed.text or "")
        gone = await admin.send("/jadwal_hapus 2")
        assert "tidak ditemukan" in (gone.text or "")
    async with start_circulars():
        listed = await admin.send("/jadwal")
        assert "#1 · 24/11 19:30 WIB · petugas" in (listed.text or "")
        assert "#2" not in (listed.text or "")
        jump_clock.jump(timedelta(minutes=31))
        for user in (BUDI, SARI):
            copy = await emu.wait_reply(user.id, contains="Masa tenang", timeout=6)
            assert copy.text == "📢 Edaran #1\n\nMasa tenang dimulai."
        english = await emu.wait_reply(JOHN.id, contains="Masa tenang", timeout=6)
        assert english.text == "📢 Circular #1\n\nMasa tenang dimulai."
        assert emu.inline_buttons(english) == [("✅ Mark as read", "cr:r:1")]
        report = await emu.wait_reply(ADMIN.id, contains="Rekap edaran #1", timeout=6)
        assert report.method == "sendMessage" and report.message_id is not None
        await Phone(emu, SARI).press(copies(emu, SARI.id, "Masa tenang")[0], "cr:r:1")
        await wait_report(emu, ADMIN.id, report.message_id, "selesai", "Sudah dibaca: 1")
    async with start_circulars():
        jump_clock.jump(timedelta(minutes=5))
        empty = await admin.send("/jadwal")
        assert "Belum ada jadwal" in (empty.text or "")
        fired = await admin.send("/jadwal_hapus 1")
        assert "sudah dikirim" in (fired.text or "")
        await asyncio.sleep(2.5)  # a few job ticks: nothing fires again
    for user in (BUDI, SARI, JOHN):
        assert len(copies(emu, user.id, "Masa tenang")) == 1
    assert await query(db_path, "SELECT COUNT(*) FROM circulars") == [(1,)]
    rows = await query(db_path, "SELECT fired_at IS NOT NULL, circular_id FROM announcements")
    assert rows == [(1, 1)]


async def test_a_draft_survives_a_restart(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    admin = Phone(emu, ADMIN)
    async with start_circulars():
        preview = await admin.send("/broadcast pengawas Rapat pengawas pukul 21.00.")
        assert "2 penerima" in (preview.text or "")  # the lurah and the camat
    async with start_circulars():
        await admin.press(preview, "cr:ok:1")
        for user in (LURAH, CAMAT):
            await emu.wait_reply(user.id, contains="Rapat pengawas", timeout=5)
        assert preview.message_id is not None
        await wait_report(emu, ADMIN.id, preview.message_id, "Terkirim: 2 (100%)", "selesai")
    assert not copies(emu, BUDI.id, "Rapat pengawas")


async def test_invite_from_the_bot(emu: FakeBotApi, start_circulars: Starter) -> None:
    admin = Phone(emu, ADMIN)
    async with start_circulars():
        answer = await admin.send("/undang newbie")
        text = answer.text or ""
        assert "Undangan untuk Anggota Baru (newbie)" in text
        link = next(word for word in text.split() if word.startswith("https://t.me/"))
        assert link.startswith(f"https://t.me/{emu.bot_username}?start=")
        code = link.rsplit("=", 1)[1]
        assert f"Kode: {code}" in text
        joined = await Phone(emu, NEWBIE).send(f"/start {code}")
        assert "sudah terdaftar" in (joined.text or "")
        unknown = await admin.send("/undang siapa")
        assert "tidak ditemukan" in (unknown.text or "")
        usage = await admin.send("/invite")
        assert "Format: /undang" in (usage.text or "")
        registered = await admin.send("/undang budi")
        assert "sudah terdaftar" in (registered.text or "")


async def test_text_too_long_is_refused(emu: FakeBotApi, start_circulars: Starter) -> None:
    admin = Phone(emu, ADMIN)
    limit = text_limit()
    async with start_circulars():
        refused = await admin.send("/siaran semua " + "a" * (limit + 1))
        assert f"{limit + 1} karakter, batasnya {limit} karakter" in (refused.text or "")
        later = await admin.send("/jadwal_tambah 2026-11-25 07:00 semua " + "b" * (limit + 1))
        assert f"batasnya {limit}" in (later.text or "")
        fits = await admin.send("/siaran semua " + "c" * (limit - 20))
        assert "Pratinjau edaran" in (fits.text or "")
        usage = await admin.send("/siaran semua")
        assert "Format: /siaran" in (usage.text or "")
        unknown = await admin.send("/siaran 99.99 Halo")
        assert 'Cakupan "99.99" tidak dikenal' in (unknown.text or "")


async def test_forged_and_replayed_buttons_change_nothing(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    admin, budi = Phone(emu, ADMIN), Phone(emu, BUDI)

    async def outbox_rows() -> int:
        rows = await query(db_path, "SELECT COUNT(*) FROM outbox WHERE kind = 'circular'")
        return int(rows[0][0])

    async with start_circulars():
        preview = await admin.send("/siaran KBJ-01 Cek logistik.")
        assert "2 penerima" in (preview.text or "")
        data = admin.buttons(preview)[0][1]
        # an officer forging the admin's confirm
        forged = await budi.press(preview, data)
        assert "khusus admin" in (forged.params.get("text") or "")
        assert await query(db_path, "SELECT status FROM circulars") == [("draft",)]
        assert await outbox_rows() == 0
        for junk in ("cr:ok:abc", "cr:ok:999", "cr:r:999", "cr:zz:1"):
            stale = await admin.press(preview, junk, forge=True)
            assert stale.params.get("show_alert") in (True, "true", "True")
        assert await outbox_rows() == 0

        await admin.press(preview, data)
        await emu.wait_reply(BUDI.id, contains="Cek logistik", timeout=5)
        replay = await admin.press(preview, data, forge=True)
        assert "sudah dikirim" in (replay.params.get("text") or "")
        cancel_late = await admin.press(preview, f"cr:no:{data.rsplit(':', 1)[1]}", forge=True)
        assert "sudah dikirim" in (cancel_late.params.get("text") or "")
        assert await outbox_rows() == 2

        second = await admin.send("/siaran KBJ-01 Dibatalkan saja.")
        assert admin.buttons(second) == [("✅ Kirim", "cr:ok:2"), ("✖️ Batal", "cr:no:2")]
        answered = await admin.press(second, "cr:no:2")
        assert "dibatalkan" in (answered.params.get("text") or "").lower()
        cancelled = await emu.wait_reply(ADMIN.id, contains="Edaran #2 dibatalkan")
        assert cancelled.method == "editMessageText" and not admin.buttons(cancelled)
        replayed = await admin.press(second, "cr:ok:2", forge=True)
        assert "sudah dibatalkan" in (replayed.params.get("text") or "")
        assert await outbox_rows() == 2
        statuses = await query(db_path, "SELECT status FROM circulars ORDER BY id")
        assert statuses[1] == ("cancelled",)


@pytest.mark.parametrize(
    "command",
    [
        "/siaran semua Halo",
        "/broadcast semua Halo",
        "/siaran_status",
        "/jadwal",
        "/jadwal_tambah 2026-11-25 07:00 semua Halo",
        "/jadwal_hapus 1",
        "/undang budi",
        "/invite budi",
    ],
)
async def test_admin_commands_refuse_others(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path, command: str
) -> None:
    async with start_circulars():
        for user in (BUDI, LURAH):
            answer = await Phone(emu, user).send(command)
            # one wording for every admin command; /siaran is also a camat's (and kota's) power
            powers = ("/siaran", "/broadcast", "/siaran_status")
            key = "power.only" if command.split()[0] in powers else "admin.only"
            assert answer.text == catalog("id")[key]
    assert await query(db_path, "SELECT COUNT(*) FROM circulars") == [(0,)]
    assert await query(db_path, "SELECT COUNT(*) FROM announcements") == [(0,)]
    assert await query(db_path, "SELECT COUNT(*) FROM invites") == [(0,)]


def test_schedule_times_far_off_are_unreadable() -> None:
    from bot.circulars.announcements import parse_when

    assert parse_when("0001-01-01", "00:00") is None  # would overflow converting to UTC
    assert parse_when("9999-12-31", "23:59") is None
    found = parse_when("2026-11-27", "07:00")
    assert found is not None and found.hour == 7


async def test_a_circular_to_an_area_reaches_its_posko_bersama_groups(
    emu: FakeBotApi, start_circulars: Starter, db_path: Path
) -> None:
    """SPEC §8: the group room reads the circulars addressed to its area (one copy for the
    room, without a read button); a group of another area reads nothing."""
    await bind_group(db_path, "31.73.01.1001", -100_777)
    await bind_group(db_path, "31.73.01.1002", -100_888)
    admin = Phone(emu, ADMIN)
    async with start_circulars():
        preview = await admin.send("/siaran 31.73.01.1001 Rapat koordinasi pukul 19.00.")
        await admin.press(preview, admin.buttons(preview)[0][1])
        copy = await emu.wait_for(lambda r: r.chat_id == -100_777 and "Rapat" in (r.text or ""))
        assert copy.text is not None and copy.text.startswith("📢 Edaran #")
        assert not emu.inline_buttons(copy)
    rows = await query(db_path, "SELECT chat_id FROM outbox WHERE kind = 'circular_group'")
    assert rows == [(-100_777,)]
