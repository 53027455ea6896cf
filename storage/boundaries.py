"""Area boundaries: one GeoJSON outline per area (``posko import boundaries``, SPEC §10)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import Tx, to_db


@dataclass(frozen=True, slots=True)
class BoundaryRow:
    """A checked outline ready to store: ``geometry`` is GeoJSON text."""

    area_code: str
    geometry: str
    vertices: int
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


@dataclass(frozen=True, slots=True)
class Boundary:
    area_id: int
    code: str
    name: str
    level: str
    geometry: str
    vertices: int
    bbox: tuple[float, float, float, float]


async def upsert(tx: Tx, rows: Sequence[BoundaryRow], now: datetime) -> tuple[int, int]:
    """Insert or replace the outline of each row's area; (created, updated)."""
    stamp = to_db(now)
    codes = json.dumps([row.area_code for row in rows])
    ids = {
        str(row[0]): int(row[1])
        for row in await tx.all(
            "SELECT code, id FROM areas WHERE code IN (SELECT value FROM json_each(?))", (codes,)
        )
    }
    existing = {
        int(row[0])
        for row in await tx.all(
            "SELECT area_id FROM area_boundaries"
            " WHERE area_id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))",
            (json.dumps(sorted(ids.values())),),
        )
    }
    created = 0
    for row in rows:
        area_id = ids[row.area_code]
        created += area_id not in existing
        await tx.execute(
            "INSERT INTO area_boundaries (area_id, geometry, vertices, min_lon, min_lat,"
            " max_lon, max_lat, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(area_id) DO UPDATE SET geometry = excluded.geometry,"
            " vertices = excluded.vertices, min_lon = excluded.min_lon,"
            " min_lat = excluded.min_lat, max_lon = excluded.max_lon,"
            " max_lat = excluded.max_lat, updated_at = excluded.updated_at",
            (area_id, row.geometry, row.vertices, *row.bbox, stamp, stamp),
        )
    return created, len(rows) - created


async def in_areas(tx: Tx, area_ids: Collection[int] | None) -> list[Boundary]:
    """The outlines of the given areas (None: every area), higher levels first, then by code."""
    where, params = "1 = 1", []
    if area_ids is not None:
        where = "a.id IN (SELECT CAST(value AS BIGINT) FROM json_each(?))"
        params = [json.dumps(sorted(area_ids))]
    rows = await tx.all(
        "SELECT b.area_id, a.code, a.name, a.level, b.geometry, b.vertices,"
        " b.min_lon, b.min_lat, b.max_lon, b.max_lat"
        " FROM area_boundaries b JOIN areas a ON a.id = b.area_id"
        f" WHERE {where}"
        " ORDER BY CASE a.level WHEN 'provinsi' THEN 0 WHEN 'kota' THEN 1"
        " WHEN 'kecamatan' THEN 2 ELSE 3 END, a.code",
        params,
    )
    return [
        Boundary(
            area_id=row["area_id"],
            code=row["code"],
            name=row["name"],
            level=row["level"],
            geometry=row["geometry"],
            vertices=row["vertices"],
            bbox=(row["min_lon"], row["min_lat"], row["max_lon"], row["max_lat"]),
        )
        for row in rows
    ]
