"""Redrawing some grids of a community: what passes, what is refused and where, what is snapped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely import wkt
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from geo.partition import Problem, ProblemKind, check_partition
from geo.redraw import RedrawResult, moved_area, validate_redraw
from tests.geo.test_partition import (
    DX,
    DY,
    JITTER,
    OUTLINE,
    PROPERTIES,
    STRIP_M2,
    TOLERANCE_M2,
    A,
    B,
    C,
    Tiling,
    grids,
    inside,
    tilings,
)

CURRENT = grids(a=A, b=B, c=C)


def redraw(**draft: str | None) -> RedrawResult:
    """Validate a WKT draft against the three-column community."""
    shapes = {key: None if text is None else wkt.loads(text) for key, text in draft.items()}
    return validate_redraw(OUTLINE, CURRENT, shapes, TOLERANCE_M2)


def column(west: float, east: float) -> str:
    """WKT of a column of the community from `west` to `east` longitude."""
    return str(box(west, 39.900, east, 39.902).wkt)


def final_tiling_problems(result: RedrawResult, current: dict[str, BaseGeometry]) -> list[Problem]:
    """The partition problems of the community after applying the snapped draft."""
    after = {key: geom for key, geom in current.items() if key not in result.geometries}
    after |= {key: geom for key, geom in result.geometries.items() if geom is not None}
    return check_partition(OUTLINE, after, TOLERANCE_M2)


def test_moving_a_shared_edge_passes() -> None:
    result = redraw(a=column(116.400, 116.4025), b=column(116.4025, 116.404))

    assert result.ok
    assert result.geometries["a"].equals(wkt.loads(column(116.400, 116.4025)))  # type: ignore[union-attr]


def test_merging_two_grids_passes() -> None:
    result = redraw(a=column(116.400, 116.404), b=None)

    assert result.ok
    assert result.geometries["b"] is None


def test_splitting_a_grid_into_a_new_one_passes() -> None:
    result = redraw(b=column(116.402, 116.403), new=column(116.403, 116.404))

    assert result.ok
    assert set(result.geometries) == {"b", "new"}


def test_overlap_with_a_neighbour_is_reported_inside_it() -> None:
    [problem] = redraw(b=column(116.402, 116.4041)).problems

    assert problem.kind is ProblemKind.OVERLAP
    assert problem.keys == ("b", "c")
    assert inside(problem, box(116.404, 39.900, 116.4041, 39.902))
    assert problem.size_m2 == pytest.approx(STRIP_M2, rel=1e-3)


def test_overlap_between_drafted_grids_is_reported_inside_it() -> None:
    [problem] = redraw(a=column(116.400, 116.4021), b=B).problems

    assert problem.kind is ProblemKind.OVERLAP
    assert problem.keys == ("a", "b")
    assert inside(problem, box(116.402, 39.900, 116.4021, 39.902))


def test_gap_opened_by_the_draft_names_the_grid_that_held_it() -> None:
    [problem] = redraw(a=column(116.400, 116.4019)).problems

    assert problem.kind is ProblemKind.GAP
    assert problem.keys == ("a",)
    assert inside(problem, box(116.4019, 39.900, 116.402, 39.902))


def test_retired_grid_nobody_takes_over_is_a_gap() -> None:
    [problem] = redraw(b=None).problems

    assert problem.kind is ProblemKind.GAP
    assert problem.keys == ("b",)
    assert inside(problem, wkt.loads(B))


def test_leaving_the_community_is_reported_outside_it() -> None:
    [problem] = redraw(c=column(116.404, 116.4061)).problems

    assert problem.kind is ProblemKind.OUTSIDE_OUTLINE
    assert problem.keys == ("c",)
    assert inside(problem, box(116.406, 39.900, 116.4061, 39.902))


def test_taking_land_no_drafted_grid_held_is_reported() -> None:
    # The community reaches further east than its grids: c may not claim the uncovered land.
    outline = box(116.400, 39.900, 116.408, 39.902)
    draft = {"c": wkt.loads(column(116.404, 116.407))}

    [problem] = validate_redraw(outline, CURRENT, draft, TOLERANCE_M2).problems

    assert problem.kind is ProblemKind.OUTSIDE_DRAFT
    assert problem.keys == ("c",)
    assert inside(problem, box(116.406, 39.900, 116.407, 39.902))


def test_bowtie_is_reported_at_its_crossing() -> None:
    bowtie = (
        "POLYGON ((116.402 39.900, 116.404 39.900, 116.402 39.902, 116.404 39.902, 116.402 39.900))"
    )

    problems = redraw(b=bowtie).problems

    invalid = [p for p in problems if p.kind is ProblemKind.INVALID_POLYGON]
    assert [p.keys for p in invalid] == [("b",)]
    assert invalid[0].location == pytest.approx((116.403, 39.901))


def test_sliver_overlap_with_a_neighbour_is_cut_from_the_drafted_grid() -> None:
    result = redraw(b=column(116.402, 116.40400001))

    assert result.ok
    snapped = result.geometries["b"]
    assert snapped is not None
    assert snapped.intersection(wkt.loads(C)).area == pytest.approx(0, abs=1e-16)
    assert final_tiling_problems(result, CURRENT) == []


def test_sliver_overlap_between_drafted_grids_is_cut_from_the_later_grid() -> None:
    wide_a = wkt.loads(column(116.400, 116.40200001))

    result = validate_redraw(OUTLINE, CURRENT, {"a": wide_a, "b": wkt.loads(B)}, TOLERANCE_M2)

    assert result.ok
    assert result.geometries["a"].equals(wide_a)  # type: ignore[union-attr]
    assert result.geometries["b"].area < wkt.loads(B).area  # type: ignore[union-attr]


def test_sliver_gap_goes_to_the_drafted_grid_with_the_longest_border() -> None:
    # a's north edge drops by 1e-8°: the sliver runs along a and touches b only at its end.
    low_a = (
        "POLYGON ((116.400 39.900, 116.402 39.900, 116.402 39.90199999, "
        "116.400 39.90199999, 116.400 39.900))"
    )

    result = redraw(a=low_a, b=B)

    assert result.ok
    assert result.geometries["a"].symmetric_difference(wkt.loads(A)).area < 1e-16  # type: ignore[union-attr]
    assert result.geometries["b"].equals(wkt.loads(B))  # type: ignore[union-attr]


def test_sliver_leaving_the_community_is_cut_off() -> None:
    result = redraw(c=column(116.404, 116.40600001))

    assert result.ok
    assert result.geometries["c"].difference(OUTLINE).area == pytest.approx(0, abs=1e-16)  # type: ignore[union-attr]


def test_sliver_of_land_no_drafted_grid_held_is_cut_off() -> None:
    outline = box(116.400, 39.900, 116.408, 39.902)
    draft = {"c": wkt.loads(column(116.404, 116.40600001))}

    result = validate_redraw(outline, CURRENT, draft, TOLERANCE_M2)

    assert result.ok
    assert result.geometries["c"].symmetric_difference(wkt.loads(C)).area < 1e-16  # type: ignore[union-attr]


def test_retiring_an_unknown_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="zzz"):
        redraw(zzz=None)


def test_moved_area_lists_land_changing_hands() -> None:
    after = grids(a=column(116.400, 116.4025), b=column(116.4025, 116.404), c=C)

    moved = moved_area(CURRENT, after)

    assert list(moved) == [("b", "a")]
    assert moved[("b", "a")] == pytest.approx(5 * STRIP_M2, rel=1e-3)


def test_moved_area_of_a_merge_goes_to_the_survivor() -> None:
    moved = moved_area(CURRENT, {"a": wkt.loads(column(116.400, 116.404)), "b": None})

    assert list(moved) == [("b", "a")]


# --- properties on random tilings ---


def neighbours_of(tiling: Tiling) -> list[tuple[str, str, Point]]:
    """Pairs of cells sharing an edge, with the midpoint of that edge."""
    pairs = []
    for i in range(tiling.cols):
        for j in range(tiling.rows):
            if i + 1 < tiling.cols:
                pairs.append((f"g{i}{j}", f"g{i + 1}{j}", (i + 1, j), (i + 1, j + 1)))
            if j + 1 < tiling.rows:
                pairs.append((f"g{i}{j}", f"g{i}{j + 1}", (i, j + 1), (i + 1, j + 1)))
    return [(a, b, _midpoint(tiling, p, q)) for a, b, p, q in pairs]


def _midpoint(tiling: Tiling, p: tuple[int, int], q: tuple[int, int]) -> Point:
    (x1, y1), (x2, y2) = tiling.node(*p), tiling.node(*q)
    return Point((x1 + x2) / 2, (y1 + y2) / 2)


def disk(center: BaseGeometry) -> BaseGeometry:
    """A disk a quarter of a cell across around `center`."""
    return center.buffer(0.25 * min(DX, DY))


def check(tiling: Tiling, draft: dict[str, BaseGeometry | None]) -> RedrawResult:
    """Validate a draft against the tiling's cells."""
    return validate_redraw(tiling.outline, tiling.cells, draft, TOLERANCE_M2)


