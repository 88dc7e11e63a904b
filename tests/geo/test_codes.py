"""Numbering grids: kept codes, reading order north → south then west → east, ranges."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon, box

from geo.codes import CodeRangeExhausted, assign_codes, reading_order

COMMUNITY = "110105001001"
# One cell is 0.004° (~340 m east–west, ~445 m north–south) at Beijing, taller than a band.
STEP = 0.004


def cell(col: int, row: int, lift: float = 0.0) -> Polygon:
    """The cell `col` columns east and `row` rows south of the north-west corner, `lift`° up."""
    west, north = 116.400 + col * STEP, 39.910 - row * STEP + lift
    return box(west, north - STEP, west + STEP, north)


def code(seq: int) -> str:
    """The community's grid code with sequence `seq`."""
    return f"{COMMUNITY}{seq:03d}"


def test_new_grids_are_numbered_north_to_south_then_west_to_east() -> None:
    grids = {"se": cell(1, 1), "nw": cell(0, 0), "sw": cell(0, 1), "ne": cell(1, 0)}

    codes = assign_codes(COMMUNITY, grids, {}, "comprehensive")

    assert codes == {"nw": code(1), "ne": code(2), "sw": code(3), "se": code(4)}


def test_a_slightly_higher_grid_east_stays_in_the_row() -> None:
    # The east cell sits ~30 m higher than the west one: one row within a 250 m band.
    grids = {"east": cell(1, 0, lift=0.00027), "west": cell(0, 0), "south": cell(0, 3)}

    assert reading_order(grids) == ["west", "east", "south"]


def test_a_narrow_band_splits_what_a_wide_band_keeps_in_one_row() -> None:
    grids = {"east": cell(1, 0, lift=0.00027), "west": cell(0, 0)}

    assert reading_order(grids, band_m=10.0) == ["east", "west"]


def test_continuing_grids_keep_their_codes() -> None:
    grids = {"old": cell(1, 1), "new": cell(0, 0)}

    codes = assign_codes(COMMUNITY, grids, {"old": code(7)}, "comprehensive")

    assert codes == {"old": code(7), "new": code(1)}


def test_codes_of_retired_grids_are_not_issued_again() -> None:
    existing = {"gone": code(1), "kept": code(2)}

    codes = assign_codes(
        COMMUNITY, {"kept": cell(0, 0), "new": cell(1, 0)}, existing, "comprehensive"
    )

    assert codes == {"kept": code(2), "new": code(3)}


def test_dedicated_grids_are_numbered_from_900() -> None:
    codes = assign_codes(COMMUNITY, {"school": cell(0, 0)}, {"a": code(1)}, "dedicated")

    assert codes == {"school": code(900)}


def test_ranges_are_configurable() -> None:
    ranges = {"comprehensive": (1, 499), "dedicated": (500, 999)}

    codes = assign_codes(COMMUNITY, {"park": cell(0, 0)}, {}, "dedicated", ranges=ranges)

    assert codes == {"park": code(500)}


def test_exhausted_range_raises_a_clear_error() -> None:
    existing = {f"g{seq}": code(seq) for seq in range(900, 999)}
    grids = {"one": cell(0, 0), "two": cell(1, 0), "three": cell(2, 0)}

    with pytest.raises(CodeRangeExhausted, match=r"dedicated grid code left in 900–999 \(2 more"):
        assign_codes(COMMUNITY, grids, existing, "dedicated")


def test_malformed_community_code_is_refused() -> None:
    with pytest.raises(ValueError, match="12 digits"):
        assign_codes("11010500100", {"a": cell(0, 0)}, {}, "comprehensive")


def test_existing_code_of_another_community_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        assign_codes(COMMUNITY, {"a": cell(0, 0)}, {"a": "110105001002001"}, "comprehensive")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="no code range"):
        assign_codes(COMMUNITY, {"a": cell(0, 0)}, {}, "special")
