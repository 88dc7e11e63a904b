"""Validate a redraw of some grids inside one community, snap its slivers, preview what moves.

Pure shapely 2: no database, no Flask. Coordinates are (lng, lat) in WGS84 / EPSG:4326; sizes
in m² as in `geo.partition` (local equal-area approximation around the community's centroid).

A draft names some grids of one community: an existing key with a new polygon (reshaped), an
existing key with None (retired) or a new key with a polygon (a new grid). The community's
other grids are its neighbours and stay as they are. The rules (issue 5):

- every drafted polygon is valid;
- every drafted polygon lies inside the community;
- drafted grids overlap neither each other nor a neighbour;
- the draft covers after exactly the land it covered before: no gap opened (`gap`), nothing
  taken that none of its grids held (`outside_draft`).

Differences no larger than the tolerance are slivers, snapped rather than refused, in this
order: parts outside the community are cut off; overlaps with a neighbour are cut from the
drafted grid; an overlap between two drafted grids is cut from the later one (draft order);
land newly taken is cut off; and a gap is given to the drafted grid that shares the longest
border with it (left open if no drafted grid borders it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.overlap import area_m2, to_local_metres
from geo.partition import (
    TOUCH_DEGREES,
    Origin,
    Problem,
    ProblemKind,
    area_problem,
    as_multipolygon,
    invalidity,
    origin_of,
    overlapping_pairs,
    repaired,
    split_by_size,
)

# DE-9IM pattern: the interiors share an area (touching along an edge or a point does not count).
_SHARES_AREA = "2********"


@dataclass(frozen=True)
class RedrawResult:
    """The verdict on a draft: the problems found and the draft with its slivers snapped."""

    problems: tuple[Problem, ...]
    geometries: dict[str, MultiPolygon | None]

    @property
    def ok(self) -> bool:
        """True when the draft breaks no rule (after snapping slivers)."""
        return not self.problems


def validate_redraw(
    outline: BaseGeometry,
    current: Mapping[str, BaseGeometry],
    draft: Mapping[str, BaseGeometry | None],
    tolerance_m2: float,
) -> RedrawResult:
    """Check `draft` (key → new polygon, or None to retire) against the community `outline` and
    its `current` grids (key → polygon, all of them; those not in the draft are neighbours).

    Raises ValueError for a negative tolerance, an empty outline, or retiring an unknown key.
    """
    if tolerance_m2 < 0:
        raise ValueError("tolerance_m2 must not be negative")
    unknown = sorted(key for key, geom in draft.items() if geom is None and key not in current)
    if unknown:
        raise ValueError(f"cannot retire grids that do not exist: {', '.join(unknown)}")
    community = repaired(outline)
    if community.is_empty:
        raise ValueError("the outline is empty")
    snap = _Snapper(community, origin_of(community), tolerance_m2)

    for key, geom in draft.items():
        if geom is not None:
            broken = invalidity((key,), geom, snap.origin, community)
            if broken is not None:
                snap.problems.append(broken)

    grids = {key: repaired(geom) for key, geom in draft.items() if geom is not None}
    neighbours = {key: repaired(geom) for key, geom in current.items() if key not in draft}
    before = {key: repaired(current[key]) for key in draft if key in current}

    snap.cut_outside_community(grids)
    snap.cut_overlaps_with_neighbours(grids, neighbours)
    snap.cut_overlaps_within_draft(grids)
    covered_before = shapely.union_all(list(before.values()))
    snap.cut_land_taken(grids, covered_before, shapely.union_all(list(neighbours.values())))
    snap.fill_gaps(grids, before, covered_before)

    broken_keys = {key for problem in snap.problems for key in problem.keys}
    for key, geom in grids.items():
        if geom.is_empty and key not in broken_keys:
            # A drafted grid that was nothing but slivers: its whole area was cut away.
            point = repaired(draft[key]).representative_point()
            snap.problems.append(
                Problem(
                    ProblemKind.INVALID_POLYGON,
                    (key,),
                    (float(point.x), float(point.y)),
                    0.0,
                    "nothing left after snapping slivers",
                )
            )
    geometries = {key: (grids[key] if geom is not None else None) for key, geom in draft.items()}
    return RedrawResult(tuple(snap.problems), geometries)


class _Snapper:
    """The running state of one validation: the frame, the tolerance and the problems so far."""

    def __init__(self, community: MultiPolygon, origin: Origin, tolerance_m2: float) -> None:
        self.community = community
        self.origin = origin
        self.tolerance_m2 = tolerance_m2
        self.problems: list[Problem] = []

    def _split(self, geom: BaseGeometry) -> tuple[list[tuple[Polygon, float]], list[Polygon]]:
        return split_by_size(geom, self.origin, self.tolerance_m2)

    def cut_outside_community(self, grids: dict[str, MultiPolygon]) -> None:
        """Report parts of drafted grids outside the community; cut off the slivers."""
        for key, geom in grids.items():
            large, slivers = self._split(geom.difference(self.community))
            self.problems += [
                area_problem(ProblemKind.OUTSIDE_OUTLINE, (key,), p, s) for p, s in large
            ]
            grids[key] = _without(geom, slivers)

    def cut_overlaps_with_neighbours(
        self, grids: dict[str, MultiPolygon], neighbours: Mapping[str, MultiPolygon]
    ) -> None:
        """Report overlaps of drafted grids with neighbours; cut slivers from the drafted grid."""
        for key in grids:
            for other, geom in neighbours.items():
                if not grids[key].intersects(geom):
                    continue
                large, slivers = self._split(grids[key].intersection(geom))
                self.problems += [
                    area_problem(ProblemKind.OVERLAP, (key, other), p, s) for p, s in large
                ]
                grids[key] = _without(grids[key], slivers)

    def cut_overlaps_within_draft(self, grids: dict[str, MultiPolygon]) -> None:
        """Report overlaps between drafted grids; cut each sliver from the later grid."""
        keys = list(grids)
        for i, j in overlapping_pairs([grids[key] for key in keys]):
            first, later = keys[i], keys[j]
            large, slivers = self._split(grids[first].intersection(grids[later]))
            self.problems += [
                area_problem(ProblemKind.OVERLAP, (first, later), p, s) for p, s in large
            ]
            grids[later] = _without(grids[later], slivers)

    def cut_land_taken(
        self,
        grids: dict[str, MultiPolygon],
        covered_before: BaseGeometry,
        neighbours: BaseGeometry,
    ) -> None:
        """Report community land the draft now covers but did not before (and no neighbour
        holds: that is an overlap, already reported); cut off the slivers."""
        after = shapely.union_all(list(grids.values()))
        taken = after.intersection(self.community).difference(covered_before).difference(neighbours)
        large, slivers = self._split(taken)
        for poly, size in large:
            keys = _sharing_area(poly, grids)
            self.problems.append(area_problem(ProblemKind.OUTSIDE_DRAFT, keys, poly, size))
        for sliver in slivers:
            for key in _sharing_area(sliver, grids):
                grids[key] = _without(grids[key], [sliver])

    def fill_gaps(
        self,
        grids: dict[str, MultiPolygon],
        before: Mapping[str, MultiPolygon],
        covered_before: BaseGeometry,
    ) -> None:
        """Report land the draft covered before but no longer does (keyed by the grids that
        held it); give each sliver to the drafted grid sharing the longest border with it."""
        after = shapely.union_all(list(grids.values()))
        large, slivers = self._split(covered_before.difference(after))
        for poly, size in large:
            keys = _sharing_area(poly, before)
            self.problems.append(area_problem(ProblemKind.GAP, keys, poly, size))
        for sliver in slivers:
            heir = self._longest_border(sliver, grids)
            if heir is not None:
                grids[heir] = as_multipolygon(grids[heir].union(sliver))

    def _longest_border(self, sliver: Polygon, grids: Mapping[str, MultiPolygon]) -> str | None:
        """The key of the grid whose boundary runs longest along the sliver, in metres."""
        near = sliver.buffer(TOUCH_DEGREES)
        best: tuple[float, str] | None = None
        for key, geom in grids.items():
            if geom.is_empty or not near.intersects(geom):
                continue
            shared = geom.boundary.intersection(near)
            length = float(to_local_metres(shared, self.origin).length)
            if length > 0 and (best is None or length > best[0]):
                best = (length, key)
        return None if best is None else best[1]


def _without(geom: MultiPolygon, slivers: list[Polygon]) -> MultiPolygon:
    """`geom` with the slivers cut out."""
    if not slivers:
        return geom
    return as_multipolygon(geom.difference(shapely.union_all(slivers)))


def _sharing_area(area: BaseGeometry, grids: Mapping[str, BaseGeometry]) -> tuple[str, ...]:
    """Keys of the grids whose interior shares an area with `area`."""
    return tuple(
        key for key, geom in grids.items() if shapely.relate_pattern(geom, area, _SHARES_AREA)
    )


def moved_area(
    before: Mapping[str, BaseGeometry],
    after: Mapping[str, BaseGeometry | None],
    min_m2: float = 0.01,
) -> dict[tuple[str, str], float]:
    """For each (from_key, to_key), the m² that grid from_key held before and to_key holds after.

    Land a grid keeps is not listed, nor a pair moving no more than `min_m2` (overlay noise
    along shared edges). Land held by no grid on one side is not listed: `validate_redraw`
    reports it as a gap or as land taken.
    """
    old = {key: repaired(geom) for key, geom in before.items()}
    new = {key: repaired(geom) for key, geom in after.items() if geom is not None}
    if not old or not new:
        return {}
    origin = origin_of(shapely.union_all(list(old.values())))
    old_keys, new_keys = list(old), list(new)
    tree = shapely.STRtree([new[key] for key in new_keys])
    moved: dict[tuple[str, str], float] = {}
    for i, j in zip(
        *tree.query([old[key] for key in old_keys], predicate="intersects"), strict=True
    ):
        source, target = old_keys[int(i)], new_keys[int(j)]
        if source == target:
            continue
        size = round(area_m2(old[source].intersection(new[target]), origin), 2)
        if size > min_m2:
            moved[(source, target)] = size
    return moved
