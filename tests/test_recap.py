"""The recap's figures on a hand-made day, the daily queue, and the two pictures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from bot.core.clock import WIB
from bot.core.config import Settings, load_settings
from bot.insight.map_picture import COLOURS, GROUPS, MapPoint, png_size, render_map, rgb
from bot.insight.recap import (
    at_least,
    chart_words,
    day_bounds,
    load,
    parse_day,
    pause_intervals,
    post_stats,
    queue_daily,
    render_chart,
    render_text,
    staffed_time,
    subtract,
    summarise,
)
from bot.watch.schedule import PostSchedules
from storage import audit, issues, members, posts
from storage import recap as store
from storage.db import Database, Tx, to_db
from storage.issues import NewIssue
from storage.posts import PostRow
from tests.conftest import seed_city

DAY = date(2026, 11, 24)  # a Tuesday


def at(hour: int, minute: int = 0, day: int = 24) -> datetime:
    """A WIB wall-clock time on the seeded day, as UTC (how storage keeps it)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB).astimezone(UTC)


EXTRA_POSTS = [
    # open 08:00-16:00, one officer needed
    PostRow("TST-01", "Posko Uji Satu", "31.73.01.1001", -6.17, 106.83, 100, 1, "08:00-16:00"),
    # the same hours, two officers needed
    PostRow("TST-02", "Posko Uji Dua", "31.73.01.1001", None, None, None, 2, "08:00-16:00"),
    # in the other kelurahan, where a dated override changes the hours of the day
    PostRow("TST-03", "Posko Uji Tiga", "31.73.01.1002", None, None, None, 1, "08:00-16:00"),
]
OVERRIDE = {
    "override": [{"date": "2026-11-24", "hours": "07:00-13:00", "areas": ["31.73.01.1002"]}]
}


def settings(**sections: Any) -> Settings:
    return load_settings(None, overrides={"schedule": OVERRIDE, **sections})


async def _id(tx: Tx, table: str, column: str, value: str) -> int:
    return int(await tx.scalar(f"SELECT id FROM {table} WHERE {column} = ?", (value,)))


async def _shift(tx: Tx, member: int, post: int, start: datetime, end: datetime | None) -> None:
    await tx.execute(
        "INSERT INTO shifts (member_id, post_id, started_at, ended_at, end_reason)"
        " VALUES (?, ?, ?, ?, ?)",
        (member, post, to_db(start), to_db(end), None if end is None else "checkout"),
    )


async def _alert(
    tx: Tx,
    post: int,
    kind: str,
    opened: datetime,
    acked: datetime | None,
    resolved: datetime | None,
    resolution: str | None,
) -> None:
    await tx.execute(
        "INSERT INTO alerts (post_id, kind, opened_at, acked_at, resolved_at, resolution)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (post, kind, to_db(opened), to_db(acked), to_db(resolved), resolution),
    )


async def _issue(
    tx: Tx, post_id: int, code: str, reporter: int, category: str, when: datetime
) -> int:
    issue = await issues.create(
        tx, NewIssue(post_id, code, reporter, category, "sedang", "uji", (), None, None), when
    )
    return issue.id


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """The sample city plus three test posts and a hand-made day on 24 November 2026."""
    path = tmp_path / "recap.db"
    await seed_city(path)
    database = await Database.open(path)
    async with database.transaction() as tx:
        await posts.upsert(tx, EXTRA_POSTS, at(0))
        budi = await _id(tx, "members", "ref", "budi")
        sari = await _id(tx, "members", "ref", "sari")
        john = await _id(tx, "members", "ref", "john")
        lurah = await _id(tx, "members", "ref", "lurah")
        one, two, three = [await _id(tx, "posts", "code", f"TST-0{n}") for n in (1, 2, 3)]
        kbj1 = await _id(tx, "posts", "code", "KBJ-01")
        kec = await _id(tx, "posts", "code", "KEC-KBJ")
        # TST-01: 08:30-12:00 and 13:00-16:30 (the end past closing does not count)
        await _shift(tx, budi, one, at(8, 30), at(12))
        await _shift(tx, budi, one, at(13), at(16, 30))
        # TST-02 needs two: both are there only 10:00-12:00
        await _shift(tx, sari, two, at(8), at(12))
        await _shift(tx, john, two, at(10), at(16))
        # TST-03 (open 07:00-13:00 by the override): 07:00-10:00
        await _shift(tx, sari, three, at(7), at(10))
        # KBJ-01 (24h): from the evening before until 06:00, and 18:00 onwards still open
        await _shift(tx, budi, kbj1, at(20, day=23), at(6))
        await _shift(tx, budi, kbj1, at(18), None)
        # KEC-KBJ (24h) was paused 10:00-12:00 by an admin, and never staffed
        await audit.record(tx, at(10), None, "pause", "post", kec, until=at(12))
        # alerts: acked after 10 and recovered after 25 minutes; acked after 20 and recovered
        # after 35; one never acked that ended with the window (not a recovery)
        await _alert(tx, one, "silent", at(10), at(10, 10), at(10, 25), "signal")
        await _alert(tx, one, "unstaffed", at(12, 5), at(12, 25), at(12, 40), "staffed")
        await _alert(tx, three, "unstaffed", at(12, 30), None, at(13), "closed")
        # the evening before does not count
        await _alert(tx, kbj1, "silent", at(22, day=23), at(22, 5, day=23), None, None)
        # issues: two logistics and one security opened, one logistics resolved; an older
        # money-politics report resolved today counts as resolved today
        first = await _issue(tx, one, "TST-01", budi, "logistik", at(9))
        await _issue(tx, one, "TST-01", budi, "logistik", at(11))
        await _issue(tx, three, "TST-03", sari, "keamanan", at(9, 30))
        old = await _issue(tx, kbj1, "KBJ-01", budi, "politik_uang", at(15, day=23))
        assert await issues.change_status(
            tx, first, "baru", "selesai", lurah, None, at(14), assign=True
        )
        assert await issues.change_status(
            tx, old, "baru", "selesai", lurah, None, at(9), assign=True
        )
    yield database
    await database.close()


