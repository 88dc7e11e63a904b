"""The engine's registry for one request: record types with their locate, validate and command
hooks, and re-placing records whose location changed after a push."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from server.auth.models import Role
from server.extensions import db
from server.hierarchy.scope import Scope
from server.registry import placement
from server.registry.placement import FromAnchor, FromPoint
from server.registry.services import personal
from server.registry.services.catalog import RESOURCES
from server.registry.services.records import Caller, visible
from server.syncapi.points import OUR_EWKT, grids_at_points
from server.syncapi.record_types import BY_NAME, INCIDENT_STATUSES, SYNC_TYPES, SyncType
from server.syncapi.translate import Translation, schema_errors
from sync.ops import JSON, Op, OpKind, OpResult, Reason, Status
from sync.registry import (
    CommandRefused,
    LocateFn,
    Location,
    RecordType,
    Refused,
    Registry,
    ValidateFn,
)

# A task takes its target's grid when it is created (the web API does the same).
TASK_TARGETS = {
    "address": "addresses",
    "house": "houses",
    "person": "persons",
    "household": "households",
    "organization": "organizations",
    "incident": "incidents",
}


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
    translations: Mapping[int, Translation],
    points: Mapping[str, Location] | None = None,
    refusals: Mapping[int, Refused] | None = None,
) -> Registry:
    """Record types whose `validate` sees the phone's own fields of the op being checked.

    The engine passes `op.fields` (the translated dict) to `validate`; `translations` maps that
    dict's identity to what the phone sent and to the errors found while sealing it, and
    `refusals` to a refusal decided for the whole batch beforehand (`duplicate_id_numbers`).
    """

    def validator(sync_type: SyncType) -> ValidateFn:
        def validate(fields: Mapping[str, JSON]) -> Mapping[str, list[str]]:
            found = translations.get(id(fields))
            if found is None:
                return {}
            errors = dict(schema_errors(sync_type, found.wire))
            errors.update(found.errors)
            refused = (refusals or {}).get(id(fields))
            if refused is not None and not errors:
                raise Refused(refused.reason, refused.field_errors, refused.existing_id)
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
                references=t.references,
                unique=UNIQUE_REFUSALS.get(t.name, {}),
                fixed=t.fixed,
            )
            for t in SYNC_TYPES
        ]
    )


def _rule_column(rule: FromPoint | FromAnchor) -> str:
    return rule.column if isinstance(rule, FromPoint) else rule.fk


def restore_shown_numbers(
    conn: sa.Connection, translations: Sequence[Translation], role: Role
) -> None:
    """A person's passport or permit number that a phone sends back inside its extension object
    exactly as it was shown (masked) is the stored number: the op's object gets the stored one
    back (`personal.kept_extension`), one query per batch."""
    wanted: dict[uuid.UUID, list[tuple[Translation, str]]] = {}
    for translation in translations:
        op = translation.op
        if op.record_type != "person" or op.kind not in (OpKind.CREATE, OpKind.PATCH):
            continue
        for name in personal.EXTENSION_NUMBERS:
            if isinstance(op.fields.get(name), dict):
                wanted.setdefault(op.record_id, []).append((translation, name))
    if not wanted:
        return
    persons = BY_NAME["person"].table
    names = sorted(personal.EXTENSION_NUMBERS)
    rows = conn.execute(
        sa.select(persons.c.id, *(persons.c[n] for n in names)).where(
            persons.c.id.in_(sorted(wanted))
        )
    )
    for row in rows.mappings():
        for translation, name in wanted[row["id"]]:
            fields = translation.op.fields
            assert isinstance(fields, dict)
            fields[name] = personal.kept_extension(role, name, fields[name], row[name])


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


def _placed_by_own_point(op: Op, result: OpResult, rules: Sequence[placement.Rule]) -> bool:
    """A fresh insert (version 1) of a record whose first placement rule is its own point, with
    a point set: `locate` gave it the grid `placement.place` would (the same covering grid, in
    the same transaction), and nothing follows a record that did not exist before this batch."""
    point = op.fields.get(rules[0].column) if rules and isinstance(rules[0], FromPoint) else None
    return (
        op.kind is OpKind.CREATE
        and result.status is Status.APPLIED
        and result.version == 1
        and isinstance(point, str)
        and OUR_EWKT.match(point) is not None
    )


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
        if _placed_by_own_point(op, result, rules):
            pass  # the engine stored the grid `locate` found for its point: placing it is a no-op
        elif rules and (op.kind is OpKind.CREATE or rule_columns & set(op.fields)):
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


DUPLICATE_ID_NUMBER_MESSAGE = "A person with this ID number already exists."
# A number a concurrent batch registered after this batch's check (`duplicate_id_numbers`) is
# stopped by the unique index instead: the op is answered alike (the holder is not named).
UNIQUE_REFUSALS = {
    "person": {
        "uq_persons_id_number_hash": Refused(
            Reason.DUPLICATE_ID_NUMBER, {"id_number": [DUPLICATE_ID_NUMBER_MESSAGE]}
        )
    }
}


def duplicate_id_numbers(
    conn: sa.Connection, translations: Sequence[Translation], caller: Caller
) -> dict[int, Refused]:
    """Person creates and patches whose ID number another live person holds, keyed like
    `build_registry`'s `translations`; one query per batch.

    Answered as the web API's 409 is: the holder's id only when the caller may see that record,
    otherwise only that the number is registered. An earlier op of the same batch registering
    the number counts as a holder (its record is the caller's own) unless its fields are
    refused: a rejected create must not cost a good one its number.
    """
    persons = BY_NAME["person"].table
    wanted = [
        (t, t.op.fields["id_number_hash"])
        for t in translations
        if t.op.record_type == "person"
        and t.op.kind in (OpKind.CREATE, OpKind.PATCH)
        and isinstance(t.op.fields.get("id_number_hash"), str)
        and "id_number" not in t.errors
    ]
    if not wanted:
        return {}
    holders: dict[str, list[tuple[uuid.UUID, bool]]] = {}
    for row in conn.execute(
        sa.select(
            persons.c.id, persons.c.id_number_hash, visible(persons, caller).label("seen")
        ).where(
            persons.c.id_number_hash.in_(sorted({h for _, h in wanted})),
            persons.c.deleted_at.is_(None),
        )
    ):
        holders.setdefault(row.id_number_hash, []).append((row.id, bool(row.seen)))
    claimed: dict[str, uuid.UUID] = {}
    # Only a number sent twice in the batch needs the field check of its earlier op (a full
    # schema load for persons: ~0.14 ms an op).
    repeated = {h for h, n in Counter(h for _, h in wanted).items() if n > 1}
    refusals: dict[int, Refused] = {}
    for translation, number_hash in wanted:
        own = translation.op.record_id
        others = [(i, seen) for i, seen in holders.get(number_hash, []) if i != own]
        earlier = claimed.get(number_hash)
        if others:
            shown = next((i for i, seen in others if seen), None)
        elif earlier is not None and earlier != own:
            shown = earlier
        else:
            if number_hash in repeated and _may_apply(translation):
                claimed.setdefault(number_hash, own)
            continue
        refusals[id(translation.op.fields)] = Refused(
            Reason.DUPLICATE_ID_NUMBER, {"id_number": [DUPLICATE_ID_NUMBER_MESSAGE]}, shown
        )
    return refusals


def _may_apply(translation: Translation) -> bool:
    """Whether the op passes the field checks `validate` will make (it may still be refused
    later, for its scope; then the unique index answers a later op of the batch)."""
    sync_type = BY_NAME[translation.op.record_type]
    return not translation.errors and not schema_errors(sync_type, translation.wire)


_TOMBSTONED_HERE = sa.text(
    """
    SELECT DISTINCT record_type, record_id FROM change_log
    WHERE txid = pg_current_xact_id() AND kind = 'delete'
      AND record_type = ANY(CAST(:types AS text[])) AND record_id = ANY(CAST(:ids AS uuid[]))
    """
)


def cascade_deletes(
    caller: Caller, translations: Sequence[Translation], results: Sequence[OpResult]
) -> None:
    """Tombstone what the web API's delete tombstones with a record (a person's
    special-population rows, a household's memberships) for each record this push's deletes
    tombstoned, in the push's transaction; the tracking triggers log the children's deletes."""
    on_delete = {r.record_type: r.on_delete for r in RESOURCES.values() if r.on_delete}
    deleted = [
        t.op
        for t, r in zip(translations, results, strict=True)
        if t.op.kind is OpKind.DELETE
        and t.op.record_type in on_delete
        and r.status in (Status.APPLIED, Status.MERGED)
    ]
    if not deleted:
        return
    # Only records this transaction tombstoned: a replayed delete, or one of a record that was
    # already a tombstone, must not sweep children added since.
    rows = db.session.execute(
        _TOMBSTONED_HERE,
        {
            "types": sorted({op.record_type for op in deleted}),
            "ids": sorted({op.record_id for op in deleted}),
        },
    ).all()
    for record_type, record_id in sorted(rows):
        hook = on_delete[record_type]
        assert hook is not None
        hook(caller, record_id)
