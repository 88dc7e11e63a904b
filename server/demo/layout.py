"""The demo district as plain data: hierarchy, codes and geometries, drawn from a fixed seed.

Pure (shapely only): the same seed gives byte-identical WKT. Each community is a rectangle cut
into rows by jittered horizontal polylines and each row into grids by jittered vertical ones.
Neighbouring grids are built from the very same vertex lists, so their edges coincide exactly
and the grids tile the community outline with no gap and no overlap.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient

DEMO_SEED = 20261127
ROOT_NAME = "西咸新区"
# 7 decimals of a degree is about a centimetre; every vertex is rounded once, then shared.
DIGITS = 7
# Horizontal sample positions per community; vertical cuts start and end on these.
SAMPLES = 12
COMMUNITY_HEIGHT = 0.011  # degrees of latitude, about 1.2 km
ROW_JITTER = 0.15  # of a row's height
CUT_JITTER = 0.2  # of a sample spacing


@dataclass(frozen=True)
class CommunitySpec:
    """A community: its 3-digit village code, name and how many grids it is split into."""

    suffix: str
    name: str
    grids: int


@dataclass(frozen=True)
class TownSpec:
    """A town or street: 9-digit code, name, north-west corner, communities west to east."""

    code: str
    name: str
    west: float
    north: float
    communities: tuple[CommunitySpec, ...]


@dataclass(frozen=True)
class CitySpec:
    """A new city (a functional zone without a statutory code) and its towns."""

    name: str
    towns: tuple[TownSpec, ...]


# Shaped like Xixian New Area (西咸新区): codes follow the statistical division code (county
# 610112 / 610404 + township 001–099 street, 100–199 town + village 001–199 residents',
# 200–399 villagers' committee) but are demo values, not an authoritative list.
DISTRICT: tuple[CitySpec, ...] = (
    CitySpec(
        "沣东新城",
        (
            TownSpec(
                "610112011",
                "三桥街道",
                108.800,
                34.290,
                (
                    CommunitySpec("001", "车辆社区", 5),
                    CommunitySpec("002", "三桥新街社区", 7),
                    CommunitySpec("003", "天台路社区", 4),
                ),
            ),
            TownSpec(
                "610112012",
                "王寺街道",
                108.745,
                34.262,
                (
                    CommunitySpec("001", "王寺社区", 6),
                    CommunitySpec("002", "西沣路社区", 8),
                    CommunitySpec("201", "新军寨村", 3),
                ),
            ),
        ),
    ),
    CitySpec(
        "秦汉新城",
        (
            TownSpec(
                "610404003",
                "窑店街道",
                108.815,
                34.372,
                (
                    CommunitySpec("001", "长兴社区", 5),
                    CommunitySpec("002", "窑店社区", 6),
                    CommunitySpec("201", "毛王村", 4),
                ),
            ),
            TownSpec(
                "610404101",
                "周陵镇",
                108.690,
                34.405,
                (
                    CommunitySpec("201", "周陵村", 3),
                    CommunitySpec("202", "严家沟村", 5),
                    CommunitySpec("203", "新庄村", 6),
                ),
            ),
        ),
    ),
)


@dataclass(frozen=True)
class UnitPlan:
    """An org unit to create; `key` is its code, or its name when it has no code."""

    key: str
    code: str | None
    name: str
    level: str
    parent_key: str | None
    outline: MultiPolygon | None = None


@dataclass(frozen=True)
class GridPlan:
    """A grid to create inside the community `community_key`."""

    code: str
    name: str
    community_key: str
    geom: MultiPolygon


@dataclass(frozen=True)
class DistrictPlan:
    """Every unit (parents before children) and every grid (in code order) of the district."""

    units: tuple[UnitPlan, ...]
    grids: tuple[GridPlan, ...]


Point = tuple[float, float]


def _r(value: float) -> float:
    return round(value, DIGITS)


def _row_counts(grids: int) -> list[int]:
    """Grids per row, north to south: two rows up to six grids, three beyond."""
    rows = 2 if grids <= 6 else 3
    base, extra = divmod(grids, rows)
    return [base + (1 if i < extra else 0) for i in range(rows)]


def _horizontal_cuts(
    rng: random.Random, xs: list[float], north: float, rows: int, row_height: float
) -> list[list[Point]]:
    """rows + 1 polylines west to east; the outer two are straight, the inner ones jittered."""
    cuts: list[list[Point]] = []
    for k in range(rows + 1):
        y = north - k * row_height
        if k in (0, rows):
            cuts.append([(x, _r(y)) for x in xs])
        else:
            cuts.append(
                [(x, _r(y + rng.uniform(-ROW_JITTER, ROW_JITTER) * row_height)) for x in xs]
            )
    return cuts


def _vertical_cut(rng: random.Random, top: Point, bottom: Point, spacing: float) -> list[Point]:
    """A polyline from `top` to `bottom` with two jittered inner vertices."""
    inner = [
        (
            _r(top[0] + rng.uniform(-CUT_JITTER, CUT_JITTER) * spacing),
            _r(top[1] + f * (bottom[1] - top[1])),
        )
        for f in (1 / 3, 2 / 3)
    ]
    return [top, *inner, bottom]


def _cut_indices(rng: random.Random, columns: int) -> list[int]:
    """Sample indices of the vertical cuts of one row: evenly spread, nudged by one at most."""
    return [round(c * SAMPLES / columns) + rng.randint(-1, 1) for c in range(1, columns)]


def _cell(
    top: list[Point], bottom: list[Point], left: list[Point], right: list[Point], a: int, b: int
) -> MultiPolygon:
    """The grid between samples a and b of a row, from the shared chains of its four sides."""
    ring = top[a : b + 1] + right[1:-1] + bottom[a : b + 1][::-1] + left[::-1][1:-1]
    return MultiPolygon([orient(Polygon(ring), 1.0)])


def community_grids(
    rng: random.Random, west: float, north: float, width: float, grids: int
) -> tuple[MultiPolygon, list[MultiPolygon]]:
    """A community outline and its grids, numbered west→east within rows, rows north→south."""
    counts = _row_counts(grids)
    row_height = COMMUNITY_HEIGHT / len(counts)
    spacing = width / SAMPLES
    xs = [_r(west + j * spacing) for j in range(SAMPLES + 1)]
    cuts = _horizontal_cuts(rng, xs, north, len(counts), row_height)
    cells: list[MultiPolygon] = []
    for row, columns in enumerate(counts):
        top, bottom = cuts[row], cuts[row + 1]
        bounds = [0, *_cut_indices(rng, columns), SAMPLES]
        # The outer west and east sides stay straight lines.
        sides = [
            [top[j], bottom[j]]
            if j in (0, SAMPLES)
            else _vertical_cut(rng, top[j], bottom[j], spacing)
            for j in bounds
        ]
        for c in range(columns):
            cells.append(_cell(top, bottom, sides[c], sides[c + 1], bounds[c], bounds[c + 1]))
    east = [cut[-1] for cut in cuts]
    west_side = [cut[0] for cut in cuts]
    ring = cuts[0] + east[1:-1] + cuts[-1][::-1] + west_side[::-1][1:-1]
    outline = MultiPolygon([orient(Polygon(ring), 1.0)])
    return outline, cells


def plan_district(seed: int = DEMO_SEED) -> DistrictPlan:
    """Draw the whole demo district from `seed`; the same seed always gives the same plan."""
    rng = random.Random(seed)
    units: list[UnitPlan] = [UnitPlan(ROOT_NAME, None, ROOT_NAME, "new_area", None)]
    grids: list[GridPlan] = []
    for city in DISTRICT:
        units.append(UnitPlan(city.name, None, city.name, "new_city", ROOT_NAME))
        for town in city.towns:
            units.append(UnitPlan(town.code, town.code, town.name, "town", city.name))
            west = town.west
            for spec in town.communities:
                code = town.code + spec.suffix
                width = _r(rng.uniform(0.011, 0.016))
                outline, cells = community_grids(rng, west, town.north, width, spec.grids)
                units.append(UnitPlan(code, code, spec.name, "community", town.code, outline))
                for n, cell in enumerate(cells, start=1):
                    grids.append(GridPlan(f"{code}{n:03d}", f"{spec.name}第{n}网格", code, cell))
                west = _r(west + width)
    return DistrictPlan(tuple(units), tuple(grids))
