"""Apply one prepared op to its locked record: merge, write, record conflicts.

Runs inside the op's savepoint; any database error propagates so push can roll the savepoint
back and answer the op as rejected without sinking the batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from sync import records
from sync.access import Access, Device
from sync.merge import (
    FieldConflict,
    MergeOutcome,
    ServerChange,
    ServerState,
    merge_delete,
    merge_patch,
)
from sync.ops import JSON, Flag, Op, OpKind, OpResult, Reason, Status
from sync.records import HistoryEntry
from sync.registry import CommandRefused, Location, RecordType
from sync.tables import conflicts


@dataclass
class RecordState:
    """A locked record as the batch sees it, kept current as ops apply."""

    doc: dict[str, JSON] | None
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass(frozen=True)
class PreparedOp:
    """An op that passed the checks that need no record, with its clamped stamps and flags."""

    op: Op
    record_type: RecordType
    stamp: str
    field_stamps: Mapping[str, str]
    edited_at: datetime
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class Applied:
    """The op's result and the record state after it."""

    result: OpResult
    state: RecordState


def server_changes(
    history: list[HistoryEntry], base_version: int, device_id: uuid.UUID
) -> dict[str, ServerChange]:
    """Fields other writers changed after `base_version`, with their latest stamp and base value.

    A device's own later write to a field supersedes what it had seen, so changes before the
    device's own last write of that field were already merged (or recorded) then.
    """
    own_last: dict[str, int] = {}
    for entry in history:
        if entry.device_id == device_id:
            own_last[entry.field] = max(own_last.get(entry.field, 0), entry.version)
    changes: dict[str, ServerChange] = {}
    for name in sorted({e.field for e in history}):
        entries = [e for e in history if e.field == name]
        horizon = max(base_version, own_last.get(name, 0))
        later = [e for e in entries if e.version > horizon and e.device_id != device_id]
        if not later:
            continue
        at_base = [e for e in entries if e.version <= base_version]
        base_value = at_base[-1].value if at_base else None
        changes[name] = ServerChange(stamp=later[-1].stamp, base_value=base_value)
    return changes


def _conflict_rows(
    prepared: PreparedOp,
    device: Device,
    kind: str,
    found: tuple[FieldConflict, ...],
    grid_id: JSON,
    now: datetime,
) -> list[dict[str, JSON]]:
    op = prepared.op
    return [
        {
            "id": uuid.uuid4(),
            "kind": kind,
            "record_type": op.record_type,
            "record_id": op.record_id,
            "field": c.field,
            "base_value": c.base_value,
            "server_value": c.server_value,
            "client_value": c.client_value,
            "winner": c.winner.value,
            "op_id": op.op_id,
            "device_id": device.device_id,
            "user_id": device.user_id,
            "grid_id": uuid.UUID(grid_id) if grid_id else None,
            "created_at": now,
        }
        for c in found
    ]


def audit_columns(device: Device, now: datetime) -> dict[str, JSON]:
    """The audit columns every create of one batch carries (made once, not per op)."""
    at, by = now.isoformat(), str(device.user_id)
    return {"updated_at": at, "updated_by": by, "version": 1, "created_at": at, "created_by": by}


def placement_columns(prepared: PreparedOp, location: Location | None) -> dict[str, JSON]:
    """The placement columns a create of this record type at `location` stores."""
    if location is None:
        return {}
    placed: dict[str, JSON] = {"grid_id": str(location.grid_id) if location.grid_id else None}
    if "scope_path" in prepared.record_type.table.c:
        placed["scope_path"] = [str(p) for p in location.scope_path]
    return placed


def new_row(
    prepared: PreparedOp, location: Location | None, device: Device, now: datetime
) -> dict[str, JSON]:
    """The document a create inserts: the op's fields, the audit columns and its placement."""
    op = prepared.op
    return {
        **op.fields,
        **audit_columns(device, now),
        "id": str(op.record_id),
        **placement_columns(prepared, location),
    }


