"""Area outlines for the pictures: a GeoJSON FeatureCollection for the web map
(``/api/boundaries``) and plain polygons for /peta, both simplified for the screen."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from bot.insight.geometry import DEFAULT_TOLERANCE, Polygon, bbox, polygons, simplify, to_geometry
from storage import boundaries as store
from storage.db import Tx

# /peta is 1080 px wide: a city spans ~0.3°, so one pixel is ~0.0003°; half of that is
# finer than the line itself.
MAP_TOLERANCE = 0.00015


@dataclass(frozen=True, slots=True)
class Outline:
    code: str
    name: str
    level: str
    parts: list[Polygon]


async def feature_collection(
    tx: Tx, area_ids: Collection[int] | None, tolerance: float = DEFAULT_TOLERANCE
) -> dict[str, Any]:
    """The outlines of ``area_ids`` (None: all) as a GeoJSON FeatureCollection, each feature
    carrying the area's ``code``, ``name`` and ``level``; big rings are simplified to
    ``tolerance`` degrees."""
    features: list[dict[str, Any]] = []
    for boundary in await store.in_areas(tx, area_ids):
        parts = simplify(polygons(json.loads(boundary.geometry)), tolerance)
        features.append(
            {
                "type": "Feature",
                "id": boundary.code,
                "bbox": list(bbox(parts)),
                "properties": {
                    "code": boundary.code,
                    "name": boundary.name,
                    "level": boundary.level,
                },
                "geometry": to_geometry(parts),
            }
        )
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if features:
        boxes = [feature["bbox"] for feature in features]
        collection["bbox"] = [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]
    return collection


async def outlines(
    tx: Tx, area_ids: Collection[int] | None, tolerance: float = MAP_TOLERANCE
) -> list[Outline]:
    """The outlines /peta draws for a scope, higher levels first."""
    return [
        Outline(
            boundary.code,
            boundary.name,
            boundary.level,
            simplify(polygons(json.loads(boundary.geometry)), tolerance),
        )
        for boundary in await store.in_areas(tx, area_ids)
    ]
