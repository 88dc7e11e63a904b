"""Areas in square metres and the overlap of a candidate boundary with its siblings.

Pure shapely 2: no database, no Flask. Input coordinates are (lng, lat) in WGS84 / EPSG:4326.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

# Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180.0

IdT = TypeVar("IdT")


@dataclass(frozen=True)
class Overlap(Generic[IdT]):
    """A sibling the candidate overlaps: its id and code, the shared area, and a point inside."""

    sibling_id: IdT
    code: str
    area_m2: float
    location: tuple[float, float]


def to_local_metres(geom: BaseGeometry, origin: tuple[float, float]) -> BaseGeometry:
    """Project lng/lat onto a plane in metres around `origin` (lng0, lat0).

    x = (lng − lng0)·cos(lat0)·m/°, y = (lat − lat0)·m/°: an equirectangular projection with
    the standard parallel at the origin. Near the origin it is (nearly) equal-area; for a grid
    or a community a few kilometres across the area error is far below 0.1%.
    """
    lng0, lat0 = origin
    scale_x = math.cos(math.radians(lat0)) * _M_PER_DEGREE

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty_like(coords)
        out[:, 0] = (coords[:, 0] - lng0) * scale_x
        out[:, 1] = (coords[:, 1] - lat0) * _M_PER_DEGREE
        return out

    return shapely.transform(geom, project)


def area_m2(geom: BaseGeometry, origin: tuple[float, float] | None = None) -> float:
    """Area of a lng/lat geometry in m², by the local equal-area approximation around its
    centroid (or `origin`): see `to_local_metres`."""
    if geom.is_empty:
        return 0.0
    if origin is None:
        centroid = geom.centroid
        origin = (centroid.x, centroid.y)
    return float(to_local_metres(geom, origin).area)


def find_overlaps(
    candidate: BaseGeometry,
    siblings: Iterable[tuple[IdT, str, BaseGeometry]],
    tolerance_m2: float,
) -> list[Overlap[IdT]]:
    """Every sibling (id, code, geometry) whose intersection with `candidate` exceeds
    `tolerance_m2`, largest first. Touching along an edge or at a point is no overlap.

    Areas use the local equal-area approximation centred on the candidate's centroid, so all
    intersections are measured in one frame.
    """
    centroid = candidate.centroid
    origin = (centroid.x, centroid.y)
    found: list[Overlap[IdT]] = []
    for sibling_id, code, geometry in siblings:
        if not candidate.intersects(geometry):
            continue
        shared = candidate.intersection(geometry)
        area = area_m2(shared, origin)
        if area > tolerance_m2:
            point = shared.representative_point()
            found.append(
                Overlap(sibling_id, code, round(area, 2), (round(point.x, 7), round(point.y, 7)))
            )
    found.sort(key=lambda o: o.area_m2, reverse=True)
    return found