async def _recap_of(db: Database, now: datetime, area_ids: set[int] | None = None) -> Any:
    start, end = day_bounds(DAY)
    async with db.read() as tx:
        facts = await store.day_facts(tx, None, start, end)
    stats = post_stats(facts, PostSchedules.from_settings(settings()), now)
    return summarise(facts, stats, area_ids, "Kebon Jeruk", now), stats


def _by_code(stats: dict[int, Any]) -> dict[str, Any]:
    return {stat.code: stat for stat in stats.values()}


async def test_staffed_share_of_open_hours_for_a_whole_day(db: Database) -> None:
    recap, stats = await _recap_of(db, at(9, day=25))
    by_code = _by_code(stats)
    one = by_code["TST-01"]
    assert one.open_time == timedelta(hours=8)
    assert one.staffed == timedelta(hours=6, minutes=30)
    assert one.share == pytest.approx(0.8125)
    two = by_code["TST-02"]
    assert two.staffed == timedelta(hours=2) and two.share == pytest.approx(0.25)
    three = by_code["TST-03"]  # the override: 07:00-13:00 instead of 08:00-16:00
    assert three.open_time == timedelta(hours=6) and three.share == pytest.approx(0.5)
    kbj1 = by_code["KBJ-01"]  # 00:00-06:00 and 18:00-24:00 of 24 hours
    assert kbj1.open_time == timedelta(hours=24) and kbj1.share == pytest.approx(0.5)
    kec = by_code["KEC-KBJ"]  # 24 h minus the 2 h pause, never staffed
    assert kec.open_time == timedelta(hours=22) and kec.share == 0
    assert recap.complete
    assert (recap.silent, recap.unstaffed) == (1, 2)
    assert recap.median_ack == timedelta(minutes=15)  # 10 and 20
    assert recap.median_recover == timedelta(minutes=30)  # 25 and 35; 'closed' is not one
    assert recap.issues_opened == {"logistik": 2, "keamanan": 1}
    assert recap.issues_resolved == {"logistik": 1, "politik_uang": 1}
    # worst first: lowest share, then most incidents (TST-03 before KBJ-01), then code
    assert [stat.code for stat in recap.worst(6)] == [
        "KBJ-02",
        "KEC-KBJ",
        "TST-02",
        "TST-03",
        "KBJ-01",
        "TST-01",
    ]
    staffed = timedelta(hours=6, minutes=30) + timedelta(hours=2 + 3 + 12)
    # KBJ-02 (24 h) is in the overridden kelurahan too: 6 h open, never staffed
    assert _by_code(stats)["KBJ-02"].open_time == timedelta(hours=6)
    opened = timedelta(hours=8 + 8 + 6 + 24 + 22 + 6)
    assert recap.share == pytest.approx(staffed / opened)


async def test_today_counts_only_up_to_now(db: Database) -> None:
    recap, stats = await _recap_of(db, at(14))
    one = _by_code(stats)["TST-01"]
    assert one.open_time == timedelta(hours=6)  # 08:00-14:00
    assert one.staffed == timedelta(hours=4, minutes=30)
    assert one.share == pytest.approx(0.75)
    assert not recap.complete and recap.until == at(14)
    text = render_text("id", recap)
    assert "s.d. 14:00 WIB" in text


