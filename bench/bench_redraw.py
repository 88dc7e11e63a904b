"""Redraw of 50 grids over a 1M-record district, against a raw PostGIS reassignment.

Both run in one process on one private database (created and dropped here, like the tests'):
- value: `server.redraw.apply.apply_draft` (plan, move estimate, grids, one UPDATE per table,
  change log through the triggers, audit, commit);
- baseline: the same reassignment as bare SQL on copies of the same tables taken before the
  apply (same indexes, no triggers): one `UPDATE … FROM grid_versions WHERE ST_Covers` for the
  addresses, then houses follow their address and persons their house.
Afterwards the phone of a redrawn grid pulls its scope diff with `sync.pull` (value) against a
raw select of the same rows by id, and against re-downloading its whole grid (baselines).
Nothing here asserts a time.

Size with GRIDWORK_BENCH_ADDRESSES (default 250,000 addresses → 1M records).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import URL, make_url

from bench.district_data import District, DistrictSpec, analyze, load_district
from bench.figures import Figure
from server import create_app
from server.auth.models import Role, User
from server.auth.principal import Principal
from server.extensions import db
from server.redraw.apply import apply_draft
from server.redraw.drafts import create_draft
from sync.access import Device
from sync.pull import pull
from sync.registry import RecordType, Registry
from sync.slices import snapshot

ROOT = Path(__file__).resolve().parents[1]
REDRAWN = 0  # the community whose 50 grids are redrawn
RAW_TABLES = ("addresses", "houses", "persons")
# table → record type, as migration 0004_track_registry tracks them.
RECORD_TYPES = {
    "addresses": "address",
    "houses": "house",
    "persons": "person",
    "person_special_populations": "person_special_population",
    "households": "household",
    "household_members": "household_member",
    "organizations": "organization",
    "incidents": "incident",
    "tasks": "task",
    "visits": "visit",
    "follow_up_plans": "follow_up_plan",
}


def log(message: str) -> None:
    """Progress on stderr; the figures go to stdout."""
    print(f"  [redraw] {message}", file=sys.stderr, flush=True)


@contextmanager
def timed(label: str) -> Iterator[list[float]]:
    """Measure the block's wall time into the yielded one-element list, and log it."""
    out = [0.0]
    started = time.perf_counter()
    yield out
    out[0] = time.perf_counter() - started
    log(f"{label}: {out[0]:.2f} s")


def _urls() -> tuple[URL, URL, URL]:
    """(runtime, owner, admin) URLs of the private bench database."""
    runtime = make_url(os.environ["DATABASE_URL"])
    owner = make_url(os.environ.get("MIGRATION_DATABASE_URL") or runtime)
    admin = make_url(os.environ.get("TEST_ADMIN_DATABASE_URL") or owner.set(database="postgres"))
    name = os.environ.get("GRIDWORK_BENCH_DB") or f"{runtime.database}_bench_redraw"
    return runtime.set(database=name), owner.set(database=name), admin


def _create_database(owner: URL, admin: URL) -> None:
    """Drop and create the bench database as tests/conftest.py does for the test database."""
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{owner.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{owner.database}" OWNER "{owner.username}"'))
    engine.dispose()
    engine = sa.create_engine(admin.set(database=owner.database), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        has_app_role = conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = 'gridwork_app'"))
        if has_app_role and owner.username == "gridwork":
            conn.execute(sa.text((ROOT / "scripts" / "provision.sql").read_text()))
        else:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()


def _drop_database(owner: URL, admin: URL) -> None:
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{owner.database}" WITH (FORCE)'))
    engine.dispose()


def _app(runtime: URL, owner: URL) -> Flask:
    os.environ.setdefault("GRIDWORK_INSTANCE_PATH", tempfile.mkdtemp(prefix="gridwork-bench-"))
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": runtime.render_as_string(hide_password=False),
            "MIGRATION_DATABASE_URI": owner.render_as_string(hide_password=False),
            # The bench measures the apply itself, not the hand-off to a background job.
            "REDRAW_SYNC_LIMIT": 10**9,
        }
    )


def sync_registry() -> Registry:
    """Every tracked registry table as a record type (the pull reads only tables and ids)."""
    return Registry(
        [
            RecordType(name=name, table=db.metadata.tables[table], fields={})
            for table, name in RECORD_TYPES.items()
        ]
    )


