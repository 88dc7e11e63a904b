"""Do grids tile their community: each problem kind, located inside the offending area."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import wkt
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from geo.overlap import area_m2
from geo.partition import Problem, ProblemKind, check_partition, origin_of

TOLERANCE_M2 = 1.0

# A community 0.006° × 0.002° (~510 m × 222 m) at Beijing, in three columns A | B | C.
OUTLINE = wkt.loads(
    "POLYGON ((116.400 39.900, 116.406 39.900, 116.406 39.902, 116.400 39.902, 116.400 39.900))"
)
A = "POLYGON ((116.400 39.900, 116.402 39.900, 116.402 39.902, 116.400 39.902, 116.400 39.900))"
B = "POLYGON ((116.402 39.900, 116.404 39.900, 116.404 39.902, 116.402 39.902, 116.402 39.900))"
C = "POLYGON ((116.404 39.900, 116.406 39.900, 116.406 39.902, 116.404 39.902, 116.404 39.900))"
# Metres in 0.0001° of longitude by the whole height of the community, at its centroid.
STRIP_M2 = 0.0001 * 0.002 * math.cos(math.radians(39.901)) * (math.pi * 6_371_008.8 / 180) ** 2


def grids(**wkts: str) -> dict[str, BaseGeometry]:
    """Grid key → geometry from WKT."""
    return {key: wkt.loads(text) for key, text in wkts.items()}


def inside(problem: Problem, area: BaseGeometry) -> bool:
    """Whether the problem's location lies in `area` (or on its edge)."""
    return bool(area.buffer(1e-9).contains(Point(problem.location)))


def test_three_columns_tile_the_community() -> None:
    assert check_partition(OUTLINE, grids(a=A, b=B, c=C), TOLERANCE_M2) == []


def test_overlap_is_reported_with_both_keys_location_and_size() -> None:
    wide_a = (
        "POLYGON ((116.400 39.900, 116.4021 39.900, 116.4021 39.902, "
        "116.400 39.902, 116.400 39.900))"
    )

    [problem] = check_partition(OUTLINE, grids(a=wide_a, b=B, c=C), TOLERANCE_M2)

    assert problem.kind is ProblemKind.OVERLAP
    assert problem.keys == ("a", "b")
    assert inside(problem, box(116.402, 39.900, 116.4021, 39.902))
    assert problem.size_m2 == pytest.approx(STRIP_M2, rel=1e-3)


def test_gap_is_reported_with_the_grids_around_it() -> None:
    narrow_a = (
        "POLYGON ((116.400 39.900, 116.4019 39.900, 116.4019 39.902, "
        "116.400 39.902, 116.400 39.900))"
    )

    [problem] = check_partition(OUTLINE, grids(a=narrow_a, b=B, c=C), TOLERANCE_M2)

    assert problem.kind is ProblemKind.GAP
    assert problem.keys == ("a", "b")
    assert inside(problem, box(116.4019, 39.900, 116.402, 39.902))
    assert problem.size_m2 == pytest.approx(STRIP_M2, rel=1e-3)


def test_grid_leaving_the_outline_is_reported_where_it_leaves() -> None:
    wide_c = (
        "POLYGON ((116.404 39.900, 116.4061 39.900, 116.4061 39.902, "
        "116.404 39.902, 116.404 39.900))"
    )

    [problem] = check_partition(OUTLINE, grids(a=A, b=B, c=wide_c), TOLERANCE_M2)

    assert problem.kind is ProblemKind.OUTSIDE_OUTLINE
    assert problem.keys == ("c",)
    assert inside(problem, box(116.406, 39.900, 116.4061, 39.902))


def test_bowtie_is_reported_at_its_crossing() -> None:
    bowtie_b = (
        "POLYGON ((116.402 39.900, 116.404 39.900, 116.402 39.902, 116.404 39.902, 116.402 39.900))"
    )

    problems = check_partition(OUTLINE, grids(a=A, b=bowtie_b, c=C), TOLERANCE_M2)

    invalid = [p for p in problems if p.kind is ProblemKind.INVALID_POLYGON]
    assert [p.keys for p in invalid] == [("b",)]
    assert invalid[0].location == pytest.approx((116.403, 39.901))
    assert "Self-intersection" in invalid[0].detail


def test_invalid_outline_is_reported_without_keys() -> None:
    bowtie = wkt.loads(
        "POLYGON ((116.400 39.900, 116.406 39.900, 116.400 39.902, 116.406 39.902, 116.400 39.900))"
    )

    problems = check_partition(bowtie, grids(a=A, b=B, c=C), TOLERANCE_M2)

    assert problems[0].kind is ProblemKind.INVALID_POLYGON
    assert problems[0].keys == ()


