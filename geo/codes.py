"""Number grids: a 15-digit grid code is the 12-digit community code + a 3-digit sequence.

Pure shapely 2: no database, no Flask. Coordinates are (lng, lat) in WGS84 / EPSG:4326.

Codes are stable: a grid that continues keeps its code, and a code once issued in a community
is never issued again (past reports name it). New grids take the lowest sequences nobody has
used in their kind's range, in reading order:

- Each new grid is placed by its representative point (a point guaranteed inside it).
- Rows: latitude bands `band_m` metres tall, counted southwards from the northernmost of
  the new grids' points: band = floor((lat_max − lat) · m/° ÷ band_m). Band 0 is numbered
  first, then band 1, and so on (north → south).
- Inside a band, west → east by longitude; equal longitudes north first, then by key.

The band keeps grids of one row together although their points are never at exactly one
latitude; choose `band_m` near the grids' typical north–south size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType

from shapely.geometry.base import BaseGeometry

from geo.overlap import EARTH_RADIUS_M

# Sequences per grid kind, inclusive (the kinds are server.hierarchy.models.GridKind values).
DEFAULT_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"comprehensive": (1, 899), "dedicated": (900, 999)}
)
DEFAULT_BAND_M = 250.0

_METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180.0
_COMMUNITY_CODE = re.compile(r"^[0-9]{12}$")
_GRID_CODE = re.compile(r"^[0-9]{15}$")


class CodeRangeExhausted(ValueError):
    """Raised when a community has no free sequence left in a kind's range."""

    def __init__(self, community_code: str, kind: str, bounds: tuple[int, int], short: int):
        low, high = bounds
        super().__init__(
            f"community {community_code} has no free {kind} grid code left in "
            f"{low:03d}–{high:03d} ({short} more needed)"
        )
        self.community_code = community_code
        self.kind = kind
        self.short = short


def reading_order(grids: Mapping[str, BaseGeometry], band_m: float = DEFAULT_BAND_M) -> list[str]:
    """The keys of `grids` north → south by latitude band, then west → east (see module doc)."""
    if band_m <= 0:
        raise ValueError("band_m must be positive")
    points = {key: geom.representative_point() for key, geom in grids.items()}
    if not points:
        return []
    top = max(float(point.y) for point in points.values())

    def place(key: str) -> tuple[int, float, float, str]:
        lng, lat = float(points[key].x), float(points[key].y)
        band = math.floor((top - lat) * _METRES_PER_DEGREE_LAT / band_m)
        return (band, lng, -lat, key)

    return sorted(points, key=place)


def assign_codes(
    community_code: str,
    grids: Mapping[str, BaseGeometry],
    existing_codes: Mapping[str, str],
    kind: str,
    ranges: Mapping[str, tuple[int, int]] = DEFAULT_RANGES,
    band_m: float = DEFAULT_BAND_M,
) -> dict[str, str]:
    """Codes for every grid in `grids` (key → polygon), all of kind `kind`.

    `existing_codes` (key → code) must hold every code ever issued in the community, retired
    grids' too: a key found there keeps its code, and no sequence in it is issued again.
    Raises CodeRangeExhausted when the kind's range has too few free sequences, ValueError on a
    malformed community code, an unknown kind, or an existing code of another community.
    """
    if not _COMMUNITY_CODE.match(community_code):
        raise ValueError(f"community code must be 12 digits: {community_code!r}")
    if kind not in ranges:
        raise ValueError(f"no code range for grid kind {kind!r}")
    low, high = ranges[kind]
    if not 1 <= low <= high <= 999:
        raise ValueError(f"code range for {kind!r} must lie within 001–999: {low}–{high}")
    for key, code in existing_codes.items():
        if not _GRID_CODE.match(code) or not code.startswith(community_code):
            raise ValueError(f"grid {key!r} has code {code!r}, not one of {community_code}")

    used = {int(code[12:]) for code in existing_codes.values()}
    codes = {key: existing_codes[key] for key in grids if key in existing_codes}
    new = {key: geom for key, geom in grids.items() if key not in existing_codes}
    free = (seq for seq in range(low, high + 1) if seq not in used)
    ordered = reading_order(new, band_m)
    for count, key in enumerate(ordered):
        seq = next(free, None)
        if seq is None:
            raise CodeRangeExhausted(community_code, kind, (low, high), len(ordered) - count)
        codes[key] = f"{community_code}{seq:03d}"
    return codes