def created(
    prepared: PreparedOp,
    state: RecordState,
    stored: dict[str, JSON],
    device: Device,
    flags: tuple[Flag, ...],
) -> Applied:
    """The result and new state of a create whose row was stored."""
    op = prepared.op
    new_state = RecordState(stored, _history_after(state, stored, op.fields, prepared, device))
    return Applied(OpResult(op.op_id, Status.APPLIED, version=1, flags=flags), new_state)


def write_context(
    prepared: PreparedOp, device: Device, fields: Mapping[str, JSON]
) -> dict[str, JSON]:
    """What the tracking trigger records with this op's write: op id, device and stamps."""
    return {
        "op_id": prepared.op.op_id,  # written by orjson, which needs no str()
        "device_id": device.device_id,
        "stamp": prepared.stamp,
        # Only stamps that differ from the op's: the trigger falls back to `stamp` for the rest,
        # and a 500-op context stays a fraction of the size (parsed once, sent once).
        "stamps": {
            n: stamp
            for n in fields
            if (stamp := prepared.field_stamps.get(n, prepared.stamp)) != prepared.stamp
        },
    }


def _history_after(
    state: RecordState,
    doc: Mapping[str, JSON],
    written: Mapping[str, JSON],
    prepared: PreparedOp,
    device: Device,
) -> list[HistoryEntry]:
    version = int(doc["version"])
    added = [
        HistoryEntry(
            n, version, prepared.field_stamps.get(n, prepared.stamp), doc.get(n), device.device_id
        )
        for n in sorted(written)
    ]
    return state.history + added


def apply_op(
    conn: sa.Connection,
    prepared: PreparedOp,
    state: RecordState,
    access: Access,
    location: Location | None,
    device: Device,
    now: datetime,
) -> Applied:
    """Apply one op whose record is locked; return its result and the new record state."""
    op = prepared.op
    flags = prepared.flags + ((Flag.OUT_OF_SCOPE_NOW,) if access is Access.AT_EDIT_TIME else ())
    audit = {"updated_at": now.isoformat(), "updated_by": str(device.user_id)}
    doc = state.doc
    if doc is None:
        if op.kind is not OpKind.CREATE:
            return Applied(OpResult(op.op_id, Status.REJECTED, reason=Reason.NOT_FOUND), state)
        row = new_row(prepared, location, device, now)
        records.set_write_context(conn, write_context(prepared, device, op.fields))
        stored = records.insert_row(conn, prepared.record_type, row)
        return created(prepared, state, stored, device, flags)

    if op.kind is OpKind.COMMAND:
        return _apply_command(conn, prepared, state, doc, device, audit, flags)

    # A create against an existing id is a patch from nothing: every server value counts as new.
    if op.kind is OpKind.CREATE:
        refused = _fixed_changed(prepared, doc)
        if refused is not None:
            return Applied(refused, state)
    base = 0 if op.kind is OpKind.CREATE else int(op.base_version or 0)
    if base > int(doc["version"]):
        return Applied(
            OpResult(op.op_id, Status.REJECTED, reason=Reason.BASE_VERSION_AHEAD, current=doc),
            state,
        )
    server = ServerState(
        values=doc,
        deleted=doc.get("deleted_at") is not None,
        changes=server_changes(state.history, base, device.device_id),
    )
    if op.kind is OpKind.DELETE:
        outcome = merge_delete(server)
        writes: dict[str, JSON] = {}
        if outcome.status is not Status.CONFLICT and not server.deleted:
            writes = {"deleted_at": now.isoformat(), "deleted_by": str(device.user_id)}
    else:
        outcome = merge_patch(server, op.fields, prepared.field_stamps, prepared.record_type.fields)
        writes = dict(outcome.writes)
    return _write_outcome(conn, prepared, state, doc, outcome, writes, device, audit, flags, now)


