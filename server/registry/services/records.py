"""What every registry resource shares: its declaration, the caller's scope, scoped reads.

Every resource (addresses, persons, ...) is a `Resource`: its table, its request schema, a
`prepare` hook turning loaded fields into column values and a `present` hook turning rows into
response bodies. The scope predicate lives here: a record outside the caller's scope is
indistinguishable from a missing one. The use cases are in `record_use_cases`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import RowMapping

from server.audit.service import record_refusal
from server.auth.models import Role
from server.auth.principal import Principal
from server.errors import InvalidInput, NotFound
from server.extensions import db
from server.hierarchy.models import Grid, GridVersion, OrgLevel, OrgUnit
from server.hierarchy.scope import Scope, resolve_scope
from server.privacy.masking import FieldClass
from server.registry import placement

NOT_FOUND_DETAIL = "No such record."
Warning_ = dict[str, Any]


@dataclass(frozen=True)
class Caller:
    """Who is writing or reading, with the scope read from the database for this request."""

    principal: Principal
    scope: Scope

    @property
    def role(self) -> Role:
        """The caller's role."""
        return self.principal.role


@dataclass
class Prepared:
    """Column values for an INSERT/UPDATE plus warnings to return (never stop the write)."""

    values: dict[str, Any]
    warnings: list[Warning_] = field(default_factory=list)


Prepare = Callable[[Caller, dict[str, Any], RowMapping | None], Prepared]
Present = Callable[[Caller, Sequence[RowMapping]], list[dict[str, Any]]]
AfterWrite = Callable[[Caller, uuid.UUID, dict[str, Any]], None]


@dataclass(frozen=True)
class Resource:
    """One registry record type exposed under /api/v1/<name>."""

    name: str
    record_type: str
    table: Table
    schema: type[Schema]
    prepare: Prepare
    present: Present
    # Where to point when a worker's record lands outside their grids.
    location_field: str = "point"
    audit_reads: bool = True
    located: bool = False
    placed: bool = True
    search: Callable[[Table, str], ColumnElement[bool]] | None = None
    # The personal data `search` matches (a name): only a role that sees it in full may search
    # by it, or a masked name could be rebuilt one prefix at a time.
    searches: FieldClass | None = None
    by_id_number: Callable[[Table, str], ColumnElement[bool]] | None = None
    # The personal data `by_id_number` matches: a role to whom it is hidden may not search by it.
    id_number_class: FieldClass = FieldClass.ID_NUMBER
    after_write: AfterWrite | None = None
    on_delete: Callable[[Caller, uuid.UUID], None] | None = None


def caller_for(principal: Principal) -> Caller:
    """The caller with their scope resolved from the database now."""
    return Caller(principal=principal, scope=resolve_scope(principal))


def _location(name: str, table: FromClause) -> ColumnElement[Any] | None:
    """The point a record lies at, followed through its anchors as placement does (or None)."""
    rules = placement.RULES.get(name)
    if not rules:
        return None
    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []
    for rule in rules:
        if isinstance(rule, placement.FromPoint):
            whens.append((table.c[rule.column].is_not(None), table.c[rule.column]))
            continue
        anchor = db.metadata.tables[rule.anchor].alias()
        located = _location(rule.anchor, anchor)
        if located is None:
            continue
        whens.append(
            (
                table.c[rule.fk].is_not(None),
                # Correlated by name: a query that reaches `table` through a join would
                # otherwise get an uncorrelated subquery (every anchored row, not this one's).
                select(located)
                .where(anchor.c.id == table.c[rule.fk])
                .correlate(table)
                .scalar_subquery(),
            )
        )
    return case(*whens, else_=None) if whens else None


def unassigned_in_subtree(table: Table, org_unit_ids: frozenset[uuid.UUID]) -> ColumnElement[bool]:
    """An unassigned record whose point lies in a community of the given subtrees.

    The community's outline is its `boundary`, or else the union of its current grids. A record
    outside every community (or with no point at all) matches nothing: it is for admins only.
    """
    point = _location(table.name, table)
    if point is None or not org_unit_ids:
        return false()
    unit = OrgUnit.__table__.alias("subtree_unit")
    gv, g = GridVersion.__table__, Grid.__table__
    grids_union = (
        select(func.ST_Union(gv.c.geom))
        .select_from(gv.join(g, g.c.id == gv.c.grid_id))
        .where(g.c.community_id == unit.c.id, gv.c.valid_to.is_(None), g.c.retired_at.is_(None))
        .scalar_subquery()
    )
    outline = func.coalesce(unit.c.boundary, grids_union)
    inside = (
        select(unit.c.id)
        .where(
            unit.c.level == OrgLevel.COMMUNITY,
            unit.c.path.overlap(cast(sorted(org_unit_ids), ARRAY(PG_UUID(as_uuid=True)))),
            func.ST_Covers(outline, point),
        )
        .exists()
    )
    return and_(table.c.grid_id.is_(None), inside)


