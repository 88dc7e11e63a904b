"""The dispatchers' conflict inbox: open conflicts in scope; resolving one is a versioned write."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from server.auth.models import Role, User
from server.auth.principal import Principal
from server.blobs.service import credit_reference
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.extensions import db
from server.hierarchy.scope import resolve_scope
from server.privacy.masking import FieldClass, present
from server.registry import placement
from server.registry.placement import FromAnchor, FromPoint
from server.registry.services import personal
from server.registry.services.addresses import normalize_address_text
from server.registry.services.incidents import show_party
from server.registry.services.records import Caller, in_scope
from server.registry.services.work import CASE_FIELDS
from server.registry.validators import check_mobile
from server.syncapi import resolution_checks as checks
from server.syncapi.hooks import build_registry
from server.syncapi.record_types import BY_NAME, SYNC_TYPES, Sealed
from server.syncapi.sealing import keyed_hash, open_stored, seal_stable
from sync.ops import JSON
from sync.resolve import CannotResolve, ConflictNotOpen, How, losing_value, resolve_conflict
from sync.tables import conflicts

PAGE = 200
# Plain columns that hold personal data, shown as the web API shows them.
PERSONAL_COLUMNS = {
    ("person", "name"): FieldClass.PERSON_NAME,
    ("person", "birth_date"): FieldClass.BIRTH_DATE,
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
# Columns the server derives from another field of the record: (record type, column) -> (the
# field, how). A conflict on one is raised with its field's (the push translates both from what
# the phone sent); it is not listed or resolved on its own, but written and closed with it.
DERIVED = {("address", "normalized_text"): ("full_text", normalize_address_text)}
# An anonymous report keeps neither name nor phone (the registry's rule): a resolution may not
# write either while the report is anonymous.
SPECIAL_TYPE = "person_special_population"
SPECIAL_REFUSED = "Your role may not record special populations."


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


def wire_field(record_type: str, column: str | None) -> str | None:
    """The name a conflict's field is shown under: a sealed field's wire name, else the column."""
    spec, _ = _sealed(record_type, column)
    return spec.wire if spec else column


def listed_once() -> sa.ColumnElement[bool]:
    """Conflict rows as the inbox counts them: a sealed field's hash row travels with its
    encrypted one, and a derived column's row with its field's (`DERIVED`), so one field's
    conflict is one item (inbox, sync health, phone notices)."""
    hash_columns = [s.hash for t in SYNC_TYPES for s in t.sealed if s.hash]
    hash_columns.append(str(REPORTER_PHONE.hash))
    derived = [
        sa.and_(conflicts.c.record_type == record_type, conflicts.c.field == column)
        for record_type, column in sorted(DERIVED)
    ]
    return sa.or_(
        conflicts.c.field.is_(None),
        sa.and_(conflicts.c.field.not_in(sorted(hash_columns)), sa.not_(sa.or_(*derived))),
    )


def _travels_with_another(record_type: str, column: str | None) -> bool:
    """Whether a conflict row is one `listed_once` hides: a hash or derived column's."""
    return _sealed(record_type, column)[1] or (record_type, column) in DERIVED


def _derived_columns(row: Any) -> dict[str, Callable[[str], str]]:
    """The columns derived from `row`'s field, with how each is made from it."""
    return {
        column: derive
        for (record_type, column), (field, derive) in DERIVED.items()
        if record_type == row.record_type and field == row.field
    }


def _derived_from(row: Any, how: How, written: JSON) -> tuple[dict[str, JSON], list[uuid.UUID]]:
    """The derived columns a resolution of `row`'s field writes with it (none for keep), and the
    open conflicts of those columns raised by the same op, which close with it."""
    columns = _derived_columns(row)
    if not columns or row.kind not in ("field", "update_vs_delete"):
        return {}, []
    also: dict[str, JSON] = {}
    if how is not How.KEEP:
        also = {
            c: derive(written) if isinstance(written, str) else None
            for c, derive in columns.items()
        }
    companions = db.session.scalars(
        sa.select(conflicts.c.id).where(
            conflicts.c.op_id == row.op_id,
            conflicts.c.record_type == row.record_type,
            conflicts.c.record_id == row.record_id,
            conflicts.c.field.in_(sorted(columns)),
            conflicts.c.status == "open",
        )
    ).all()
    return also, list(companions)


