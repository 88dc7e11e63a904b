"""Records an op points at must be in the writer's scope, not merely exist.

A foreign key only says the referenced record exists. Children follow their anchor, so a person
put in a house of another grid, or an address hung under another grid's building, would land
in someone else's slice. Every op's references are therefore judged like records: one query for
all referenced ids of the batch, and the same authorisation callback (so the edit-time rule of
assignment history applies to them too). A record created by an accepted op of the same batch
counts as the writer's own. A referenced id that exists nowhere is left to the foreign key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from sync.access import Access, AccessCheck
from sync.apply import PreparedOp, RecordState
from sync.ops import JSON, OpKind, OpResult, Reason, Status
from sync.registry import Reference, Registry

NOT_IN_SCOPE = "The referenced record is not in your grids."
DELETED = "The referenced record was deleted."
Key = tuple[str, uuid.UUID]


@dataclass(frozen=True)
class Pointer:
    """One reference one op makes: its field and the record it names."""

    prepared: PreparedOp
    reference: Reference
    target_id: uuid.UUID

    @property
    def key(self) -> uuid.UUID:
        """The key its access check is asked and answered under (distinct from any op id)."""
        return uuid.uuid5(self.prepared.op.op_id, self.reference.field)


@dataclass(frozen=True)
class Target:
    """A stored referenced record: where it lies, and the columns `shared` rules look at."""

    grid_id: uuid.UUID | None
    scope_path: tuple[uuid.UUID, ...]
    marks: Mapping[str, JSON]
    deleted: bool = False


@dataclass(frozen=True)
class Verdicts:
    """Ops refused for a reference (their field errors, and the reason: out of scope, or
    `not_found` for a tombstone in scope), and ops whose references were only held at edit
    time (applied, flagged like an out-of-scope-now record)."""

    refused: dict[uuid.UUID, dict[str, list[str]]]
    at_edit_time: set[uuid.UUID]
    reasons: dict[uuid.UUID, Reason]


def pointers(batch: Sequence[PreparedOp]) -> list[Pointer]:
    """The references the batch's creates and patches write (values that are not ids are the
    schema check's business)."""
    found: list[Pointer] = []
    for prepared in batch:
        if prepared.op.kind not in (OpKind.CREATE, OpKind.PATCH):
            continue
        for reference in prepared.record_type.references:
            value = prepared.op.fields.get(reference.field)
            if value is None:
                continue
            try:
                target_id = uuid.UUID(str(value))
            except ValueError:
                continue
            found.append(Pointer(prepared, reference, target_id))
    return found


def lookup(conn: sa.Connection, registry: Registry, found: Sequence[Pointer]) -> dict[Key, Target]:
    """Where every referenced record lies, in one statement for the whole batch."""
    ids: dict[str, set[uuid.UUID]] = {}
    marks: dict[str, set[str]] = {}
    for pointer in found:
        ids.setdefault(pointer.reference.target, set()).add(pointer.target_id)
        if pointer.reference.shared is not None:
            marks.setdefault(pointer.reference.target, set()).add(pointer.reference.shared[0])
    selects = []
    for name in sorted(ids):
        record_type = registry.get(name)
        if record_type is None:
            continue
        table = record_type.table
        path = (
            table.c.scope_path
            if "scope_path" in table.c
            else sa.cast(sa.null(), ARRAY(UUID(as_uuid=True)))
        )
        columns = sorted(marks.get(name, ()))
        shown = (
            sa.func.jsonb_build_object(*[x for c in columns for x in (c, table.c[c])])
            if columns
            else sa.cast(sa.null(), JSONB)
        )
        selects.append(
            sa.select(
                sa.literal(name).label("record_type"),
                table.c.id,
                table.c.grid_id,
                path.label("scope_path"),
                shown.label("marks"),
                table.c.deleted_at.is_not(None).label("deleted"),
            ).where(table.c.id.in_(sorted(ids[name])))
        )
    if not selects:
        return {}
    rows = conn.execute(sa.union_all(*selects) if len(selects) > 1 else selects[0])
    return {
        (row.record_type, row.id): Target(
            row.grid_id, tuple(row.scope_path or ()), row.marks or {}, bool(row.deleted)
        )
        for row in rows
    }


