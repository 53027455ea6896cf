"""``posko import boundaries FILE.geojson`` (SPEC §10): area outlines from GeoJSON.

The file is a FeatureCollection whose features carry the property ``code`` (an area code
already imported) and a Polygon or MultiPolygon geometry in longitude/latitude. Every
feature is checked before anything is written and every problem is reported naming the
feature (``features[3]``, as the file indexes them) and what was expected; if any is bad
nothing is written, otherwise each area's outline is inserted or replaced in one
transaction, with one audit entry.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.exchange.csv_file import ImportFailed, shown
from bot.insight.geometry import Polygon, bbox, vertex_count
from storage import areas, audit
from storage import boundaries as store
from storage.boundaries import BoundaryRow
from storage.db import Database

# A whole province of kelurahan outlines surveyed to the metre is a few tens of MB.
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BoundarySummary:
    created: int
    updated: int


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ring(value: object, where: str, problems: list[str]) -> list[tuple[float, float]] | None:
    if not isinstance(value, list) or len(value) < 4:
        problems.append(f"{where}: expected a ring of at least 4 positions (first = last)")
        return None
    ring: list[tuple[float, float]] = []
    for index, position in enumerate(value):
        if (
            not isinstance(position, list)
            or len(position) not in (2, 3)
            or not all(_is_number(n) for n in position)
        ):
            problems.append(
                f"{where}[{index}]: expected a position [longitude, latitude] of numbers"
            )
            return None
        lon, lat = float(position[0]), float(position[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            problems.append(
                f"{where}[{index}]: [{position[0]}, {position[1]}] is out of range; expected"
                " longitude -180..180 then latitude -90..90 (Jakarta is about [106.8, -6.2])"
            )
            return None
        ring.append((lon, lat))
    if ring[0] != ring[-1]:
        problems.append(
            f"{where}: the ring is not closed; its last position must repeat the first"
            f" {list(ring[0])}"
        )
        return None
    return ring


def _polygon(value: object, where: str, problems: list[str]) -> Polygon | None:
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: expected a polygon: a list of rings, the outer ring first")
        return None
    rings = [_ring(ring, f"{where}[{index}]", problems) for index, ring in enumerate(value)]
    if any(ring is None for ring in rings):
        return None
    return [ring for ring in rings if ring is not None]


def _geometry(value: object, where: str, problems: list[str]) -> list[Polygon] | None:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a geometry object (Polygon or MultiPolygon)")
        return None
    kind = value.get("type")
    coordinates = value.get("coordinates")
    if kind == "Polygon":
        polygon = _polygon(coordinates, f"{where}.coordinates", problems)
        return None if polygon is None else [polygon]
    if kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            problems.append(f"{where}.coordinates: expected a list of polygons")
            return None
        parts = [
            _polygon(polygon, f"{where}.coordinates[{index}]", problems)
            for index, polygon in enumerate(coordinates)
        ]
        if any(part is None for part in parts):
            return None
        return [part for part in parts if part is not None]
    problems.append(
        f"{where}.type: {shown(str(kind))} is not an area outline; expected Polygon or MultiPolygon"
    )
    return None


def _load(data: bytes, name: str) -> list[Any]:
    """The features of the file, or ImportFailed saying why the file itself is not one."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportFailed([f"{name}: not UTF-8 text; save the file as UTF-8 GeoJSON"]) from None
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            [f"{name}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno}); expected GeoJSON"]
        ) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFailed([f'{name}: expected a GeoJSON object with "type": "FeatureCollection"'])
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ImportFailed([f'{name}: expected "features": a non-empty list of Feature objects'])
    return features


def check(data: bytes, name: str, known: set[str]) -> list[BoundaryRow]:
    """Every feature checked against the known area codes; all rows, or ImportFailed."""
    features = _load(data, name)
    problems: list[str] = []
    rows: list[BoundaryRow] = []
    first_index: dict[str, int] = {}
    for index, feature in enumerate(features):
        where = f"{name}: features[{index}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(f'{where}: expected an object with "type": "Feature"')
            continue
        properties = feature.get("properties")
        code = properties.get("code") if isinstance(properties, dict) else None
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            problems.append(f"{where}: properties.code is missing; expected an area code")
            continue
        code = code.strip()
        where = f"{where} (code {code})"
        if code not in known:
            problems.append(
                f"{where}: properties.code {shown(code)} is not a known area code;"
                " import it with areas.csv first"
            )
            continue
        if code in first_index:
            problems.append(
                f"{where}: the area has an outline already at features[{first_index[code]}];"
                " expected one feature per area (join the parts in a MultiPolygon)"
            )
            continue
        first_index[code] = index
        parts = _geometry(feature.get("geometry"), f"{where}: geometry", problems)
        if parts is None:
            continue
        geometry = {
            "type": "Polygon" if len(parts) == 1 else "MultiPolygon",
            "coordinates": [[[list(p) for p in ring] for ring in polygon] for polygon in parts]
            if len(parts) > 1
            else [[list(p) for p in ring] for ring in parts[0]],
        }
        rows.append(
            BoundaryRow(
                code, json.dumps(geometry, separators=(",", ":")), vertex_count(parts), bbox(parts)
            )
        )
    if problems:
        raise ImportFailed(problems)
    return rows


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportFailed(
                [f"{path.name}: {size // 1_000_000} MB is too big; at most 64 MB (simplify it)"]
            )
        return path.read_bytes()
    except OSError as exc:
        raise ImportFailed([f"{path.name}: cannot read the file: {exc.strerror or exc}"]) from None


async def import_boundaries(db: Database, path: Path, now: datetime) -> BoundarySummary:
    """Check every feature of ``path`` and store them all, or raise :class:`ImportFailed`
    and write nothing."""
    data = _read(path)
    async with db.transaction() as tx:
        known = set(await areas.codes(tx))
        rows = check(data, path.name, known)
        created, updated = await store.upsert(tx, rows, now)
        await audit.record(
            tx,
            now,
            None,
            "import",
            "boundaries",
            path.name,
            path=str(path),
            rows=len(rows),
            created=created,
            updated=updated,
        )
    return BoundarySummary(created, updated)
