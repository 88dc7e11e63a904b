"""The sync bench's world: its own database, one community of grids with a worker, the app
served by gunicorn, and set-based filling of background rows. `bench_sync` measures against it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 1"  # noqa: S105 - a throwaway bench account
GRID_RECORDS = 10_000
# Grid squares: the bench grid first, then the grids that hold the background rows.
ORIGIN = (108.40, 34.10)
SIZE = 0.01


def bench_urls() -> tuple[URL, URL, URL]:
    """(runtime, owner, admin) URLs of the bench database."""
    runtime = make_url(os.environ["DATABASE_URL"])
    owner = make_url(os.environ.get("MIGRATION_DATABASE_URL") or runtime)
    admin = make_url(os.environ.get("TEST_ADMIN_DATABASE_URL") or owner.set(database="postgres"))
    name = f"{runtime.database}_bench"
    return runtime.set(database=name), owner.set(database=name), admin


def libpq(url: URL) -> str:
    """The URL as a libpq connection string for psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def bench_database() -> Iterator[tuple[URL, URL, URL]]:
    """A fresh database provisioned like the test database; dropped on the way out."""
    runtime, owner, admin = bench_urls()
    name = owner.database
    with psycopg.connect(libpq(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner.username}"')
        # What an earlier benchmark left in the buffers is written now, not during these figures.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
    with psycopg.connect(libpq(admin.set(database=name)), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'gridwork_app'").fetchone():
            conn.execute((ROOT / "scripts" / "provision.sql").read_text().encode())
        else:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    try:
        yield runtime, owner, admin.set(database=name)
    finally:
        with psycopg.connect(libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class World:
    """The bench grid and the grids of the background rows, and the worker of the bench grid."""

    grid: uuid.UUID
    others: list[uuid.UUID]
    scope_path: list[uuid.UUID]
    username: str


def square(index: int) -> tuple[str, tuple[float, float]]:
    """WKT of grid square `index` and a point inside it."""
    lng, lat = ORIGIN[0] + (index % 20) * SIZE, ORIGIN[1] + (index // 20) * SIZE
    e, n = lng + SIZE, lat + SIZE
    wkt = f"MULTIPOLYGON ((({lng} {lat}, {e} {lat}, {e} {n}, {lng} {n}, {lng} {lat})))"
    return wkt, (lng + SIZE / 2, lat + SIZE / 2)


def build_world(runtime: URL, owner: URL) -> World:
    """Migrate, load code tables, and create one community of grids and a worker (app context)."""
    from flask_migrate import upgrade

    from server import create_app
    from server.auth.models import Role, User
    from server.auth.passwords import hash_password
    from server.extensions import db
    from server.hierarchy.codes import next_grid_code
    from server.hierarchy.models import (
        Grid,
        GridAssignment,
        GridKind,
        GridVersion,
        OrgLevel,
        OrgUnit,
    )
    from server.registry.codes import load_code_tables

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": runtime.render_as_string(hide_password=False),
            "MIGRATION_DATABASE_URI": owner.render_as_string(hide_password=False),
        }
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
        load_code_tables(db.session)
        parent: OrgUnit | None = None
        codes = {OrgLevel.TOWN: "610116001", OrgLevel.COMMUNITY: "610116001001"}
        for level in (OrgLevel.NEW_AREA, OrgLevel.NEW_CITY, OrgLevel.TOWN, OrgLevel.COMMUNITY):
            unit_id = uuid.uuid4()
            unit = OrgUnit(
                id=unit_id,
                parent_id=parent.id if parent else None,
                level=level,
                name=f"bench {level.value}",
                code=codes.get(level),
                path=[*(parent.path if parent else []), unit_id],
            )
            db.session.add(unit)
            db.session.flush()
            parent = unit
        assert parent is not None
        assert parent.code is not None
        grids: list[uuid.UUID] = []
        used: list[str] = []
        for index in range(11):
            code = next_grid_code(parent.code, GridKind.COMPREHENSIVE, used)
            assert code is not None
            used.append(code)
            grid = Grid(
                id=uuid.uuid4(),
                code=code,
                name=f"bench grid {index}",
                kind=GridKind.COMPREHENSIVE,
                community_id=parent.id,
                path=list(parent.path),
                version=1,
            )
            db.session.add(grid)
            db.session.flush()
            wkt = square(index)[0]
            db.session.add(GridVersion(grid_id=grid.id, geom=func.ST_GeomFromText(wkt, 4326)))
            grids.append(grid.id)
        worker = User(
            id=uuid.uuid4(),
            username="bench_worker",
            display_name="Bench Worker",
            password_hash=hash_password(PASSWORD),
            role=Role.WORKER,
        )
        db.session.add(worker)
        db.session.flush()
        db.session.add(GridAssignment(id=uuid.uuid4(), user_id=worker.id, grid_id=grids[0]))
        db.session.commit()
        path = list(parent.path)
        db.engine.dispose()
    return World(grids[0], grids[1:], path, "bench_worker")


@contextmanager
def serve(runtime: URL) -> Iterator[str]:
    """gunicorn serving the app on a free port against the bench database."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": runtime.render_as_string(hide_password=False)}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    process = subprocess.Popen(
        [
            gunicorn,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "300",
            "server:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries the figures)."""
    print(f"# bench_sync: {message}", file=sys.stderr, flush=True)


def freeze_harness() -> None:
    """Move everything the harness holds so far (the app it imported to build the world, the
    batches it prepared) out of the garbage collector's reach, before a figure's timed part.

    Otherwise a collection during a timed section walks some 150,000 objects that are not the
    measured work: in the first-download figure, two full collections a round made the raw
    baseline (which allocates a dict per row) up to 40% slower and the ratio look better than it
    is (measured 2026-11-27: raw best 492-701 ms unfrozen, 352-438 ms frozen).
    """
    gc.collect()
    gc.freeze()


def timed(action: Callable[[], Any]) -> float:
    """Seconds `action` took."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


_FILL = """
INSERT INTO addresses (id, version, grid_id, scope_path, kind, division_code, street,
    door_number, full_text, normalized_text, point)
SELECT gen_random_uuid(), 1, (%(grids)s::uuid[])[1 + g %% cardinality(%(grids)s::uuid[])],
    %(path)s, 'door', '610116001001', '长安南路' || g || '号街区', g || '号',
    '陕西省西安市雁塔区长安南路' || g || '号' || repeat('地址说明', %(repeat)s),
    '陕西省西安市雁塔区长安南路' || g || '号' || repeat('地址说明', %(repeat)s),
    ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)
FROM generate_series(%(start)s, %(stop)s - 1) AS g
"""

# Background rows: the change-log entries the tracking trigger would write, in the same
# statement, with triggers off (session_replication_role, superuser). The field history
# (`field_stamps`) is skipped: pulls never read it, and writing it would triple the load time.
_BACKGROUND = (
    "WITH added AS (" + _FILL + " RETURNING id, grid_id, version) "
    "INSERT INTO change_log (record_type, record_id, grid_id, version, kind) "
    "SELECT 'address', id, grid_id, version, 'upsert' FROM added"
)


def _params(
    grids: list[uuid.UUID], path: list[uuid.UUID], start: int, stop: int, repeat: int
) -> dict[str, Any]:
    lng, lat = square(1)[1]
    return {
        "grids": grids,
        "path": path,
        "lng": lng,
        "lat": lat,
        "start": start,
        "stop": stop,
        "repeat": repeat,
    }


def fill(
    runtime: URL, grids: list[uuid.UUID], path: list[uuid.UUID], start: int, stop: int
) -> None:
    """Insert rows [start, stop) of ~1 KB through the tracking triggers, like any writer."""
    with psycopg.connect(libpq(runtime)) as conn:
        conn.execute(_FILL, _params(grids, path, start, stop, 60))


def background(
    admin: URL, grids: list[uuid.UUID], path: list[uuid.UUID], start: int, stop: int
) -> None:
    """Insert rows [start, stop) of ~300 B and their change-log entries, set-based, in chunks."""
    with psycopg.connect(libpq(admin)) as conn:
        conn.execute("SET session_replication_role = replica")
        for chunk in range(start, stop, 200_000):
            conn.execute(_BACKGROUND, _params(grids, path, chunk, min(chunk + 200_000, stop), 10))
            conn.commit()
        conn.autocommit = True  # VACUUM runs outside a transaction
        conn.execute("SET session_replication_role = origin")
        conn.execute("VACUUM ANALYZE addresses")
        conn.execute("VACUUM ANALYZE change_log")


def scope_path_of(runtime: URL, grid: uuid.UUID) -> list[uuid.UUID]:
    """The scope path the server stored on the grid's records."""
    with psycopg.connect(libpq(runtime)) as conn:
        row = conn.execute("SELECT scope_path FROM addresses WHERE grid_id = %s LIMIT 1", (grid,))
        found = row.fetchone()
        assert found is not None, "the warm-up push stored nothing"
        return list(found[0])


def row_count(runtime: URL) -> int:
    """Addresses in the bench database."""
    with psycopg.connect(libpq(runtime)) as conn:
        row = conn.execute("SELECT count(*) FROM addresses").fetchone()
        return int(row[0]) if row else 0


def top_up_grid(runtime: URL, world: World) -> None:
    """Bring the bench grid to GRID_RECORDS live records."""
    with psycopg.connect(libpq(runtime)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM addresses WHERE grid_id = %s AND deleted_at IS NULL",
            (world.grid,),
        ).fetchone()
    have = int(row[0]) if row else 0
    if have < GRID_RECORDS:
        fill(runtime, [world.grid], world.scope_path, 10_000_000, 10_000_000 + GRID_RECORDS - have)