def _shared(pointer: Pointer, target: Target) -> bool:
    rule = pointer.reference.shared
    return rule is not None and target.marks.get(rule[0]) == rule[1]


def access_checks(found: Sequence[Pointer], targets: Mapping[Key, Target]) -> list[AccessCheck]:
    """The questions for the authorisation callback: one per reference to a stored record."""
    checks: list[AccessCheck] = []
    for pointer in found:
        target = targets.get((pointer.reference.target, pointer.target_id))
        if target is None or _shared(pointer, target):
            continue
        checks.append(
            AccessCheck(
                pointer.key,
                pointer.reference.target,
                pointer.target_id,
                target.grid_id,
                target.scope_path,
                pointer.prepared.edited_at,
                creating=False,
            )
        )
    return checks


def judge(
    batch: Sequence[PreparedOp],
    found: Sequence[Pointer],
    targets: Mapping[Key, Target],
    access: Mapping[uuid.UUID, Access],
    creates: Mapping[Key, uuid.UUID],
) -> Verdicts:
    """Decide every op's references from the callback's answers (`access`, which holds the
    ops' own answers too) and from the batch's creates (`creates`: new record -> its op id).

    Ops are judged in batch order, so a record whose create was itself refused for a reference
    counts as refused for the ops pointing at it.
    """
    by_op: dict[uuid.UUID, list[Pointer]] = {}
    for pointer in found:
        by_op.setdefault(pointer.prepared.op.op_id, []).append(pointer)
    verdicts = Verdicts({}, set(), {})
    for prepared in batch:
        op_id = prepared.op.op_id
        for pointer in by_op.get(op_id, ()):
            key = (pointer.reference.target, pointer.target_id)
            target = targets.get(key)
            if target is not None:
                shared = _shared(pointer, target)  # anyone may point at it: no question asked
                answer = Access.NOW if shared else access.get(pointer.key, Access.NEVER)
            elif key in creates:
                creator = creates[key]
                accepted = creator not in verdicts.refused
                answer = access.get(creator, Access.NEVER) if accepted else Access.NEVER
            else:
                continue  # no such record: the foreign key refuses the op
            field = pointer.reference.field
            if answer is Access.NEVER:
                verdicts.refused.setdefault(op_id, {})[field] = [NOT_IN_SCOPE]
                verdicts.reasons[op_id] = Reason.REFERENCE_OUT_OF_SCOPE
                continue
            if target is not None and target.deleted:
                # In scope, but gone: the web API's "No such record" (nothing to hang under).
                verdicts.refused.setdefault(op_id, {})[field] = [DELETED]
                verdicts.reasons.setdefault(op_id, Reason.NOT_FOUND)
            elif answer is Access.AT_EDIT_TIME:
                verdicts.at_edit_time.add(op_id)
    return verdicts


def settle(
    batch: Sequence[tuple[int, PreparedOp]],
    found: Sequence[Pointer],
    targets: Mapping[Key, Target],
    states: Mapping[Key, RecordState],
    access: dict[uuid.UUID, Access],
    results: list[OpResult | None],
) -> list[tuple[int, PreparedOp]]:
    """Answer the (index, op) pairs of the batch that point outside the writer's scope
    (`reference_out_of_scope`) or at a tombstone (`not_found`), kept for review like every
    rejection, and return the rest;
    ops whose references were held only at edit time are flagged like an out-of-scope-now
    record. The bulk and per-op paths then see only the rest."""
    creates = {
        (p.record_type.name, p.op.record_id): p.op.op_id
        for _, p in batch
        if p.op.kind is OpKind.CREATE and states[(p.record_type.name, p.op.record_id)].doc is None
    }
    verdicts = judge([p for _, p in batch], found, targets, access, creates)
    for op_id in verdicts.at_edit_time:
        if access.get(op_id) is Access.NOW:
            access[op_id] = Access.AT_EDIT_TIME
    kept: list[tuple[int, PreparedOp]] = []
    for i, prepared in batch:
        errors = verdicts.refused.get(prepared.op.op_id)
        if errors is None:
            kept.append((i, prepared))
        else:
            reason = verdicts.reasons[prepared.op.op_id]
            results[i] = OpResult(
                prepared.op.op_id, Status.REJECTED, reason=reason, field_errors=errors
            )
    return kept