async def test_scope_keeps_only_the_subtree(db: Database) -> None:
    async with db.read() as tx:
        kelurahan = await _id(tx, "areas", "code", "31.73.01.1002")
    recap, _ = await _recap_of(db, at(9, day=25), {kelurahan})
    assert sorted(stat.code for stat in recap.posts) == ["KBJ-02", "TST-03"]
    assert (recap.silent, recap.unstaffed) == (0, 1)
    assert recap.issues_opened == {"keamanan": 1} and recap.issues_resolved == {}
    assert recap.median_ack is None and recap.median_recover is None


async def test_text_fits_a_phone_screen(db: Database) -> None:
    recap, _ = await _recap_of(db, at(9, day=25))
    for language in ("id", "en"):
        text = render_text(language, recap)
        lines = text.splitlines()
        assert len(lines) <= 25
        assert max(len(line) for line in lines) <= 70
    text = render_text("id", recap)
    assert "📊 Rekap 24/11/2026 · Kebon Jeruk" in text
    assert "Peringatan 3: 🔕 senyap 1 · 🚨 kosong 2" in text
    assert "Median diambil alih 15 menit · pulih 30 menit" in text
    assert "Laporan 3 masuk · 2 selesai" in text
    assert "Logistik: 2 masuk, 1 selesai" in text or "logistik: 2 masuk, 1 selesai" in text
    assert "2. KEC-KBJ terisi 0% · 0 peringatan" in text
    assert "4. TST-03 terisi 50% · 1 peringatan" in text
    assert "TST-01" not in text  # sixth: only the five worst fit
    english = render_text("en", recap)
    assert "Median taken after 15" in english


async def test_load_reads_a_scope_and_renders_a_chart(db: Database) -> None:
    async with db.read() as tx:
        kelurahan = await _id(tx, "areas", "code", "31.73.01.1001")
    recap = await load(db, settings(), {kelurahan}, "Kebon Jeruk", DAY, at(9, day=25))
    assert sorted(stat.code for stat in recap.posts) == ["KBJ-01", "TST-01", "TST-02"]
    picture = render_chart(recap, chart_words("id", recap))
    width, height = png_size(picture)
    assert width == 1080 and 760 <= height <= 1350
    pixels = _rgb(picture)
    # TST-01 (81 %) is green, TST-02 (25 %) red, KBJ-01 (50 %) orange; silent alerts orange
    for group in ("ok", "unstaffed", "silent"):
        assert _near(pixels, COLOURS[group]) > 2000


def test_intervals() -> None:
    t0 = at(8)
    hours = [
        (t0 + timedelta(hours=a), t0 + timedelta(hours=b)) for a, b in ((0, 4), (2, 8), (3, 5))
    ]
    assert at_least(hours, 2) == [(t0 + timedelta(hours=2), t0 + timedelta(hours=5))]
    assert at_least(hours, 3) == [(t0 + timedelta(hours=3), t0 + timedelta(hours=4))]
    open_ = [(t0, t0 + timedelta(hours=8))]
    assert staffed_time(open_, hours, 0) == timedelta(hours=8)
    assert staffed_time(open_, [], 1) == timedelta(0)
    # touching shifts keep one officer on duty without a gap
    handover = [(t0, t0 + timedelta(hours=4)), (t0 + timedelta(hours=4), t0 + timedelta(hours=8))]
    assert staffed_time(open_, handover, 1) == timedelta(hours=8)
    holes = [(t0 + timedelta(hours=1), t0 + timedelta(hours=2))]
    assert subtract(open_, holes) == [(t0, holes[0][0]), (holes[0][1], open_[0][1])]
    marks = [
        store.PauseMark(1, t0, t0 + timedelta(hours=5)),
        store.PauseMark(1, t0 + timedelta(hours=2), None),  # resumed early
    ]
    assert pause_intervals(marks) == [(t0, t0 + timedelta(hours=2))]


def test_parse_day() -> None:
    today = DAY
    assert parse_day("", today) == today
    assert parse_day("Kemarin", today) == date(2026, 11, 23)
    assert parse_day("yesterday", today) == date(2026, 11, 23)
    assert parse_day("2026-11-20", today) == date(2026, 11, 20)
    assert parse_day("20/11/2026", today) == date(2026, 11, 20)
    assert parse_day("besok pagi", today) is None
    assert parse_day("2026-13-01", today) is None
    assert parse_day("0001-01-01", today) is None  # found by the property test: overflowed