def _show(role: Role, record_type: str, column: str | None, value: JSON) -> JSON:
    """A conflict value as the web API would show it to `role`.

    A delete-vs-update conflict (no column) holds a {column: value} map: each entry is shown on
    its own, hash columns dropped, sealed columns under their wire name.
    """
    if record_type == SPECIAL_TYPE and not personal.may_see(role, FieldClass.SPECIAL_POPULATION):
        # Correction, drug use, mental illness: withheld whole, even which person the row is
        # about (its `person_id`), as pulls withhold it (`present._special`).
        return None
    if column in CASE_FIELDS.get(record_type, ()) and not personal.may_see(
        role, FieldClass.SPECIAL_POPULATION
    ):
        return None  # a visit's or plan's case data, as the web API withholds it
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
    if (record_type, column) == ("incident", "parties") and isinstance(value, list):
        return [show_party(role, party) for party in value]
    if record_type == "person" and column in personal.EXTENSION_NUMBERS:
        return personal.show_extension(role, column, value)
    cls = PERSONAL_COLUMNS.get((record_type, column))
    if cls is not None and isinstance(value, str):
        return present(role, cls, value)
    if cls is not None and value is not None:
        return None
    return value


def _records_in_scope(caller: Caller, which: sa.ColumnElement[bool]) -> sa.Subquery:
    """The records of the conflicts `which` picks that the caller may reach now, with the grid
    each lies in now.

    Scope follows the record, not the grid it had when the conflict was raised: a record moved
    to another grid takes its conflicts to that grid's dispatchers. Live or deleted (an
    update-vs-delete conflict is about a tombstone), by the web API's rule, unassigned records
    included (`in_scope`). One branch per record type, each a primary-key semi-join from the
    picked conflicts, so the cost follows the conflicts, not the size of the caller's grids.
    """
    branches = [
        sa.select(
            sa.literal(t.name).label("record_type"),
            t.table.c.id.label("record_id"),
            t.table.c.grid_id.label("grid_id"),
        ).where(
            t.table.c.id.in_(
                sa.select(conflicts.c.record_id).where(conflicts.c.record_type == t.name, which)
            ),
            in_scope(t.table, caller),
        )
        for t in SYNC_TYPES
    ]
    return sa.union_all(*branches).subquery("record")


def _joined(record: sa.Subquery) -> sa.ColumnElement[bool]:
    return sa.and_(
        record.c.record_type == conflicts.c.record_type,
        record.c.record_id == conflicts.c.record_id,
    )


def list_open(principal: Principal, status: str) -> dict[str, Any]:
    """Conflicts on records in the caller's grids now (hash columns travel with their field):
    open ones oldest first (a work queue), resolved ones most recently resolved first."""
    picked = sa.and_(conflicts.c.status == status, listed_once())
    order = (
        (conflicts.c.created_at, conflicts.c.id)
        if status == "open"
        else (conflicts.c.resolved_at.desc(), conflicts.c.id.desc())
    )
    record = _records_in_scope(Caller(principal, resolve_scope(principal)), picked)
    rows = db.session.execute(
        sa.select(conflicts, record.c.grid_id.label("record_grid_id"), User.username)
        .join(record, _joined(record))
        .outerjoin(User, User.id == conflicts.c.user_id)
        .where(picked)
        .order_by(*order)
        .limit(PAGE)
    ).mappings()
    items = [_item(principal.role, r) for r in rows]
    db.session.commit()
    return {"items": items}


def _item(role: Role, r: Any) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "kind": r["kind"],
        "record_type": r["record_type"],
        "record_id": str(r["record_id"]),
        "grid_id": str(r["record_grid_id"]) if r["record_grid_id"] else None,
        "field": wire_field(r["record_type"], r["field"]),
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


