"""GeoJSON in and out, parsing to a MultiPolygon, and validity and extent checks with a location.

Pure shapely 2: no database, no Flask. Coordinates are (lng, lat) in WGS84 / EPSG:4326.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

ACCEPTED_TYPES = ("Polygon", "MultiPolygon")

# shapely.is_valid_reason: "Self-intersection[108.71 34.31]" → reason and the point.
_REASON = re.compile(r"^(?P<reason>[^\[]+)\[(?P<x>\S+) (?P<y>\S+)\]$")


@dataclass(frozen=True)
class GeometryProblem:
    """Why a geometry is refused: a stable `kind`, a readable `message`, and where (lng, lat)."""

    kind: str
    message: str
    location: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The problem as plain JSON-ready data."""
        return {
            "kind": self.kind,
            "message": self.message,
            "location": list(self.location) if self.location else None,
        }


class GeometryRejected(ValueError):
    """Raised when input cannot even be read as a polygon; carries the problem."""

    def __init__(self, problem: GeometryProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class Extent:
    """An axis-aligned lng/lat box (the district's extent)."""

    min_lng: float
    min_lat: float
    max_lng: float
    max_lat: float

    @classmethod
    def parse(cls, text: str) -> Extent:
        """Read "minlng,minlat,maxlng,maxlat"; raises ValueError if malformed or inverted."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise ValueError("an extent is four numbers: minlng,minlat,maxlng,maxlat")
        min_lng, min_lat, max_lng, max_lat = (float(p) for p in parts)
        if not all(math.isfinite(v) for v in (min_lng, min_lat, max_lng, max_lat)):
            raise ValueError("extent values must be finite numbers")
        if not (-180 <= min_lng < max_lng <= 180 and -90 <= min_lat < max_lat <= 90):
            raise ValueError("extent must have min < max within lng -180..180, lat -90..90")
        return cls(min_lng, min_lat, max_lng, max_lat)

    def box(self) -> BaseGeometry:
        """The extent as a shapely polygon."""
        return shapely.box(self.min_lng, self.min_lat, self.max_lng, self.max_lat)


def parse_multipolygon(data: Any) -> MultiPolygon:
    """Read a GeoJSON Polygon or MultiPolygon into a 2-D MultiPolygon (holes kept).

    Raises GeometryRejected for other types, malformed coordinates, or an empty geometry.
    Validity (self-intersections and the like) is not checked here: see `validity_problem`.
    """
    if not isinstance(data, Mapping):
        raise GeometryRejected(GeometryProblem("not_geojson", "Expected a GeoJSON object."))
    kind = data.get("type")
    if kind not in ACCEPTED_TYPES:
        raise GeometryRejected(
            GeometryProblem(
                "wrong_type", f"Expected a GeoJSON Polygon or MultiPolygon, got {kind!r}."
            )
        )
    problem = coordinates_problem(kind, data.get("coordinates"))
    if problem is not None:
        raise GeometryRejected(problem)
    try:
        geom = shape(data)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise GeometryRejected(
            GeometryProblem("malformed", f"The coordinates cannot be read: {exc}")
        ) from exc
    if geom.is_empty:
        raise GeometryRejected(GeometryProblem("empty", "The geometry is empty."))
    # Heights mean nothing for a boundary and would not fit a 2-D column.
    geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    if not all(math.isfinite(v) for v in coords.flat):
        raise GeometryRejected(GeometryProblem("malformed", "Coordinates must be finite numbers."))
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    assert isinstance(geom, MultiPolygon)
    return geom


# JSON arrays arrive as lists; shapely's own `mapping()` produces tuples.
_ARRAY = (list, tuple)


def _finite_number(value: Any) -> bool:
    # bool is an int to Python, and shapely would read a numeric string; GeoJSON has neither.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def coordinates_problem(kind: str, coordinates: Any) -> GeometryProblem | None:
    """Why `coordinates` are not those of a GeoJSON `kind` (Polygon or MultiPolygon), or None.

    Checked before shapely sees them, because shapely quietly closes an open ring and turns
    strings and booleans into numbers (RFC 7946 3.1.6: a ring is closed, 4 positions or more).
    """
    if not isinstance(coordinates, _ARRAY):
        return GeometryProblem("malformed", "`coordinates` must be an array.")
    if not coordinates:
        return GeometryProblem("empty", "The geometry is empty.")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    for p, rings in enumerate(polygons, start=1):
        if not isinstance(rings, _ARRAY) or not rings:
            return GeometryProblem("malformed", f"Polygon {p} must be a non-empty array of rings.")
        for r, ring in enumerate(rings, start=1):
            where = f"polygon {p}, ring {r}"
            if not isinstance(ring, _ARRAY) or len(ring) < 4:
                return GeometryProblem(
                    "malformed", f"The ring at {where} needs at least 4 positions."
                )
            for n, position in enumerate(ring, start=1):
                if not (
                    isinstance(position, _ARRAY)
                    and 2 <= len(position) <= 3
                    and all(_finite_number(v) for v in position)
                ):
                    return GeometryProblem(
                        "malformed", f"Position {n} at {where} is not 2 or 3 finite numbers."
                    )
            first, last = ring[0], ring[-1]
            if tuple(first[:2]) != tuple(last[:2]):
                return GeometryProblem(
                    "ring_not_closed",
                    f"The ring at {where} must end at the position it starts from.",
                    (float(first[0]), float(first[1])),
                )
    return None


def validity_problem(geom: BaseGeometry) -> GeometryProblem | None:
    """Return why `geom` is invalid (e.g. a self-intersection) and where, or None if valid."""
    reason = shapely.is_valid_reason(geom)
    if reason == "Valid Geometry":
        return None
    match = _REASON.match(reason)
    if match is None:
        return GeometryProblem("invalid", reason)
    text = match.group("reason").strip()
    try:
        location: tuple[float, float] | None = (float(match.group("x")), float(match.group("y")))
    except ValueError:
        location = None
    kind = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "invalid"
    where = f" at ({location[0]}, {location[1]})" if location else ""
    return GeometryProblem(kind, f"{text}{where}.", location)


def extent_problem(geom: BaseGeometry, extent: Extent) -> GeometryProblem | None:
    """Return a problem located at the first vertex outside the district's extent, else None.

    Vertices suffice: the extent is a box, so a polygon whose vertices all lie in it lies in it.
    Unlike a GEOS overlay this cannot overflow on absurd coordinates.
    """
    coords = shapely.get_coordinates(geom)
    lng, lat = coords[:, 0], coords[:, 1]
    outside = (
        (lng < extent.min_lng)
        | (lng > extent.max_lng)
        | (lat < extent.min_lat)
        | (lat > extent.max_lat)
    )
    if not outside.any():
        return None
    x, y = coords[int(outside.argmax())]
    return GeometryProblem(
        "outside_extent",
        "The geometry reaches outside the district extent "
        f"({extent.min_lng},{extent.min_lat},{extent.max_lng},{extent.max_lat}).",
        (round(float(x), 7), round(float(y), 7)),
    )


def check_boundary(data: Any, extent: Extent) -> tuple[MultiPolygon | None, GeometryProblem | None]:
    """Parse and check a boundary: (geometry, None) when acceptable, else (None|geom, problem)."""
    try:
        geom = parse_multipolygon(data)
    except GeometryRejected as exc:
        return None, exc.problem
    # The extent first: it is cheap, and absurd coordinates never reach a GEOS validity check.
    problem = extent_problem(geom, extent) or validity_problem(geom)
    return geom, problem


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """Return `geom` as a GeoJSON geometry mapping (plain lists, JSON-serialisable)."""
    data = mapping(geom)
    return {"type": data["type"], "coordinates": _lists(data["coordinates"])}


def _lists(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value
