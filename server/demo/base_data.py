"""Demo base data: per grid ~300 households at standard addresses, with houses, 2–4 residents
each, organizations, incidents, tasks, visits and follow-up plans (rows from `base_rows`).

Deterministic for a seed. Rows are streamed into each table with COPY and carry the grid they
were generated in; the set-based SQL placement pass then confirms every one (and would correct
any it disagrees with), so loading stays fast.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from psycopg import sql
from sqlalchemy import select, update

from server.auth.models import Role, User, UserStatus
from server.demo.base_rows import HOUSEHOLDS_PER_GRID, Rows, grid_rows
from server.demo.district import AnySession, demo_id
from server.demo.layout import DEMO_SEED, plan_district
from server.extensions import db
from server.hierarchy.models import Grid, GridAssignment
from server.registry import placement
from server.registry.models import Address, Incident

# Rows carry the grid they were generated in; the SQL placement pass afterwards confirms it
# (and corrects any row it disagrees with), which is far cheaper than placing 170k rows.
COMMON = ("id", "created_by", "updated_by", "grid_id", "scope_path")
COLUMNS: dict[str, tuple[str, ...]] = {
    "addresses": (
        *COMMON,
        "kind",
        "parent_id",
        "division_code",
        "street",
        "door_number",
        "courtyard",
        "building",
        "room",
        "full_text",
        "normalized_text",
        "point",
    ),
    "houses": (
        *COMMON,
        "address_id",
        "house_use",
        "house_nature",
        "area_m2",
        "owner_name",
        "owner_id_number_enc",
        "owner_id_number_hash",
        "occupancy",
        "tenant_count",
        "hazard_type",
    ),
    "persons": (
        *COMMON,
        "id_type",
        "id_number_enc",
        "id_number_hash",
        "name",
        "sex",
        "birth_date",
        "ethnicity",
        "phone_enc",
        "phone_hash",
        "registered_place",
        "address_id",
        "house_id",
        "population_type",
        "floating",
    ),
    "households": (*COMMON, "household_number", "address_id", "head_person_id"),
    "household_members": (*COMMON, "household_id", "person_id", "relation_to_head"),
    "person_special_populations": (
        *COMMON,
        "person_id",
        "category",
        "start_date",
        "supervising_unit",
        "risk_level",
    ),
    "follow_up_plans": (*COMMON, "person_id", "cycle", "next_due"),
    "visits": (*COMMON, "person_id", "visited_at", "form", "content", "photo_sha256"),
    "organizations": (
        *COMMON,
        "uscc",
        "name",
        "org_type",
        "industry",
        "legal_representative",
        "address_id",
        "staff_count",
        "is_key_unit",
        "hazard_type",
    ),
    "incidents": (
        *COMMON,
        "kind",
        "category",
        "title",
        "occurred_at",
        "point",
        "urgency",
        "parties",
        "reporter_anonymous",
        "photo_sha256",
        "status",
    ),
    "tasks": (
        *COMMON,
        "task_type",
        "title",
        "assignee_id",
        "target_type",
        "target_id",
        "due_at",
        "status",
    ),
}


def _copy(session: AnySession, table: str, rows: list[dict[str, Any]]) -> None:
    """Stream rows into `table` with COPY (one round trip per table)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, COLUMNS[table]))
    )
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(tuple(row.get(name) for name in COLUMNS[table]))


def load_base_data(
    session: AnySession, seed: int = DEMO_SEED, households_per_grid: int = HOUSEHOLDS_PER_GRID
) -> dict[str, int]:
    """Add the demo base data to `session` (not committed) unless addresses already exist;
    returns rows written per table (empty when it did nothing)."""
    if session.scalar(select(Address.id).limit(1)) is not None:
        return {}
    plan = plan_district(seed)
    # A grid's tasks go to one of its active workers (the only users who may hold them).
    workers: dict[uuid.UUID, uuid.UUID] = {}
    for grid_id, user_id in session.execute(
        select(GridAssignment.grid_id, GridAssignment.user_id)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.valid_to.is_(None),
            User.role == Role.WORKER,
            User.status == UserStatus.ACTIVE,
        )
        .order_by(GridAssignment.grid_id, GridAssignment.user_id)
    ):
        workers.setdefault(grid_id, user_id)
    admin = session.scalar(select(User.id).where(User.role == Role.ADMIN).order_by(User.id))
    paths = {grid_id: list(path) for grid_id, path in session.execute(select(Grid.id, Grid.path))}
    if not any(demo_id("grid", grid.code) in paths for grid in plan.grids):
        return {}
    rng = random.Random(seed)
    rows = Rows()
    for grid in sorted(plan.grids, key=lambda g: g.code):
        grid_id = demo_id("grid", grid.code)
        if grid_id not in paths:
            continue
        worker = workers.get(grid_id)
        grid_rows(rng, rows, grid, worker or admin, households_per_grid, paths[grid_id], worker)
    for table in COLUMNS:
        _copy(session, table, rows.tables[table])
    placement.place_everything(bump=False)
    incidents = Incident.__table__
    session.execute(update(incidents).values(origin_grid_id=incidents.c.grid_id))
    return {table: len(rows.tables[table]) for table in COLUMNS}


def load_demo_base_data(
    seed: int = DEMO_SEED, households_per_grid: int = HOUSEHOLDS_PER_GRID
) -> dict[str, int]:
    """Load the base data into the demo district in one transaction (a no-op when present)."""
    try:
        counts = load_base_data(db.session, seed, households_per_grid)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts
