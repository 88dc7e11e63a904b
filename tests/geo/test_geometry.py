"""GeoJSON parsing, validity with a location, and the district extent (pure, inline WKT)."""

from __future__ import annotations

import pytest
from shapely import wkt
from shapely.geometry import MultiPolygon, mapping

from geo.geometry import (
    Extent,
    GeometryRejected,
    check_boundary,
    extent_problem,
    parse_multipolygon,
    to_geojson,
    validity_problem,
)

DISTRICT = Extent(108.3, 34.0, 109.1, 34.6)
SQUARE = "POLYGON ((108.70 34.30, 108.71 34.30, 108.71 34.31, 108.70 34.31, 108.70 34.30))"
BOWTIE = "POLYGON ((108.70 34.30, 108.72 34.32, 108.72 34.30, 108.70 34.32, 108.70 34.30))"


def geojson(text: str) -> dict[str, object]:
    return dict(mapping(wkt.loads(text)))


def test_polygon_is_read_as_a_multipolygon() -> None:
    geom = parse_multipolygon(geojson(SQUARE))
    assert isinstance(geom, MultiPolygon)
    assert len(geom.geoms) == 1


def test_multipolygon_keeps_every_part() -> None:
    text = (
        "MULTIPOLYGON (((108.70 34.30, 108.71 34.30, 108.71 34.31, 108.70 34.30)),"
        " ((108.80 34.30, 108.81 34.30, 108.81 34.31, 108.80 34.30)))"
    )
    assert len(parse_multipolygon(geojson(text)).geoms) == 2


def test_polygon_with_a_hole_is_accepted() -> None:
    text = (
        "POLYGON ((108.70 34.30, 108.72 34.30, 108.72 34.32, 108.70 34.32, 108.70 34.30),"
        " (108.705 34.305, 108.71 34.305, 108.71 34.31, 108.705 34.31, 108.705 34.305))"
    )
    geom, problem = check_boundary(geojson(text), DISTRICT)
    assert problem is None
    assert geom is not None
    assert len(geom.geoms[0].interiors) == 1


@pytest.mark.parametrize(
    "text", ["POINT (108.7 34.3)", "LINESTRING (108.7 34.3, 108.8 34.4)"], ids=["point", "line"]
)
def test_other_geometry_types_are_rejected(text: str) -> None:
    with pytest.raises(GeometryRejected) as caught:
        parse_multipolygon(geojson(text))
    assert caught.value.problem.kind == "wrong_type"


def test_empty_polygon_is_rejected() -> None:
    with pytest.raises(GeometryRejected) as caught:
        parse_multipolygon({"type": "Polygon", "coordinates": []})
    assert caught.value.problem.kind == "empty"


def test_ring_with_too_few_points_is_malformed() -> None:
    with pytest.raises(GeometryRejected) as caught:
        parse_multipolygon({"type": "Polygon", "coordinates": [[[108.7, 34.3], [108.8, 34.3]]]})
    assert caught.value.problem.kind == "malformed"


def test_non_numeric_coordinates_are_malformed() -> None:
    with pytest.raises(GeometryRejected) as caught:
        parse_multipolygon({"type": "Polygon", "coordinates": "nope"})
    assert caught.value.problem.kind == "malformed"


def test_heights_are_dropped() -> None:
    data = {
        "type": "Polygon",
        "coordinates": [
            [[108.7, 34.3, 5], [108.71, 34.3, 5], [108.71, 34.31, 5], [108.7, 34.3, 5]]
        ],
    }
    assert not parse_multipolygon(data).has_z


def test_valid_square_has_no_problem() -> None:
    assert validity_problem(wkt.loads(SQUARE)) is None


def test_bowtie_is_a_self_intersection_located_at_the_crossing() -> None:
    problem = validity_problem(wkt.loads(BOWTIE))
    assert problem is not None
    assert problem.kind == "self_intersection"
    assert problem.location == pytest.approx((108.71, 34.31))
    assert "108.71" in problem.message


def test_check_boundary_reports_the_bowtie_with_its_location() -> None:
    _, problem = check_boundary(geojson(BOWTIE), DISTRICT)
    assert problem is not None
    assert problem.as_dict()["location"] == pytest.approx([108.71, 34.31])


def test_square_inside_the_district_has_no_extent_problem() -> None:
    assert extent_problem(wkt.loads(SQUARE), DISTRICT) is None


def test_polygon_outside_the_district_is_a_problem_located_outside() -> None:
    text = "POLYGON ((116.30 39.90, 116.31 39.90, 116.31 39.91, 116.30 39.90))"
    problem = extent_problem(wkt.loads(text), DISTRICT)
    assert problem is not None
    assert problem.kind == "outside_extent"
    assert problem.location is not None
    assert problem.location[0] > DISTRICT.max_lng


