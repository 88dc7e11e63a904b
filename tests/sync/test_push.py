"""Push on the real database: exactly-once ops, merges, conflicts, rejections, limits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.access import Access, AccessCheck, AuthorizeFn, Device
from sync.errors import BatchTooLarge
from sync.ops import Flag, Op, OpKind, OpResult, Reason, Status
from sync.push import PushLimits, push
from sync.tables import change_log, conflicts, field_stamps, op_receipts, rejected_ops
from tests.sync.conftest import GRID_A, REGISTRY, allow_all, make_device, make_op, notes, stamp

YEAR_MS = 365 * 24 * 3600 * 1000


def run(
    engine: Engine, device: Device, ops: Sequence[Op], authorize: AuthorizeFn = allow_all
) -> list[OpResult]:
    with engine.begin() as conn:
        return push(conn, REGISTRY, device, authorize, ops)


def note(engine: Engine, record_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(notes).where(notes.c.id == record_id)).one()._mapping)


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def created(engine: Engine, device: Device, **fields: Any) -> uuid.UUID:
    record_id = uuid.uuid4()
    fields.setdefault("place", "north")
    [result] = run(engine, device, [make_op(OpKind.CREATE, record_id, fields)])
    assert result.status is Status.APPLIED
    return record_id


def test_create_is_applied_at_version_one_in_its_located_grid(engine: Engine) -> None:
    record_id = uuid.uuid4()
    [result] = run(engine, make_device(), [make_op(OpKind.CREATE, record_id, {"place": "north"})])
    assert (result.status, result.version) == (Status.APPLIED, 1)
    row = note(engine, record_id)
    assert (row["version"], row["grid_id"], row["scope_path"]) == (1, GRID_A, [GRID_A])


def test_replayed_batch_after_a_lost_response_returns_identical_results_and_changes_nothing(
    engine: Engine,
) -> None:
    device, other = make_device(), make_device("other")
    existing = created(engine, other, title="t", body="b")
    run(engine, other, [make_op(OpKind.PATCH, existing, {"title": "server"}, 1)])
    batch = [
        make_op(OpKind.CREATE, uuid.uuid4(), {"title": "new", "place": "north"}),
        make_op(OpKind.PATCH, existing, {"title": "mine", "body": "mine"}, 1, stamp(offset_ms=-5)),
        make_op(OpKind.PATCH, existing, {"visits": -1}, 1),
        make_op(OpKind.PATCH, uuid.uuid4(), {"title": "ghost"}, 1),
    ]
    first = run(engine, device, batch)
    tables = [notes, change_log, field_stamps, conflicts, op_receipts, rejected_ops]
    before = [count(engine, t) for t in tables], note(engine, existing)
    again = run(engine, device, batch)
    assert again == first
    assert [r.status for r in first] == [
        Status.APPLIED,
        Status.CONFLICT,
        Status.REJECTED,
        Status.REJECTED,
    ]
    assert ([count(engine, t) for t in tables], note(engine, existing)) == before


def test_reused_op_id_with_another_payload_is_rejected_and_the_original_stands(
    engine: Engine,
) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    original = make_op(OpKind.PATCH, record_id, {"title": "b"}, 1)
    run(engine, device, [original])
    forged = Op.from_json({**original.to_json(), "fields": {"title": "evil"}})
    [result] = run(engine, device, [forged])
    assert (result.status, result.reason) == (Status.REJECTED, Reason.OP_ID_REUSED)
    assert note(engine, record_id)["title"] == "b"
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(rejected_ops.c.payload).where(rejected_ops.c.op_id == forged.op_id)
        ).scalar_one()
    assert kept["fields"] == {"title": "evil"}


def test_poison_op_is_rejected_and_kept_without_sinking_the_batch(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    batch = [
        make_op(OpKind.PATCH, record_id, {"visits": -1}, 1),
        make_op(OpKind.PATCH, record_id, {"title": "after"}, 1),
    ]
    poison, fine = run(engine, device, batch)
    assert (poison.status, poison.reason) == (Status.REJECTED, Reason.APPLY_FAILED)
    assert fine.status is Status.APPLIED
    assert note(engine, record_id)["title"] == "after"
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(rejected_ops.c.payload).where(rejected_ops.c.op_id == batch[0].op_id)
        ).scalar_one()
    assert kept["fields"] == {"visits": -1}


def test_unknown_field_is_rejected_with_field_errors(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device)
    [result] = run(engine, device, [make_op(OpKind.PATCH, record_id, {"colour": "red"}, 1)])
    assert result.reason is Reason.UNKNOWN_FIELDS
    assert result.field_errors == {"colour": ["unknown field"]}


def test_invalid_field_is_rejected_by_the_record_types_validator(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device)
    [result] = run(engine, device, [make_op(OpKind.PATCH, record_id, {"title": "x" * 201}, 1)])
    assert (result.reason, result.field_errors) == (Reason.INVALID_FIELDS, {"title": ["too long"]})


def test_different_fields_changed_on_both_sides_merge(engine: Engine) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = created(engine, worker, title="t", body="b")
    run(engine, dispatcher, [make_op(OpKind.PATCH, record_id, {"body": "server"}, 1)])
    [result] = run(engine, worker, [make_op(OpKind.PATCH, record_id, {"title": "client"}, 1)])
    assert (result.status, result.version) == (Status.MERGED, 3)
    row = note(engine, record_id)
    assert (row["title"], row["body"]) == ("client", "server")
    assert result.current is not None
    assert result.current["body"] == "server"


def test_later_client_edit_wins_a_low_stakes_field_and_the_server_value_is_kept(
    engine: Engine,
) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = created(engine, worker, title="base")
    run(
        engine,
        dispatcher,
        [make_op(OpKind.PATCH, record_id, {"title": "server"}, 1, stamp("web", -60_000))],
    )
    [result] = run(engine, worker, [make_op(OpKind.PATCH, record_id, {"title": "client"}, 1)])
    assert result.status is Status.CONFLICT
    assert note(engine, record_id)["title"] == "client"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(conflicts).where(conflicts.c.id == result.conflict_ids[0])
        ).one()
    assert (row.field, row.base_value, row.server_value, row.client_value, row.winner) == (
        "title",
        "base",
        "server",
        "client",
        "client",
    )


def test_server_value_stands_for_a_server_wins_field_and_the_client_value_is_kept(
    engine: Engine,
) -> None:
    worker = make_device()
    record_id = created(engine, worker, status="open")
    with engine.begin() as conn:  # a dispatcher's edit through the web service, not through sync
        conn.execute(
            notes.update().where(notes.c.id == record_id).values(status="closed", version=2)
        )
    [result] = run(engine, worker, [make_op(OpKind.PATCH, record_id, {"status": "processing"}, 1)])
    assert result.status is Status.CONFLICT
    assert note(engine, record_id)["status"] == "closed"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(conflicts).where(conflicts.c.id == result.conflict_ids[0])
        ).one()
    assert (row.server_value, row.client_value, row.winner) == ("closed", "processing", "server")


def test_a_devices_own_queued_edits_do_not_conflict_with_each_other(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    first, second = run(
        engine,
        device,
        [
            make_op(OpKind.PATCH, record_id, {"title": "b"}, 1),
            make_op(OpKind.PATCH, record_id, {"title": "c"}, 1),
        ],
    )
    assert (first.status, second.status) == (Status.APPLIED, Status.APPLIED)
    assert note(engine, record_id)["title"] == "c"


def test_edit_against_a_deleted_record_is_a_conflict_not_a_resurrection(engine: Engine) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = created(engine, worker, title="a")
    run(engine, dispatcher, [make_op(OpKind.DELETE, record_id, base_version=1)])
    [result] = run(engine, worker, [make_op(OpKind.PATCH, record_id, {"title": "edited"}, 1)])
    assert (result.status, result.reason) == (Status.CONFLICT, Reason.UPDATE_VS_DELETE)
    row = note(engine, record_id)
    assert row["deleted_at"] is not None
    assert row["title"] == "a"
    with engine.connect() as conn:
        kept = conn.execute(sa.select(conflicts).where(conflicts.c.record_id == record_id)).one()
    assert (kept.kind, kept.field, kept.client_value) == ("update_vs_delete", "title", "edited")


def test_delete_against_an_edited_record_is_a_conflict_not_a_loss(engine: Engine) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = created(engine, worker, title="a")
    run(engine, dispatcher, [make_op(OpKind.PATCH, record_id, {"title": "edited"}, 1)])
    [result] = run(engine, worker, [make_op(OpKind.DELETE, record_id, base_version=1)])
    assert (result.status, result.reason) == (Status.CONFLICT, Reason.DELETE_VS_UPDATE)
    row = note(engine, record_id)
    assert (row["deleted_at"], row["title"]) == (None, "edited")
    with engine.connect() as conn:
        kept = conn.execute(sa.select(conflicts).where(conflicts.c.record_id == record_id)).one()
    assert (kept.kind, kept.client_value, kept.server_value) == (
        "delete_vs_update",
        {"deleted": True},
        {"title": "edited"},
    )


def test_create_then_delete_then_replayed_create_does_not_resurrect(engine: Engine) -> None:
    device = make_device()
    record_id = uuid.uuid4()
    create = make_op(OpKind.CREATE, record_id, {"title": "a", "place": "north"})
    run(engine, device, [create, make_op(OpKind.DELETE, record_id, base_version=1)])
    [replayed] = run(engine, device, [create])
    assert (replayed.status, replayed.version) == (Status.APPLIED, 1)
    assert note(engine, record_id)["deleted_at"] is not None


def test_create_of_an_existing_id_from_another_device_merges_as_a_conflict(engine: Engine) -> None:
    record_id = created(engine, make_device(), title="mine", place="north")
    again = make_op(
        OpKind.CREATE, record_id, {"title": "yours", "place": "north"}, at=stamp(offset_ms=-1000)
    )
    [result] = run(engine, make_device("other"), [again])
    assert result.status is Status.CONFLICT
    assert note(engine, record_id)["title"] == "mine"


def test_clock_a_year_ahead_is_clamped_to_the_server_clock_and_flagged(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    future = make_op(OpKind.PATCH, record_id, {"title": "b"}, 1, stamp("phone", YEAR_MS))
    [result] = run(engine, device, [future])
    assert result.status is Status.APPLIED
    assert result.flags == (Flag.CLOCK_CLAMPED,)
    with engine.connect() as conn:
        recorded = conn.scalar(
            sa.select(field_stamps.c.stamp).where(
                field_stamps.c.record_id == record_id, field_stamps.c.version == 2
            )
        )
        flags = conn.scalar(
            sa.select(op_receipts.c.flags).where(op_receipts.c.op_id == future.op_id)
        )
    assert recorded is not None
    assert recorded < stamp("phone", 60_000)
    assert flags == ["clock_clamped"]


def test_a_fields_own_stamp_a_year_ahead_is_clamped_and_flagged(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a", body="x")
    op = replace(
        make_op(OpKind.PATCH, record_id, {"title": "b", "body": "y"}, 1),
        stamps={"title": stamp("phone", YEAR_MS)},
    )
    [result] = run(engine, device, [op])
    assert (result.status, result.flags) == (Status.APPLIED, (Flag.CLOCK_CLAMPED,))
    with engine.connect() as conn:
        recorded = dict(
            conn.execute(
                sa.select(field_stamps.c.field, field_stamps.c.stamp).where(
                    field_stamps.c.record_id == record_id, field_stamps.c.version == 2
                )
            ).all()
        )
    assert recorded["title"] < stamp("phone", 60_000)
    assert recorded["body"] == op.stamp


def test_a_malformed_field_stamp_refuses_the_op(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    op = replace(make_op(OpKind.PATCH, record_id, {"title": "b"}, 1), stamps={"title": "soon"})
    [result] = run(engine, device, [op])
    assert (result.status, result.reason) == (Status.REJECTED, Reason.INVALID_STAMP)
    assert note(engine, record_id)["title"] == "a"


def test_a_stamp_of_a_field_the_op_does_not_change_is_not_used(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    op = replace(
        make_op(OpKind.PATCH, record_id, {"title": "b"}, 1),
        stamps={"body": stamp("phone", YEAR_MS)},
    )
    [result] = run(engine, device, [op])
    assert (result.status, result.flags) == (Status.APPLIED, ())
    assert note(engine, record_id)["title"] == "b"


def test_a_value_a_unique_constraint_refuses_gets_the_registrys_refusal(engine: Engine) -> None:
    # `validate` does not look (as if a concurrent batch took the code after it did): the
    # constraint stops the write, and the op is answered with the record type's refusal.
    device = make_device()
    holder = created(engine, device, code="A-1")
    other = created(engine, device, code="B-2")
    fresh, clash = uuid.uuid4(), uuid.uuid4()
    results = run(
        engine,
        device,
        [
            make_op(OpKind.CREATE, fresh, {"place": "north", "code": "C-3"}),
            make_op(OpKind.CREATE, clash, {"place": "north", "code": "A-1"}),
            make_op(OpKind.PATCH, other, {"code": "A-1"}, 1),
        ],
    )
    assert [(r.status, r.reason) for r in results] == [
        (Status.APPLIED, None),
        (Status.REJECTED, Reason.INVALID_FIELDS),
        (Status.REJECTED, Reason.INVALID_FIELDS),
    ]
    assert results[1].field_errors == {"code": ["taken"]}
    assert note(engine, holder)["code"] == "A-1"
    assert note(engine, other)["code"] == "B-2"
    assert note(engine, fresh)["code"] == "C-3"
    with engine.connect() as conn:
        kept = conn.scalars(sa.select(rejected_ops.c.reason).order_by(rejected_ops.c.reason))
        assert list(kept) == ["invalid_fields", "invalid_fields"]
        assert conn.scalar(sa.select(sa.func.count()).where(notes.c.id == clash)) == 0


def test_record_the_user_never_had_is_refused_and_kept(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    refuse: AuthorizeFn = lambda checks: {c.op_id: Access.NEVER for c in checks}  # noqa: E731
    batch = [make_op(OpKind.PATCH, record_id, {"title": "b"}, 1)]
    [result] = run(engine, device, batch, refuse)
    assert (result.status, result.reason) == (Status.REJECTED, Reason.OUT_OF_SCOPE)
    assert note(engine, record_id)["title"] == "a"
    assert count(engine, rejected_ops) == 1


def test_record_in_scope_at_edit_time_is_applied_and_flagged(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    seen: list[AccessCheck] = []

    def history_only(checks: Sequence[AccessCheck]) -> dict[uuid.UUID, Access]:
        seen.extend(checks)
        return {c.op_id: Access.AT_EDIT_TIME for c in checks}

    [result] = run(
        engine, device, [make_op(OpKind.PATCH, record_id, {"title": "b"}, 1)], history_only
    )
    assert result.status is Status.APPLIED
    assert result.flags == (Flag.OUT_OF_SCOPE_NOW,)
    assert seen[0].grid_id == GRID_A
    assert note(engine, record_id)["title"] == "b"


def test_batch_over_the_limit_raises_before_anything_is_applied(engine: Engine) -> None:
    device = make_device()
    batch = [make_op(OpKind.CREATE, uuid.uuid4(), {"place": "north"}) for _ in range(3)]
    with engine.begin() as conn, pytest.raises(BatchTooLarge):
        push(conn, REGISTRY, device, allow_all, batch, limits=PushLimits(max_ops=2))
    assert count(engine, notes) == 0


def test_batch_over_the_byte_limit_raises(engine: Engine) -> None:
    batch = [make_op(OpKind.CREATE, uuid.uuid4(), {"body": "x" * 2000})]
    with engine.begin() as conn, pytest.raises(BatchTooLarge):
        push(conn, REGISTRY, make_device(), allow_all, batch, limits=PushLimits(max_bytes=1000))


def test_repeated_op_id_inside_one_batch_is_answered_as_a_duplicate(engine: Engine) -> None:
    device = make_device()
    op = make_op(OpKind.CREATE, uuid.uuid4(), {"place": "north"})
    first, second = run(engine, device, [op, op])
    assert (first.status, second.status, second.version) == (Status.APPLIED, Status.DUPLICATE, 1)


def test_edit_from_a_clock_a_year_behind_loses_to_a_newer_edit_and_is_kept(
    engine: Engine,
) -> None:
    worker, dispatcher = make_device(), make_device("web")
    record_id = created(engine, worker, title="base")
    run(engine, dispatcher, [make_op(OpKind.PATCH, record_id, {"title": "server"}, 1)])
    stale = make_op(OpKind.PATCH, record_id, {"title": "client"}, 1, stamp("phone", -YEAR_MS))
    [result] = run(engine, worker, [stale])
    assert (result.status, result.flags) == (Status.CONFLICT, ())
    assert note(engine, record_id)["title"] == "server"
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(conflicts.c.client_value).where(conflicts.c.id == result.conflict_ids[0])
        ).scalar_one()
    assert kept == "client"


def test_value_of_the_wrong_type_is_rejected_without_sinking_the_batch(engine: Engine) -> None:
    device = make_device()
    record_id = created(engine, device, title="a")
    wrong, fine = run(
        engine,
        device,
        [
            make_op(OpKind.PATCH, record_id, {"visits": "many"}, 1),
            make_op(OpKind.PATCH, record_id, {"body": "ok"}, 1),
        ],
    )
    assert (wrong.status, wrong.reason) == (Status.REJECTED, Reason.APPLY_FAILED)
    assert fine.status is Status.APPLIED
