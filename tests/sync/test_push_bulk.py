"""The push's set-based fast path answers and records exactly what the per-op path would."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.access import Device
from sync.ops import Op, OpKind, OpResult, Reason, Status
from sync.push import push
from sync.tables import change_log, field_stamps
from tests.sync.conftest import REGISTRY, allow_all, make_device, make_op, notes, stamp


def run(engine: Engine, device: Device, ops: Sequence[Op]) -> list[OpResult]:
    with engine.begin() as conn:
        return push(conn, REGISTRY, device, allow_all, ops)


def logged_op_ids(engine: Engine) -> dict[uuid.UUID, uuid.UUID]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(change_log.c.record_id, change_log.c.op_id))
        return {r.record_id: r.op_id for r in rows}


def title_stamps(engine: Engine, version: int) -> dict[uuid.UUID, tuple[str, uuid.UUID]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(field_stamps.c.record_id, field_stamps.c.stamp, field_stamps.c.op_id).where(
                field_stamps.c.field == "title", field_stamps.c.version == version
            )
        )
        return {r.record_id: (r.stamp, r.op_id) for r in rows}


def test_creates_applied_together_log_each_ops_own_op_id_and_stamp(engine: Engine) -> None:
    device = make_device()
    ops = [
        make_op(
            OpKind.CREATE, uuid.uuid4(), {"title": f"t{n}", "place": "north"}, at=stamp(f"n{n}")
        )
        for n in range(3)
    ]
    results = run(engine, device, ops)
    assert [(r.status, r.version) for r in results] == [(Status.APPLIED, 1)] * 3
    assert logged_op_ids(engine) == {op.record_id: op.op_id for op in ops}
    assert title_stamps(engine, 1) == {op.record_id: (op.stamp, op.op_id) for op in ops}


def test_poison_create_among_plain_creates_is_rejected_and_the_others_applied(
    engine: Engine,
) -> None:
    device = make_device()
    fine = [make_op(OpKind.CREATE, uuid.uuid4(), {"title": "ok", "place": "north"}) for _ in "ab"]
    poison = make_op(OpKind.CREATE, uuid.uuid4(), {"visits": -1, "place": "north"})
    first, bad, second = run(engine, device, [fine[0], poison, fine[1]])
    assert (bad.status, bad.reason) == (Status.REJECTED, Reason.APPLY_FAILED)
    assert (first.status, second.status) == (Status.APPLIED, Status.APPLIED)
    with engine.connect() as conn:
        stored = set(conn.scalars(sa.select(notes.c.id)))
    assert stored == {op.record_id for op in fine}


def test_patches_at_the_current_version_applied_together_stamp_each_field_with_its_op(
    engine: Engine,
) -> None:
    device = make_device()
    creates = [make_op(OpKind.CREATE, uuid.uuid4(), {"title": "a", "place": "north"}) for _ in "ab"]
    run(engine, device, creates)
    patches = [
        make_op(OpKind.PATCH, c.record_id, {"title": f"b{n}"}, 1, at=stamp(f"p{n}"))
        for n, c in enumerate(creates)
    ]
    results = run(engine, device, patches)
    assert [(r.status, r.version) for r in results] == [(Status.APPLIED, 2)] * 2
    assert title_stamps(engine, 2) == {p.record_id: (p.stamp, p.op_id) for p in patches}
    with engine.connect() as conn:
        titles = dict(conn.execute(sa.select(notes.c.id, notes.c.title)).all())
    assert titles == {p.record_id: p.fields["title"] for p in patches}


def test_poison_patch_among_plain_patches_is_rejected_and_the_others_applied(
    engine: Engine,
) -> None:
    device = make_device()
    creates = [make_op(OpKind.CREATE, uuid.uuid4(), {"title": "a", "place": "north"}) for _ in "ab"]
    run(engine, device, creates)
    poison = make_op(OpKind.PATCH, creates[0].record_id, {"visits": -1}, 1)
    fine = make_op(OpKind.PATCH, creates[1].record_id, {"title": "after"}, 1)
    bad, good = run(engine, device, [poison, fine])
    assert (bad.status, bad.reason) == (Status.REJECTED, Reason.APPLY_FAILED)
    assert (good.status, good.version) == (Status.APPLIED, 2)


def test_creates_applied_together_keep_a_fields_own_stamp(engine: Engine) -> None:
    device = make_device()
    older = stamp("field", -1000)
    own = dataclasses.replace(
        make_op(OpKind.CREATE, uuid.uuid4(), {"title": "own", "place": "north"}, at=stamp("o")),
        stamps={"title": older},
    )
    plain = make_op(OpKind.CREATE, uuid.uuid4(), {"title": "plain", "place": "north"})
    results = run(engine, device, [own, plain])
    assert [r.status for r in results] == [Status.APPLIED] * 2
    assert title_stamps(engine, 1) == {
        own.record_id: (older, own.op_id),
        plain.record_id: (plain.stamp, plain.op_id),
    }
