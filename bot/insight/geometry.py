"""Plane geometry for area outlines: polygons as lists of rings of (lon, lat), and their
simplification (Douglas–Peucker) so that a kelurahan surveyed to the metre does not ship
ten thousand vertices to a phone. Pure Python: outlines are small next to a picture.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

Position = tuple[float, float]
Ring = list[Position]
Polygon = list[Ring]  # outer ring first, then holes

# About 5 m at Jakarta's latitude: finer than any line /peta or a phone map can show.
DEFAULT_TOLERANCE = 0.00005
# Rings this short are sent as they are: simplifying them saves nothing worth the change.
SIMPLIFY_ABOVE = 32


def polygons(geometry: dict[str, Any]) -> list[Polygon]:
    """The polygons of a checked GeoJSON Polygon or MultiPolygon, positions as (lon, lat)."""
    kind = geometry["type"]
    parts = [geometry["coordinates"]] if kind == "Polygon" else geometry["coordinates"]
    return [
        [[(float(position[0]), float(position[1])) for position in ring] for ring in polygon]
        for polygon in parts
    ]


def to_geometry(parts: Sequence[Polygon], digits: int = 6) -> dict[str, Any]:
    """GeoJSON for the polygons: a Polygon when there is one, else a MultiPolygon."""
    coordinates = [
        [[[round(lon, digits), round(lat, digits)] for lon, lat in ring] for ring in polygon]
        for polygon in parts
    ]
    if len(coordinates) == 1:
        return {"type": "Polygon", "coordinates": coordinates[0]}
    return {"type": "MultiPolygon", "coordinates": coordinates}


def bbox(parts: Sequence[Polygon]) -> tuple[float, float, float, float]:
    lons = [lon for polygon in parts for ring in polygon for lon, _ in ring]
    lats = [lat for polygon in parts for ring in polygon for _, lat in ring]
    return min(lons), min(lats), max(lons), max(lats)


def vertex_count(parts: Sequence[Polygon]) -> int:
    return sum(len(ring) for polygon in parts for ring in polygon)


def ring_area(ring: Sequence[Position]) -> float:
    """Signed area in square degrees (shoelace); only its size is used here."""
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


def label_point(parts: Sequence[Polygon]) -> Position:
    """Where a name goes: the centroid of the largest outer ring (a vertex average when the
    ring is degenerate)."""
    ring = max((polygon[0] for polygon in parts), key=lambda r: abs(ring_area(r)))
    area = ring_area(ring)
    if abs(area) < 1e-15:
        return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
    cx = cy = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        cross = x0 * y1 - x1 * y0
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return cx / (6 * area), cy / (6 * area)


def simplify_line(points: Sequence[Position], tolerance: float, lon_scale: float) -> list[Position]:
    """Douglas–Peucker on an open line: the points that keep it within ``tolerance`` (in
    degrees of latitude; longitudes are shrunk by ``lon_scale`` so the test is isotropic).
    Iterative, so a ring of 100,000 vertices cannot exhaust the stack."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        ax, ay = points[first][0] * lon_scale, points[first][1]
        bx, by = points[last][0] * lon_scale, points[last][1]
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        farthest, index = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i][0] * lon_scale, points[i][1]
            if length == 0.0:
                distance = math.hypot(px - ax, py - ay)
            else:
                distance = abs(dy * px - dx * py + bx * ay - by * ax) / length
            if distance > farthest:
                farthest, index = distance, i
        if farthest > tolerance:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def simplify_ring(ring: Ring, tolerance: float) -> Ring | None:
    """The ring simplified and still closed, or None when it shrinks below a triangle."""
    if len(ring) <= SIMPLIFY_ABOVE or tolerance <= 0:
        return list(ring)
    lon_scale = math.cos(math.radians(sum(p[1] for p in ring) / len(ring)))
    # A closed ring starts and ends on the same point; split it at its farthest vertex so
    # both halves are proper lines with distinct ends.
    start = ring[0]
    far = max(
        range(len(ring)),
        key=lambda i: math.hypot((ring[i][0] - start[0]) * lon_scale, ring[i][1] - start[1]),
    )
    first = simplify_line(ring[: far + 1], tolerance, lon_scale)
    second = simplify_line(ring[far:], tolerance, lon_scale)
    simplified = first + second[1:]
    return simplified if len(simplified) >= 4 else None


def simplify(parts: Sequence[Polygon], tolerance: float = DEFAULT_TOLERANCE) -> list[Polygon]:
    """Every ring simplified; holes and islands smaller than the tolerance disappear, but an
    outline never disappears altogether (its largest part is then kept as it was)."""
    result: list[Polygon] = []
    for polygon in parts:
        outer = simplify_ring(polygon[0], tolerance)
        if outer is None:
            continue
        holes = [hole for hole in (simplify_ring(r, tolerance) for r in polygon[1:]) if hole]
        result.append([outer, *holes])
    if not result and parts:
        result.append([max((polygon[0] for polygon in parts), key=lambda r: abs(ring_area(r)))])
    return result
