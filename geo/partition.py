"""Do a community's grids tile its outline? Every gap, overlap, stray or broken polygon, located.

Pure shapely 2: no database, no Flask. Coordinates are (lng, lat) in WGS84 / EPSG:4326.

Sizes are in m² by the local equal-area approximation of `geo.overlap.to_local_metres`: x is
scaled by cos(lat0) around one origin (the outline's centroid), both axes by the metres in one
degree of latitude (~111.2 km). All problems of one check are measured in that one frame, so a
tolerance means the same everywhere in the community; across a community a few kilometres wide
the error is far below 0.1%.

A problem area no larger than the tolerance is not a problem (a sliver left by digitising).
Invalid polygons are always problems, whatever their size.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.geometry import validity_problem
from geo.overlap import area_m2

# How close (in degrees, ~0.1 mm) a grid must come to a gap to count as bordering it: boundaries
# computed by overlay land within rounding error of the original edges, never exactly on them.
TOUCH_DEGREES = 1e-9

Origin = tuple[float, float]


class ProblemKind(enum.StrEnum):
    """What is wrong with the tiling."""

    INVALID_POLYGON = "invalid_polygon"
    OUTSIDE_OUTLINE = "outside_outline"
    OVERLAP = "overlap"
    GAP = "gap"
    # Redraw only: the draft covers land that none of its grids covered before.
    OUTSIDE_DRAFT = "outside_draft"


@dataclass(frozen=True)
class Problem:
    """One problem: its kind, the grid keys involved, a point (lng, lat) inside it, its size.

    `keys` is empty for a problem of the outline itself. For a gap it lists the grids around it.
    """

    kind: ProblemKind
    keys: tuple[str, ...]
    location: tuple[float, float]
    size_m2: float
    detail: str = ""


def origin_of(geom: BaseGeometry) -> Origin:
    """The (lng, lat) origin for measuring areas: the centroid of `geom`."""
    centroid = geom.centroid
    return (float(centroid.x), float(centroid.y))


def polygons_of(geom: BaseGeometry | None) -> list[Polygon]:
    """The non-empty polygons inside any geometry (lines and points of an overlay dropped)."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon) or geom.geom_type == "GeometryCollection":
        return [poly for part in shapely.get_parts(geom) for poly in polygons_of(part)]
    return []


def as_multipolygon(geom: BaseGeometry | None) -> MultiPolygon:
    """The polygonal part of `geom` as one MultiPolygon (empty if there is none)."""
    return MultiPolygon(polygons_of(geom))


def repaired(geom: BaseGeometry | None) -> MultiPolygon:
    """A valid MultiPolygon for `geom`, so that other checks can go on past a broken polygon."""
    if geom is None or geom.is_empty:
        return MultiPolygon()
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return as_multipolygon(geom)


def split_by_size(
    geom: BaseGeometry | None, origin: Origin, tolerance_m2: float
) -> tuple[list[tuple[Polygon, float]], list[Polygon]]:
    """Split the polygons of `geom` into (polygon, m²) above the tolerance and slivers at or
    below it."""
    large: list[tuple[Polygon, float]] = []
    slivers: list[Polygon] = []
    for poly in polygons_of(geom):
        size = area_m2(poly, origin)
        if size > tolerance_m2:
            large.append((poly, size))
        else:
            slivers.append(poly)
    return large, slivers


def area_problem(
    kind: ProblemKind, keys: Iterable[str], poly: BaseGeometry, size_m2: float
) -> Problem:
    """A problem for one offending area, located at a point guaranteed inside it."""
    point = poly.representative_point()
    return Problem(kind, tuple(keys), (float(point.x), float(point.y)), round(size_m2, 2))


def invalidity(
    keys: tuple[str, ...], geom: BaseGeometry | None, origin: Origin, fallback: BaseGeometry
) -> Problem | None:
    """An invalid_polygon problem if `geom` is empty, not polygonal or invalid; else None.

    The location is where GEOS found the fault (e.g. the crossing of a bowtie); `fallback`
    gives a point when there is none (an empty geometry).
    """
    if geom is None or geom.is_empty:
        return _invalid(keys, "empty geometry", fallback.representative_point(), 0.0)
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return _invalid(keys, f"not a polygon: {geom.geom_type}", geom.representative_point(), 0.0)
    found = validity_problem(geom)
    if found is None:
        return None
    size = area_m2(repaired(geom), origin)
    if found.location is None:
        return _invalid(keys, found.message, geom.envelope.representative_point(), size)
    lng, lat = found.location
    return Problem(ProblemKind.INVALID_POLYGON, keys, (lng, lat), round(size, 2), found.message)


def _invalid(keys: tuple[str, ...], detail: str, point: BaseGeometry, size: float) -> Problem:
    location = (float(point.x), float(point.y))
    return Problem(ProblemKind.INVALID_POLYGON, keys, location, round(size, 2), detail)


def overlapping_pairs(geoms: list[BaseGeometry]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of geometries whose envelopes and shapes intersect."""
    if len(geoms) < 2:
        return []
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    return sorted({(int(i), int(j)) for i, j in zip(left, right, strict=True) if i < j})


def bordering(area: BaseGeometry, grids: Mapping[str, BaseGeometry]) -> tuple[str, ...]:
    """Keys of the grids that touch or come within rounding distance of `area`."""
    return tuple(key for key, geom in grids.items() if shapely.dwithin(area, geom, TOUCH_DEGREES))


def check_partition(
    outline: BaseGeometry, parts: Mapping[str, BaseGeometry], tolerance_m2: float
) -> list[Problem]:
    """Every way in which `parts` (grid key → polygon) fail to tile `outline`, located and sized.

    Reports, in this order: invalid polygons (the outline's with no keys), areas of a grid
    outside the outline, overlaps between two grids, and gaps (outline covered by no grid).
    Areas no larger than `tolerance_m2` are ignored.
    """
    if tolerance_m2 < 0:
        raise ValueError("tolerance_m2 must not be negative")
    area = repaired(outline)
    if area.is_empty:
        raise ValueError("the outline is empty")
    origin = origin_of(area)
    problems: list[Problem] = []

    broken_outline = invalidity((), outline, origin, outline)
    if broken_outline is not None:
        problems.append(broken_outline)
    for key, geom in parts.items():
        broken = invalidity((key,), geom, origin, outline)
        if broken is not None:
            problems.append(broken)

    grids = {key: repaired(geom) for key, geom in parts.items()}

    for key, geom in grids.items():
        large, _ = split_by_size(geom.difference(area), origin, tolerance_m2)
        problems += [area_problem(ProblemKind.OUTSIDE_OUTLINE, (key,), p, s) for p, s in large]

    keys = list(grids)
    for i, j in overlapping_pairs([grids[key] for key in keys]):
        shared = grids[keys[i]].intersection(grids[keys[j]])
        large, _ = split_by_size(shared, origin, tolerance_m2)
        pair = (keys[i], keys[j])
        problems += [area_problem(ProblemKind.OVERLAP, pair, p, s) for p, s in large]

    covered = shapely.union_all(list(grids.values()))
    large, _ = split_by_size(area.difference(covered), origin, tolerance_m2)
    problems += [area_problem(ProblemKind.GAP, bordering(p, grids), p, s) for p, s in large]
    return problems