def _fixed_changed(prepared: PreparedOp, doc: Mapping[str, JSON]) -> OpResult | None:
    """The rejection of a create that would change the fixed fields of the record it names."""
    record_type = prepared.record_type
    fields = prepared.op.fields
    changed = sorted(n for n in record_type.fixed & fields.keys() if fields[n] != doc.get(n))
    if not changed:
        return None
    message = f"Fixed when the {record_type.name} is created."
    return OpResult(
        prepared.op.op_id,
        Status.REJECTED,
        reason=Reason.INVALID_FIELDS,
        field_errors={n: [message] for n in changed},
    )


def _write_outcome(
    conn: sa.Connection,
    prepared: PreparedOp,
    state: RecordState,
    doc: dict[str, JSON],
    outcome: MergeOutcome,
    writes: dict[str, JSON],
    device: Device,
    audit: Mapping[str, JSON],
    flags: tuple[Flag, ...],
    now: datetime,
) -> Applied:
    op = prepared.op
    new_state = state
    if writes:
        records.set_write_context(conn, write_context(prepared, device, writes))
        stored = records.update_row(
            conn,
            prepared.record_type,
            op.record_id,
            {**writes, **audit, "version": int(doc["version"]) + 1},
        )
        merge_fields = {n: v for n, v in writes.items() if n in prepared.record_type.fields}
        new_state = RecordState(
            stored, _history_after(state, stored, merge_fields, prepared, device)
        )
    current = new_state.doc or doc
    conflict_ids: tuple[uuid.UUID, ...] = ()
    if outcome.conflicts:
        kind = outcome.record_conflict.value if outcome.record_conflict else "field"
        rows = _conflict_rows(
            prepared, device, kind, outcome.conflicts, current.get("grid_id"), now
        )
        conn.execute(sa.insert(conflicts), rows)
        conflict_ids = tuple(r["id"] for r in rows)
    status = outcome.status
    reason = outcome.record_conflict or (Reason.FIELD_CONFLICT if outcome.conflicts else None)
    return Applied(
        OpResult(
            op.op_id,
            status,
            version=int(current["version"]),
            reason=reason,
            current=current if status in (Status.MERGED, Status.CONFLICT) else None,
            conflict_ids=conflict_ids,
            flags=flags,
        ),
        new_state,
    )


def _apply_command(
    conn: sa.Connection,
    prepared: PreparedOp,
    state: RecordState,
    doc: dict[str, JSON],
    device: Device,
    audit: Mapping[str, JSON],
    flags: tuple[Flag, ...],
) -> Applied:
    op = prepared.op
    handler = prepared.record_type.commands.get(op.command or "")
    if handler is None:
        return Applied(OpResult(op.op_id, Status.REJECTED, reason=Reason.UNKNOWN_COMMAND), state)
    if doc.get("deleted_at") is not None:
        return Applied(
            OpResult(op.op_id, Status.REJECTED, reason=Reason.NOT_FOUND, current=doc), state
        )
    try:
        writes = dict(handler(doc, op.args))
    except CommandRefused as refused:
        return Applied(
            OpResult(
                op.op_id,
                Status.REJECTED,
                reason=Reason.COMMAND_REFUSED,
                field_errors=refused.field_errors,
                current=doc,
            ),
            state,
        )
    unknown = set(writes) - set(prepared.record_type.fields)
    if unknown:
        raise ValueError(f"command {op.command} wrote undeclared fields {sorted(unknown)}")
    if not writes:
        return Applied(OpResult(op.op_id, Status.APPLIED, version=int(doc["version"])), state)
    records.set_write_context(conn, write_context(prepared, device, writes))
    stored = records.update_row(
        conn,
        prepared.record_type,
        op.record_id,
        {**writes, **audit, "version": int(doc["version"]) + 1},
    )
    new_state = RecordState(stored, _history_after(state, stored, writes, prepared, device))
    return Applied(
        OpResult(op.op_id, Status.APPLIED, version=int(stored["version"]), flags=flags), new_state
    )
