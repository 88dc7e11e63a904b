"""Push, pull and snapshot use cases over HTTP callers: one transaction each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from server.auth.principal import Principal
from server.errors import Forbidden, InvalidInput, PayloadTooLarge
from server.extensions import db
from server.hierarchy.models import Grid
from server.hierarchy.scope import Scope, resolve_scope
from server.privacy.masking import FieldClass
from server.registry.codes import load_active_codes
from server.registry.services import personal
from server.registry.services.records import Caller
from server.registry.services.work import CASE_FIELDS, CASE_REFUSED
from server.syncapi.access import authorizer
from server.syncapi.conflicts import listed_once, wire_field
from server.syncapi.duplicates import flag_possible_duplicates
from server.syncapi.hooks import (
    build_registry,
    cascade_deletes,
    duplicate_id_numbers,
    refuse_moves_out,
    replace_moved,
    restore_shown_numbers,
)
from server.syncapi.points import grids_at_points
from server.syncapi.present import present_docs, present_snapshot, snapshot_columns
from server.syncapi.record_types import BY_NAME
from server.syncapi.tasks import task_refusals
from server.syncapi.translate import Translation, translate
from sync.access import Device
from sync.errors import BatchTooLarge, InvalidCursor
from sync.health import failure, record_failures
from sync.ops import Op, OpResult, Reason, canonical_bytes
from sync.pull import pull
from sync.push import PushLimits, check_limits, push
from sync.slices import grid_summaries, snapshot
from sync.tables import conflicts

SERVER_OWNED_CONTRACT = frozenset(
    {"version", "grid_id", "scope_path", "created_at", "created_by", "updated_at"}
    | {"updated_by", "deleted_at", "deleted_by", "id", "sync_hash"}
)
CONFLICT_NOTICE_DAYS = 30
CONFLICT_NOTICE_LIMIT = 200


@contextmanager
def _transaction() -> Iterator[sa.Connection]:
    try:
        yield db.session.connection()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def limits() -> PushLimits:
    """Batch limits from the configuration."""
    config = current_app.config
    return PushLimits(
        max_ops=int(config.get("SYNC_MAX_OPS", 1000)),
        max_bytes=int(config.get("SYNC_MAX_BATCH_BYTES", 5_000_000)),
    )


def _too_large(error: BatchTooLarge) -> PayloadTooLarge:
    return PayloadTooLarge(
        str(error), max_ops=error.max_ops, max_bytes=error.max_bytes, ops=error.ops
    )


def _result_json(result: OpResult, shown: dict[str, Any] | None) -> dict[str, Any]:
    body = result.to_json()
    if body["current"] is not None:
        body["current"] = shown
    if result.reason is Reason.UNKNOWN_FIELDS:
        body["field_errors"] = {
            k: (["Set by the server; clients cannot send it."] if k in SERVER_OWNED_CONTRACT else v)
            for k, v in body["field_errors"].items()
        }
    return body


def push_batch(principal: Principal, wire: Sequence[Op], app_version: str | None) -> dict[str, Any]:
    """Apply one batch from the caller's device in one transaction; one result per op."""
    # Too many ops are refused before any is translated; the byte limit is the engine's, on the
    # ops as stored (sealed), which it measures anyway for their payload hashes.
    if len(wire) > limits().max_ops:
        try:
            check_limits(wire, limits())
        except BatchTooLarge as error:
            raise _too_large(error) from None
    scope = resolve_scope(principal)
    caller = Caller(principal, scope)
    shapes: dict[str, Any] = {}
    translations = [translate(op, shapes) for op in wire]
    if not personal.may_see(principal.role, FieldClass.SPECIAL_POPULATION):
        for t in translations:
            if t.op.record_type == "person_special_population":
                t.errors["_op"] = ["Your role may not record special populations."]
            for name in CASE_FIELDS.get(t.op.record_type, ()):
                if t.op.fields.get(name) is not None:
                    t.errors[name] = [CASE_REFUSED]
    by_fields = {id(t.op.fields): t for t in translations}
    device = Device(principal.device_id, principal.user_id, app_version)
    # Hashed as sent: restoring a number sent back masked must not change the op's payload hash,
    # or a replay after someone changed that number would be refused as a reused op id.
    sent = [canonical_bytes(t.op) for t in translations]
    with _transaction() as conn:
        points = grids_at_points(conn, (t.op.fields.get("point") for t in translations))
        restore_shown_numbers(conn, translations, principal.role)
        refusals = duplicate_id_numbers(conn, translations, caller)
        refusals.update(task_refusals(conn, translations, caller))
        registry = build_registry(by_fields, points, refusals)
        load_active_codes()  # the ops are checked while the push's first statements run
        refuse_moves_out(conn, translations, scope, points)
        try:
            results = push(
                conn,
                registry,
                device,
                authorizer(principal, scope),
                [t.op for t in translations],
                limits=limits(),
                sent=sent,
            )
        except BatchTooLarge as error:
            raise _too_large(error) from None
        replace_moved(translations, results)
        cascade_deletes(caller, translations, results)
        results = flag_possible_duplicates(conn, caller, principal.device_id, translations, results)
        body = _present_results(caller, translations, results)
    return {"results": body}


def _present_results(
    caller: Caller, translations: Sequence[Translation], results: Sequence[OpResult]
) -> list[dict[str, Any]]:
    wanted = [
        (t.op.record_type, {"id": str(t.op.record_id)})
        for t, r in zip(translations, results, strict=True)
        if r.current is not None
    ]
    # Only records in the caller's scope now: a replay after the record moved away, or an edit
    # accepted by edit-time scope, must not show what the record holds today.
    shown = iter(present_docs(caller, wanted, scoped=True))
    return [
        _result_json(r, next(shown) if r.current is not None else None)
        for t, r in zip(translations, results, strict=True)
    ]


