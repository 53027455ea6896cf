"""Distances and geofence verdicts for check-ins.

Distances that matter here are a geofence radius or a few kilometres across a city, where
a spherical Earth (haversine) is off by under 0.5 %, well inside phone GPS noise; an
ellipsoidal formula would add nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

#: Mean Earth radius (IUGG), the sphere that best fits the ellipsoid on average.
EARTH_RADIUS_M = 6371008.8

GeoReason = Literal["inside", "outside", "inaccurate", "no_geofence"]

K = TypeVar("K")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points in decimal degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    # Rounding can push h a hair above 1 for antipodal points, outside asin's domain.
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class GeoVerdict:
    """Where a reported location stands against a post's geofence.

    ``inside`` is None when there is no geofence to be inside of; ``verified`` is True only
    when the location is inside and precise enough to prove it.
    """

    distance_m: float | None
    inside: bool | None
    verified: bool
    reason: GeoReason


def judge_location(
    post_lat: float | None,
    post_lon: float | None,
    radius_m: float | None,
    lat: float,
    lon: float,
    accuracy_m: float | None,
) -> GeoVerdict:
    """Judge a location (with the phone's horizontal accuracy, if it sent one) against a
    post's coordinates and geofence radius.

    A radius of zero or less counts as no geofence, since no phone could ever satisfy it.
    A missing accuracy is trusted: Telegram omits it for many clients, and refusing those
    would reject honest officers.
    """
    if post_lat is None or post_lon is None:
        return GeoVerdict(None, None, False, "no_geofence")
    distance = distance_m(post_lat, post_lon, lat, lon)
    if radius_m is None or radius_m <= 0:
        return GeoVerdict(distance, None, False, "no_geofence")
    if distance > radius_m:
        return GeoVerdict(distance, False, False, "outside")
    if accuracy_m is not None and accuracy_m > radius_m:
        return GeoVerdict(distance, True, False, "inaccurate")
    return GeoVerdict(distance, True, True, "inside")


def nearest(
    points: Iterable[tuple[K, float | None, float | None]], lat: float, lon: float
) -> K | None:
    """Key of the point closest to (lat, lon), skipping points without coordinates; the
    first wins a tie. None when no point has coordinates."""
    best_key: K | None = None
    best_distance = math.inf
    for key, p_lat, p_lon in points:
        if p_lat is None or p_lon is None:
            continue
        d = distance_m(lat, lon, p_lat, p_lon)
        if d < best_distance:
            best_key, best_distance = key, d
    return best_key