def in_scope(table: Table, caller: Caller) -> ColumnElement[bool]:
    """Records in the caller's scope, live or deleted (`visible` keeps the live ones).

    Admins see everything; a dispatcher also sees the unassigned records lying inside a community
    of their subtree (so they can fix them), never those of a sibling subtree or outside every
    community.
    """
    found = caller.scope.grid_filter(table.c.grid_id)
    if caller.role == Role.DISPATCHER:
        found = or_(found, unassigned_in_subtree(table, caller.scope.org_unit_ids))
    return found


def visible(table: Table, caller: Caller) -> ColumnElement[bool]:
    """Live records in the caller's scope."""
    return and_(in_scope(table, caller), table.c.deleted_at.is_(None))


def columns(table: Table) -> list[ColumnElement[Any]]:
    """The table's columns, geometry read back as GeoJSON."""
    out: list[ColumnElement[Any]] = []
    for column in table.c:
        if type(column.type).__name__ == "Geometry":
            out.append(cast(func.ST_AsGeoJSON(column), JSONB).label(column.name))
        else:
            out.append(column)
    return out


def fetch_visible(
    table: Table, caller: Caller, record_id: uuid.UUID, *, action: str, record_type: str
) -> RowMapping:
    """The record if it exists, is live and is in scope; otherwise NotFound (one answer for all).

    Every miss is audited as a refused `action` (committed on its own, so the NotFound's
    rollback keeps it): "out_of_scope" when a live record with that id exists elsewhere (a
    probe), "not_found" otherwise. Both paths do the same work, so neither the answer nor its
    timing tells the caller which one it was.
    """
    row = (
        db.session.execute(
            select(*columns(table)).where(table.c.id == record_id, visible(table, caller))
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        exists = db.session.scalar(
            select(table.c.id).where(table.c.id == record_id, table.c.deleted_at.is_(None))
        )
        why = "out_of_scope" if exists is not None else "not_found"
        record_refusal(action, record_type, [record_id], why=why, actor=caller.principal)
        raise NotFound(NOT_FOUND_DETAIL)
    return row


def reference(
    caller: Caller, table: Table, record_id: uuid.UUID | None, field_name: str
) -> RowMapping | None:
    """A referenced record the caller may see; missing or out of scope is a 422 on the field."""
    if record_id is None:
        return None
    row = (
        db.session.execute(
            select(*columns(table)).where(table.c.id == record_id, visible(table, caller))
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise InvalidInput({field_name: ["No such record."]})
    return row


_AS_IS = frozenset({str, int, float, bool, type(None), dict})
# Types orjson writes exactly as `jsonable` would (str(uuid), isoformat()), ~10x faster.
_NATIVE = frozenset({uuid.UUID, datetime, date})
_native_json: ContextVar[bool] = ContextVar("native_json", default=False)


@contextmanager
def native_json() -> Iterator[None]:
    """Within: `jsonable` leaves uuids, datetimes and dates to orjson, which writes the same
    text. Only for bodies that orjson serialises (the sync API); a first download presents
    ~50,000 of them per 10,000 records."""
    token = _native_json.set(True)
    try:
        yield
    finally:
        _native_json.reset(token)


def jsonable(value: Any) -> Any:
    """Convert a column value to JSON: uuid and times as strings, decimals as numbers."""
    if type(value) in _AS_IS:  # most values: one set lookup (a sync page calls this 10^5 times)
        return value
    if type(value) in _NATIVE and _native_json.get():
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


# Per `native_json()`: the types `jsonable` returns as they are.
_KEPT = {False: _AS_IS, True: _AS_IS | _NATIVE}
BASE_FIELDS = ("id", "version", "grid_id", "created_at", "created_by", "updated_at", "updated_by")


def as_stored(row: RowMapping, names: Iterable[str]) -> dict[str, Any]:
    """`names` of the row as `jsonable` values, calling it only for values it would change: a
    snapshot page presents some 20,000 values, nearly all of them kept as they are."""
    kept = _KEPT[_native_json.get()]
    return {name: v if type(v := row[name]) in kept else jsonable(v) for name in names}


def base_fields(row: RowMapping) -> dict[str, Any]:
    """The sync-contract fields every response carries."""
    return as_stored(row, BASE_FIELDS)


def encode_cursor(last_id: uuid.UUID) -> str:
    """An opaque cursor for the page after `last_id`."""
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    """Read a cursor made by `encode_cursor`; 422 on anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, binascii.Error):
        raise InvalidInput({"cursor": ["Not a cursor from this API."]}) from None


def tombstone_children(
    table: Table, where: ColumnElement[bool], principal: Principal
) -> list[uuid.UUID]:
    """Tombstone every live child row matching `where` (version + 1 each)."""
    return list(
        db.session.scalars(
            update(table)
            .where(where, table.c.deleted_at.is_(None))
            .values(
                version=table.c.version + 1,
                updated_at=func.now(),
                updated_by=principal.user_id,
                deleted_at=func.now(),
                deleted_by=principal.user_id,
            )
            .returning(table.c.id)
        )
    )
