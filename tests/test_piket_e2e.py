"""/piket end to end over HTTP: an officer's next 7 days with today's mark; a supervisor's
day view of a post with every mark (hadir, terlambat, tidak hadir, belum mulai, belum
hadir, pulang awal) and ◀ ▶; dates as typed; scope, unknown codes and bad dates."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from bot.roster.views import DayError, parse_day
from storage import roster
from storage.db import Database
from tests.conftest import ADMIN, BUDI, CAMAT, JOHN, LURAH, SARI, T0, AppFactory, Phone
from tests.roster_seed import TUESDAY, WEDNESDAY, seed_slots

THURSDAY = WEDNESDAY + timedelta(days=1)


@pytest.fixture
async def roster_day(db_path: Path) -> list[int]:
    """Tuesday (T0 is 19:00 WIB) at KBJ-01, and the next days."""
    ids = await seed_slots(
        db_path,
        ("KBJ-01", "budi", TUESDAY, "18:00", "23:00"),  # arrives 18:12: late 12 minutes
        ("KBJ-01", "sari", TUESDAY, "08:00", "16:00"),  # never came: absent
        ("KBJ-01", "sari", TUESDAY, "16:00", "18:30"),  # 15:55 in, out 17:30: left early
        ("KBJ-01", "sari", TUESDAY, "18:30", "23:00"),  # running, not in yet
        ("KBJ-01", "budi", TUESDAY, "23:00", "07:00"),  # not started; crosses midnight
        ("KBJ-01", "budi", WEDNESDAY, "08:00", "16:00"),
        ("KBJ-02", "budi", THURSDAY, "08:00", "12:00"),  # not his post, but rostered there
        ("KBJ-01", "budi", TUESDAY + timedelta(days=9), "08:00", "16:00"),  # beyond 7 days
    )
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            # arrivals as the check-in at the post records them (the attendance part of
            # issue 11 writes these rows on /hadir and /pulang)
            await roster.record_arrival(tx, ids[0], T0 - timedelta(minutes=48))
            await roster.record_arrival(tx, ids[2], T0 - timedelta(hours=3, minutes=5))
            await roster.record_departure(tx, ids[2], T0 - timedelta(hours=1, minutes=30))
    finally:
        await db.close()
    return ids


async def test_officer_sees_the_next_seven_days(
    emu: FakeBotApi, start_bot: AppFactory, roster_day: list[int]
) -> None:
    async def piket(user: FakeUser, answer: str) -> Sent:
        """The /piket answer (the watcher's reminders to the same chat may come first)."""
        mark = emu.mark()
        emu.send_text(user, "/piket")
        return await emu.wait_reply(user.id, after=mark, contains=answer)

    async with start_bot():
        week = await piket(BUDI, "📅 Piket")
        text = week.text or ""
        lines = text.splitlines()
        assert "Sel 24/11  18:00–23:00  KBJ-01 Posko Kel. Kebon Jeruk — terlambat 12 menit" in lines
        assert "Sel 24/11  23:00–07:00  KBJ-01 Posko Kel. Kebon Jeruk" in lines
        assert "Rab 25/11  08:00–16:00  KBJ-01 Posko Kel. Kebon Jeruk" in lines
        assert "Kam 26/11  08:00–12:00  KBJ-02 Posko Kel. Sukabumi Utara" in lines
        assert "03/12" not in text  # nine days ahead
        assert "/tukar" in lines[-1]
        # days are grouped: a blank line between Tuesday and Wednesday
        wednesday = lines.index("Rab 25/11  08:00–16:00  KBJ-01 Posko Kel. Kebon Jeruk")
        assert lines[wednesday - 1] == "" and lines[wednesday - 2].startswith("Sel 24/11")
        sari = await piket(SARI, "📅 Piket")
        assert "18:30–23:00  KBJ-01 Posko Kel. Kebon Jeruk — belum hadir" in (sari.text or "")
        assert "Budi" not in (sari.text or "")
        # nobody rostered: said so, with what to do
        john = await piket(JOHN, "duties")
        assert "no duties" in (john.text or "") and "supervisor" in (john.text or "")


async def test_supervisor_sees_a_post_day_with_marks(
    emu: FakeBotApi, start_bot: AppFactory, roster_day: list[int]
) -> None:
    async with start_bot():
        lurah = Phone(emu, LURAH)
        day = await lurah.send("/piket KBJ-01")
        text = day.text or ""
        assert "Piket KBJ-01 Posko Kel. Kebon Jeruk" in text and "Sel 24/11/2026" in text
        lines = text.splitlines()
        assert "08:00–16:00  Sari Dewi — tidak hadir" in lines
        assert "16:00–18:30  Sari Dewi — hadir, pulang awal 17:30" in lines
        assert "18:00–23:00  Budi Santoso — terlambat 12 menit" in lines
        assert "18:30–23:00  Sari Dewi — belum hadir" in lines
        assert "23:00–07:00  Budi Santoso — belum mulai" in lines
        buttons = lurah.buttons(day)
        assert [label for label, _ in buttons] == ["◀ Sen 23/11", "Rab 25/11 ▶"]
        assert all(len(data.encode()) < 64 for _, data in buttons)
        following = await lurah.press_and_reply(day, buttons[1][1])
        assert "Rab 25/11/2026" in (following.text or "")
        assert "08:00–16:00  Budi Santoso — belum mulai" in (following.text or "")
        empty = await lurah.press_and_reply(following, lurah.buttons(following)[1][1])
        assert "Tidak ada piket" in (empty.text or "")
        # dates as typed
        for typed in ("besok", "25/11", "2026-11-25", "25/11/2026"):
            other = await lurah.send(f"/piket kbj-01 {typed}")
            assert "Rab 25/11/2026" in (other.text or ""), typed
        # the camat above and the admin see it too; the admin sees KBJ-02
        assert "Budi Santoso" in ((await Phone(emu, CAMAT).send("/roster KBJ-01")).text or "")
        admin = await Phone(emu, ADMIN).send("/piket KBJ-02 26/11")
        assert "08:00–12:00  Budi Santoso — belum mulai" in (admin.text or "")


async def test_out_of_scope_unknown_and_bad_dates(
    emu: FakeBotApi, start_bot: AppFactory, roster_day: list[int]
) -> None:
    async with start_bot():
        lurah = Phone(emu, LURAH)
        outside = await lurah.send("/piket KBJ-02")
        unknown = await lurah.send("/piket XYZ-99")
        assert outside.text == unknown.text and "tidak ada di wilayah" in (outside.text or "")
        assert "Budi" not in (outside.text or "")
        assert "tidak dapat dibaca" in ((await lurah.send("/piket KBJ-01 31/02")).text or "")
        assert "tidak dapat dibaca" in ((await lurah.send("/piket KBJ-01 kapan")).text or "")
        assert "2000 dan 2100" in ((await lurah.send("/piket KBJ-01 1999-12-31")).text or "")
        assert "2000 dan 2100" in ((await lurah.send("/piket KBJ-01 1/1/2101")).text or "")
        assert "Format" in ((await lurah.send("/piket KBJ-01 1 2 3")).text or "")
        long = await lurah.send("/piket " + "K" * 5000)
        assert "tidak ada di wilayah" in (long.text or "") and len(long.text or "") < 200
        officer = await Phone(emu, BUDI).send("/piket KBJ-01")
        assert "hanya dapat dilihat pengawas" in (officer.text or "")
        assert "Sari" not in (officer.text or "")
        # a supervisor without slots asked for a code
        assert "kode posko" in ((await lurah.send("/piket")).text or "")


def test_days_as_people_type_them() -> None:
    today = date(2026, 11, 24)
    assert parse_day("besok", today) == date(2026, 11, 25)
    assert parse_day("Hari ini", today) == today
    assert parse_day("kemarin", today) == date(2026, 11, 23)
    assert parse_day("27/11", today) == date(2026, 11, 27)
    assert parse_day("2026-11-27", today) == date(2026, 11, 27)
    assert parse_day("1.12.2026", today) == date(2026, 12, 1)
    for bad, reason in (("31/02", "bad"), ("2026-13-01", "bad"), ("x", "bad"), ("", "bad"),
                        ("1999-12-31", "range"), ("0000-01-01", "range"),
                        ("1/1/2101", "range")):  # fmt: skip
        with pytest.raises(DayError) as raised:
            parse_day(bad, today)
        assert raised.value.reason == reason, bad
