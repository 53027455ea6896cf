"""Distances and geofence verdicts, checked against distances known independently."""

from __future__ import annotations

import math

import pytest

from bot.presence.geo import EARTH_RADIUS_M, GeoVerdict, distance_m, judge_location, nearest

MONAS = (-6.175392, 106.827153)
BUNDARAN_HI = (-6.194955, 106.823062)


def test_monas_to_bundaran_hi() -> None:
    assert distance_m(*MONAS, *BUNDARAN_HI) == pytest.approx(2220, rel=0.01)


def test_distance_is_symmetric_and_zero_at_the_same_point() -> None:
    assert distance_m(*MONAS, *BUNDARAN_HI) == distance_m(*BUNDARAN_HI, *MONAS)
    assert distance_m(*MONAS, *MONAS) == 0.0


def test_distance_on_the_sphere() -> None:
    one_degree = EARTH_RADIUS_M * math.pi / 180  # 111,195 m along a meridian
    assert distance_m(0, 0, 1, 0) == pytest.approx(one_degree, rel=1e-9)
    assert distance_m(0, 0, 0, 90) == pytest.approx(EARTH_RADIUS_M * math.pi / 2, rel=1e-9)
    assert distance_m(0, 0, 0, 180) == pytest.approx(EARTH_RADIUS_M * math.pi, rel=1e-9)
    assert distance_m(-6.2, 179.9999, -6.2, -179.9999) < 30  # across the antimeridian


def test_no_coordinates_means_no_geofence() -> None:
    verdict = judge_location(None, None, 100, *MONAS, 10)
    assert verdict == GeoVerdict(None, None, False, "no_geofence")
    assert judge_location(MONAS[0], None, 100, *MONAS, 10).reason == "no_geofence"


def test_coordinates_without_radius_still_give_the_distance() -> None:
    verdict = judge_location(*MONAS, None, *BUNDARAN_HI, 10)
    assert verdict.reason == "no_geofence"
    assert verdict.inside is None
    assert not verdict.verified
    assert verdict.distance_m == pytest.approx(2220, rel=0.01)
    assert judge_location(*MONAS, 0, *MONAS, 10).reason == "no_geofence"


def test_inside_with_good_accuracy_is_verified() -> None:
    # 0.0009 degrees of latitude is about 100 m.
    verdict = judge_location(*MONAS, 150, MONAS[0] + 0.0009, MONAS[1], 20)
    assert verdict.reason == "inside"
    assert verdict.inside is True
    assert verdict.verified is True
    assert verdict.distance_m == pytest.approx(100.08, abs=0.1)


def test_missing_accuracy_is_trusted() -> None:
    assert judge_location(*MONAS, 150, *MONAS, None) == GeoVerdict(0.0, True, True, "inside")


def test_accuracy_equal_to_radius_is_still_verified() -> None:
    assert judge_location(*MONAS, 150, *MONAS, 150).verified


def test_point_on_the_boundary_is_inside() -> None:
    here = (MONAS[0] + 0.0009, MONAS[1])
    radius = distance_m(*MONAS, *here)
    assert judge_location(*MONAS, radius, *here, 5).reason == "inside"


def test_outside_radius() -> None:
    verdict = judge_location(*MONAS, 200, *BUNDARAN_HI, 10)
    assert verdict.reason == "outside"
    assert verdict.inside is False
    assert verdict.verified is False
    assert verdict.distance_m == pytest.approx(2220, rel=0.01)


def test_outside_wins_over_inaccurate() -> None:
    assert judge_location(*MONAS, 200, *BUNDARAN_HI, 5000).reason == "outside"


def test_inside_but_inaccurate_is_not_verified() -> None:
    verdict = judge_location(*MONAS, 150, MONAS[0] + 0.0009, MONAS[1], 500)
    assert verdict.reason == "inaccurate"
    assert verdict.inside is True
    assert verdict.verified is False


def test_nearest_skips_points_without_coordinates() -> None:
    points = [
        ("nowhere", None, None),
        ("hi", *BUNDARAN_HI),
        ("half", MONAS[0], None),
        ("monas", *MONAS),
    ]
    assert nearest(points, MONAS[0] + 0.001, MONAS[1]) == "monas"
    assert nearest(iter(points), *BUNDARAN_HI) == "hi"
    assert nearest([("nowhere", None, None)], *MONAS) is None
    assert nearest([], *MONAS) is None


def test_nearest_tie_goes_to_the_first() -> None:
    assert nearest([(1, *MONAS), (2, *MONAS)], *BUNDARAN_HI) == 1