def test_point_is_not_a_grid_polygon() -> None:
    problems = check_partition(OUTLINE, grids(a=A, b=B, c=C, d="POINT (116.401 39.901)"), 1.0)

    assert [(p.kind, p.keys) for p in problems] == [(ProblemKind.INVALID_POLYGON, ("d",))]


def test_slivers_no_larger_than_the_tolerance_are_no_problem() -> None:
    # 1e-8° of longitude over 222 m is ~0.2 m² of gap and ~0.2 m² of overlap.
    a = (
        "POLYGON ((116.400 39.900, 116.40199999 39.900, 116.40199999 39.902, "
        "116.400 39.902, 116.400 39.900))"
    )
    c = (
        "POLYGON ((116.40399999 39.900, 116.406 39.900, 116.406 39.902, "
        "116.40399999 39.902, 116.40399999 39.900))"
    )

    assert check_partition(OUTLINE, grids(a=a, b=B, c=c), TOLERANCE_M2) == []


def test_slivers_above_the_tolerance_are_problems() -> None:
    a = (
        "POLYGON ((116.400 39.900, 116.40199999 39.900, 116.40199999 39.902, "
        "116.400 39.902, 116.400 39.900))"
    )

    [problem] = check_partition(OUTLINE, grids(a=a, b=B, c=C), tolerance_m2=0.1)

    assert problem.kind is ProblemKind.GAP


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        check_partition(OUTLINE, grids(a=A), -1.0)


# --- random tilings: a rectangle cut by jittered shared lines into cols × rows cells ---

X0, Y0 = 116.40, 39.90
DX, DY = 0.002, 0.0015  # one cell, ~170 m × 167 m
# Nodes move at most 0.2 of a cell per axis, which keeps every cell a convex quadrilateral.
JITTER = 0.2
Node = tuple[int, int]


@dataclass(frozen=True)
class Tiling:
    """cols × rows quadrilateral cells sharing jittered nodes; cell (i, j) is keyed "g{i}{j}"."""

    cols: int
    rows: int
    offsets: dict[Node, tuple[float, float]]

    @property
    def outline(self) -> Polygon:
        """The rectangle the cells tile."""
        return box(X0, Y0, X0 + self.cols * DX, Y0 + self.rows * DY)

    def node(self, i: int, j: int) -> tuple[float, float]:
        """Where node (i, j) lies, in (lng, lat)."""
        fx, fy = self.offsets[(i, j)]
        return (X0 + (i + fx) * DX, Y0 + (j + fy) * DY)

    def corners(self, i: int, j: int) -> list[tuple[float, float]]:
        """Cell (i, j)'s corners: south-west, south-east, north-east, north-west."""
        return [self.node(i, j), self.node(i + 1, j), self.node(i + 1, j + 1), self.node(i, j + 1)]

    @property
    def cells(self) -> dict[str, Polygon]:
        """Cell key → quadrilateral."""
        return {
            f"g{i}{j}": Polygon(self.corners(i, j))
            for i in range(self.cols)
            for j in range(self.rows)
        }

    def free_axes(self, node: Node) -> tuple[bool, bool]:
        """Whether the node may move along x and along y (boundary nodes slide along it)."""
        i, j = node
        return (0 < i < self.cols, 0 < j < self.rows)


@st.composite
def tilings(draw: st.DrawFn) -> Tiling:
    """A random tiling of at least two cells."""
    cols = draw(st.integers(1, 4))
    rows = draw(st.integers(2 if cols == 1 else 1, 3))
    jitter = st.floats(-JITTER, JITTER)
    offsets: dict[Node, tuple[float, float]] = {}
    for i in range(cols + 1):
        for j in range(rows + 1):
            fx = draw(jitter) if 0 < i < cols else 0.0
            fy = draw(jitter) if 0 < j < rows else 0.0
            offsets[(i, j)] = (fx, fy)
    return Tiling(cols, rows, offsets)


PROPERTIES = settings(max_examples=50, deadline=None)


@PROPERTIES
@given(tilings())
def test_random_tiling_is_a_partition(tiling: Tiling) -> None:
    assert check_partition(tiling.outline, tiling.cells, TOLERANCE_M2) == []


@PROPERTIES
@given(tilings(), st.data())
def test_missing_cell_is_a_gap_located_inside_it(tiling: Tiling, data: st.DataObject) -> None:
    cells = tiling.cells
    missing = data.draw(st.sampled_from(sorted(cells)))
    hole = cells.pop(missing)

    problems = check_partition(tiling.outline, cells, TOLERANCE_M2)

    assert [p.kind for p in problems] == [ProblemKind.GAP]
    assert inside(problems[0], hole)
    outline_origin = origin_of(tiling.outline)
    assert problems[0].size_m2 == pytest.approx(area_m2(hole, outline_origin), rel=0.01)
