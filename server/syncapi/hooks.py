"""The engine's registry for one request: record types with their locate, validate and command
hooks, and re-placing records whose location changed after a push."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa

from server.extensions import db
from server.hierarchy.scope import Scope
from server.registry import placement
from server.registry.placement import FromAnchor, FromPoint
from server.syncapi.record_types import BY_NAME, INCIDENT_STATUSES, SYNC_TYPES, SyncType
from server.syncapi.translate import Translation, schema_errors
from sync.ops import JSON, OpKind, OpResult, Status
from sync.registry import CommandRefused, LocateFn, Location, RecordType, Registry, ValidateFn

# A task takes its target's grid when it is created (the web API does the same).
TASK_TARGETS = {
    "address": "addresses",
    "house": "houses",
    "person": "persons",
    "household": "households",
    "organization": "organizations",
    "incident": "incidents",
}


# The EWKT `translate` makes from a GeoJSON point; anything else never reaches PostGIS here.
OUR_EWKT = re.compile(r"^SRID=4326;POINT\([-+0-9.eE]+ [-+0-9.eE]+\)$")

_AT_POINTS = sa.text(
    """
    SELECT p.ewkt, c.id, c.path
    FROM unnest(CAST(:points AS text[])) AS p(ewkt)
    LEFT JOIN LATERAL (
      SELECT g.id, g.path FROM grid_versions gv JOIN grids g ON g.id = gv.grid_id
      WHERE gv.valid_to IS NULL AND g.retired_at IS NULL
        AND ST_Covers(gv.geom, ST_GeomFromEWKT(p.ewkt))
      ORDER BY g.code LIMIT 1
    ) AS c ON true
    """
)


def grids_at_points(conn: sa.Connection, points: Iterable[JSON]) -> dict[str, Location]:
    """The grid covering each point (lowest code on a shared edge), in one query per batch."""
    wanted = sorted({p for p in points if isinstance(p, str) and OUR_EWKT.match(p)})
    if not wanted:
        return {}
    rows = conn.execute(_AT_POINTS, {"points": wanted})
    return {r.ewkt: Location(r.id, tuple(r.path)) if r.id else Location(None) for r in rows}


def _anchor_grid(conn: sa.Connection, table_name: str, anchor_id: JSON) -> Location:
    table = db.metadata.tables[table_name]
    try:
        key = uuid.UUID(str(anchor_id))
    except ValueError:
        return Location(None)
    row = conn.execute(
        sa.select(table.c.grid_id, table.c.scope_path).where(table.c.id == key)
    ).one_or_none()
    if row is None:
        return Location(None)
    return Location(row.grid_id, tuple(row.scope_path or ()))


def locate(sync_type: SyncType, points: Mapping[str, Location] | None = None) -> LocateFn:
    """Where a new record lies, by the registry's placement rules (its point, else its anchor);
    `points` holds the batch's points located in advance."""

    def where(conn: sa.Connection, fields: Mapping[str, JSON]) -> Location:
        if sync_type.name == "task":
            target = TASK_TARGETS.get(str(fields.get("target_type")))
            if target and fields.get("target_id"):
                return _anchor_grid(conn, target, fields["target_id"])
            return Location(None)
        for rule in placement.RULES.get(sync_type.table.name, ()):
            value = fields.get(rule.column) if isinstance(rule, FromPoint) else None
            if isinstance(value, str) and OUR_EWKT.match(value):
                known = (points or {}).get(value)
                return known if known is not None else grids_at_points(conn, [value])[value]
            if isinstance(rule, FromAnchor) and fields.get(rule.fk):
                return _anchor_grid(conn, rule.anchor, fields[rule.fk])
        return Location(None)

    return where


def _set_status(doc: Mapping[str, JSON], args: Mapping[str, JSON]) -> Mapping[str, JSON]:
    status = args.get("status")
    if status not in INCIDENT_STATUSES:
        raise CommandRefused({"status": [f"One of {', '.join(INCIDENT_STATUSES)}."]})
    return {"status": status}


COMMANDS = {"incident": {"set_status": _set_status}}


def build_registry(
    translations: Mapping[int, Translation], points: Mapping[str, Location] | None = None
) -> Registry:
    """Record types whose `validate` sees the phone's own fields of the op being checked.

    The engine passes `op.fields` (the translated dict) to `validate`; `translations` maps that
    dict's identity to what the phone sent and to the errors found while sealing it.
    """

    def validator(sync_type: SyncType) -> ValidateFn:
        def validate(fields: Mapping[str, JSON]) -> Mapping[str, list[str]]:
            found = translations.get(id(fields))
            if found is None:
                return {}
            errors = dict(schema_errors(sync_type, found.wire))
            errors.update(found.errors)
            return errors

        return validate

    return Registry(
        [
            RecordType(
                name=t.name,
                table=t.table,
                fields=t.policies,
                locate=locate(t, points),
                validate=validator(t),
                commands=COMMANDS.get(t.name, {}),
            )
            for t in SYNC_TYPES
        ]
    )


def _rule_column(rule: FromPoint | FromAnchor) -> str:
    return rule.column if isinstance(rule, FromPoint) else rule.fk


def refuse_moves_out(
    conn: sa.Connection,
    translations: Sequence[Translation],
    scope: Scope,
    points: Mapping[str, Location],
) -> None:
    """A patch may not move a record into a grid outside the caller's grids (the web API's rule);
    the op is then rejected by `validate` with the message the web API gives."""
    for translation in translations:
        op = translation.op
        sync_type = BY_NAME.get(op.record_type)
        if sync_type is None or op.kind is not OpKind.PATCH:
            continue
        sent = {
            _rule_column(r): op.fields[_rule_column(r)]
            for r in placement.RULES.get(sync_type.table.name, ())
            if op.fields.get(_rule_column(r)) is not None
        }
        if not sent:
            continue
        where = locate(sync_type, points)(conn, sent)
        if where.grid_id is not None and not scope.allows_grid(where.grid_id):
            for name in sent:
                translation.errors[name] = ["This location is outside your grids."]


def replace_moved(translations: Sequence[Translation], results: Sequence[OpResult]) -> None:
    """Re-place records whose location or anchor fields an op wrote, and their dependents;
    new incidents remember the grid they were reported in."""
    written = {Status.APPLIED, Status.MERGED, Status.CONFLICT}
    moved: dict[str, set[uuid.UUID]] = {}
    new_incidents: list[uuid.UUID] = []
    for translation, result in zip(translations, results, strict=True):
        op = translation.op
        sync_type = BY_NAME.get(op.record_type)
        if sync_type is None or result.status not in written or op.kind is OpKind.DELETE:
            continue
        rules = placement.RULES.get(sync_type.table.name, ())
        rule_columns = {_rule_column(r) for r in rules}
        if rules and (op.kind is OpKind.CREATE or rule_columns & set(op.fields)):
            moved.setdefault(sync_type.table.name, set()).add(op.record_id)
        if sync_type.name == "incident" and op.kind is OpKind.CREATE:
            new_incidents.append(op.record_id)
    for table_name in placement.ORDER:
        if table_name in moved:
            placement.place_with_dependents(table_name, sorted(moved[table_name]))
    if new_incidents:
        incidents = db.metadata.tables["incidents"]
        db.session.execute(
            sa.update(incidents)
            .where(incidents.c.id.in_(new_incidents), incidents.c.origin_grid_id.is_(None))
            .values(origin_grid_id=incidents.c.grid_id)
        )
