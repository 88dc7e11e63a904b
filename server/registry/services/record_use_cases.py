"""The generic use cases: scoped list, detail, create, versioned update and tombstone delete.

Each runs in one transaction (one commit, rollback on any error): version checks done in SQL
(`version = version + 1 WHERE version = expected`), placement, warnings and audit rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import Schema
from sqlalchemy import Table, and_, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from server.audit.service import record_access
from server.auth.principal import Principal
from server.errors import Duplicate, Forbidden, InvalidInput, StaleVersion
from server.extensions import db
from server.privacy.masking import Exposure, exposure
from server.registry import placement
from server.registry.schemas.common import ExpectedVersion
from server.registry.services.records import (
    Caller,
    Resource,
    Warning_,
    caller_for,
    columns,
    decode_cursor,
    encode_cursor,
    fetch_visible,
    jsonable,
    visible,
)
from server.transaction import transaction


def _load(schema: type[Schema], payload: Any, *, partial: bool) -> dict[str, Any]:
    if not isinstance(payload, Mapping):
        raise InvalidInput({"_schema": ["Expected a JSON object."]})
    loaded: dict[str, Any] = schema().load(payload, partial=partial)
    return loaded


def list_records(
    resource: Resource,
    principal: Principal,
    *,
    limit: int = 100,
    cursor: str | None = None,
    grid_id: uuid.UUID | None = None,
    changed_since: datetime | None = None,
    q: str | None = None,
    id_number: str | None = None,
    unassigned: bool = False,
) -> dict[str, Any]:
    """One keyset page of the records the caller may see, with the in-scope total."""
    caller = caller_for(principal)
    table = resource.table
    where = visible(table, caller)
    if unassigned:
        where = and_(where, table.c.grid_id.is_(None))
    elif not caller.scope.everything:
        # A dispatcher reaches unassigned records through the unassigned list (to fix them);
        # their ordinary lists and totals hold only the records of their own subtree.
        where = and_(where, table.c.grid_id.is_not(None))
    if grid_id is not None:
        where = and_(where, table.c.grid_id == grid_id)
    if changed_since is not None:
        where = and_(where, table.c.updated_at >= changed_since)
    if q:
        if resource.search is None:
            raise InvalidInput({"q": ["This list has no text search."]})
        searched = resource.searches
        if searched is not None and exposure(caller.role, searched) is not Exposure.FULL:
            raise Forbidden("Your role sees these names masked, so it may not search them.")
        where = and_(where, resource.search(table, q))
    if id_number:
        if resource.by_id_number is None:
            raise InvalidInput({"id_number": ["This list cannot be searched by ID number."]})
        if exposure(caller.role, resource.id_number_class) is Exposure.HIDDEN:
            raise Forbidden("Your role does not see these numbers, so it may not search them.")
        where = and_(where, resource.by_id_number(table, id_number))
    with transaction():
        total = db.session.scalar(select(func.count()).select_from(table).where(where)) or 0
        page = select(*columns(table)).where(where)
        if cursor:
            page = page.where(table.c.id > decode_cursor(cursor))
        rows = list(db.session.execute(page.order_by(table.c.id).limit(limit + 1)).mappings())
        more = len(rows) > limit
        rows = rows[:limit]
        items = resource.present(caller, rows) if rows else []
        if resource.audit_reads:
            filters = {
                k: True for k, v in (("q", q), ("id_number", id_number), ("grid_id", grid_id)) if v
            }
            record_access(
                "list",
                resource.record_type,
                [row["id"] for row in rows],
                detail={"filters": sorted(filters)} if filters else None,
            )
    return {
        "items": items,
        "next_cursor": encode_cursor(rows[-1]["id"]) if more else None,
        "total": total,
    }


def get_record(resource: Resource, principal: Principal, record_id: uuid.UUID) -> dict[str, Any]:
    """One record the caller may see (404 otherwise); personal reads leave an audit row."""
    caller = caller_for(principal)
    with transaction():
        row = fetch_visible(
            resource.table, caller, record_id, action="read", record_type=resource.record_type
        )
        body = resource.present(caller, [row])[0]
        if resource.audit_reads:
            record_access("read", resource.record_type, [record_id])
    return body


def _fetch(table: Table, record_id: uuid.UUID) -> RowMapping:
    return (
        db.session.execute(select(*columns(table)).where(table.c.id == record_id)).mappings().one()
    )


def _check_landing(resource: Resource, caller: Caller, row: RowMapping) -> list[Warning_]:
    """Refuse a write that puts a record in a grid the caller does not cover.

    A record in no grid at all is kept (never lost) and reported as unassigned.
    """
    if row["grid_id"] is None:
        return [] if caller.scope.everything else [{"code": "unassigned"}]
    if not caller.scope.allows_grid(row["grid_id"]):
        raise InvalidInput({resource.location_field: ["This location is outside your grids."]})
    return []


def create_record(resource: Resource, principal: Principal, payload: Any) -> dict[str, Any]:
    """Validate, insert, place and audit a new record; the client may supply the id."""
    caller = caller_for(principal)
    data = _load(resource.schema, payload, partial=False)
    record_id: uuid.UUID = data.pop("id", None) or uuid.uuid4()
    table = resource.table
    user = principal.user_id
    with transaction():
        if db.session.scalar(select(table.c.id).where(table.c.id == record_id)) is not None:
            raise Duplicate("A record with this id already exists.")
        prepared = resource.prepare(caller, data, None)
        try:
            db.session.execute(
                insert(table).values(
                    id=record_id, created_by=user, updated_by=user, **prepared.values
                )
            )
        except IntegrityError as exc:
            raise Duplicate("The record conflicts with an existing one.") from exc
        if resource.placed:
            placement.place_with_dependents(table.name, [record_id])
        if resource.after_write:
            resource.after_write(caller, record_id, data)
        row = _fetch(table, record_id)
        warnings = prepared.warnings + _check_landing(resource, caller, row)
        record_access("create", resource.record_type, [record_id])
        body = resource.present(caller, [row])[0]
    body["warnings"] = warnings
    return body


def _expected_version(payload: Mapping[str, Any]) -> int:
    version: int = ExpectedVersion().load(payload)["expected_version"]
    return version


def _stale(table: Table, record_id: uuid.UUID) -> StaleVersion:
    current = db.session.scalar(select(table.c.version).where(table.c.id == record_id))
    return StaleVersion(
        "The record changed since it was read; reload and reapply.", current_version=current
    )


def update_record(
    resource: Resource, principal: Principal, record_id: uuid.UUID, payload: Any
) -> dict[str, Any]:
    """Apply a partial change if `expected_version` is current (version + 1 in SQL)."""
    caller = caller_for(principal)
    table = resource.table
    with transaction():
        current = fetch_visible(
            table, caller, record_id, action="update", record_type=resource.record_type
        )
        if not isinstance(payload, Mapping):
            raise InvalidInput({"_schema": ["Expected a JSON object."]})
        changes = dict(payload)
        expected = _expected_version({"expected_version": changes.pop("expected_version", None)})
        if "id" in changes:
            raise InvalidInput({"id": ["The id of a record never changes."]})
        data = _load(resource.schema, changes, partial=True)
        prepared = resource.prepare(caller, data, current)
        try:
            written = db.session.execute(
                update(table)
                .where(
                    table.c.id == record_id,
                    table.c.version == expected,
                    table.c.deleted_at.is_(None),
                )
                .values(
                    version=table.c.version + 1,
                    updated_at=func.now(),
                    updated_by=principal.user_id,
                    **prepared.values,
                )
                .returning(table.c.id)
            ).scalar_one_or_none()
        except IntegrityError as exc:
            raise Duplicate("The change conflicts with an existing record.") from exc
        if written is None:
            raise _stale(table, record_id)
        if resource.placed:
            placement.place_with_dependents(table.name, [record_id])
        if resource.after_write:
            resource.after_write(caller, record_id, data)
        row = _fetch(table, record_id)
        warnings = prepared.warnings + _check_landing(resource, caller, row)
        record_access("update", resource.record_type, [record_id], detail={"fields": sorted(data)})
        body = resource.present(caller, [row])[0]
    body["warnings"] = warnings
    return body


def delete_record(
    resource: Resource, principal: Principal, record_id: uuid.UUID, expected_version: Any
) -> dict[str, Any]:
    """Tombstone a record (deleted_at/by, version + 1); it is never removed from the table."""
    caller = caller_for(principal)
    table = resource.table
    with transaction():
        fetch_visible(table, caller, record_id, action="delete", record_type=resource.record_type)
        expected = _expected_version({"expected_version": expected_version})
        row = (
            db.session.execute(
                update(table)
                .where(
                    table.c.id == record_id,
                    table.c.version == expected,
                    table.c.deleted_at.is_(None),
                )
                .values(
                    version=table.c.version + 1,
                    updated_at=func.now(),
                    updated_by=principal.user_id,
                    deleted_at=func.now(),
                    deleted_by=principal.user_id,
                )
                .returning(table.c.id, table.c.version, table.c.deleted_at)
            )
            .mappings()
            .one_or_none()
        )
        if row is None:
            raise _stale(table, record_id)
        if resource.on_delete:
            resource.on_delete(caller, record_id)
        record_access("delete", resource.record_type, [record_id])
    return {
        "id": str(row["id"]),
        "version": row["version"],
        "deleted_at": jsonable(row["deleted_at"]),
    }
