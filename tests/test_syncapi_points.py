"""The grid each point of a push lies in: the bounding-box probe answers only when one grid
covers the whole box and no other touches it; every other batch is located point by point."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from server.extensions import db
from server.hierarchy.models import Grid
from server.syncapi.points import grids_at_points
from tests.factories import OrgTree, make_grid, make_org_tree, square_wkt

# An L: the square (108.90, 34.20)-(108.92, 34.22) without its north-east quarter.
L_SHAPE = (
    "POLYGON ((108.90 34.20, 108.92 34.20, 108.92 34.21, 108.91 34.21, 108.91 34.22, "
    "108.90 34.22, 108.90 34.20))"
)


def ewkt(lng: float, lat: float) -> str:
    return f"SRID=4326;POINT({lng} {lat})"


@pytest.fixture
def tree(client: FlaskClient) -> OrgTree:
    return make_org_tree()


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """The SQL statements run while the test runs."""
    seen: list[str] = []
    engine = db.engine

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def located(points: list[str]) -> dict[str, object]:
    found = grids_at_points(db.session.connection(), points)
    return {p: found[p].grid_id for p in points}


def test_a_batch_inside_one_grid_is_located_by_one_probe_of_its_box(
    tree: OrgTree, statements: list[str]
) -> None:
    grid = make_grid(tree.community, square_wkt(108.90, 34.20))
    make_grid(tree.community, square_wkt(108.91, 34.20))  # the neighbour east, box clear of it
    points = [ewkt(108.901 + n * 0.001, 34.201 + n * 0.0005) for n in range(6)]
    del statements[:]
    found = grids_at_points(db.session.connection(), points)
    ran = list(statements)
    assert {p: place.grid_id for p, place in found.items()} == dict.fromkeys(points, grid.id)
    assert {tuple(place.scope_path) for place in found.values()} == {tuple(grid.path)}
    assert len(ran) == 1
    assert "ST_Envelope" in ran[0]


def test_points_on_one_vertical_line_take_their_grid(tree: OrgTree) -> None:
    grid = make_grid(tree.community, square_wkt(108.90, 34.20))
    points = [ewkt(108.905, 34.201), ewkt(108.905, 34.209)]
    assert located(points) == dict.fromkeys(points, grid.id)


def test_points_in_two_grids_each_take_their_own(tree: OrgTree) -> None:
    west = make_grid(tree.community, square_wkt(108.90, 34.20))
    east = make_grid(tree.community, square_wkt(108.91, 34.20))
    points = [ewkt(108.905, 34.205), ewkt(108.915, 34.205)]
    assert located(points) == {points[0]: west.id, points[1]: east.id}


def test_a_point_on_a_shared_edge_takes_the_lowest_code(tree: OrgTree) -> None:
    west = make_grid(tree.community, square_wkt(108.90, 34.20))
    east = make_grid(tree.community, square_wkt(108.91, 34.20))
    lowest = min((west, east), key=lambda g: g.code)
    edge, inside = ewkt(108.91, 34.205), ewkt(108.905, 34.205)
    assert located([inside, edge]) == {inside: west.id, edge: lowest.id}


def test_a_box_touching_another_grid_only_at_its_edge_is_located_point_by_point(
    tree: OrgTree,
) -> None:
    # Both points lie in the west grid, which covers their box; the east grid, made first so its
    # code is the lower, touches the box only along the shared edge, where one point lies.
    east = make_grid(tree.community, square_wkt(108.91, 34.20))
    west = make_grid(tree.community, square_wkt(108.90, 34.20))
    assert east.code < west.code
    edge, inside = ewkt(108.91, 34.201), ewkt(108.909, 34.209)
    assert located([inside, edge]) == {inside: west.id, edge: east.id}


def test_a_box_reaching_outside_a_concave_grid_is_located_point_by_point(
    tree: OrgTree,
) -> None:
    grid = make_grid(tree.community, L_SHAPE)
    arms = [ewkt(108.915, 34.205), ewkt(108.905, 34.215)]  # the box covers the missing quarter
    outside = ewkt(108.915, 34.215)  # in the missing quarter, in no grid
    assert located([*arms, outside]) == {arms[0]: grid.id, arms[1]: grid.id, outside: None}
    assert located(arms) == dict.fromkeys(arms, grid.id)


def test_a_point_in_no_grid_beside_points_in_one_is_in_none(tree: OrgTree) -> None:
    grid = make_grid(tree.community, square_wkt(108.90, 34.20))
    inside, outside = ewkt(108.905, 34.205), ewkt(108.95, 34.205)
    assert located([inside, outside]) == {inside: grid.id, outside: None}


def test_a_retired_grid_in_the_box_does_not_hold_points(tree: OrgTree) -> None:
    old = make_grid(tree.community, square_wkt(108.90, 34.20))
    old_row = db.session.get(Grid, old.id)
    assert old_row is not None
    old_row.retired_at = sa.func.now()
    db.session.commit()
    new = make_grid(tree.community, square_wkt(108.90, 34.20))
    points = [ewkt(108.901, 34.201), ewkt(108.909, 34.209)]
    assert located(points) == dict.fromkeys(points, new.id)


@pytest.mark.parametrize("first_made", [1, 2])
def test_points_where_two_grids_overlap_take_the_lowest_code(
    tree: OrgTree, first_made: int
) -> None:
    codes = {n: f"{tree.community.code}{n:03d}" for n in (1, 2)}
    later = 3 - first_made
    made = {
        n: make_grid(tree.community, square_wkt(108.90, 34.20), code=codes[n])
        for n in (first_made, later)
    }
    points = [ewkt(108.901, 34.201), ewkt(108.909, 34.209)]
    assert located(points) == dict.fromkeys(points, made[1].id)
