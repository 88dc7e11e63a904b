"""Ops from the wire vocabulary to table columns, before the engine sees them.

Identifiers are normalized with the registry's validators and sealed (`sealing`), so the op the
engine hashes, stores in `rejected_ops` and merges into `field_stamps`/`conflicts` carries only
ciphertext and keyed hashes. A value that fails validation is still sealed (never kept in clear)
and its error is handed to the record type's `validate` hook, which rejects the op.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError
from marshmallow import fields as schema_fields

from server.registry.schemas.common import finite_number
from server.registry.services import personal
from server.registry.services.addresses import (
    PARTS,
    PARTS_TOO_LONG,
    TEXT_MAX,
    normalize_address_text,
)
from server.registry.services.incidents import seal_party
from server.syncapi.field_checks import FieldChecks, as_uuid
from server.syncapi.record_types import BY_NAME, Sealed, SyncType
from server.syncapi.sealing import keyed_hash, seal_stable
from sync.ops import JSON, Op, OpKind

SERVER_OWNED_MESSAGE = "Set by the server; clients cannot send it."
PERSONAL_WORDS = ("id_number", "id_card", "phone", "passport")
REDACTED = "[redacted]"
PARTY_SEALED_OUTPUT = frozenset({"phone_enc", "phone_hash"})


@dataclass
class Translation:
    """An op in column form, the phone's own fields, and errors found while translating."""

    op: Op
    wire: Mapping[str, JSON]
    errors: dict[str, list[str]] = field(default_factory=dict)


def _ewkt(value: JSON) -> JSON:
    """A GeoJSON point as EWKT text PostGIS reads; anything else is left for the schema check."""
    if not isinstance(value, dict | Mapping) or value.get("type") != "Point":
        return value
    coords = value.get("coordinates")
    if not isinstance(coords, list) or len(coords) != 2:
        return value
    lng, lat = coords
    if not (finite_number(lng) and finite_number(lat)):
        return value
    return f"SRID=4326;POINT({float(lng)!r} {float(lat)!r})"


def _seal(
    spec: Sealed, value: JSON, fields: Mapping[str, JSON], errors: dict[str, list[str]]
) -> dict[str, JSON]:
    out: dict[str, JSON] = {spec.enc: None}
    if value is None:
        if spec.hash:
            out[spec.hash] = None
        return out
    raw = str(value)
    try:
        normalized = spec.normalize(raw, fields)
    except ValueError as exc:
        errors[spec.wire] = [str(exc)]
        normalized = raw.strip()
    out[spec.enc] = seal_stable(normalized, spec.context)
    if spec.hash:
        out[spec.hash] = keyed_hash(normalized, spec.context)
    return out


def _reporter(value: JSON, errors: dict[str, list[str]]) -> dict[str, JSON]:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        errors["reporter"] = ["Expected an object {name, phone, anonymous}."]
        return {}
    anonymous = bool(value.get("anonymous"))
    phone = None if anonymous else value.get("phone")
    sealed = digest = None
    if phone is not None:
        normalized = str(phone).strip()
        sealed = seal_stable(normalized, personal.REPORTER_PHONE)
        digest = keyed_hash(normalized, personal.REPORTER_PHONE)
    return {
        "reporter_anonymous": anonymous,
        "reporter_name": None if anonymous else value.get("name"),
        "reporter_phone_enc": sealed,
        "reporter_phone_hash": digest,
    }


def _stable_blob(value: str, context: str) -> bytes:
    return bytes.fromhex(seal_stable(value, context)[2:])


def _redacted_within(value: JSON, sealed: frozenset[str] = frozenset()) -> JSON:
    """`value` with every identifier-looking key at any depth redacted, but for `sealed` keys
    at the top (what sealing wrote)."""
    if isinstance(value, list):
        return [_redacted_within(item) for item in value]
    if isinstance(value, dict):
        return {
            k: v if k in sealed else _redacted(k, _redacted_within(v)) for k, v in value.items()
        }
    return value


def sealed_parties(value: JSON) -> JSON:
    """Incident parties with each phone sealed deterministically (a replayed op hashes the same);
    a malformed list is kept for the schema check to reject, its phones sealed all the same and
    any other identifier-looking key (which the check refuses) redacted: the rejected op is kept
    for review."""
    if not isinstance(value, list):
        return value
    sealed: JSON = [
        _redacted_within(seal_party(party, _stable_blob), PARTY_SEALED_OUTPUT) for party in value
    ]
    return sealed


@dataclass(frozen=True)
class _Shape:
    """A sync type's field sets, computed once per batch rather than once per field."""

    wire_fields: frozenset[str]
    columns: frozenset[str]
    sealed: Mapping[str, Sealed]
    # Wire fields stored as they come, in the column of the same name (`_columns_for` would
    # answer `{name: value}` for them).
    plain: frozenset[str]
    # Plain fields holding an id: written in its canonical (lower-case) form, so the same id
    # sent in upper case (as iOS writes UUIDs) merges as the same value.
    ids: frozenset[str]


