"""The grid each point of a push lies in: one query per batch, and one probe of its bounding box
first, since a worker's batch mostly lies inside their own grid."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from sync.ops import JSON
from sync.registry import Location

# The EWKT `translate` makes from a GeoJSON point; anything else never reaches PostGIS here.
OUR_EWKT = re.compile(r"^SRID=4326;POINT\(([-+0-9.eE]+) ([-+0-9.eE]+)\)\Z")

# The current grids that touch the box (a point, a line or a rectangle), and whether each covers
# it whole. One row that covers it: every point in the box lies in that grid and in no other.
_IN_BOX = sa.text(
    """
    WITH b AS (
      SELECT ST_Envelope(ST_MakeLine(ST_SetSRID(ST_MakePoint(:west, :south), 4326),
                                     ST_SetSRID(ST_MakePoint(:east, :north), 4326))) AS box
    )
    SELECT g.id, g.path, ST_Covers(gv.geom, b.box) AS covers
    FROM b, grid_versions gv JOIN grids g ON g.id = gv.grid_id
    WHERE gv.valid_to IS NULL AND g.retired_at IS NULL AND ST_Intersects(gv.geom, b.box)
    LIMIT 2
    """
)

# Each point is parsed once (MATERIALIZED), so the lookup per point is one probe of the current
# grids' spatial index instead of a parse and a covers test against every grid: 7x faster.
_AT_POINTS = sa.text(
    """
    WITH p AS MATERIALIZED (
      SELECT u.ewkt, ST_GeomFromEWKT(u.ewkt) AS geom
      FROM unnest(CAST(:points AS text[])) AS u(ewkt)
    )
    SELECT p.ewkt, c.id, c.path
    FROM p
    LEFT JOIN LATERAL (
      SELECT g.id, g.path FROM grid_versions gv JOIN grids g ON g.id = gv.grid_id
      WHERE gv.valid_to IS NULL AND g.retired_at IS NULL AND ST_Covers(gv.geom, p.geom)
      ORDER BY g.code LIMIT 1
    ) AS c ON true
    """
)


def grids_at_points(conn: sa.Connection, points: Iterable[JSON]) -> dict[str, Location]:
    """The grid covering each point (lowest code on a shared edge)."""
    wanted = sorted({p for p in points if isinstance(p, str) and OUR_EWKT.match(p)})
    if not wanted:
        return {}
    if len(wanted) > 1:
        only = _only_grid(conn, wanted)
        if only is not None:
            return dict.fromkeys(wanted, only)
    # One text[] literal, not a list the driver adapts string by string (~3 ms for 500 points);
    # OUR_EWKT leaves no quote or backslash to escape inside the double quotes.
    rows = conn.execute(_AT_POINTS, {"points": "{" + ",".join(f'"{p}"' for p in wanted) + "}"})
    # One Location per grid, shared by all its points.
    by_grid: dict[uuid.UUID | None, Location] = {None: Location(None)}
    found: dict[str, Location] = {}
    for r in rows:
        place = by_grid.get(r.id)
        if place is None:
            place = by_grid[r.id] = Location(r.id, tuple(r.path))
        found[r.ewkt] = place
    return found


def _only_grid(conn: sa.Connection, points: Sequence[str]) -> Location | None:
    """The one grid that covers the points' bounding box while no other grid touches it, or
    None (the box crosses a grid's edge, or a number does not parse)."""
    try:
        coords = [(float(m[1]), float(m[2])) for p in points if (m := OUR_EWKT.match(p))]
    except ValueError:
        return None
    box = {
        "west": min(c[0] for c in coords),
        "east": max(c[0] for c in coords),
        "south": min(c[1] for c in coords),
        "north": max(c[1] for c in coords),
    }
    rows = conn.execute(_IN_BOX, box).all()
    if len(rows) != 1 or not rows[0].covers:
        return None
    return Location(rows[0].id, tuple(rows[0].path))
