"""Area boundaries: `posko import boundaries` refuses each kind of bad feature (naming it,
writing nothing), upserts per area, and serves a simplified FeatureCollection."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.cli import main
from bot.exchange.boundary_file import import_boundaries
from bot.exchange.csv_file import ImportFailed
from bot.insight.boundaries import feature_collection, outlines
from bot.insight.geometry import simplify, simplify_ring
from bot.rehearsal.demo import BOUNDARIES_FILE, CITY_AREAS
from storage import areas
from storage import boundaries as store
from storage.db import Database
from tests.conftest import AREAS, T0

KBJ = "31.73.01.1001"
SKU = "31.73.01.1002"
SQUARE = [[106.76, -6.20], [106.78, -6.20], [106.78, -6.18], [106.76, -6.18], [106.76, -6.20]]


def feature(code: object, geometry: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, **extra},
        "geometry": geometry
        if geometry is not None
        else {"type": "Polygon", "coordinates": [SQUARE]},
    }


def collection(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def write(tmp_path: Path, document: Any, name: str = "batas.geojson") -> Path:
    path = tmp_path / name
    if isinstance(document, bytes):
        path.write_bytes(document)
    elif isinstance(document, str):
        path.write_text(document, encoding="utf-8")
    else:
        path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "posko.db")
    await database.migrate()
    async with database.transaction() as tx:
        await areas.upsert(tx, AREAS, T0)
    yield database
    await database.close()


async def stored(db: Database) -> dict[str, str]:
    async with db.read() as tx:
        return {b.code: b.geometry for b in await store.in_areas(tx, None)}


async def refused(db: Database, tmp_path: Path, document: Any) -> str:
    with pytest.raises(ImportFailed) as failure:
        await import_boundaries(db, write(tmp_path, document), T0)
    assert await stored(db) == {}, "a refused file writes nothing"
    return str(failure.value)


async def test_a_good_file_is_stored_with_its_bounding_box(db: Database, tmp_path: Path) -> None:
    hole = [[106.765, -6.195], [106.766, -6.195], [106.766, -6.194], [106.765, -6.195]]
    other = [[[106.79, -6.21], [106.80, -6.21], [106.80, -6.20], [106.79, -6.21]]]
    multi = {"type": "MultiPolygon", "coordinates": [[SQUARE, hole], other]}
    summary = await import_boundaries(
        db, write(tmp_path, collection(feature(KBJ), feature(SKU, multi, name="Sukabumi"))), T0
    )
    assert (summary.created, summary.updated) == (2, 0)
    async with db.read() as tx:
        found = {b.code: b for b in await store.in_areas(tx, None)}
    assert found[KBJ].bbox == (106.76, -6.20, 106.78, -6.18)
    assert found[SKU].bbox == (106.76, -6.21, 106.80, -6.18)
    assert json.loads(found[SKU].geometry)["type"] == "MultiPolygon"
    assert found[SKU].vertices == 5 + 4 + 4


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"\xff\xfe not text", "not UTF-8"),
        ("{ not json", "batas.geojson:1: not JSON"),
        ({"type": "Feature"}, '"type": "FeatureCollection"'),
        ([1, 2], '"type": "FeatureCollection"'),
        ({"type": "FeatureCollection", "features": []}, "non-empty list"),
    ],
)
async def test_a_file_that_is_not_a_feature_collection_is_refused(
    db: Database, tmp_path: Path, document: Any, expected: str
) -> None:
    assert expected in await refused(db, tmp_path, document)


def _open_ring() -> list[list[float]]:
    return [*SQUARE[:-1], [106.761, -6.20]]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"type": "Feature", "properties": {}, "geometry": None}, "properties.code is missing"),
        ({"type": "Thing"}, '"type": "Feature"'),
        (feature(""), "properties.code is missing"),
        (feature("31.99.99"), "'31.99.99' is not a known area code"),
        (feature(KBJ), "has an outline already at features[0]"),  # a second one for KBJ
        (feature(SKU, {"type": "Point", "coordinates": [106.7, -6.2]}),
         "'Point' is not an area outline; expected Polygon or MultiPolygon"),
        (feature(SKU, {"type": "LineString", "coordinates": SQUARE}), "expected Polygon"),
        (feature(SKU, "POLYGON((…))"), "expected a geometry object"),
        (feature(SKU, {"type": "Polygon", "coordinates": []}), "expected a polygon"),
        (feature(SKU, {"type": "Polygon", "coordinates": [SQUARE[:3]]}), "at least 4 positions"),
        (feature(SKU, {"type": "Polygon", "coordinates": [[*SQUARE[:2], ["a", 1], *SQUARE[3:]]]}),
         "coordinates[0][2]: expected a position [longitude, latitude]"),
        (feature(SKU, {"type": "Polygon", "coordinates": [[[-6.2, 106.76], *SQUARE[1:-1],
                                                           [-6.2, 106.76]]]}),
         "coordinates[0][0]: [-6.2, 106.76] is out of range"),
        (feature(SKU, {"type": "Polygon", "coordinates": [_open_ring()]}), "ring is not closed"),
        (feature(SKU, {"type": "MultiPolygon", "coordinates": [[SQUARE], [_open_ring()]]}),
         "coordinates[1][0]: the ring is not closed"),
        (feature(SKU, {"type": "Polygon", "coordinates": [[*SQUARE[:2], [math.inf, 1.0],
                                                           *SQUARE[3:]]]}),
         "expected a position"),
    ],
)  # fmt: skip
async def test_each_kind_of_bad_feature_is_refused_naming_it(
    db: Database, tmp_path: Path, bad: Any, expected: str
) -> None:
    message = await refused(db, tmp_path, collection(feature(KBJ), bad))
    assert "batas.geojson: features[1]" in message
    assert expected in message


async def test_every_bad_feature_is_reported(db: Database, tmp_path: Path) -> None:
    message = await refused(
        db, tmp_path, collection(feature("X"), feature(KBJ), feature(SKU, {"type": "Point"}))
    )
    assert "features[0]" in message and "features[2]" in message
    assert "features[1]" not in message


async def test_importing_again_replaces_the_outline_of_each_area(
    db: Database, tmp_path: Path
) -> None:
    await import_boundaries(db, write(tmp_path, collection(feature(KBJ))), T0)
    moved = [[[x + 0.01, y] for x, y in SQUARE]]
    summary = await import_boundaries(
        db,
        write(tmp_path, collection(feature(KBJ, {"type": "Polygon", "coordinates": moved}),
                                   feature(SKU))),
        T0,
    )  # fmt: skip
    assert (summary.created, summary.updated) == (1, 1)
    geometries = await stored(db)
    assert sorted(geometries) == [KBJ, SKU]
    assert json.loads(geometries[KBJ])["coordinates"][0][0] == pytest.approx([106.77, -6.20])
    async with db.read() as tx:
        assert await tx.scalar("SELECT count(*) FROM area_boundaries") == 2
        audit = await tx.all("SELECT entity FROM audit_log WHERE action = 'import'")
    assert [row[0] for row in audit] == ["boundaries", "boundaries"]


def _circle(points: int, lon: float = 106.78, lat: float = -6.19) -> list[list[float]]:
    ring = [
        [
            lon + 0.01 * math.cos(2 * math.pi * i / points),
            lat + 0.01 * math.sin(2 * math.pi * i / points),
        ]
        for i in range(points)
    ]
    return [*ring, ring[0]]


async def test_feature_collection_of_a_scope_is_simplified(db: Database, tmp_path: Path) -> None:
    big = _circle(4000)
    await import_boundaries(
        db,
        write(tmp_path, collection(feature(KBJ, {"type": "Polygon", "coordinates": [big]}),
                                   feature(SKU))),
        T0,
    )  # fmt: skip
    async with db.read() as tx:
        kbj = await tx.scalar("SELECT id FROM areas WHERE code = ?", (KBJ,))
        only_kbj = await feature_collection(tx, {kbj})
        everything = await feature_collection(tx, None)
        nothing = await feature_collection(tx, set())
    assert only_kbj["type"] == "FeatureCollection"
    [shape] = only_kbj["features"]
    assert shape["properties"] == {"code": KBJ, "name": "Kebon Jeruk", "level": "kelurahan"}
    ring = shape["geometry"]["coordinates"][0]
    assert 16 < len(ring) < 400, "4,000 vertices of a circle 1 km wide do not reach a phone"
    assert ring[0] == ring[-1]
    # every kept vertex is one of the originals, and the shape is still the circle
    assert all(math.hypot(x - 106.78, y + 6.19) == pytest.approx(0.01, abs=1e-6) for x, y in ring)
    assert shape["bbox"] == pytest.approx([106.77, -6.20, 106.79, -6.18], abs=1e-4)
    assert [f["id"] for f in everything["features"]] == [KBJ, SKU]
    assert everything["bbox"] == pytest.approx([106.76, -6.20, 106.79, -6.18], abs=1e-4)
    # small outlines are served as they were
    assert everything["features"][1]["geometry"] == {"type": "Polygon", "coordinates": [SQUARE]}
    assert nothing == {"type": "FeatureCollection", "features": []}


def test_simplification_keeps_rings_closed_and_outlines_present() -> None:
    ring = [(float(x), float(y)) for x, y in _circle(500)]
    simplified = simplify_ring(ring, 0.0005)
    assert simplified is not None and simplified[0] == simplified[-1]
    assert 4 <= len(simplified) < 60
    tiny = [(106.0 + 1e-7 * math.cos(i), -6.0 + 1e-7 * math.sin(i)) for i in range(40)]
    tiny.append(tiny[0])
    assert simplify_ring(tiny, 0.001) is None
    # a whole outline smaller than the tolerance is kept rather than lost
    assert simplify([[tiny]], 0.001) == [[tiny]]


def test_cli_imports_boundaries_and_refuses_bad_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POSKO_TELEGRAM__TOKEN", raising=False)
    config = tmp_path / "config.toml"
    database = tmp_path / "cli.db"
    config.write_text(f'[storage]\npath = "{database}"\n', encoding="utf-8")

    async def seed() -> None:
        seeded = await Database.open(database)
        await seeded.migrate()
        async with seeded.transaction() as tx:
            await areas.upsert(tx, CITY_AREAS, T0)
        await seeded.close()

    asyncio.run(seed())
    bad = write(tmp_path, collection(feature("31.73.01"), feature("nope")), "bad.geojson")
    assert main(["import", "boundaries", str(bad), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and "bad.geojson: features[1] (code nope)" in err
    assert main(["import", "boundaries", str(BOUNDARIES_FILE), "--config", str(config)]) == 0
    assert "6 outlines created, 0 updated" in capsys.readouterr().out
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM area_boundaries").fetchone() == (6,)


async def test_the_demo_outlines_hold_the_demo_posts(tmp_path: Path) -> None:
    from bot.rehearsal.demo import CITY_POSTS, seed

    path = tmp_path / "demo.db"
    await seed(path)
    database = await Database.open(path)
    async with database.read() as tx:
        shapes = {outline.code: outline for outline in await outlines(tx, None)}
    await database.close()
    assert {"31.73.01", "31.73.02", "31.73.01.1001", "31.73.02.1002"} <= set(shapes)
    for post in CITY_POSTS:
        west, south, east, north = _bbox(shapes[post.area_code].parts[0][0])
        assert post.longitude is not None and post.latitude is not None
        assert west < post.longitude < east and south < post.latitude < north, post.code


def _bbox(ring: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    return (
        min(p[0] for p in ring),
        min(p[1] for p in ring),
        max(p[0] for p in ring),
        max(p[1] for p in ring),
    )