def _rect(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def shifted_borders(
    district: District, community: int, shift: float = 1 / 3
) -> list[Mapping[str, Any]]:
    """A draft of every grid of the community: each inner west–east border moves east by
    `shift` of a grid's width, so about that share of the records changes grid."""
    spec = district.spec
    west, _, east, north = spec.community_bounds(community)
    xs = [west + c * spec.grid_width for c in range(spec.cols)] + [east]
    xs = [xs[0], *(x + shift * spec.grid_width for x in xs[1:-1]), xs[-1]]
    grids: list[Mapping[str, Any]] = []
    for row in range(spec.rows):
        top, bottom = north - row * spec.grid_height, north - (row + 1) * spec.grid_height
        for col in range(spec.cols):
            grids.append(
                {
                    "grid_id": district.grid(community, row, col),
                    "geometry": _rect(xs[col], bottom, xs[col + 1], top),
                }
            )
    return grids


def _copy_tables(owner: sa.Engine) -> None:
    """Copies of the record tables with the same indexes and no triggers, for the raw baseline."""
    with owner.begin() as conn:
        for table in RAW_TABLES:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS raw_{table}"))
            conn.execute(
                sa.text(
                    f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING DEFAULTS "
                    "INCLUDING INDEXES INCLUDING CONSTRAINTS)"
                )
            )
            conn.execute(sa.text(f"INSERT INTO raw_{table} SELECT * FROM {table}"))
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in RAW_TABLES:
            conn.execute(sa.text(f"VACUUM ANALYZE raw_{table}"))


RAW_STATEMENTS = {
    "addresses": """
        UPDATE raw_addresses a
        SET grid_id = c.grid_id, scope_path = c.path, version = a.version + 1, updated_at = now()
        FROM (SELECT v.grid_id, g.path, v.geom FROM grid_versions v JOIN grids g ON g.id = v.grid_id
              WHERE v.valid_to IS NULL AND g.community_id = :community) AS c
        WHERE ST_Covers(c.geom, a.point) AND a.grid_id IS DISTINCT FROM c.grid_id
    """,
    "houses": """
        UPDATE raw_houses h
        SET grid_id = a.grid_id, scope_path = a.scope_path, version = h.version + 1,
            updated_at = now()
        FROM raw_addresses a
        WHERE a.id = h.address_id AND h.grid_id IS DISTINCT FROM a.grid_id
    """,
    "persons": """
        UPDATE raw_persons p
        SET grid_id = h.grid_id, scope_path = h.scope_path, version = p.version + 1,
            updated_at = now()
        FROM raw_houses h
        WHERE h.id = p.house_id AND p.grid_id IS DISTINCT FROM h.grid_id
    """,
}


def raw_reassignment(owner: sa.Engine, community: uuid.UUID) -> dict[str, int]:
    """The bare-SQL reassignment on the copies, in one transaction; rows moved per table."""
    moved = {}
    with owner.begin() as conn:
        for table, statement in RAW_STATEMENTS.items():
            moved[table] = conn.execute(sa.text(statement), {"community": community}).rowcount
    return moved


def _pull_all(
    registry: Registry, device: Device, grids: list[uuid.UUID], cursor: str | None
) -> tuple[str, list[Any]]:
    """Page through a pull (one REPEATABLE READ transaction per page, as one request each)."""
    changes: list[Any] = []
    while True:
        with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            page = pull(conn, registry, device, grids, cursor)
            conn.commit()
        changes.extend(page.changes)
        cursor = page.cursor
        if not page.has_more:
            return cursor, changes


def _raw_select(changes: list[Any]) -> int:
    """The raw baseline: the delivered rows selected by id, one query per record type."""
    ids: dict[str, list[uuid.UUID]] = {}
    for change in changes:
        if change.kind == "upsert":
            ids.setdefault(change.record_type, []).append(change.record_id)
    table_of = {name: table for table, name in RECORD_TYPES.items()}
    n = 0
    with db.engine.connect() as conn:
        for record_type, record_ids in ids.items():
            rows = conn.execute(
                sa.text(
                    f"SELECT to_jsonb(t) FROM {table_of[record_type]} t WHERE t.id = ANY(:ids)"
                ),
                {"ids": record_ids},
            ).all()
            n += len(rows)
    return n


def _whole_rows(conn: sa.Connection, record_type: Any) -> str:
    """Every record as the JSON document the scope-diff pull delivers (like for like)."""
    return "t.id, to_jsonb(t) AS doc"


def _redownload(registry: Registry, grid: uuid.UUID) -> int:
    """What a phone without a scope diff would do: snapshot its whole grid again."""
    after: str | None = None
    n = 0
    while True:
        with db.engine.connect() as conn:
            page = snapshot(conn, registry, [grid], after, limit=1000, columns=_whole_rows)
        n += len(page.records)
        if page.after is None:
            return n
        after = page.after


def _admin() -> Principal:
    user = User(
        id=uuid.uuid4(),
        username=f"bench-admin-{uuid.uuid4().hex[:6]}",
        display_name="Bench admin",
        password_hash="!",  # noqa: S106 - no password: the bench never logs in
        role=Role.ADMIN,
    )
    db.session.add(user)
    db.session.commit()
    return Principal(user.id, user.username, Role.ADMIN, uuid.uuid4(), uuid.uuid4())


def _applied_moves(result: dict[str, Any]) -> dict[str, int]:
    moved: Counter[str] = Counter()
    for row in result["moves"]:
        moved[row["record_type"]] += int(row["count"])
    return dict(moved)


def measure(app: Flask, owner: sa.Engine, spec: DistrictSpec) -> list[Figure]:
    """Load, copy, apply, raw-reassign, pull; return the figures."""
    with timed(f"load {spec.records:,} records in {spec.grids} grids"):
        with owner.begin() as conn:
            district = load_district(conn, spec)
        analyze(owner)
    log(f"loaded {district.counts}")
    with timed("copy the record tables for the raw baseline"):
        _copy_tables(owner)
    community = district.community_ids[REDRAWN]
    phone_grid = district.grid(REDRAWN, 2, 5)
    registry = sync_registry()
    device = Device(uuid.uuid4(), uuid.uuid4(), "bench-1.0")
    with app.app_context():
        admin = _admin()
        # The phone holds its grid before the redraw: its cursor predates the apply.
        cursor, _ = _pull_all(registry, device, [phone_grid], None)
        cursor, before = _pull_all(registry, device, [phone_grid], cursor)
        draft = create_draft(admin, community, shifted_borders(district, REDRAWN), [])
        with timed("apply_draft (plan, move estimate, write, change log, commit)") as t_apply:
            result = apply_draft(admin, draft.id, 1)
        assert isinstance(result, dict)
        applied = _applied_moves(result)
        log(f"apply moved {applied}")
        with timed("raw reassignment on the copies") as t_raw:
            raw = raw_reassignment(owner, community)
        log(f"raw moved {raw}")
        if {k: applied.get(k, 0) for k in raw} != raw:
            log("WARNING: the apply and the raw statements moved different counts")
        with timed("scope-diff pull of the redrawn grid's phone") as t_pull:
            cursor, changes = _pull_all(registry, device, [phone_grid], cursor)
        kinds = Counter(c.kind for c in changes)
        log(f"pull delivered {dict(kinds)} (before the redraw: {len(before)} changes)")
        with timed("raw select of the same rows") as t_select:
            _raw_select(changes)
        with timed("full re-download of the grid") as t_full:
            held = _redownload(registry, phone_grid)
        db.session.remove()
    moved = sum(applied.values())
    return [
        Figure(
            name=f"redraw 50 grids / {spec.records / 1e6:.1f}M records ({moved:,} moved)",
            value=t_apply[0] * 1000,
            baseline=t_raw[0] * 1000,
            unit="ms",
            target="≤ 2× raw UPDATE … ST_Covers (change log included)",
            higher_is_better=False,
        ),
        Figure(
            name=f"scope-diff pull ({len(changes):,} changes) vs raw select",
            value=t_pull[0] * 1000,
            baseline=t_select[0] * 1000,
            unit="ms",
            target="vs raw select of the same rows by id",
            higher_is_better=False,
        ),
        Figure(
            name=f"scope-diff pull vs grid re-download ({held:,} rec)",
            value=t_pull[0] * 1000,
            baseline=t_full[0] * 1000,
            unit="ms",
            target="< 1 (the diff beats a full re-download)",
            higher_is_better=False,
        ),
    ]


def run() -> list[Figure]:
    """Create the bench database, measure, drop it."""
    runtime, owner_url, admin = _urls()
    _create_database(owner_url, admin)
    owner = sa.create_engine(owner_url)
    app: Flask | None = None
    try:
        app = _app(runtime, owner_url)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"), revision="heads")
            db.engine.dispose()
        addresses = int(os.environ.get("GRIDWORK_BENCH_ADDRESSES", "250000"))
        return measure(app, owner, DistrictSpec(addresses=addresses))
    finally:
        owner.dispose()
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        if not os.environ.get("GRIDWORK_BENCH_KEEP"):
            _drop_database(owner_url, admin)