def assert_tiles(tiling: Tiling, result: RedrawResult) -> None:
    """The community, after the snapped draft, is still a partition."""
    after = {k: g for k, g in tiling.cells.items() if k not in result.geometries}
    after |= {k: g for k, g in result.geometries.items() if g is not None}
    assert check_partition(tiling.outline, after, TOLERANCE_M2) == []


@PROPERTIES
@given(tilings(), st.data())
def test_moving_a_node_of_the_cut_lines_passes(tiling: Tiling, data: st.DataObject) -> None:
    movable = [n for n in tiling.offsets if any(tiling.free_axes(n))]
    node = data.draw(st.sampled_from(movable))
    free_x, free_y = tiling.free_axes(node)
    jitter = st.floats(-JITTER, JITTER)
    offset = (data.draw(jitter) if free_x else 0.0, data.draw(jitter) if free_y else 0.0)
    moved = Tiling(tiling.cols, tiling.rows, tiling.offsets | {node: offset})
    touched = {
        f"g{i}{j}"
        for i in (node[0] - 1, node[0])
        for j in (node[1] - 1, node[1])
        if 0 <= i < tiling.cols and 0 <= j < tiling.rows
    }

    result = check(tiling, {key: moved.cells[key] for key in sorted(touched)})

    assert result.ok, result.problems
    assert_tiles(tiling, result)


