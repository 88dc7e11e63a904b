"""Several phones and a dispatcher editing one grid in random interleavings, checked against a
model: no pushed value is lost without a record, and every phone converges to the server."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync import hlc
from sync.access import Device
from sync.ops import Op, OpKind, OpResult, Status
from sync.pull import pull
from sync.push import push
from sync.slices import MOD, record_hash
from sync.tables import conflicts, field_stamps, rejected_ops
from tests.sync.conftest import GRID_A, REGISTRY, allow_all, make_device, notes

FIELDS = ("title", "body", "status", "visits")
VALUES: dict[str, list[Any]] = {
    "title": ["a", "b", "c"],
    "body": ["x", "y"],
    "status": ["open", "closed"],
    "visits": [0, 1, 2, -1],  # -1 breaks a CHECK constraint: a poison op now and then
}


@dataclass
class Phone:
    device: Device
    cursor: str | None = None
    replica: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    pending: dict[uuid.UUID, Op] = field(default_factory=dict)


@dataclass
class Pushed:
    op: Op
    result: OpResult
    before: dict[str, Any] | None


def now_stamp(rnd: random.Random, node: str) -> str:
    wall = int(datetime.now(UTC).timestamp() * 1000) + rnd.randint(-2000, 2000)
    return hlc.Stamp(wall, 0, node).encode()


def edit(phone: Phone, rnd: random.Random) -> None:
    node = str(phone.device.device_id)[:8]
    live = [i for i in phone.replica if phone.pending.get(i, None) is None]
    choice = rnd.random()
    if choice < 0.3 or not live:
        record_id = uuid.uuid4()
        fields = {"place": "north", **{f: rnd.choice(VALUES[f]) for f in FIELDS}}
        kind, base = OpKind.CREATE, None
    elif choice < 0.4:
        record_id = rnd.choice(live)
        fields, kind, base = {}, OpKind.DELETE, phone.replica[record_id]["version"]
    else:
        record_id = rnd.choice(live)
        names = rnd.sample(FIELDS, rnd.randint(1, 3))
        fields = {f: rnd.choice(VALUES[f]) for f in names}
        kind, base = OpKind.PATCH, phone.replica[record_id]["version"]
    stamp = now_stamp(rnd, node)
    phone.pending[record_id] = Op(
        op_id=uuid.uuid4(),
        record_type="note",
        record_id=record_id,
        kind=kind,
        stamp=stamp,
        base_version=base,
        fields=fields,
        stamps=dict.fromkeys(fields, stamp),
    )


def dispatcher_edit(engine: Engine, rnd: random.Random) -> None:
    with engine.begin() as conn:
        ids = conn.scalars(sa.select(notes.c.id).where(notes.c.deleted_at.is_(None))).all()
        if not ids:
            return
        name = rnd.choice(FIELDS[:3])
        conn.execute(
            notes.update()
            .where(notes.c.id == rnd.choice(sorted(ids)))
            .values({name: rnd.choice(VALUES[name]), "version": notes.c.version + 1})
        )


def rows(engine: Engine, ids: list[uuid.UUID] | None = None) -> dict[uuid.UUID, dict[str, Any]]:
    query = sa.select(notes)
    if ids is not None:
        query = query.where(notes.c.id.in_(ids))
    with engine.connect() as conn:
        return {r.id: dict(r._mapping) for r in conn.execute(query)}


def sync(engine: Engine, phone: Phone, ledger: list[Pushed]) -> list[Any] | None:
    ops = list(phone.pending.values())
    before = rows(engine, [op.record_id for op in ops])
    with engine.begin() as conn:
        results = push(conn, REGISTRY, phone.device, allow_all, ops)
    ledger.extend(Pushed(o, r, before.get(o.record_id)) for o, r in zip(ops, results, strict=True))
    phone.pending.clear()
    while True:
        repeatable = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with repeatable as conn, conn.begin():
            page = pull(conn, REGISTRY, phone.device, [GRID_A], phone.cursor, limit=7)
        phone.cursor = page.cursor
        for change in page.changes:
            if change.kind == "upsert":
                mine = phone.replica.get(change.record_id)
                if mine is None or mine["version"] <= change.version:
                    phone.replica[change.record_id] = dict(change.record or {})
            else:
                phone.replica.pop(change.record_id, None)
        if not page.has_more:
            return page.summaries


def assert_nothing_lost(engine: Engine, ledger: list[Pushed]) -> None:
    with engine.connect() as conn:
        written = {
            (r.op_id, r.field): r.value
            for r in conn.execute(sa.select(field_stamps).where(field_stamps.c.op_id.is_not(None)))
        }
        kept = {(r.op_id, r.field): r.client_value for r in conn.execute(sa.select(conflicts))}
        record_conflicts = {r.op_id for r in conn.execute(sa.select(conflicts.c.op_id))}
        refused = set(conn.scalars(sa.select(rejected_ops.c.op_id)))
    for pushed in ledger:
        op, status = pushed.op, pushed.result.status
        if status is Status.REJECTED:
            assert op.op_id in refused
            continue
        if op.kind is OpKind.DELETE:
            assert status is Status.APPLIED or op.op_id in record_conflicts
            continue
        for name, value in op.fields.items():
            unchanged = pushed.before is not None and pushed.before[name] == value
            assert (
                unchanged
                or written.get((op.op_id, name)) == value
                or kept.get((op.op_id, name)) == value
            ), (op, pushed.result)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_interleavings_lose_nothing_and_converge(engine: Engine, seed: int) -> None:
    rnd = random.Random(seed)
    phones = [Phone(make_device(f"p{n}")) for n in range(3)]
    ledger: list[Pushed] = []
    for phone in phones:
        sync(engine, phone, ledger)
    for _ in range(60):
        action = rnd.random()
        if action < 0.55:
            edit(rnd.choice(phones), rnd)
        elif action < 0.65:
            dispatcher_edit(engine, rnd)
        else:
            sync(engine, rnd.choice(phones), ledger)
    for phone in phones + phones:  # everyone pushes, then everyone pulls what the others pushed
        summaries = sync(engine, phone, ledger)

    assert_nothing_lost(engine, ledger)
    live = {i: r for i, r in rows(engine).items() if r["deleted_at"] is None}
    for phone in phones:
        assert set(phone.replica) == set(live)
        for record_id, row in live.items():
            mine = phone.replica[record_id]
            assert mine["version"] == row["version"]
            assert {f: mine[f] for f in FIELDS} == {f: row[f] for f in FIELDS}
    assert summaries is not None
    [summary] = summaries
    expected = sum(record_hash(i, r["version"]) for i, r in live.items()) % MOD
    assert (summary.count, summary.checksum) == (len(live), expected)