def test_polygon_straddling_the_district_edge_is_a_problem() -> None:
    text = "POLYGON ((109.05 34.30, 109.15 34.30, 109.15 34.31, 109.05 34.31, 109.05 34.30))"
    _, problem = check_boundary(geojson(text), DISTRICT)
    assert problem is not None
    assert problem.kind == "outside_extent"


def test_extent_is_parsed_from_text() -> None:
    assert Extent.parse("108.3, 34.0, 109.1, 34.6") == DISTRICT


@pytest.mark.parametrize("text", ["108.3,34.0,109.1", "109.1,34.0,108.3,34.6", "a,b,c,d"])
def test_malformed_extent_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Extent.parse(text)


def test_geojson_output_round_trips() -> None:
    geom = parse_multipolygon(geojson(SQUARE))
    out = to_geojson(geom)
    assert out["type"] == "MultiPolygon"
    assert isinstance(out["coordinates"][0][0][0], list)
    assert parse_multipolygon(out).equals(geom)


OPEN_RING = [[108.70, 34.30], [108.71, 34.30], [108.71, 34.31], [108.70, 34.31]]
CLOSED_RING = [*OPEN_RING, [108.70, 34.30]]


def _rejected(data: dict[str, object]) -> str:
    with pytest.raises(GeometryRejected) as caught:
        parse_multipolygon(data)
    return caught.value.problem.kind


def test_a_ring_that_does_not_close_is_rejected_where_it_starts() -> None:
    with pytest.raises(GeometryRejected) as caught:
        parse_multipolygon({"type": "Polygon", "coordinates": [[*OPEN_RING, [108.70, 34.305]]]})
    assert caught.value.problem.kind == "ring_not_closed"
    assert caught.value.problem.location == (108.70, 34.30)


@pytest.mark.parametrize(
    "position",
    [
        ["108.70", "34.30"],
        [True, 34.30],
        [float("nan"), 34.30],
        [float("inf"), 34.30],
        [10**400, 1],
    ],
    ids=["strings", "boolean", "nan", "infinity", "huge-integer"],
)
def test_a_position_that_is_not_finite_numbers_is_malformed(position: list[object]) -> None:
    ring = [position, *CLOSED_RING[1:-1], position]
    assert _rejected({"type": "Polygon", "coordinates": [ring]}) == "malformed"


def test_a_nan_height_is_malformed_even_though_heights_are_dropped() -> None:
    ring = [[*p, 0.0] for p in CLOSED_RING]
    ring[1][2] = float("nan")
    assert _rejected({"type": "Polygon", "coordinates": [ring]}) == "malformed"


@pytest.mark.parametrize(
    "data",
    [
        {"type": "Polygon"},
        {"type": "Polygon", "coordinates": None},
        {"type": "MultiPolygon", "coordinates": [CLOSED_RING]},
        {"type": "Polygon", "coordinates": [[CLOSED_RING]]},
        {"type": "Polygon", "coordinates": [[]]},
    ],
    ids=["missing", "null", "multipolygon-one-level-short", "polygon-one-level-deep", "empty-ring"],
)
def test_coordinates_of_the_wrong_shape_are_malformed(data: dict[str, object]) -> None:
    assert _rejected(data) == "malformed"


def test_a_multipolygon_whose_parts_overlap_is_invalid_where_they_cross() -> None:
    shifted = [[x + 0.005, y] for x, y in CLOSED_RING]
    data = {"type": "MultiPolygon", "coordinates": [[CLOSED_RING], [shifted]]}
    _, problem = check_boundary(data, DISTRICT)
    assert problem is not None
    assert problem.kind == "self_intersection"
    assert problem.location is not None


def test_a_polygon_across_the_antimeridian_is_outside_the_district() -> None:
    ring = [[179.9, 34.3], [-179.9, 34.3], [-179.9, 34.4], [179.9, 34.4], [179.9, 34.3]]
    _, problem = check_boundary({"type": "Polygon", "coordinates": [ring]}, DISTRICT)
    assert problem is not None
    assert problem.kind == "outside_extent"


def test_huge_coordinates_are_outside_the_district() -> None:
    ring = [[1e300, 1e300], [-1e300, 1e300], [-1e300, -1e300], [1e300, -1e300], [1e300, 1e300]]
    _, problem = check_boundary({"type": "Polygon", "coordinates": [ring]}, DISTRICT)
    assert problem is not None
    assert problem.kind == "outside_extent"
