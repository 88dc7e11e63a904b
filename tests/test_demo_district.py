"""The demo district generator: deterministic, correctly coded, grids tiling their communities."""

from __future__ import annotations

import functools
import itertools
import re

from flask import Flask
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import select, text

from geo.codes import reading_order
from server.demo.district import DEMO_VALID_FROM, build_district
from server.demo.layout import DEMO_SEED, DistrictPlan, GridPlan, UnitPlan, plan_district
from server.extensions import db
from server.hierarchy.models import Grid, GridVersion, OrgUnit

# In square degrees; one square degree is about 10^10 m² here, so this is about 0.01 m².
AREA_TOLERANCE = 1e-12


@functools.cache
def _plan() -> DistrictPlan:
    return plan_district(DEMO_SEED)


def _units(level: str) -> list[UnitPlan]:
    return [unit for unit in _plan().units if unit.level == level]


def _grids_of(community: UnitPlan) -> list[GridPlan]:
    return [grid for grid in _plan().grids if grid.community_key == community.key]


def _wkts(plan: DistrictPlan) -> list[tuple[str, str]]:
    units = [(u.key, u.outline.wkt if u.outline else "") for u in plan.units]
    return units + [(g.code, g.geom.wkt) for g in plan.grids]


def test_the_same_seed_draws_byte_identical_geometries() -> None:
    assert _wkts(plan_district(DEMO_SEED)) == _wkts(plan_district(DEMO_SEED))


def test_another_seed_draws_other_geometries_with_the_same_codes() -> None:
    other = plan_district(DEMO_SEED + 1)
    assert [g.code for g in other.grids] == [g.code for g in _plan().grids]
    assert [g.geom.wkt for g in other.grids] != [g.geom.wkt for g in _plan().grids]


def test_the_hierarchy_has_one_new_area_two_new_cities_four_towns_twelve_communities() -> None:
    counts = {level: len(_units(level)) for level in ("new_area", "new_city", "town", "community")}
    assert counts == {"new_area": 1, "new_city": 2, "town": 4, "community": 12}
    assert 55 <= len(_plan().grids) <= 65


def test_communities_have_between_three_and_eight_grids_in_varying_numbers() -> None:
    sizes = [len(_grids_of(community)) for community in _units("community")]
    assert min(sizes) == 3
    assert max(sizes) == 8


def test_new_area_and_new_cities_have_no_statutory_code() -> None:
    assert all(unit.code is None for unit in _units("new_area") + _units("new_city"))


def test_town_codes_are_a_county_code_and_a_street_or_town_number() -> None:
    for town in _units("town"):
        assert town.code is not None
        assert re.fullmatch(r"\d{9}", town.code)
        township = int(town.code[6:])
        if town.name.endswith("街道"):
            assert 1 <= township <= 99
        else:
            assert town.name.endswith("镇")
            assert 100 <= township <= 199


def test_community_codes_extend_their_town_with_a_committee_number() -> None:
    for community in _units("community"):
        assert community.code is not None
        assert re.fullmatch(r"\d{12}", community.code)
        assert community.code[:9] == community.parent_key
        committee = int(community.code[9:])
        if community.name.endswith("社区"):
            assert 1 <= committee <= 199
        else:
            assert community.name.endswith("村")
            assert 200 <= committee <= 399


def test_grid_codes_extend_their_community_with_a_running_number() -> None:
    for community in _units("community"):
        codes = [grid.code for grid in _grids_of(community)]
        assert codes == [f"{community.code}{n:03d}" for n in range(1, len(codes) + 1)]


def test_every_grid_and_outline_is_a_valid_polygon() -> None:
    assert all(grid.geom.is_valid and not grid.geom.is_empty for grid in _plan().grids)
    assert all(c.outline is not None and c.outline.is_valid for c in _units("community"))


def test_grids_cover_their_community_without_a_gap() -> None:
    for community in _units("community"):
        union = unary_union([grid.geom for grid in _grids_of(community)])
        assert community.outline is not None
        assert union.symmetric_difference(community.outline).area < AREA_TOLERANCE


def test_grids_of_a_community_do_not_overlap() -> None:
    for community in _units("community"):
        for a, b in itertools.combinations(_grids_of(community), 2):
            assert a.geom.intersection(b.geom).area < AREA_TOLERANCE, (a.code, b.code)


def _rows(grids: list[GridPlan]) -> list[list[BaseGeometry]]:
    """Split grids in code order into runs whose centroids move east."""
    rows: list[list[BaseGeometry]] = []
    for grid in grids:
        if rows and grid.geom.centroid.x > rows[-1][-1].centroid.x:
            rows[-1].append(grid.geom)
        else:
            rows.append([grid.geom])
    return rows


def test_grid_codes_run_west_to_east_then_north_to_south() -> None:
    for community in _units("community"):
        assert community.outline is not None
        west, _, east, _ = community.outline.bounds
        rows = _rows(_grids_of(community))
        assert len(rows) > 1
        for row in rows:
            # Each run of codes is a whole row: it starts at the west edge and ends at the east.
            assert row[0].bounds[0] == west
            assert row[-1].bounds[2] == east
        for upper, lower in itertools.pairwise(rows):
            assert max(g.centroid.y for g in lower) < min(g.centroid.y for g in upper)


def test_the_district_lies_in_xixian_new_area() -> None:
    west, south, east, north = unary_union([grid.geom for grid in _plan().grids]).bounds
    assert 108.6 < west < east < 108.9
    assert 34.2 < south < north < 34.5


def test_stored_grids_tile_their_community_in_postgis(app: Flask) -> None:
    build_district(db.session(), DEMO_SEED)
    db.session.commit()
    rows = db.session.execute(
        text(
            """
            SELECT c.code,
                   bool_and(ST_IsValid(v.geom)) AS valid,
                   ST_Area(ST_SymDifference(ST_Union(v.geom), c.boundary)) AS gap
            FROM org_units c
            JOIN grids g ON g.community_id = c.id
            JOIN grid_versions v ON v.grid_id = g.id AND v.valid_to IS NULL
            GROUP BY c.code, c.boundary
            """
        )
    ).all()
    assert len(rows) == 12
    assert all(row.valid and row.gap < AREA_TOLERANCE for row in rows)
    overlap = db.session.scalar(
        text(
            """
            SELECT coalesce(max(ST_Area(ST_Intersection(va.geom, vb.geom))), 0)
            FROM grids a JOIN grids b ON a.community_id = b.community_id AND a.id < b.id
            JOIN grid_versions va ON va.grid_id = a.id
            JOIN grid_versions vb ON vb.grid_id = b.id
            """
        )
    )
    assert overlap < AREA_TOLERANCE


def test_stored_grids_carry_their_community_path_and_a_current_version(app: Flask) -> None:
    build_district(db.session(), DEMO_SEED)
    db.session.commit()
    for grid, community in db.session.execute(
        select(Grid, OrgUnit).join(OrgUnit, OrgUnit.id == Grid.community_id)
    ):
        assert grid.path == community.path
        assert community.path[-1] == community.id
    versions = db.session.scalars(select(GridVersion)).all()
    assert len(versions) == len(_plan().grids)
    assert all(v.valid_to is None and v.valid_from == DEMO_VALID_FROM for v in versions)


def test_grid_codes_agree_with_the_numbering_rule_of_the_grids_api() -> None:
    for community in _units("community"):
        grids = {grid.code: grid.geom for grid in _grids_of(community)}
        assert reading_order(grids) == sorted(grids)
