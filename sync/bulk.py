"""The push's fast path: the plain ops of a batch applied set-based, a few statements in all.

Most of a batch is fresh records made on the phone, and edits of records nobody else changed
since the phone saw them. Such an op needs no merge decision beyond "write the fields that
differ": a create of an id nobody has, or a patch whose base version is the record's current
version, of a record no other op of the batch touches. All of them go in together: one write
context carrying each record's op id and stamps (the tracking triggers read them per row), one
INSERT … SELECT FROM jsonb_populate_recordset per record type, column set and location (the
audit and placement columns the group shares travel once, not in every row), one UPDATE … FROM
likewise, all in one savepoint. If any statement fails (a constraint one op breaks, or a
concurrent batch that took an id first), the savepoint is rolled back and those ops take the
per-op path instead, where each is answered on its own.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa

from sync import records
from sync.access import Access, Device
from sync.apply import (
    Applied,
    PreparedOp,
    RecordState,
    audit_columns,
    placement_columns,
    server_changes,
)
from sync.merge import ServerState, merge_patch
from sync.ops import JSON, Flag, OpKind, OpResult, Status
from sync.registry import Location, Registry

Key = tuple[str, uuid.UUID]
Group = tuple[str, tuple[str, ...]]
# An insert group: record type, the rows' own columns, and the columns every row of the group
# shares (audit and placement, as sorted JSON: one group per location).
InsertGroup = tuple[str, tuple[str, ...], bytes]
_SAVEPOINT = "sync_fast_path"


@dataclass
class _Plan:
    """The statements to run: rows by group, and the answers once done."""

    inserts: dict[InsertGroup, list[dict[str, JSON]]]
    shared: dict[InsertGroup, dict[str, JSON]]
    updates: dict[Group, list[dict[str, JSON]]]
    context_rows: dict[str, JSON]
    answers: dict[uuid.UUID, Applied]


def _flags(prepared: PreparedOp, access: Access) -> tuple[Flag, ...]:
    extra = (Flag.OUT_OF_SCOPE_NOW,) if access is Access.AT_EDIT_TIME else ()
    return prepared.flags + extra


def _row_context(prepared: PreparedOp, fields: Mapping[str, JSON]) -> dict[str, JSON]:
    """A record's entry under the write context's `rows`: its op id and stamp, and the field
    stamps only when some differ. The device is the context's own (`apply.write_context` per
    row repeated it 500 times, and an empty `stamps`, for the trigger to parse and skip)."""
    row: dict[str, JSON] = {"op_id": prepared.op.op_id, "stamp": prepared.stamp}
    if not prepared.op.stamps:  # then every field carries the op's stamp
        return row
    stamps = {
        n: stamp
        for n in fields
        if (stamp := prepared.field_stamps.get(n, prepared.stamp)) != prepared.stamp
    }
    if stamps:
        row["stamps"] = stamps
    return row


def _plain_patch(prepared: PreparedOp, state: RecordState, device: Device) -> bool:
    doc = state.doc
    op = prepared.op
    if op.kind is not OpKind.PATCH or doc is None or doc.get("deleted_at") is not None:
        return False
    base = int(op.base_version or 0)
    return base == int(doc["version"]) and not server_changes(state.history, base, device.device_id)


def _plan(
    batch: Sequence[PreparedOp],
    states: Mapping[Key, RecordState],
    access: Mapping[uuid.UUID, Access],
    locations: Mapping[uuid.UUID, Location],
    device: Device,
    now: datetime,
) -> _Plan:
    touches = Counter((p.record_type.name, p.op.record_id) for p in batch)
    plan = _Plan({}, {}, {}, {}, {})
    audit = audit_columns(device, now)
    # The batch's creates share a few locations: their shared columns are made once per location.
    placements: dict[tuple[str, int], tuple[dict[str, JSON], bytes]] = {}
    # Rows mostly carry their columns in one order: each order is sorted once.
    groups: dict[tuple[str, tuple[str, ...], bytes], InsertGroup] = {}
    for p in batch:
        key = (p.record_type.name, p.op.record_id)
        allowed = access.get(p.op.op_id, Access.NEVER)
        if touches[key] != 1 or allowed is Access.NEVER:
            continue
        state = states[key]
        flags = _flags(p, allowed)
        if p.op.kind is OpKind.CREATE and state.doc is None:
            location = locations.get(p.op.op_id)
            placed_key = (p.record_type.name, id(location))
            placed = placements.get(placed_key)
            if placed is None:
                common = {**audit, **placement_columns(p, location)}
                placed = placements[placed_key] = (
                    common,
                    orjson.dumps(common, option=orjson.OPT_SORT_KEYS),
                )
            shared, shared_key = placed
            row = {**p.op.fields, "id": str(p.op.record_id)}
            seen = (p.record_type.name, tuple(row), shared_key)
            group = groups.get(seen)
            if group is None:
                group = groups[seen] = (p.record_type.name, tuple(sorted(row)), shared_key)
                plan.shared[group] = shared
            plan.inserts.setdefault(group, []).append(row)
            plan.context_rows[str(p.op.record_id)] = _row_context(p, p.op.fields)
            result = OpResult(p.op.op_id, Status.APPLIED, version=1, flags=flags)
            # No other op of the batch touches this record: its field history is not needed.
            plan.answers[p.op.op_id] = Applied(result, RecordState({**row, **shared}))
        elif _plain_patch(p, state, device):
            doc = state.doc
            assert doc is not None
            server = ServerState(values=doc, deleted=False, changes={})
            outcome = merge_patch(server, p.op.fields, p.field_stamps, p.record_type.fields)
            version = int(doc["version"]) + (1 if outcome.writes else 0)
            if outcome.writes:
                row = {
                    **outcome.writes,
                    "updated_at": now.isoformat(),
                    "updated_by": str(device.user_id),
                    "version": version,
                }
                columns = (p.record_type.name, tuple(sorted(row)))
                plan.updates.setdefault(columns, []).append({**row, "id": str(p.op.record_id)})
                plan.context_rows[str(p.op.record_id)] = _row_context(p, outcome.writes)
                doc = {**doc, **row}
            result = OpResult(p.op.op_id, Status.APPLIED, version=version, flags=flags)
            plan.answers[p.op.op_id] = Applied(result, RecordState(doc, state.history))
    return plan


class PlainApply:
    """The fast path of one batch: `answers` holds the results of the ops it applies, by op id.
    Inside `apply_plain`'s block they are what its statements, still running, will have done;
    after the block, what they did (empty if a statement failed: then nothing of them was
    written)."""

    def __init__(self, answers: dict[uuid.UUID, Applied]) -> None:
        self.answers = answers


@contextmanager
def apply_plain(
    conn: sa.Connection,
    registry: Registry,
    batch: Sequence[PreparedOp],
    states: Mapping[Key, RecordState],
    access: Mapping[uuid.UUID, Access],
    locations: Mapping[uuid.UUID, Location],
    device: Device,
    now: datetime,
) -> Iterator[PlainApply]:
    """Apply the batch's plain creates and patches together.

    The statements are sent in pipeline mode and the block runs while the database executes
    them: the caller can do work that needs no database meanwhile (it must not use `conn`
    inside the block). They run in a savepoint, rolled back if any of them fails.
    """
    plan = _plan(batch, states, access, locations, device, now)
    applied = PlainApply(plan.answers)
    if not plan.answers:
        yield applied
        return
    types = {t.name: t for t in registry}
    order = {t.name: n for n, t in enumerate(registry)}
    context: dict[str, JSON] = {"device_id": str(device.device_id), "rows": plan.context_rows}
    raw = records.driver(conn)
    sent: list[tuple[psycopg.Cursor[Any], int]] = []
    # A statement's error may surface while later ones are sent, or at the sync.
    with raw.pipeline() as pipeline:
        try:
            raw.execute(f"SAVEPOINT {_SAVEPOINT}")
            if plan.context_rows:
                records.send_write_context(conn, context)
            # Registry order: a record type's anchors are inserted before it.
            for group in sorted(plan.inserts, key=lambda g: (order[g[0]], g[1], g[2])):
                rows = plan.inserts[group]
                cursor = records.insert_rows(conn, types[group[0]], rows, plan.shared[group])
                sent.append((cursor, len(rows)))
            for changed in sorted(plan.updates, key=lambda g: (order[g[0]], g[1])):
                rows = plan.updates[changed]
                sent.append((records.update_rows(conn, types[changed[0]], list(rows)), len(rows)))
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError):
            applied.answers = {}
        yield applied  # an error of the caller's block propagates from here, nothing caught
        try:
            pipeline.sync()  # waits for every statement
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError):
            applied.answers = {}
        except psycopg.errors.PipelineAborted:
            if applied.answers:  # no failed statement was seen: not ours to handle
                raise
    if not applied.answers:
        raw.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        return
    if any(cursor.rowcount != expected for cursor, expected in sent):
        raise RuntimeError("the fast path wrote another number of rows than it planned")
    raw.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
