"""Records on the way out to phones: the web API's own presenters, masked by the caller's role."""

from __future__ import annotations

import itertools
import operator
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping

from server.audit.service import record_access
from server.extensions import db
from server.privacy.masking import FieldClass
from server.registry.services import personal
from server.registry.services.catalog import RESOURCES
from server.registry.services.persons import SPECIAL_FIELDS
from server.registry.services.records import (
    Caller,
    base_fields,
    in_scope,
    jsonable,
    native_json,
)
from server.syncapi.record_types import BY_NAME
from sync.ops import JSON
from sync.registry import RecordType

_RESOURCE_BY_TYPE = {r.record_type: r for r in RESOURCES.values()}


def _special(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    shown = personal.may_see(caller.role, FieldClass.SPECIAL_POPULATION)
    out = []
    for row in rows:
        # For a role the policy hides special populations from, even which person a row belongs
        # to is withheld: that link alone says "this person is a drug user / under correction".
        body = {**base_fields(row), "person_id": jsonable(row["person_id"]) if shown else None}
        if shown:
            body.update({k: jsonable(row[k]) for k in SPECIAL_FIELDS})
        out.append(body)
    return out


def _member(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    return [
        {
            **base_fields(row),
            "household_id": jsonable(row["household_id"]),
            "person_id": jsonable(row["person_id"]),
            "relation_to_head": row["relation_to_head"],
        }
        for row in rows
    ]


_OWN_PRESENTERS = {"person_special_population": _special, "household_member": _member}
# Lists the web API embeds in a record that a phone holds as records of their own: embedded, they
# would go stale on the phone, since changing one does not change the record's version.
_EMBEDDED = {"person": ("special_populations",)}


def _is_geometry(column: sa.Column[Any]) -> bool:
    return type(column.type).__name__ == "Geometry"


def _read(column: sa.Column[Any]) -> bool:
    # No presenter reads `scope_path` (parsing that uuid[] was about a third of the fetch) or
    # `sync_hash` (a grid checksum's term).
    return column.name not in ("scope_path", "sync_hash")


def _columns(table: sa.Table) -> list[sa.ColumnElement[Any]]:
    """The columns presenters read; geometry as GeoJSON text, which `_present_rows` parses
    (the same document as the JSONB cast the web API reads, without the driver's slow loader)."""
    return [
        sa.func.ST_AsGeoJSON(c, type_=sa.Text).label(c.name) if _is_geometry(c) else c
        for c in table.c
        if _read(c)
    ]


def snapshot_columns(conn: sa.Connection, record_type: RecordType) -> str:
    """`_columns` as the engine's snapshot select list over the table aliased `t`."""
    quote = conn.dialect.identifier_preparer.quote
    names = [(quote(c.name), _is_geometry(c)) for c in record_type.table.c if _read(c)]
    return ", ".join(f"ST_AsGeoJSON(t.{n}) AS {n}" if geo else f"t.{n}" for n, geo in names)


def _present_rows(
    caller: Caller, record_type: str, rows: list[dict[str, Any]], *, native: bool = False
) -> list[dict[str, Any]]:
    """Rows of one type read with `_columns`, presented as the caller's role sees them, in
    the rows' order.

    `native`: the bodies go straight to orjson, so the GeoJSON text goes in as a fragment
    (written verbatim, never parsed) and uuids and times as objects (see `native_json`).
    """
    geometries = [c.name for c in BY_NAME[record_type].table.c if _is_geometry(c)]
    as_json = orjson.Fragment if native else orjson.loads
    for name in geometries:
        for row in rows:
            if row[name] is not None:
                row[name] = as_json(row[name])
    resource = _RESOURCE_BY_TYPE.get(record_type)
    presenter = resource.present if resource else _OWN_PRESENTERS[record_type]
    # Plain dicts read like the RowMappings the presenters are written for (by column name).
    bodies = presenter(caller, cast(Sequence[RowMapping], rows))
    if rows and (resource is None or resource.audit_reads):
        # Downloads of personal records leave the same trail as web reads.
        record_access("sync_read", record_type, [row["id"] for row in rows])
    dropped = ("warnings", *_EMBEDDED.get(record_type, ()))
    for row, body in zip(rows, bodies, strict=True):
        for name in dropped:
            body.pop(name, None)
        body["deleted_at"] = jsonable(row["deleted_at"])
    return bodies


def present_records(
    caller: Caller, record_type: str, ids: Iterable[uuid.UUID], *, scoped: bool = False
) -> dict[uuid.UUID, dict[str, Any]]:
    """Current rows of one type by id, as the caller's role sees them in the web API
    (`scoped`: only those in the caller's scope now, live or deleted)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted or record_type not in BY_NAME:
        return {}
    table = BY_NAME[record_type].table
    # One array parameter, not an IN list of a thousand: psycopg rewrites every placeholder.
    ids_param = sa.bindparam("ids", wanted, type_=ARRAY(sa.Uuid()))
    query = sa.select(*_columns(table)).where(table.c.id == sa.any_(ids_param))
    if scoped:
        query = query.where(in_scope(table, caller))
    rows = [dict(r) for r in db.session.execute(query).mappings()]
    bodies = _present_rows(caller, record_type, rows)
    return {row["id"]: body for row, body in zip(rows, bodies, strict=True)}


def present_docs(
    caller: Caller, docs: Sequence[tuple[str, Mapping[str, JSON]]], *, scoped: bool = False
) -> list[dict[str, Any] | None]:
    """Replace engine documents (raw rows) with presented records, one query per type
    (`scoped`: None for a record outside the caller's scope now)."""
    keys = [(record_type, uuid.UUID(str(doc["id"]))) for record_type, doc in docs]
    by_type: dict[str, list[uuid.UUID]] = {}
    for record_type, record_id in keys:
        by_type.setdefault(record_type, []).append(record_id)
    shown = {t: present_records(caller, t, ids, scoped=scoped) for t, ids in by_type.items()}
    return [shown.get(t, {}).get(record_id) for t, record_id in keys]


def present_snapshot(
    caller: Caller, records: Sequence[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any] | None]:
    """Present a snapshot page read with `snapshot_columns`: one presenter call per run of
    records of one type (a page is ordered by type, so one per type), in the page's order.

    The bodies hold uuids, datetimes and GeoJSON fragments: serialise them with orjson only.
    """
    shown: list[dict[str, Any] | None] = []
    with native_json():
        for record_type, run in itertools.groupby(records, key=operator.itemgetter(0)):
            rows = [row for _, row in run]
            if record_type in BY_NAME:
                shown.extend(_present_rows(caller, record_type, rows, native=True))
            else:
                shown.extend([None] * len(rows))
    return shown
