"""The dispatchers' conflict inbox: open conflicts in scope; resolving one is a versioned write."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from server.auth.models import Role, User
from server.auth.principal import Principal
from server.errors import Conflict, InvalidInput, NotFound
from server.extensions import db
from server.hierarchy.scope import Scope, resolve_scope
from server.privacy.masking import FieldClass, present
from server.registry import placement
from server.registry.placement import FromAnchor, FromPoint
from server.registry.services import personal
from server.registry.services.incidents import show_party
from server.registry.services.persons import SPECIAL_FIELDS
from server.registry.validators import check_mobile
from server.syncapi.hooks import build_registry
from server.syncapi.record_types import BY_NAME, Sealed
from server.syncapi.sealing import keyed_hash, open_stored, seal_stable
from server.syncapi.translate import _ewkt, schema_errors, sealed_parties
from sync.ops import JSON
from sync.resolve import CannotResolve, ConflictNotOpen, How, resolve_conflict
from sync.tables import conflicts

PAGE = 200
# Plain columns that hold personal data, shown as the web API shows them.
PERSONAL_COLUMNS = {
    ("person", "name"): FieldClass.PERSON_NAME,
    ("house", "owner_name"): FieldClass.OWNER_IDENTITY,
    ("incident", "reporter_name"): FieldClass.PERSON_NAME,
    ("organization", "legal_representative"): FieldClass.PERSON_NAME,
    ("organization", "security_officer"): FieldClass.PERSON_NAME,
    ("organization", "phone"): FieldClass.PHONE,
}
SEALED_CLASSES = {
    "id_number": FieldClass.ID_NUMBER,
    "phone": FieldClass.PHONE,
    "owner_id_number": FieldClass.OWNER_IDENTITY,
    "owner_phone": FieldClass.OWNER_IDENTITY,
    "security_officer_phone": FieldClass.PHONE,
    "reporter_phone_enc": FieldClass.PHONE,
}
# The reporter phone is pushed inside the `reporter` composite, but its two columns conflict
# like any sealed field: the hash hidden, both resolved together, an edit sealed and hashed.
REPORTER_PHONE = Sealed(
    "reporter_phone_enc",
    "reporter_phone_enc",
    "reporter_phone_hash",
    personal.REPORTER_PHONE,
    lambda value, fields: check_mobile(value),
)


class ConflictClosed(Conflict):
    """The conflict was already resolved (or never existed in this inbox)."""

    code = "conflict_not_open"
    title = "The conflict is not open"


def _sealed(record_type: str, column: str | None) -> tuple[Sealed | None, bool]:
    """The sealed field a column belongs to, and whether the column is its hash."""
    sync_type = BY_NAME.get(record_type)
    specs = sync_type.sealed if sync_type else ()
    if record_type == "incident":
        specs = (*specs, REPORTER_PHONE)
    for spec in specs:
        if column == spec.enc:
            return spec, False
        if column == spec.hash:
            return spec, True
    return None, False


def _show(role: Role, record_type: str, column: str | None, value: JSON) -> JSON:
    """A conflict value as the web API would show it to `role`.

    A delete-vs-update conflict (no column) holds a {column: value} map: each entry is shown on
    its own, hash columns dropped, sealed columns under their wire name.
    """
    if column is None:
        if not isinstance(value, dict):
            return value
        shown: dict[str, JSON] = {}
        for name, item in value.items():
            spec, is_hash = _sealed(record_type, name)
            if is_hash:
                continue
            shown[spec.wire if spec else name] = _show(role, record_type, name, item)
        return shown
    spec, is_hash = _sealed(record_type, column)
    if is_hash:
        return None
    if spec is not None:
        plain = open_stored(value, spec.context)
        return present(role, SEALED_CLASSES[spec.wire], plain)
    if record_type == "person_special_population" and column in SPECIAL_FIELDS:
        # Correction, drug use, mental illness: never shown to a role the policy hides them from.
        return value if personal.may_see(role, FieldClass.SPECIAL_POPULATION) else None
    if (record_type, column) == ("incident", "parties") and isinstance(value, list):
        return [show_party(role, party) for party in value]
    cls = PERSONAL_COLUMNS.get((record_type, column))
    if cls is not None and isinstance(value, str):
        return present(role, cls, value)
    if cls is not None and value is not None:
        return None
    return value


def _in_scope(scope: Scope) -> sa.ColumnElement[bool]:
    return scope.grid_filter(conflicts.c.grid_id)


def list_open(principal: Principal, status: str) -> dict[str, Any]:
    """Conflicts in the caller's grids (hash columns travel with their encrypted field)."""
    scope = resolve_scope(principal)
    hash_columns = [s.hash for t in BY_NAME.values() for s in t.sealed if s.hash]
    hash_columns.append(str(REPORTER_PHONE.hash))
    rows = db.session.execute(
        sa.select(conflicts, User.username)
        .outerjoin(User, User.id == conflicts.c.user_id)
        .where(
            conflicts.c.status == status,
            _in_scope(scope),
            sa.or_(conflicts.c.field.is_(None), conflicts.c.field.not_in(hash_columns)),
        )
        .order_by(conflicts.c.created_at, conflicts.c.id)
        .limit(PAGE)
    ).mappings()
    items = [_item(principal.role, r) for r in rows]
    db.session.commit()
    return {"items": items}