def _grid_set(scope: Scope) -> frozenset[uuid.UUID]:
    """The caller's current grids: a worker's assignments, a dispatcher's subtree, or all."""
    if not scope.everything:
        return scope.grid_ids
    return frozenset(db.session.scalars(sa.select(Grid.id).where(Grid.retired_at.is_(None))))


def _begin_snapshot() -> sa.Connection:
    """End the guard's transaction and start one REPEATABLE READ snapshot for the pull."""
    db.session.commit()
    return db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _conflict_notices(principal: Principal, now: datetime) -> list[dict[str, Any]]:
    """Conflicts raised by this device's ops: open ones and those resolved lately, one per field
    under its wire name, as the inbox lists them (a sealed field's hash row is not a notice)."""
    since = now - timedelta(days=CONFLICT_NOTICE_DAYS)
    rows = db.session.execute(
        sa.select(conflicts)
        .where(
            conflicts.c.device_id == principal.device_id,
            sa.or_(conflicts.c.status == "open", conflicts.c.resolved_at >= since),
            listed_once(),
        )
        .order_by(conflicts.c.created_at.desc())
        .limit(CONFLICT_NOTICE_LIMIT)
    ).mappings()
    return [
        {
            "id": str(r["id"]),
            "record_type": r["record_type"],
            "record_id": str(r["record_id"]),
            "kind": r["kind"],
            "field": wire_field(r["record_type"], r["field"]),
            "winner": r["winner"],
            "status": r["status"],
            "resolved_how": r["resolved_how"],
            "resolved_at": r["resolved_at"].isoformat() if r["resolved_at"] else None,
            "op_id": str(r["op_id"]) if r["op_id"] else None,
        }
        for r in rows
    ]


def pull_page(
    principal: Principal, cursor: str | None, limit: int, app_version: str | None
) -> dict[str, Any]:
    """One page of changes in the caller's current grids since `cursor`."""
    caller = Caller(principal, resolve_scope(principal))
    grids = _grid_set(caller.scope)
    registry = build_registry({})
    device = Device(principal.device_id, principal.user_id, app_version)
    now = datetime.now(UTC)
    try:
        conn = _begin_snapshot()
        try:
            page = pull(conn, registry, device, grids, cursor or None, limit, now=now)
        except InvalidCursor as error:
            # The phone keeps sending a cursor this server cannot read: admins see it in sync
            # health (the snapshot is gone; the note is a transaction of its own).
            db.session.rollback()
            record_failures(
                db.session.connection(), device, [failure("pull", "invalid_cursor", device, now)]
            )
            db.session.commit()
            raise InvalidInput({"cursor": [str(error)]}) from None
        upserts = [(c.record_type, c.record or {}) for c in page.changes if c.kind == "upsert"]
        shown = iter(present_docs(caller, upserts))
        changes = []
        for change in page.changes:
            record = next(shown) if change.kind == "upsert" else change.record
            changes.append(
                {
                    "record_type": change.record_type,
                    "record_id": str(change.record_id),
                    "kind": change.kind,
                    "grid_id": str(change.grid_id) if change.grid_id else None,
                    "version": change.version,
                    "record": _jsonable(record),
                }
            )
        notices = [] if page.has_more else _conflict_notices(principal, now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return {
        "changes": changes,
        "cursor": page.cursor,
        "has_more": page.has_more,
        "added_grids": [str(g) for g in page.added_grids],
        "removed_grids": [str(g) for g in page.removed_grids],
        "summaries": None
        if page.summaries is None
        else [
            {"grid_id": str(s.grid_id), "count": s.count, "checksum": s.checksum}
            for s in page.summaries
        ],
        "reset_required": page.reset_required,
        "last_op_id": str(page.last_op_id) if page.last_op_id else None,
        "conflicts": notices,
    }


def _jsonable(record: Any) -> Any:
    if record is None:
        return None
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in dict(record).items()}


def snapshot_page(
    principal: Principal, grid_id: uuid.UUID, after: str | None, limit: int
) -> dict[str, Any]:
    """One keyset page of a grid's live records, for a first download or after a mismatch."""
    caller = Caller(principal, resolve_scope(principal))
    grids = _grid_set(caller.scope)
    if grid_id not in grids:
        raise Forbidden("This grid is not in your current grids.")
    registry = build_registry({})
    if after is not None and (":" not in after or after.partition(":")[0] not in BY_NAME):
        raise InvalidInput({"after": ["Not a snapshot position from this API."]})
    try:
        conn = _begin_snapshot()
        try:
            page = snapshot(conn, registry, [grid_id], after, limit, columns=snapshot_columns)
        except ValueError:
            raise InvalidInput({"after": ["Not a snapshot position from this API."]}) from None
        shown = present_snapshot(caller, page.records)
        # Ids stay uuids, like the presented bodies: orjson writes them as str() would.
        records = [
            {"record_type": t, "record_id": doc["id"], "version": doc["version"], "record": s}
            for (t, doc), s in zip(page.records, shown, strict=True)
        ]
        summary = None
        if page.after is None:
            (found,) = grid_summaries(conn, registry, [grid_id])
            summary = {"grid_id": str(grid_id), "count": found.count, "checksum": found.checksum}
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return {"records": records, "after": page.after, "summary": summary}
