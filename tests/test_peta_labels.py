"""/peta labels: every problem post is named (on the map or in the box under it), no two
labels overlap, none covers a problem post's marker; the picture with outlines is sent."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from bot.core.app import PoskoApp
from bot.insight.map_labels import Box, LabelWish, any_overlap, place_labels
from bot.insight.map_picture import HEIGHT_PX, WIDTH_PX, MapPoint, draw_map, png_size
from bot.rehearsal.emulator import FakeBotApi
from storage.db import Database, to_db
from tests.conftest import CAMAT, T0, Phone

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def city(total: int, problems: int, located: float = 1.0, seed: int = 5) -> list[MapPoint]:
    """``total`` posts crowded in a few km², ``problems`` of them silent, unstaffed or with
    an alert open while staffed."""
    rng = random.Random(seed)
    points = []
    for i in range(total):
        problem = i < problems
        state = ("silent", "unstaffed", "staffed")[i % 3] if problem else "staffed"
        here = rng.random() < located
        points.append(
            MapPoint(
                f"P-{i:03d}",
                f"Posko {i}",
                f"Kel {i % 9}",
                state,
                -6.2 + rng.uniform(-0.03, 0.03) if here else None,
                106.8 + rng.uniform(-0.03, 0.03) if here else None,
                alert=problem and state == "staffed",
            )
        )
    return points


def assert_every_problem_named(points: list[MapPoint], located: float = 1.0) -> None:
    picture = draw_map(points, "Peta posko · Uji", NOW)
    problems = {point.code for point in points if point.problem}
    assert len(problems) == 40
    assert problems <= picture.problem_codes_shown()
    assert picture.more == 0
    assert set(picture.listed) == set(picture.labels.unplaced)
    placed = picture.labels.placed
    assert any_overlap(placed) == []
    figure = Box(0, 0, WIDTH_PX, HEIGHT_PX)
    assert all(label.box.within(figure) for label in placed)
    # quiet posts are not labelled on a busy map: the problems stand out
    assert {label.text for label in placed} <= problems
    assert png_size(picture.png) == (1080, 1350)


def test_200_posts_with_40_problems_name_every_problem_without_overlap() -> None:
    assert_every_problem_named(city(200, 40))


def test_problems_without_coordinates_are_named_too() -> None:
    assert_every_problem_named(city(200, 40, located=0.6))


def test_placement_is_deterministic_and_keeps_problem_markers_clear() -> None:
    points = city(200, 40)
    first = draw_map(points, "Peta", NOW)
    second = draw_map(points, "Peta", NOW)
    assert first.labels.placed == second.labels.placed
    assert first.listed == second.listed


def test_a_crowd_that_cannot_be_labelled_is_listed_under_the_map() -> None:
    # 40 problem posts on one spot: one or two labels fit around it, the rest are listed
    points = [
        MapPoint(f"S-{i:02d}", "x", "Kel", "silent", -6.2, 106.8 + i * 1e-6) for i in range(40)
    ]
    picture = draw_map(points, "Peta", NOW)
    assert picture.listed, "the crowd goes to the box"
    assert {p.code for p in points} <= picture.problem_codes_shown()
    assert any_overlap(picture.labels.placed) == []


def test_a_small_map_labels_every_post() -> None:
    points = city(12, 2)
    picture = draw_map(points, "Peta", NOW)
    assert {label.text for label in picture.labels.placed} == {p.code for p in points}
    assert picture.listed == []


def test_labels_never_cover_a_problem_marker_nor_each_other() -> None:
    wishes = [LabelWish(f"L{i}", 100 + 12 * i, 100, 6, 40, 14, 0, True) for i in range(10)]
    markers = [(Box(94 + 12 * i, 94, 106 + 12 * i, 106), f"L{i}") for i in range(10)]
    bounds = Box(0, 0, 400, 200)
    placement = place_labels(wishes, bounds, markers)
    assert any_overlap(placement.placed) == []
    for label in placement.placed:
        assert not any(label.box.overlaps(box) for box, _ in markers)
    assert sorted(placement.codes() | set(placement.unplaced)) == sorted(w.text for w in wishes)
    assert placement.unplaced, "ten labels 40 px wide do not fit beside ten markers 12 px apart"
    # with no room at all every problem label is reported
    nothing = place_labels(wishes, Box(0, 0, 10, 10), markers)
    assert nothing.placed == [] and len(nothing.unplaced) == 10


OUTLINE = {
    "type": "Polygon",
    "coordinates": [
        [[106.76, -6.21], [106.79, -6.21], [106.79, -6.17], [106.76, -6.17], [106.76, -6.21]]
    ],
}


async def test_peta_with_outlines_and_an_open_alert_sends_a_photo(
    emu: FakeBotApi, db_path: Path, bot: PoskoApp
) -> None:
    db = await Database.open(db_path)
    async with db.transaction() as tx:
        for code in ("31.73.01", "31.73.01.1001"):
            area = await tx.scalar("SELECT id FROM areas WHERE code = ?", (code,))
            await tx.execute(
                "INSERT INTO area_boundaries (area_id, geometry, vertices, min_lon, min_lat,"
                " max_lon, max_lat, created_at, updated_at) VALUES (?, ?, 5, 106.76, -6.21,"
                " 106.79, -6.17, ?, ?)",
                (area, json.dumps(OUTLINE), to_db(T0), to_db(T0)),
            )
        post = await tx.scalar("SELECT id FROM posts WHERE code = 'KBJ-02'")
        await tx.execute(
            "INSERT INTO alerts (post_id, kind, opened_at) VALUES (?, 'unstaffed', ?)",
            (post, to_db(T0)),
        )
    await db.close()
    sent = await Phone(emu, CAMAT).send("/peta")
    assert sent.method == "sendPhoto"
    assert png_size(sent.files["photo"]) == (1080, 1350)
    assert "Kebon Jeruk" in (sent.text or "")