async def test_daily_recap_is_queued_once_per_person(db: Database) -> None:
    config = settings()
    assert await queue_daily(db, config, at(20, 59)) == 0  # before 21:00 WIB
    assert await queue_daily(db, config, at(21, 0)) == 3  # lurah, camat, admin
    assert await queue_daily(db, config, at(21, 1)) == 0
    async with db.read() as tx:
        rows = await tx.all("SELECT chat_id, payload, priority FROM outbox WHERE kind = 'recap'")
    assert sorted(row[0] for row in rows) == [2001, 2002, 3001]
    assert {row[2] for row in rows} == {5}
    texts = {row[0]: row[1] for row in rows}
    assert "semua wilayah" in texts[3001] and "Rekap harian 24/11/2026" in texts[3001]
    assert "KBJ-02" not in texts[2001]  # the lurah of Kebon Jeruk sees only his kelurahan
    # the next day starts afresh
    assert await queue_daily(db, config, at(21, 30, day=25)) == 3


async def test_recap_time_comes_from_settings_when_present(db: Database) -> None:
    class Recap:
        time = "18:30"

    config = settings()
    object.__setattr__(config, "recap", Recap())
    assert await queue_daily(db, config, at(18, 29)) == 0
    assert await queue_daily(db, config, at(18, 31)) == 3


async def test_member_roles_decide_who_gets_the_daily_recap(db: Database) -> None:
    async with db.transaction() as tx:
        await members.upsert(
            tx,
            [
                members.MemberRow(
                    "nos", "Tanpa Wilayah", None, None, ("supervisor",), (), (), 2999, None
                )
            ],
            at(0),
        )
        due = await store.recipients_due(tx, "2026-11-24")
    # a supervisor without any area gets nothing; officers never
    assert sorted(person.chat_id for person in due) == [2001, 2002, 3001]


# --- the map -------------------------------------------------------------------------------


def _rgb(png: bytes) -> np.ndarray[Any, Any]:
    image = imread(BytesIO(png), format="png")
    return (image[:, :, :3] * 255).round()


def _near(pixels: np.ndarray[Any, Any], colour: str, tolerance: float = 8.0) -> int:
    target = np.array(rgb(colour), dtype=float)
    return int((np.abs(pixels - target).max(axis=2) <= tolerance).sum())


def test_map_png_has_size_and_state_colours() -> None:
    points = [
        MapPoint("A-1", "Satu", "Kebon Jeruk", "staffed", -6.17, 106.82),
        MapPoint("A-2", "Dua", "Kebon Jeruk", "reminded", -6.18, 106.83),
        MapPoint("A-3", "Tiga", "Kebon Jeruk", "silent", -6.19, 106.80),
        MapPoint("B-1", "Empat", "Sukabumi Utara", "unstaffed", None, None),
        MapPoint("B-2", "Lima", "Sukabumi Utara", "opening", None, None),
    ]
    png = render_map(points, "Peta posko · Uji", at(19))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_size(png) == (1080, 1350)
    pixels = _rgb(png)
    assert pixels.shape == (1350, 1080, 3)
    counts = {group: _near(pixels, COLOURS[group]) for group in GROUPS}
    assert counts["ok"] > 1000 and counts["silent"] > 500 and counts["unstaffed"] > 1000
    assert counts["closed"] < 50 and counts["paused"] < 50
    # two greens weigh more than one orange
    assert counts["ok"] > counts["silent"]


def test_map_of_closed_and_paused_posts_and_of_nothing() -> None:
    points = [
        MapPoint(f"C-{i}", "x", f"Kel {i % 3}", "closed" if i % 2 else "paused", None, None)
        for i in range(10)
    ]
    pixels = _rgb(render_map(points, "Peta", at(23)))
    assert _near(pixels, COLOURS["closed"]) > 1000 and _near(pixels, COLOURS["paused"]) > 1000
    assert _near(pixels, COLOURS["ok"]) < 50
    empty = render_map([], "Peta", at(23))
    assert png_size(empty) == (1080, 1350)


def test_map_of_3000_posts_renders_in_under_two_seconds() -> None:
    states = ("staffed", "reminded", "silent", "unstaffed", "opening", "closed", "paused")
    rng = np.random.default_rng(7)
    points = [
        MapPoint(
            f"P-{i:04d}",
            f"Posko {i}",
            f"Kelurahan {i % 261}",
            states[i % len(states)],
            float(-6.2 + rng.uniform(-0.15, 0.15)) if i % 3 else None,
            float(106.8 + rng.uniform(-0.2, 0.2)) if i % 3 else None,
        )
        for i in range(3000)
    ]
    # Speed is measured in bench/broadcast.py (peta_ms), not asserted here.
    png = render_map(points, "Peta posko · DKI Jakarta", at(19))
    assert png_size(png) == (1080, 1350)
