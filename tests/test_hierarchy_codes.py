"""Division and grid code rules (pure)."""

from __future__ import annotations

import pytest

from server.hierarchy.codes import division_code_problem, grid_code_problem, next_grid_code
from server.hierarchy.models import GridKind, OrgLevel

TOWN = "610116001"
COMMUNITY = "610116001002"


@pytest.mark.parametrize("code", ["610116001", "610116100", "610116399"])
def test_town_code_is_county_plus_township(code: str) -> None:
    assert division_code_problem(OrgLevel.TOWN, code, None) is None


@pytest.mark.parametrize("code", ["61011600", "6101160011", "610116000", "610116400", "61011600a"])
def test_malformed_town_code_is_refused(code: str) -> None:
    assert division_code_problem(OrgLevel.TOWN, code, None) is not None


def test_town_needs_a_code() -> None:
    assert division_code_problem(OrgLevel.TOWN, None, None) is not None


def test_community_code_extends_its_towns_code() -> None:
    assert division_code_problem(OrgLevel.COMMUNITY, COMMUNITY, TOWN) is None


def test_community_code_of_another_town_is_refused() -> None:
    assert division_code_problem(OrgLevel.COMMUNITY, "610116002002", TOWN) is not None


@pytest.mark.parametrize("code", ["610116001000", "610116001400", "61011600100"])
def test_community_village_digits_are_001_to_399(code: str) -> None:
    assert division_code_problem(OrgLevel.COMMUNITY, code, TOWN) is not None


@pytest.mark.parametrize("level", [OrgLevel.NEW_AREA, OrgLevel.NEW_CITY])
def test_functional_zones_may_have_no_code(level: OrgLevel) -> None:
    assert division_code_problem(level, None, None) is None


def test_grid_code_is_community_code_plus_sequence() -> None:
    assert grid_code_problem(f"{COMMUNITY}001", COMMUNITY, GridKind.COMPREHENSIVE) is None
    assert grid_code_problem(f"{COMMUNITY}900", COMMUNITY, GridKind.DEDICATED) is None


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (f"{COMMUNITY}000", GridKind.COMPREHENSIVE),
        (f"{COMMUNITY}900", GridKind.COMPREHENSIVE),
        (f"{COMMUNITY}899", GridKind.DEDICATED),
        ("610116001003001", GridKind.COMPREHENSIVE),
        (f"{COMMUNITY}01", GridKind.COMPREHENSIVE),
    ],
)
def test_grid_code_outside_its_community_or_range_is_refused(code: str, kind: GridKind) -> None:
    assert grid_code_problem(code, COMMUNITY, kind) is not None


def test_next_grid_code_takes_the_lowest_unused_sequence() -> None:
    used = [f"{COMMUNITY}001", f"{COMMUNITY}003", f"{COMMUNITY}900"]
    assert next_grid_code(COMMUNITY, GridKind.COMPREHENSIVE, used) == f"{COMMUNITY}002"
    assert next_grid_code(COMMUNITY, GridKind.DEDICATED, used) == f"{COMMUNITY}901"


def test_next_grid_code_is_none_when_the_range_is_full() -> None:
    used = [f"{COMMUNITY}{n:03d}" for n in range(900, 1000)]
    assert next_grid_code(COMMUNITY, GridKind.DEDICATED, used) is None