def resolve(
    principal: Principal, conflict_id: uuid.UUID, action: str, value: JSON
) -> dict[str, Any]:
    """Keep, take or edit: one versioned write that phones pull, then the conflict is closed."""
    caller = Caller(principal, resolve_scope(principal))
    record = _records_in_scope(caller, conflicts.c.id == conflict_id)
    refused_key = "action"  # where a value the record's rules refuse is reported
    try:
        row = db.session.execute(
            sa.select(conflicts).join(record, _joined(record)).where(conflicts.c.id == conflict_id)
        ).one_or_none()
        if row is None or _travels_with_another(row.record_type, row.field):
            raise NotFound("No such conflict.")
        if action == How.EDIT.value:
            refused_key = str(wire_field(row.record_type, row.field))
        if row.record_type == SPECIAL_TYPE and not personal.may_see(
            principal.role, FieldClass.SPECIAL_POPULATION
        ):
            raise Forbidden(SPECIAL_REFUSED)  # as a push or a web write of them is refused
        how = How(action)
        spec, _ = _sealed(row.record_type, row.field)
        conn = db.session.connection()
        registry = build_registry({})
        sibling = None  # the hash column's conflict, resolved with this one
        if spec is not None and spec.hash:
            sibling = db.session.execute(
                sa.select(conflicts).where(
                    conflicts.c.op_id == row.op_id,
                    conflicts.c.record_id == row.record_id,
                    conflicts.c.field == spec.hash,
                    conflicts.c.status == "open",
                )
            ).one_or_none()
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
            edit_value = checks.edit_value(row.record_type, row.field, value)
            if _derived_columns(row) and not (isinstance(edit_value, str) and edit_value.strip()):
                # What the column is derived from is required, as in the web API.
                raise InvalidInput({row.field: ["Give the full text or its parts."]})
        written = edit_value if how is How.EDIT else losing_value(row)
        checks.refuse_naming_anonymous(row, how, written, wire_field(row.record_type, row.field))
        checks.refuse_backwards_period(row, how, written)
        checks.refuse_unfit_assignee(row, how, written)
        if how is not How.KEEP:
            # A take's losing value was judged for the losing phone when pushed; the resolver
            # writes it now, so it must name a record that is live and in their scope now.
            checks.check_reference(caller, registry, row, written)
        also, companions = _derived_from(row, how, written)
        if spec is not None and spec.hash and sibling is not None:
            companions.append(sibling.id)
            if how is not How.KEEP:
                also[spec.hash] = hash_value if how is How.EDIT else losing_value(sibling)
        resolution = resolve_conflict(
            conn,
            registry,
            conflict_id,
            principal.user_id,
            how,
            edit_value,
            also=also,
            companions=companions,
        )
        _credit_losing_photos(row, how, edit_value)
        _replace_if_moved(row.record_type, row.field, row.record_id)
        db.session.commit()
    except ConflictNotOpen:
        db.session.rollback()
        raise ConflictClosed("This conflict is already resolved.") from None
    except CannotResolve as exc:
        db.session.rollback()
        raise InvalidInput({"action": [str(exc)]}) from None
    except sa.exc.IntegrityError as exc:
        # A value the field's check takes but the record's own rules refuse (a door without a
        # point): nothing written, the conflict stays open.
        db.session.rollback()
        rule = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or "a constraint"
        refused = f"The record's rules refuse this value ({rule})."
        raise InvalidInput({refused_key: [refused]}) from None
    except BaseException:
        db.session.rollback()
        raise
    return {"id": str(conflict_id), "status": "resolved", "version": resolution.version}


def _credit_losing_photos(row: sa.Row[Any], how: How, edit_value: JSON) -> None:
    """Photos of the phone's losing list that the resolution writes count as that phone user's
    references (the write is the resolver's): their readers see them once the user uploads."""
    if row.field != "photo_sha256" or row.user_id is None or how is How.KEEP:
        return
    written = edit_value if how is How.EDIT else losing_value(row)
    sent = row.client_value if isinstance(row.client_value, list) else []
    if isinstance(written, list):
        mine = [h for h in written if isinstance(h, str) and h in sent]
        credit_reference(row.record_type, row.record_id, mine, row.user_id)


def _replace_if_moved(record_type: str, column: str | None, record_id: uuid.UUID) -> None:
    table_name = BY_NAME[record_type].table.name
    rules = placement.RULES.get(table_name, ())
    columns = {r.column if isinstance(r, FromPoint) else r.fk for r in rules if r}
    if column in columns and all(isinstance(r, FromPoint | FromAnchor) for r in rules):
        placement.place_with_dependents(table_name, [record_id])
