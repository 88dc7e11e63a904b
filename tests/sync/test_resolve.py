"""Resolving conflicts from the inbox: versioned writes that the feed carries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.access import Device
from sync.ops import OpKind, OpResult, Status
from sync.push import push
from sync.resolve import CannotResolve, ConflictNotOpen, How, resolve_conflict
from sync.tables import change_log, conflicts
from tests.sync.conftest import REGISTRY, allow_all, make_device, make_op, notes, stamp


def run(engine: Engine, device: Device, *ops: Any) -> list[OpResult]:
    with engine.begin() as conn:
        return push(conn, REGISTRY, device, allow_all, list(ops))


def field_conflict(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """A title conflict the server won: worker's 'client' lost to dispatcher's 'server'."""
    worker, dispatcher = make_device(), make_device("web")
    record_id = uuid.uuid4()
    run(engine, worker, make_op(OpKind.CREATE, record_id, {"place": "north", "title": "base"}))
    run(engine, dispatcher, make_op(OpKind.PATCH, record_id, {"title": "server"}, 1))
    early = stamp("phone", -60_000)
    [result] = run(engine, worker, make_op(OpKind.PATCH, record_id, {"title": "client"}, 1, early))
    assert result.status is Status.CONFLICT
    return record_id, result.conflict_ids[0]


def resolve(engine: Engine, conflict_id: uuid.UUID, how: How, value: Any = None) -> int:
    with engine.begin() as conn:
        return resolve_conflict(conn, REGISTRY, conflict_id, uuid.uuid4(), how, value).version


def record(engine: Engine, record_id: uuid.UUID) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(notes).where(notes.c.id == record_id)).one()


def test_taking_the_losing_value_writes_it_as_a_new_version(engine: Engine) -> None:
    record_id, conflict_id = field_conflict(engine)
    assert resolve(engine, conflict_id, How.TAKE) == 3
    row = record(engine, record_id)
    assert (row.title, row.version) == ("client", 3)
    with engine.connect() as conn:
        status = conn.scalar(sa.select(conflicts.c.status).where(conflicts.c.id == conflict_id))
        logged = conn.scalar(
            sa.select(change_log.c.kind).where(
                change_log.c.record_id == record_id, change_log.c.version == 3
            )
        )
    assert (status, logged) == ("resolved", "upsert")


def test_keeping_the_standing_value_writes_nothing(engine: Engine) -> None:
    record_id, conflict_id = field_conflict(engine)
    assert resolve(engine, conflict_id, How.KEEP) == 2
    assert record(engine, record_id).title == "server"


def test_editing_writes_the_dispatchers_value(engine: Engine) -> None:
    record_id, conflict_id = field_conflict(engine)
    resolve(engine, conflict_id, How.EDIT, "agreed")
    assert record(engine, record_id).title == "agreed"


def test_a_resolved_conflict_cannot_be_resolved_again(engine: Engine) -> None:
    _, conflict_id = field_conflict(engine)
    resolve(engine, conflict_id, How.KEEP)
    with pytest.raises(ConflictNotOpen):
        resolve(engine, conflict_id, How.TAKE)


def test_taking_an_edit_against_a_deleted_record_restores_it(engine: Engine) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = uuid.uuid4()
    run(engine, worker, make_op(OpKind.CREATE, record_id, {"place": "north", "title": "a"}))
    run(engine, dispatcher, make_op(OpKind.DELETE, record_id, base_version=1))
    [result] = run(engine, worker, make_op(OpKind.PATCH, record_id, {"title": "edited"}, 1))
    resolve(engine, result.conflict_ids[0], How.TAKE)
    row = record(engine, record_id)
    assert (row.deleted_at, row.title, row.version) == (None, "edited", 3)


def test_taking_a_refused_delete_deletes_the_record(engine: Engine) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = uuid.uuid4()
    run(engine, worker, make_op(OpKind.CREATE, record_id, {"place": "north", "title": "a"}))
    run(engine, dispatcher, make_op(OpKind.PATCH, record_id, {"title": "edited"}, 1))
    [result] = run(engine, worker, make_op(OpKind.DELETE, record_id, base_version=1))
    resolve(engine, result.conflict_ids[0], How.TAKE)
    assert record(engine, record_id).deleted_at is not None


def test_editing_a_refused_delete_is_not_possible(engine: Engine) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = uuid.uuid4()
    run(engine, worker, make_op(OpKind.CREATE, record_id, {"place": "north", "title": "a"}))
    run(engine, dispatcher, make_op(OpKind.PATCH, record_id, {"title": "edited"}, 1))
    [result] = run(engine, worker, make_op(OpKind.DELETE, record_id, base_version=1))
    with pytest.raises(CannotResolve):
        resolve(engine, result.conflict_ids[0], How.EDIT, "x")


def title_and_body_conflicts(engine: Engine) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """One phone op lost on two fields: (record, the title's conflict, the body's)."""
    worker, dispatcher = make_device(), make_device("web")
    record_id = uuid.uuid4()
    run(engine, worker, make_op(OpKind.CREATE, record_id, {"title": "base", "body": "base"}))
    run(engine, dispatcher, make_op(OpKind.PATCH, record_id, {"title": "server", "body": "s"}, 1))
    early = stamp("phone", -60_000)
    patch = make_op(OpKind.PATCH, record_id, {"title": "client", "body": "c"}, 1, early)
    [result] = run(engine, worker, patch)
    with engine.connect() as conn:
        ids = dict(
            conn.execute(
                sa.select(conflicts.c.field, conflicts.c.id).where(
                    conflicts.c.id.in_(result.conflict_ids)
                )
            ).all()
        )
    return record_id, ids["title"], ids["body"]


def status_of(engine: Engine, conflict_id: uuid.UUID) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(conflicts.c.status, conflicts.c.resolved_how).where(
                conflicts.c.id == conflict_id
            )
        ).one()
    return row.status, row.resolved_how


def test_a_resolution_writes_its_derived_columns_in_the_same_version(engine: Engine) -> None:
    record_id, title, body = title_and_body_conflicts(engine)
    with engine.begin() as conn:
        resolution = resolve_conflict(
            conn,
            REGISTRY,
            title,
            uuid.uuid4(),
            How.TAKE,
            also={"body": "from client"},
            companions=[body],
        )
    row = record(engine, record_id)
    assert (row.title, row.body, row.version, resolution.version) == (
        "client",
        "from client",
        3,
        3,
    )
    assert status_of(engine, title) == status_of(engine, body) == ("resolved", "take")


def test_keeping_writes_no_derived_column_and_closes_the_companions(engine: Engine) -> None:
    record_id, title, body = title_and_body_conflicts(engine)
    with engine.begin() as conn:
        resolve_conflict(
            conn, REGISTRY, title, uuid.uuid4(), How.KEEP, also={"body": "x"}, companions=[body]
        )
    row = record(engine, record_id)
    assert (row.title, row.body, row.version) == ("server", "s", 2)
    assert status_of(engine, body) == ("resolved", "keep")


def test_a_companion_already_resolved_keeps_its_own_resolution(engine: Engine) -> None:
    _, title, body = title_and_body_conflicts(engine)
    resolve(engine, body, How.TAKE)
    with engine.begin() as conn:
        resolve_conflict(conn, REGISTRY, title, uuid.uuid4(), How.KEEP, companions=[body])
    assert status_of(engine, body) == ("resolved", "take")