def _item(role: Role, r: Any) -> dict[str, Any]:
    spec, _ = _sealed(r["record_type"], r["field"])
    return {
        "id": str(r["id"]),
        "kind": r["kind"],
        "record_type": r["record_type"],
        "record_id": str(r["record_id"]),
        "grid_id": str(r["grid_id"]) if r["grid_id"] else None,
        "field": spec.wire if spec else r["field"],
        "base_value": _show(role, r["record_type"], r["field"], r["base_value"]),
        "server_value": _show(role, r["record_type"], r["field"], r["server_value"]),
        "client_value": _show(role, r["record_type"], r["field"], r["client_value"]),
        "winner": r["winner"],
        "status": r["status"],
        "user_id": str(r["user_id"]) if r["user_id"] else None,
        "username": r["username"],
        "device_id": str(r["device_id"]) if r["device_id"] else None,
        "op_id": str(r["op_id"]) if r["op_id"] else None,
        "created_at": r["created_at"].isoformat(),
        "resolved_how": r["resolved_how"],
        "resolved_at": r["resolved_at"].isoformat() if r["resolved_at"] else None,
    }


def _edit_value(record_type: str, column: str, value: JSON) -> JSON:
    sync_type = BY_NAME[record_type]
    errors = schema_errors(sync_type, {column: value}) if column in sync_type.wire_fields else {}
    if errors:
        raise InvalidInput(errors)
    if (record_type, column) == ("incident", "parties"):
        return sealed_parties(value)
    return _ewkt(value) if column == "point" else value


def resolve(
    principal: Principal, conflict_id: uuid.UUID, action: str, value: JSON
) -> dict[str, Any]:
    """Keep, take or edit: one versioned write that phones pull, then the conflict is closed."""
    scope = resolve_scope(principal)
    try:
        row = db.session.execute(
            sa.select(conflicts).where(conflicts.c.id == conflict_id, _in_scope(scope))
        ).one_or_none()
        if row is None:
            raise NotFound("No such conflict.")
        how = How(action)
        spec, _ = _sealed(row.record_type, row.field)
        conn = db.session.connection()
        registry = build_registry({})
        sibling = None
        if spec is not None and spec.hash:
            sibling = db.session.scalar(
                sa.select(conflicts.c.id).where(
                    conflicts.c.op_id == row.op_id,
                    conflicts.c.record_id == row.record_id,
                    conflicts.c.field == spec.hash,
                    conflicts.c.status == "open",
                )
            )
        edit_value: JSON = None
        hash_value: JSON = None
        if how is How.EDIT and spec is not None:
            try:
                normalized = spec.normalize(str(value), {}) if value is not None else None
            except ValueError as exc:
                raise InvalidInput({spec.wire: [str(exc)]}) from None
            edit_value = seal_stable(normalized, spec.context) if normalized else None
            hash_value = keyed_hash(normalized, spec.context) if normalized else None
        elif how is How.EDIT and row.field:
            edit_value = _edit_value(row.record_type, row.field, value)
        resolution = resolve_conflict(
            conn, registry, conflict_id, principal.user_id, how, edit_value
        )
        if sibling is not None:
            resolution = resolve_conflict(
                conn, registry, sibling, principal.user_id, how, hash_value
            )
        _replace_if_moved(row.record_type, row.field, row.record_id)
        db.session.commit()
    except ConflictNotOpen:
        db.session.rollback()
        raise ConflictClosed("This conflict is already resolved.") from None
    except CannotResolve as exc:
        db.session.rollback()
        raise InvalidInput({"action": [str(exc)]}) from None
    except BaseException:
        db.session.rollback()
        raise
    return {"id": str(conflict_id), "status": "resolved", "version": resolution.version}


def _replace_if_moved(record_type: str, column: str | None, record_id: uuid.UUID) -> None:
    table_name = BY_NAME[record_type].table.name
    rules = placement.RULES.get(table_name, ())
    columns = {r.column if isinstance(r, FromPoint) else r.fk for r in rules if r}
    if column in columns and all(isinstance(r, FromPoint | FromAnchor) for r in rules):
        placement.place_with_dependents(table_name, [record_id])
