"""A large synthetic district for benchmarks, loaded set-based (INSERT … SELECT generate_series).

Shape: new area > new city > town > `communities` communities side by side, west to east; each
community is a rectangle tiled by `rows` × `cols` rectangular grids, coded west→east,
north→south. Addresses are spread round-robin over all grids with a random point strictly
inside their grid; every address has one house and `persons_per_house` persons living in it.
Records are written already placed (grid_id, scope_path), as `place()` would place them.

One million records (250,000 addresses + houses, 500,000 persons) load in about three minutes
on a busy 2-core machine: nothing is built row by row in Python, and by default the sync
change-log triggers are switched off for the load (a pre-existing district has no history a
phone needs to replay; with them on, every inserted row also writes ~15 field-stamp rows).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

# Ids are md5-derived from (namespace, kind, sequence) so a row's id can be computed without a
# lookup: a house knows its address's id, a person their house's.
_ID = "md5(:ns || ':{kind}:' || ({seq})::text)::uuid"
COUNTY_CODE = "610116"
TRACKED_LOAD_TABLES = ("addresses", "houses", "persons")


@dataclass(frozen=True)
class DistrictSpec:
    """How big the district is and where it lies (degrees, EPSG:4326)."""

    communities: int = 4
    rows: int = 5
    cols: int = 10
    addresses: int = 250_000
    persons_per_house: int = 2
    west: float = 108.80
    north: float = 34.30
    community_width: float = 0.05
    community_height: float = 0.025
    seed: float = 0.42

    @property
    def grids(self) -> int:
        """Grids in the whole district."""
        return self.communities * self.rows * self.cols

    @property
    def records(self) -> int:
        """Addresses + houses + persons."""
        return self.addresses * (2 + self.persons_per_house)

    @property
    def grid_width(self) -> float:
        """Width of one grid in degrees."""
        return self.community_width / self.cols

    @property
    def grid_height(self) -> float:
        """Height of one grid in degrees."""
        return self.community_height / self.rows

    def community_bounds(self, index: int) -> tuple[float, float, float, float]:
        """(west, south, east, north) of community `index` (0 = westernmost)."""
        w = self.west + index * self.community_width
        return (w, self.north - self.community_height, w + self.community_width, self.north)


@dataclass(frozen=True)
class District:
    """What `load_district` wrote: org unit ids and each community's grid ids by (row, col)."""

    spec: DistrictSpec
    namespace: str
    town_id: uuid.UUID
    community_ids: list[uuid.UUID]
    community_codes: list[str]
    grid_ids: list[dict[tuple[int, int], uuid.UUID]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def grid(self, community: int, row: int, col: int) -> uuid.UUID:
        """The id of a grid by position (row 0 is the northern row, col 0 the western column)."""
        return self.grid_ids[community][(row, col)]


_GRIDS = """
INSERT INTO grids (id, code, name, kind, community_id, path, version)
SELECT md5(:ns || ':grid:' || c.code || ':' || s::text)::uuid,
       c.code || lpad(s::text, 3, '0'), 'bench grid ' || lpad(s::text, 3, '0'),
       'comprehensive', c.id, c.path, 1
FROM org_units c, generate_series(1, :per_community) AS s
WHERE c.id = ANY(:communities)
"""

_GRID_VERSIONS = """
INSERT INTO grid_versions (id, grid_id, geom, valid_from)
SELECT gen_random_uuid(), g.id,
       ST_Multi(ST_MakeEnvelope(
           ST_XMin(c.boundary) + (k.col) * :gw, ST_YMax(c.boundary) - (k.row + 1) * :gh,
           ST_XMin(c.boundary) + (k.col + 1) * :gw, ST_YMax(c.boundary) - (k.row) * :gh,
           4326)),
       now() - interval '1 year'
FROM grids g
JOIN org_units c ON c.id = g.community_id
CROSS JOIN LATERAL (
    SELECT (right(g.code, 3)::int - 1) / :cols AS row, (right(g.code, 3)::int - 1) % :cols AS col
) AS k
WHERE c.id = ANY(:communities)
"""

# Grid n (0-based, district-wide) with its envelope, for spreading records round-robin.
_NUMBERED = """
CREATE TEMP TABLE bench_numbered_grids ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY g.code) - 1)::int AS n, g.id, g.path,
       ST_XMin(v.geom) AS x0, ST_YMin(v.geom) AS y0, ST_XMax(v.geom) AS x1, ST_YMax(v.geom) AS y1
FROM grids g JOIN grid_versions v ON v.grid_id = g.id AND v.valid_to IS NULL
WHERE g.community_id = ANY(:communities)
"""

# Points keep 0.1 % of the grid's size off every edge, so no point lies on a boundary.
_ADDRESSES = f"""
INSERT INTO addresses (id, kind, division_code, street, door_number, full_text, normalized_text,
                       point, grid_id, scope_path)
SELECT {_ID.format(kind="a", seq="i")}, 'door', :division,
       'bench road ' || (i / 100)::text, i::text,
       'bench road ' || (i / 100)::text || ' no. ' || i::text,
       'benchroad' || (i / 100)::text || 'no' || i::text,
       ST_SetSRID(ST_MakePoint(g.x0 + (g.x1 - g.x0) * (0.001 + 0.998 * random()),
                               g.y0 + (g.y1 - g.y0) * (0.001 + 0.998 * random())), 4326),
       g.id, g.path
FROM generate_series(0, CAST(:n AS int) - 1) AS i
JOIN bench_numbered_grids g ON g.n = i % CAST(:grids AS int)
"""

_HOUSES = f"""
INSERT INTO houses (id, address_id, house_use, occupancy, hazard_type, grid_id, scope_path)
SELECT {_ID.format(kind="h", seq="i")}, {_ID.format(kind="a", seq="i")},
       '01', CASE WHEN i % 4 = 0 THEN '02' ELSE '01' END, '00', g.id, g.path
FROM generate_series(0, CAST(:n AS int) - 1) AS i
JOIN bench_numbered_grids g ON g.n = i % CAST(:grids AS int)
"""

_PERSONS = f"""
INSERT INTO persons (id, id_type, id_number_enc, id_number_hash, name, sex, population_type,
                     address_id, house_id, grid_id, scope_path)
SELECT {_ID.format(kind="p", seq="j")}, '111',
       decode(md5(:ns || ':idn:' || j::text), 'hex'),
       md5(:ns || ':idh:' || j::text) || md5(:ns || ':idh2:' || j::text),
       '测试' || (j % 1000)::text, CASE WHEN j % 2 = 0 THEN '1' ELSE '2' END, '01',
       {_ID.format(kind="a", seq="j / CAST(:pph AS int)")},
       {_ID.format(kind="h", seq="j / CAST(:pph AS int)")},
       g.id, g.path
FROM generate_series(0, CAST(:n AS int) * CAST(:pph AS int) - 1) AS j
JOIN bench_numbered_grids g ON g.n = (j / CAST(:pph AS int)) % CAST(:grids AS int)
"""


def _org_unit(
    conn: sa.Connection,
    level: str,
    name: str,
    parent: tuple[uuid.UUID, list[uuid.UUID]] | None,
    code: str | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    unit_id = uuid.uuid4()
    path = [*(parent[1] if parent else []), unit_id]
    conn.execute(
        sa.text(
            "INSERT INTO org_units (id, parent_id, level, name, code, path, boundary, "
            "boundary_version) VALUES (:id, :parent, CAST(:level AS org_level), :name, :code, "
            ":path, "
            "CASE WHEN CAST(:w AS float8) IS NULL THEN NULL ELSE "
            "ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326)) END, 1)"
        ),
        {
            "id": unit_id,
            "parent": parent[0] if parent else None,
            "level": level,
            "name": name,
            "code": code,
            "path": path,
            **dict(zip(("w", "s", "e", "n"), bounds or (None, None, None, None), strict=True)),
        },
    )
    return unit_id, path


def _switch_insert_log(conn: sa.Connection, enabled: bool) -> None:
    """Turn the change-log insert triggers of the loaded tables on or off (table owner only)."""
    verb = "ENABLE" if enabled else "DISABLE"
    for table in TRACKED_LOAD_TABLES:
        exists = conn.scalar(
            sa.text(
                "SELECT 1 FROM pg_trigger WHERE tgname = 'sync_log_insert' "
                "AND tgrelid = CAST(:t AS regclass)"
            ),
            {"t": table},
        )
        if exists:
            conn.execute(sa.text(f"ALTER TABLE {table} {verb} TRIGGER sync_log_insert"))


def load_district(
    conn: sa.Connection, spec: DistrictSpec | None = None, *, log_changes: bool = False
) -> District:
    """Write the district on `conn` (the caller commits); `conn` must be the tables' owner
    unless `log_changes` is true."""
    spec = spec or DistrictSpec()
    if spec.rows * spec.cols > 199:
        raise ValueError("a community's comprehensive grid codes run from 001 to 199")
    ns = uuid.uuid4().hex
    conn.execute(sa.text("SELECT setseed(:s)"), {"s": spec.seed})
    area = _org_unit(conn, "new_area", f"bench new area {ns[:6]}", None)
    city = _org_unit(conn, "new_city", "bench new city", area)
    town_code = f"{COUNTY_CODE}{int(ns[:4], 16) % 99 + 1:03d}"
    town = _org_unit(conn, "town", "bench town", city, town_code)
    communities, codes = [], []
    for i in range(spec.communities):
        code = f"{town_code}{i + 1:03d}"
        unit_id, _ = _org_unit(
            conn, "community", f"bench community {i + 1}", town, code, spec.community_bounds(i)
        )
        communities.append(unit_id)
        codes.append(code)
    per = spec.rows * spec.cols
    conn.execute(sa.text(_GRIDS), {"ns": ns, "per_community": per, "communities": communities})
    conn.execute(
        sa.text(_GRID_VERSIONS),
        {
            "gw": spec.grid_width,
            "gh": spec.grid_height,
            "cols": spec.cols,
            "communities": communities,
        },
    )
    conn.execute(sa.text(_NUMBERED), {"communities": communities})
    if not log_changes:
        _switch_insert_log(conn, enabled=False)
    params = {
        "ns": ns,
        "n": spec.addresses,
        "grids": spec.grids,
        "pph": spec.persons_per_house,
        "division": codes[0],
    }
    counts = {
        "addresses": conn.execute(sa.text(_ADDRESSES), params).rowcount,
        "houses": conn.execute(sa.text(_HOUSES), params).rowcount,
        "persons": conn.execute(sa.text(_PERSONS), params).rowcount,
    }
    if not log_changes:
        _switch_insert_log(conn, enabled=True)
    grid_ids: list[dict[tuple[int, int], uuid.UUID]] = []
    for community in communities:
        rows = conn.execute(
            sa.text("SELECT id, code FROM grids WHERE community_id = :c"), {"c": community}
        )
        grid_ids.append({divmod(int(code[-3:]) - 1, spec.cols): gid for gid, code in rows})
    counts["grids"] = spec.grids
    return District(spec, ns, town[0], communities, codes, grid_ids, counts)


def analyze(engine: sa.Engine) -> None:
    """VACUUM ANALYZE the loaded tables, so plans and visibility maps match a settled database."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("grids", "grid_versions", "org_units", *TRACKED_LOAD_TABLES):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
