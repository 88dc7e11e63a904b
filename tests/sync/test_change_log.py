"""The tracking triggers: set-based change log and field stamps for every writer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.tables import change_log, field_stamps
from tests.sync.conftest import GRID_A, GRID_B, notes


def insert_notes(engine: Engine, count: int, grid: uuid.UUID = GRID_A) -> list[uuid.UUID]:
    ids = sorted(uuid.uuid4() for _ in range(count))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            notes.insert(),
            [
                {
                    "id": i,
                    "version": 1,
                    "grid_id": grid,
                    "created_at": now,
                    "updated_at": now,
                    "title": "t",
                }
                for i in ids
            ],
        )
    return ids


def entries(engine: Engine) -> list[tuple[uuid.UUID, uuid.UUID | None, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                change_log.c.record_id,
                change_log.c.grid_id,
                change_log.c.kind,
                change_log.c.version,
            ).order_by(change_log.c.seq)
        )
        return [(r.record_id, r.grid_id, r.kind, r.version) for r in rows]


def test_insert_logs_one_upsert_per_row_with_its_grid(engine: Engine) -> None:
    ids = insert_notes(engine, 3)
    assert entries(engine) == [(i, GRID_A, "upsert", 1) for i in ids]


def test_bulk_grid_move_logs_a_leave_for_the_old_grid_then_an_upsert_for_the_new(
    engine: Engine,
) -> None:
    ids = insert_notes(engine, 2)
    with engine.begin() as conn:  # a boundary redraw recomputing grids in one statement
        conn.execute(notes.update().where(notes.c.id.in_(ids)).values(grid_id=GRID_B))
    moved = entries(engine)[2:]
    assert moved == [
        (ids[0], GRID_A, "leave", 1),
        (ids[0], GRID_B, "upsert", 1),
        (ids[1], GRID_A, "leave", 1),
        (ids[1], GRID_B, "upsert", 1),
    ]


def test_bulk_update_writes_its_change_log_in_one_statement(engine: Engine) -> None:
    ids = insert_notes(engine, 50)
    with engine.begin() as conn:
        conn.execute(notes.update().where(notes.c.id.in_(ids)).values(grid_id=GRID_B))
        txids = conn.execute(
            sa.select(sa.func.count(sa.distinct(sa.cast(change_log.c.txid, sa.Text)))).where(
                change_log.c.kind == "leave"
            )
        ).scalar()
    assert txids == 1
    assert len(entries(engine)) == 150


def test_tombstone_is_logged_as_a_delete(engine: Engine) -> None:
    [record_id] = insert_notes(engine, 1)
    with engine.begin() as conn:
        conn.execute(
            notes.update()
            .where(notes.c.id == record_id)
            .values(deleted_at=datetime.now(UTC), version=2)
        )
    assert entries(engine)[-1] == (record_id, GRID_A, "delete", 2)


def test_unchanged_row_logs_nothing(engine: Engine) -> None:
    [record_id] = insert_notes(engine, 1)
    with engine.begin() as conn:
        conn.execute(notes.update().where(notes.c.id == record_id).values(title="t"))
    assert len(entries(engine)) == 1


def test_server_side_edit_records_a_field_stamp_with_a_server_stamp(engine: Engine) -> None:
    [record_id] = insert_notes(engine, 1)
    with engine.begin() as conn:
        conn.execute(notes.update().where(notes.c.id == record_id).values(title="new", version=2))
        row = conn.execute(
            sa.select(field_stamps).where(
                field_stamps.c.record_id == record_id, field_stamps.c.version == 2
            )
        ).one()
    assert (row.field, row.value, row.device_id) == ("title", "new", None)
    assert row.stamp.endswith("-00000-server")