def _columns_for(
    sync_type: SyncType,
    shape: _Shape,
    name: str,
    value: JSON,
    op: Op,
    errors: dict[str, list[str]],
) -> dict[str, JSON]:
    sealed = shape.sealed
    if name in sealed:
        return _seal(sealed[name], value, op.fields, errors)
    if name == "reporter" and "reporter" in sync_type.composite:
        return _reporter(value, errors)
    if name == "parties" and sync_type.name == "incident":
        return {"parties": sealed_parties(value)}
    if name == "point":
        return {"point": _ewkt(value)}
    if name == "full_text" and sync_type.name == "address" and isinstance(value, str):
        return {"full_text": value, "normalized_text": normalize_address_text(value)}
    if name not in shape.wire_fields and name in shape.columns:
        errors[name] = [SERVER_OWNED_MESSAGE]
        # Kept for review, but never an identifier in clear: server-owned values are not personal.
        return {name: None if name.endswith(("_enc", "_hash")) else value}
    return {name: value}


def _redacted(name: str, value: JSON) -> JSON:
    """Values of fields we cannot place that look like identifiers are not kept in clear."""
    lowered = name.lower()
    if value is not None and any(word in lowered for word in PERSONAL_WORDS):
        return REDACTED
    return value


def _shape(sync_type: SyncType, shapes: dict[str, _Shape]) -> _Shape:
    found = shapes.get(sync_type.name)
    if found is None:
        special = {s.wire for s in sync_type.sealed} | {"reporter", "parties", "point", "full_text"}
        plain = sync_type.wire_fields - special
        declared = _checks(sync_type.schema).schema.fields
        found = _Shape(
            sync_type.wire_fields,
            frozenset(sync_type.columns),
            {s.wire: s for s in sync_type.sealed},
            plain,
            frozenset(n for n in plain if isinstance(declared.get(n), schema_fields.UUID)),
        )
        shapes[sync_type.name] = found
    return found


def translate(op: Op, shapes: dict[str, _Shape] | None = None) -> Translation:
    """The op with wire fields replaced by the columns they are stored in; `shapes` is a cache
    shared by the ops of one batch."""
    sync_type = BY_NAME.get(op.record_type)
    if sync_type is None:
        kept = {k: _redacted(k, v) for k, v in op.fields.items()}
        return Translation(_with_fields(op, kept, dict(op.stamps)), op.fields)
    shape = _shape(sync_type, {} if shapes is None else shapes)
    errors: dict[str, list[str]] = {}
    fields: dict[str, JSON] = {}
    stamps: dict[str, str] = {}
    for name in sorted(op.fields):
        if name in shape.plain:
            fields[name] = _canonical_id(op.fields[name]) if name in shape.ids else op.fields[name]
            if name in op.stamps:
                stamps[name] = op.stamps[name]
            continue
        if name not in shape.wire_fields and name not in shape.columns:
            fields[name] = _redacted(name, op.fields[name])  # the engine rejects it as unknown
            continue
        for column, value in _columns_for(
            sync_type, shape, name, op.fields[name], op, errors
        ).items():
            fields[column] = value
            if name in op.stamps:
                stamps[column] = op.stamps[name]
    if op.kind is OpKind.PATCH:
        for name in sync_type.fixed & op.fields.keys():
            errors[name] = [f"Fixed when the {sync_type.name} is created."]
    if op.kind is OpKind.CREATE:
        if sync_type.name == "address" and "full_text" not in fields:
            parts = "".join(str(op.fields[p]) for p in PARTS if op.fields.get(p))
            if parts:
                fields["full_text"] = parts
                fields["normalized_text"] = normalize_address_text(parts)
                if len(parts) > TEXT_MAX:
                    errors["full_text"] = [PARTS_TOO_LONG]
        for column, default in sync_type.create_defaults.items():
            fields.setdefault(column, default)
    # The engine hashes stamps too: keep the phone's stamps for names that are not fields.
    stamps.update({k: v for k, v in op.stamps.items() if k not in op.fields})
    return Translation(_with_fields(op, fields, stamps), op.fields, errors)


def _canonical_id(value: JSON) -> JSON:
    """An id's canonical text; anything that is not an id is left for the schema check."""
    found = as_uuid(value) if isinstance(value, str) else None
    return str(found) if found is not None else value


def _with_fields(op: Op, fields: dict[str, JSON], stamps: dict[str, str]) -> Op:
    return Op(
        op_id=op.op_id,
        record_type=op.record_type,
        record_id=op.record_id,
        kind=op.kind,
        stamp=op.stamp,
        base_version=op.base_version,
        fields=fields,
        stamps=stamps,
        command=op.command,
        args=op.args,
    )


@functools.cache
def _checks(schema_class: type[Schema]) -> FieldChecks:
    """One schema instance and its precompiled checks per class: loading keeps no state, and
    building one costs ~0.4 ms."""
    return FieldChecks(schema_class())


def schema_errors(sync_type: SyncType, wire: Mapping[str, Any]) -> dict[str, list[str]]:
    """The registry schema's messages for the wire fields it declares (partial: a patch)."""
    checks = _checks(sync_type.schema)
    schema = checks.schema
    if checks.certainly_valid(wire, skip="id"):
        return {}
    declared = {k: v for k, v in wire.items() if k in schema.fields and k != "id"}
    try:
        schema.load(declared, partial=True)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_op": exc.messages}
        return {str(k): _lines(v) for k, v in messages.items()}
    return {}


def _lines(messages: Any, path: str = "") -> list[str]:
    """A field's messages as plain strings (a push's `field_errors` shape); a nested item's
    message names its place, `0.name: ...`, where the web API nests `{"0": {"name": [...]}}`."""
    if isinstance(messages, Mapping):
        return [line for k, v in messages.items() for line in _lines(v, f"{path}{k}.")]
    if isinstance(messages, list):
        return [line for message in messages for line in _lines(message, path)]
    return [f"{path[:-1]}: {messages}" if path else str(messages)]