@PROPERTIES
@given(tilings(), st.data())
def test_splitting_a_cell_in_two_passes(tiling: Tiling, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, tiling.cols - 1))
    j = data.draw(st.integers(0, tiling.rows - 1))
    sw, se, ne, nw = tiling.corners(i, j)
    west = ((sw[0] + nw[0]) / 2, (sw[1] + nw[1]) / 2)
    east = ((se[0] + ne[0]) / 2, (se[1] + ne[1]) / 2)

    result = check(
        tiling, {f"g{i}{j}": Polygon([sw, se, east, west]), "new": Polygon([west, east, ne, nw])}
    )

    assert result.ok, result.problems
    assert_tiles(tiling, result)


@PROPERTIES
@given(tilings(), st.data())
def test_merging_two_neighbouring_cells_passes(tiling: Tiling, data: st.DataObject) -> None:
    a, b, _ = data.draw(st.sampled_from(neighbours_of(tiling)))
    cells = tiling.cells

    result = check(tiling, {a: cells[a].union(cells[b]), b: None})

    assert result.ok, result.problems
    assert_tiles(tiling, result)


@PROPERTIES
@given(tilings(), st.data())
def test_injected_overlap_is_reported_inside_it(tiling: Tiling, data: st.DataObject) -> None:
    a, b, edge_middle = data.draw(st.sampled_from(neighbours_of(tiling)))
    cells = tiling.cells
    bite = cells[b].intersection(disk(edge_middle))
    draft: dict[str, BaseGeometry | None] = {a: cells[a].union(bite)}
    if data.draw(st.booleans()):
        draft[b] = cells[b]

    problems = check(tiling, draft).problems

    assert [(p.kind, set(p.keys)) for p in problems] == [(ProblemKind.OVERLAP, {a, b})]
    assert inside(problems[0], bite)


@PROPERTIES
@given(tilings(), st.data())
def test_injected_gap_is_reported_inside_it(tiling: Tiling, data: st.DataObject) -> None:
    a, _, edge_middle = data.draw(st.sampled_from(neighbours_of(tiling)))
    cells = tiling.cells
    notch = cells[a].intersection(disk(edge_middle))

    problems = check(tiling, {a: cells[a].difference(notch)}).problems

    assert [(p.kind, p.keys) for p in problems] == [(ProblemKind.GAP, (a,))]
    assert inside(problems[0], notch)


@PROPERTIES
@given(tilings(), st.data())
def test_injected_bowtie_is_reported_inside_its_cell(tiling: Tiling, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(tiling.cells)))
    i, j = int(key[1]), int(key[2])
    sw, se, ne, nw = tiling.corners(i, j)

    problems = check(tiling, {key: Polygon([sw, se, nw, ne])}).problems

    invalid = [p for p in problems if p.kind is ProblemKind.INVALID_POLYGON]
    assert [p.keys for p in invalid] == [(key,)]
    assert inside(invalid[0], tiling.cells[key])


@PROPERTIES
@given(tilings(), st.data())
def test_cell_leaving_the_community_is_reported_outside_it(
    tiling: Tiling, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, tiling.cols - 1))
    key = f"g{i}0"
    (x1, south), (x2, _) = tiling.node(i, 0), tiling.node(i + 1, 0)
    bulge = disk(Point((x1 + x2) / 2, south)).difference(tiling.outline)

    problems = check(tiling, {key: tiling.cells[key].union(bulge)}).problems

    assert [(p.kind, p.keys) for p in problems] == [(ProblemKind.OUTSIDE_OUTLINE, (key,))]
    assert inside(problems[0], bulge)
