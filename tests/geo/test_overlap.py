"""Areas in m² and overlap with sibling grids (pure, inline WKT)."""

from __future__ import annotations

import pytest
from shapely import wkt

from geo.overlap import area_m2, find_overlaps

WEST = wkt.loads("POLYGON ((108.70 34.30, 108.71 34.30, 108.71 34.31, 108.70 34.31, 108.70 34.30))")
EAST = wkt.loads("POLYGON ((108.71 34.30, 108.72 34.30, 108.72 34.31, 108.71 34.31, 108.71 34.30))")
# Reaches 0.001° (about 92 m) into WEST along its whole eastern edge.
INTRUDER = wkt.loads(
    "POLYGON ((108.709 34.30, 108.72 34.30, 108.72 34.31, 108.709 34.31, 108.709 34.30))"
)


def test_area_of_a_small_square_matches_the_spherical_estimate() -> None:
    # 0.01° × 0.01° at 34.305°N: 1,111.95 m × 918.5 m ≈ 1.0213 km² on the mean sphere.
    assert area_m2(WEST) == pytest.approx(1_021_300, rel=2e-3)


def test_area_of_nothing_is_zero() -> None:
    assert area_m2(WEST.intersection(EAST)) == 0.0


def test_touching_neighbours_do_not_overlap() -> None:
    assert find_overlaps(EAST, [("w", "610116001001001", WEST)], tolerance_m2=1.0) == []


def test_overlapping_sibling_is_named_with_the_area() -> None:
    overlaps = find_overlaps(INTRUDER, [("w", "610116001001001", WEST)], tolerance_m2=1.0)
    assert len(overlaps) == 1
    assert overlaps[0].sibling_id == "w"
    assert overlaps[0].code == "610116001001001"
    # 0.001° × 0.01°: about 92 m × 1,112 m ≈ 102,130 m².
    assert overlaps[0].area_m2 == pytest.approx(102_130, rel=5e-3)
    assert WEST.contains(wkt.loads(f"POINT ({overlaps[0].location[0]} {overlaps[0].location[1]})"))


def test_overlap_within_tolerance_is_ignored() -> None:
    assert find_overlaps(INTRUDER, [("w", "610116001001001", WEST)], tolerance_m2=200_000) == []


def test_only_overlapping_siblings_are_reported_largest_first() -> None:
    far = wkt.loads("POLYGON ((108.9 34.5, 108.91 34.5, 108.91 34.51, 108.9 34.5))")
    siblings = [("e", "610116001001002", EAST), ("w", "610116001001001", WEST), ("f", "x", far)]
    overlaps = find_overlaps(INTRUDER, siblings, tolerance_m2=1.0)
    assert [o.sibling_id for o in overlaps] == ["e", "w"]
