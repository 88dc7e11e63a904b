"""The push use case: apply a device's batch of ops exactly once, in the caller's transaction.

The batch is one transaction (the caller commits); plain creates and patches are applied together
in one savepoint (`sync.bulk`, falling back to the per-op path if any of its statements fails),
every other op in its own savepoint, and the receipts are written in the same transaction, so
after a crash either the whole batch and its receipts exist or none do, and the phone's retry
replays stored results.
Run at READ COMMITTED (the default): a second push from the same device waits on the device's
advisory lock and must then see the first push's receipts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa

from sync import bulk, hlc, receipts, records, references
from sync.access import Access, AccessCheck, AuthorizeFn, Device
from sync.apply import Applied, PreparedOp, RecordState, apply_op
from sync.errors import BatchTooLarge
from sync.ops import (
    JSON,
    Flag,
    Op,
    OpKind,
    OpResult,
    Reason,
    Status,
    canonical_bytes,
    hash_canonical,
)
from sync.registry import Location, Refused, Registry

# The push's first statements, sent together and run while its ops are checked (`push`).
_DEVICE_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%(device)s, 0))"
# One array parameter, not an IN list of 500 parameters to render, bind and parse; sent as one
# literal (`records.uuid_array`), not a list the driver adapts element by element. The literal
# goes untyped into the CAST, so the array is a constant the index scan takes: typed, the planner
# kept the cast per row, a seq scan parsing 500 uuids for every stored receipt (0.8 s at 10,000
# receipts).
_STORED_RECEIPTS = (
    "SELECT op_id, payload_hash, result FROM op_receipts "
    "WHERE device_id = %(device_id)s AND op_id = ANY(CAST(%(op_ids)s AS uuid[]))"
)


@dataclass(frozen=True)
class PushLimits:
    """Batch limits, checked before anything is applied, and the allowed clock skew."""

    max_ops: int = 1000
    max_bytes: int = 5_000_000
    max_clock_skew_ms: int = 5 * 60 * 1000


def check_limits(ops: Sequence[Op], limits: PushLimits, sizes: Sequence[int] = ()) -> None:
    """Raise BatchTooLarge when the batch exceeds the limits (`sizes`: the ops' canonical
    lengths, when the caller has them)."""
    size = sum(sizes) if sizes else sum(len(canonical_bytes(op)) for op in ops)
    if len(ops) > limits.max_ops or size > limits.max_bytes:
        raise BatchTooLarge(len(ops), size, limits.max_ops, limits.max_bytes)


def _rejected(op: Op, reason: Reason, errors: Mapping[str, list[str]] | None = None) -> OpResult:
    return OpResult(op.op_id, Status.REJECTED, reason=reason, field_errors=dict(errors or {}))


# A raw stamp -> (encoded clamped stamp, whether it was clamped, its wall time); shared by the
# ops of one batch, whose stamps mostly repeat.
StampCache = dict[str, tuple[str, bool, datetime]]


def _clamped(
    raw: str, now_ms: int, limits: PushLimits, cache: StampCache
) -> tuple[str, bool, datetime]:
    known = cache.get(raw)
    if known is None:
        stamp, clamped = hlc.clamp(hlc.decode(raw), now_ms, limits.max_clock_skew_ms)
        wall = datetime.fromtimestamp(stamp.wall_ms / 1000, UTC)
        known = cache[raw] = (stamp.encode(), clamped, wall)
    return known


def _prepare(
    op: Op, registry: Registry, now_ms: int, limits: PushLimits, cache: StampCache
) -> PreparedOp | OpResult:
    """Checks that need no record: type, fields, stamps, base version; clamp stamps."""
    record_type = registry.get(op.record_type)
    if record_type is None:
        return _rejected(op, Reason.UNKNOWN_RECORD_TYPE)
    if not op.fields.keys() <= record_type.fields.keys():
        unknown = sorted(op.fields.keys() - record_type.fields.keys())
        return _rejected(op, Reason.UNKNOWN_FIELDS, {n: ["unknown field"] for n in unknown})
    if op.kind in (OpKind.PATCH, OpKind.DELETE) and op.base_version is None:
        return _rejected(op, Reason.INVALID_FIELDS, {"base_version": ["required"]})
    # Every kind: a delete or command carries no fields, but the hook may refuse the op itself
    # (a role that may not write this record type at all).
    if record_type.validate is not None:
        try:
            errors = record_type.validate(op.fields)
        except Refused as refused:
            return OpResult(
                op.op_id,
                Status.REJECTED,
                reason=refused.reason,
                field_errors=refused.field_errors,
                existing_id=refused.existing_id,
            )
        if errors:
            return _rejected(op, Reason.INVALID_FIELDS, errors)
    try:
        # Most fields carry the op's own stamp: each distinct stamp is decoded and clamped once.
        op_stamp, clamped, edited_at = _clamped(op.stamp, now_ms, limits, cache)
        field_stamps = dict.fromkeys(op.fields, op_stamp)
        for name, raw in op.stamps.items():
            if name in field_stamps:  # a stamp of a field the op does not change is not used
                field_stamps[name], own_clamped, _ = _clamped(raw, now_ms, limits, cache)
                clamped = clamped or own_clamped
    except hlc.InvalidStamp as bad:
        return _rejected(op, Reason.INVALID_STAMP, {"stamp": [f"not an HLC stamp: {bad}"]})
    return PreparedOp(
        op=op,
        record_type=record_type,
        stamp=op_stamp,
        field_stamps=field_stamps,
        edited_at=edited_at,
        flags=(Flag.CLOCK_CLAMPED,) if clamped else (),
    )


def _send_locks(
    conn: sa.Connection, registry: Registry, ops: Sequence[Op]
) -> list[tuple[str, psycopg.Cursor[Any]]]:
    """Send the row locks of every record the batch names, in (record type, id) order so
    batches never deadlock; by record type."""
    touched: dict[str, set[uuid.UUID]] = {}
    for op in ops:
        touched.setdefault(op.record_type, set()).add(op.record_id)
    return [
        (t.name, records.send_lock(conn, t, touched[t.name])) for t in registry if t.name in touched
    ]


def _lock_and_check(
    conn: sa.Connection,
    registry: Registry,
    device: Device,
    ops: Sequence[Op],
    now_ms: int,
    limits: PushLimits,
) -> tuple[
    dict[int, PreparedOp | OpResult],
    dict[uuid.UUID, tuple[str, OpResult]],
    dict[str, dict[uuid.UUID, dict[str, JSON]]],
]:
    """The push's first statements, and the checks that need no record, run together.

    Sent first in pipeline mode: the device's lock (two pushes from one device, a retry racing
    the original, run one after the other, and the second then reads the first one's receipts),
    the device's stored receipts for these op ids, and the rows the batch names, locked. While
    the database runs them, each op id's first op is checked (`_prepare`). Returns the checks by
    op index, the stored (payload hash, result) by op id, and the locked rows by record type.
    """
    raw = records.driver(conn)
    stamp_cache: StampCache = {}
    checked: dict[int, PreparedOp | OpResult] = {}
    seen: set[uuid.UUID] = set()
    with raw.pipeline():
        raw.execute(_DEVICE_LOCK, {"device": str(device.device_id)})
        op_ids = records.uuid_array(op.op_id for op in ops)
        receipts_sent = raw.execute(
            _STORED_RECEIPTS, {"device_id": device.device_id, "op_ids": op_ids}
        )
        locks_sent = _send_locks(conn, registry, ops)
        for i, op in enumerate(ops):
            if op.op_id not in seen:
                seen.add(op.op_id)
                checked[i] = _prepare(op, registry, now_ms, limits, stamp_cache)
    # Leaving the pipeline waited for its statements.
    stored = {row[0]: (row[1], OpResult.from_receipt(row[0], row[2])) for row in receipts_sent}
    return checked, stored, {name: records.locked(cursor) for name, cursor in locks_sent}


def _lock_states(
    conn: sa.Connection,
    batch: Sequence[PreparedOp],
    found: Mapping[str, Mapping[uuid.UUID, dict[str, JSON]]],
) -> dict[tuple[str, uuid.UUID], RecordState]:
    """Each touched record's locked row (None: not stored) and the field history its ops'
    merges need."""
    states: dict[tuple[str, uuid.UUID], RecordState] = {}
    for p in batch:
        key = (p.record_type.name, p.op.record_id)
        if key not in states:
            states[key] = RecordState(found[key[0]].get(key[1]))
    min_bases: dict[tuple[str, uuid.UUID], int] = {}
    for p in batch:
        key = (p.record_type.name, p.op.record_id)
        if states[key].doc is not None:
            base = 0 if p.op.kind is OpKind.CREATE else int(p.op.base_version or 0)
            min_bases[key] = min(base, min_bases.get(key, base))
    for key, history in records.load_history(conn, min_bases).items():
        states[key].history = history
    return states


def _authorize(
    conn: sa.Connection,
    batch: Sequence[PreparedOp],
    states: Mapping[tuple[str, uuid.UUID], RecordState],
    user_scope_fn: AuthorizeFn,
    extra: Sequence[AccessCheck] = (),
) -> tuple[dict[uuid.UUID, Access], dict[uuid.UUID, Location]]:
    """Locate new records and ask the callback once for the whole batch (and the `extra`
    checks of the records it references, answered under their own keys)."""
    locations: dict[uuid.UUID, Location] = {}
    # A record created earlier in this batch is not stored yet: later ops on it are judged by
    # where its create puts it, not by an empty stored grid.
    created: dict[tuple[str, uuid.UUID], Location] = {}
    checks: list[AccessCheck] = []
    # Op id -> the key its destination is asked under, for writes that would move a stored record.
    moves: dict[uuid.UUID, uuid.UUID] = {}
    for p in batch:
        key = (p.record_type.name, p.op.record_id)
        doc = states[key].doc
        if doc is None and p.op.kind is OpKind.CREATE:
            locate = p.record_type.locate
            location = locate(conn, p.op.fields) if locate else Location(None)
            locations[p.op.op_id] = location
            created.setdefault(key, location)
            grid, path = location.grid_id, tuple(location.scope_path)
        elif doc is None and key in created:
            grid, path = created[key].grid_id, tuple(created[key].scope_path)
        else:
            doc = doc or {}
            grid = uuid.UUID(doc["grid_id"]) if doc.get("grid_id") else None
            path = tuple(uuid.UUID(x) for x in doc.get("scope_path") or ())
            destination = _destination(conn, p, grid)
            if destination is not None:
                moves[p.op.op_id] = destination.op_id
                checks.append(destination)
        checks.append(
            AccessCheck(
                p.op.op_id,
                p.record_type.name,
                p.op.record_id,
                grid,
                path,
                p.edited_at,
                creating=p.op.op_id in locations,
            )
        )
    checks.extend(extra)
    decisions = user_scope_fn(checks) if checks else {}
    access = {c.op_id: decisions.get(c.op_id, Access.NEVER) for c in checks}
    for op_id, asked in moves.items():
        # Moving a record is judged by the writer's grids now, as a patch's move is (the
        # assignment history answers for the record's grid at edit time, not for where it goes).
        if access[asked] is not Access.NOW:
            access[op_id] = Access.NEVER
    return access, locations


def _destination(conn: sa.Connection, p: PreparedOp, grid: uuid.UUID | None) -> AccessCheck | None:
    """The question for the grid a create of a stored record would move it to (asked as a
    create there, under its own key), or None when it stays where it is.

    A create of an id that exists merges into the record like a patch: without this it could
    carry a record out of the writer's grids, or into a grid the writer could never create in.
    """
    locate = p.record_type.locate
    # Patches are the server's to check (`refuse_moves_out`, with the batch's lookups); a create
    # of a stored record is rare, so its one locate here costs nothing in a batch of fresh ones.
    if p.op.kind is not OpKind.CREATE or locate is None:
        return None
    to = locate(conn, p.op.fields)
    if to.grid_id is None or to.grid_id == grid:
        return None
    return AccessCheck(
        uuid.uuid5(p.op.op_id, "destination"),
        p.record_type.name,
        p.op.record_id,
        to.grid_id,
        tuple(to.scope_path),
        p.edited_at,
        creating=True,
    )


def _apply_one(
    conn: sa.Connection,
    prepared: PreparedOp,
    state: RecordState,
    access: Access,
    location: Location | None,
    device: Device,
    now: datetime,
    user_scope_fn: AuthorizeFn,
) -> Applied:
    """Apply one op in its own savepoint; a create that lost a race for its id becomes a merge."""
    op = prepared.op
    if access is Access.NEVER:
        return Applied(_rejected(op, Reason.OUT_OF_SCOPE), state)
    try:
        with conn.begin_nested():
            return apply_op(conn, prepared, state, access, location, device, now)
    except sa.exc.IntegrityError as error:
        if op.kind is not OpKind.CREATE or state.doc is not None:
            raise
        if prepared.record_type.refusal_for(error) is not None:
            raise  # a value taken, not the id: no record to merge with
    # Another batch inserted this id after our locked read (it waited on the unique index for
    # that batch to commit): lock the row now and merge against it like any existing record.
    key = (prepared.record_type.name, op.record_id)
    found = records.lock_rows(conn, prepared.record_type, [op.record_id])
    history = records.load_history(conn, {key: 0}) if found else {}
    state = RecordState(found.get(op.record_id), history.get(key, []))
    access = _authorize(conn, [prepared], {key: state}, user_scope_fn)[0][op.op_id]
    if access is Access.NEVER:
        return Applied(_rejected(op, Reason.OUT_OF_SCOPE), state)
    with conn.begin_nested():
        return apply_op(conn, prepared, state, access, None, device, now)


def push(
    conn: sa.Connection,
    registry: Registry,
    device: Device,
    user_scope_fn: AuthorizeFn,
    ops: Sequence[Op],
    *,
    limits: PushLimits | None = None,
    now: datetime | None = None,
    sent: Sequence[bytes] | None = None,
) -> list[OpResult]:
    """Apply a batch of ops from one device; return one result per op, in order.

    `sent`: the ops' canonical bytes as the device sent them, when the caller has since filled in
    values the device could only send back as it was shown them (masked). They are what the
    payload hashes and the byte limit are taken of, so a replay hashes the same whatever is
    stored by then.
    """
    limits = limits or PushLimits()
    canonical = list(sent) if sent is not None else [canonical_bytes(op) for op in ops]
    if len(canonical) != len(ops):
        raise ValueError("one canonical form per op")
    check_limits(ops, limits, [len(c) for c in canonical])
    now = now or datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    hashes = _PayloadHashes(canonical)
    checked, stored, found = _lock_and_check(conn, registry, device, ops, now_ms, limits)
    results: list[OpResult | None] = [None] * len(ops)
    first_index: dict[uuid.UUID, int] = {}
    rejects: list[tuple[Op, OpResult]] = []
    batch: list[tuple[int, PreparedOp]] = []
    for i, op in enumerate(ops):
        earlier = stored.get(op.op_id)
        if earlier is not None or op.op_id in first_index:
            same = (earlier[0] if earlier else hashes[first_index[op.op_id]]) == hashes[i]
            if not same:
                refused = _rejected(op, Reason.OP_ID_REUSED)
                results[i] = refused
                rejects.append((op, refused))
            elif earlier is not None:
                results[i] = earlier[1]  # a replay: the stored answer, nothing applied
            continue  # an in-batch repeat is answered once the first copy has run
        first_index[op.op_id] = i
        prepared = checked[i]
        if isinstance(prepared, OpResult):
            results[i] = prepared
        else:
            batch.append((i, prepared))

    states = _lock_states(conn, [p for _, p in batch], found)
    pointed = references.pointers([p for _, p in batch])
    targets = references.lookup(conn, registry, pointed) if pointed else {}
    access, locations = _authorize(
        conn,
        [p for _, p in batch],
        states,
        user_scope_fn,
        references.access_checks(pointed, targets),
    )
    if pointed:
        batch = references.settle(batch, pointed, targets, states, access, results)
    planned: dict[int, tuple[OpResult, dict[str, JSON]]] = {}
    with bulk.apply_plain(
        conn, registry, [p for _, p in batch], states, access, locations, device, now
    ) as plain:
        # The database runs the fast path's statements meanwhile: build the receipts of the ops
        # it answers (kept if it succeeds), with the payload hashes they carry.
        for i, prepared in batch:
            done = plain.answers.get(prepared.op.op_id)
            if done is not None:
                planned[i] = (done.result, receipts.row(ops[i], hashes[i], done.result))
    fast = plain.answers
    for i, prepared in batch:
        op = prepared.op
        key = (prepared.record_type.name, op.record_id)
        done = fast.get(op.op_id)
        if done is not None:
            states[key] = done.state
            results[i] = done.result
            continue
        try:
            applied = _apply_one(
                conn,
                prepared,
                states[key],
                access[op.op_id],
                locations.get(op.op_id),
                device,
                now,
                user_scope_fn,
            )
        except (sa.exc.IntegrityError, sa.exc.DataError, ValueError) as failure:
            # A poison op must not sink the batch: its savepoint is gone, the op is answered.
            # Transient failures (deadlock, lost connection) are not caught: the batch fails
            # whole and the phone's retry runs it again.
            taken = prepared.record_type.refusal_for(failure)
            if taken is not None:
                results[i] = _rejected(op, taken.reason, taken.field_errors)
                continue
            message = str(getattr(failure, "orig", failure)).splitlines()[0]
            results[i] = _rejected(op, Reason.APPLY_FAILED, {"_op": [message]})
            continue
        states[key] = applied.state
        results[i] = applied.result

    for i, op in enumerate(ops):
        if results[i] is None:  # an in-batch repeat of an op id with the same payload
            first = results[first_index[op.op_id]]
            assert first is not None
            results[i] = OpResult(op.op_id, Status.DUPLICATE, version=first.version)
    final = [r for r in results if r is not None]
    fresh = {}
    for i in first_index.values():
        ready = planned.get(i)
        fresh[i] = (
            ready[1]
            if ready and ready[0] is final[i]
            else receipts.row(ops[i], hashes[i], final[i])
        )
    receipts.store(conn, device, ops, final, fresh, rejects, now)
    return final


class _PayloadHashes:
    """Each op's payload hash, taken when first asked for: a batch needs few before it is
    applied (only for op ids seen before), the rest while its writes run."""

    def __init__(self, canonical: Sequence[bytes]) -> None:
        self._canonical = canonical
        self._hashes: dict[int, str] = {}

    def __getitem__(self, index: int) -> str:
        found = self._hashes.get(index)
        if found is None:
            found = self._hashes[index] = hash_canonical(self._canonical[index])
        return found
