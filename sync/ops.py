"""Plain data for pushed operations and their results, with their JSON forms."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias

import orjson

JSON: TypeAlias = Any  # a value as decoded from JSON: None, bool, int, float, str, list, dict


class OpKind(StrEnum):
    """What an op does to its record."""

    CREATE = "create"
    PATCH = "patch"
    DELETE = "delete"
    COMMAND = "command"


class Status(StrEnum):
    """The outcome of one op."""

    APPLIED = "applied"
    MERGED = "merged"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class Reason(StrEnum):
    """Why an op was rejected (or why it needs review)."""

    OP_ID_REUSED = "op_id_reused"
    UNKNOWN_RECORD_TYPE = "unknown_record_type"
    UNKNOWN_FIELDS = "unknown_fields"
    INVALID_FIELDS = "invalid_fields"
    INVALID_STAMP = "invalid_stamp"
    NOT_FOUND = "not_found"
    OUT_OF_SCOPE = "out_of_scope"
    REFERENCE_OUT_OF_SCOPE = "reference_out_of_scope"
    BASE_VERSION_AHEAD = "base_version_ahead"
    UNKNOWN_COMMAND = "unknown_command"
    COMMAND_REFUSED = "command_refused"
    APPLY_FAILED = "apply_failed"
    DUPLICATE_ID_NUMBER = "duplicate_id_number"
    UPDATE_VS_DELETE = "update_vs_delete"
    DELETE_VS_UPDATE = "delete_vs_update"
    FIELD_CONFLICT = "field_conflict"


class Flag(StrEnum):
    """Something about an accepted op that a reviewer should see."""

    CLOCK_CLAMPED = "clock_clamped"
    OUT_OF_SCOPE_NOW = "out_of_scope_now"
    POSSIBLE_DUPLICATE = "possible_duplicate"


@dataclass(frozen=True)
class Op:
    """One offline edit: only the changed fields, each with its HLC stamp, and the base version."""

    op_id: uuid.UUID
    record_type: str
    record_id: uuid.UUID
    kind: OpKind
    stamp: str
    base_version: int | None = None
    fields: Mapping[str, JSON] = field(default_factory=dict)
    stamps: Mapping[str, str] = field(default_factory=dict)
    command: str | None = None
    args: Mapping[str, JSON] = field(default_factory=dict)

    def field_stamp(self, name: str) -> str:
        """The stamp of one changed field (the op's stamp when the field has none)."""
        return self.stamps.get(name, self.stamp)

    def to_json(self) -> dict[str, JSON]:
        """Return the JSON form (what is hashed, kept for review and sent over HTTP)."""
        return {
            "op_id": str(self.op_id),
            "record_type": self.record_type,
            "record_id": str(self.record_id),
            "kind": self.kind.value,
            "stamp": self.stamp,
            "base_version": self.base_version,
            "fields": dict(self.fields),
            "stamps": dict(self.stamps),
            "command": self.command,
            "args": dict(self.args),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> Op:
        """Build an op from its JSON form (already validated for shape by the caller)."""
        return cls(
            op_id=_as_uuid(data["op_id"]),
            record_type=str(data["record_type"]),
            record_id=_as_uuid(data["record_id"]),
            kind=_as_kind(data["kind"]),
            stamp=str(data["stamp"]),
            base_version=data.get("base_version"),
            fields=dict(data.get("fields") or {}),
            stamps=dict(data.get("stamps") or {}),
            command=data.get("command"),
            args=dict(data.get("args") or {}),
        )


_KINDS = {k.value: k for k in OpKind}


# The members of a result's JSON form that `receipt` leaves out at these values.
_DEFAULTS: dict[str, JSON] = {
    "version": None,
    "reason": None,
    "field_errors": {},
    "current": None,
    "conflict_ids": [],
    "flags": [],
}


def _as_uuid(value: JSON) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _as_kind(value: JSON) -> OpKind:
    # A dict lookup: the enum's own call costs more than the rest of building the op.
    found = _KINDS.get(value) if isinstance(value, str) else None
    return found if found is not None else OpKind(value)


def canonical_bytes(op: Op) -> bytes:
    """The op's JSON with sorted keys: the same op always gives the same bytes."""
    # `to_json` with the ids left as UUIDs: orjson writes them exactly as str() does, faster.
    return orjson.dumps(
        {
            "op_id": op.op_id,
            "record_type": op.record_type,
            "record_id": op.record_id,
            "kind": op.kind.value,
            "stamp": op.stamp,
            "base_version": op.base_version,
            "fields": op.fields if isinstance(op.fields, dict) else dict(op.fields),
            "stamps": op.stamps if isinstance(op.stamps, dict) else dict(op.stamps),
            "command": op.command,
            "args": op.args if isinstance(op.args, dict) else dict(op.args),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def payload_hash(op: Op) -> str:
    """SHA-256 of the canonical payload; a reused op id with another hash is refused."""
    return hash_canonical(canonical_bytes(op))


def hash_canonical(canonical: bytes) -> str:
    """The payload hash of an op's canonical bytes (for callers that already made them)."""
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True)
class OpResult:
    """The answer for one op; stored with the op's effect so a replay gets the same answer."""

    op_id: uuid.UUID
    status: Status
    version: int | None = None
    reason: Reason | None = None
    field_errors: Mapping[str, list[str]] = field(default_factory=dict)
    current: Mapping[str, JSON] | None = None
    conflict_ids: tuple[uuid.UUID, ...] = ()
    flags: tuple[Flag, ...] = ()
    # The record this op would duplicate, when the caller may see it (e.g. an ID number taken).
    existing_id: uuid.UUID | None = None
    # With POSSIBLE_DUPLICATE: records the caller may see that this op's record may duplicate.
    candidate_ids: tuple[uuid.UUID, ...] = ()

    def to_json(self) -> dict[str, JSON]:
        """Return the JSON form stored in op_receipts and sent to the phone (a fresh top-level
        dict each call; it is built once per result)."""
        return dict(self._json)

    @functools.cached_property
    def _json(self) -> dict[str, JSON]:
        body: dict[str, JSON] = {
            "op_id": str(self.op_id),
            "status": self.status.value,
            "version": self.version,
            "reason": self.reason.value if self.reason else None,
            "field_errors": {k: list(v) for k, v in self.field_errors.items()},
            "current": dict(self.current) if self.current is not None else None,
            "conflict_ids": [str(c) for c in self.conflict_ids],
            "flags": [f.value for f in self.flags],
        }
        if self.existing_id is not None:
            body["existing_id"] = str(self.existing_id)
        if self.candidate_ids:
            body["candidate_ids"] = [str(c) for c in self.candidate_ids]
        return body

    def receipt(self) -> dict[str, JSON]:
        """The form stored in op_receipts: the JSON form without the op id (the receipt's own
        key) and without the members at their defaults, which `from_receipt` puts back. Most
        results are `{"status": "applied", "version": 1}`: a third of the bytes to write."""
        return {
            k: v
            for k, v in self._json.items()
            if k != "op_id" and (k not in _DEFAULTS or _DEFAULTS[k] != v)
        }

    @classmethod
    def from_receipt(cls, op_id: uuid.UUID, data: Mapping[str, JSON]) -> OpResult:
        """Rebuild a result from its receipt (in the stored form of `receipt` or in the whole
        JSON form receipts had before it)."""
        return cls.from_json({**data, "op_id": op_id})

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> OpResult:
        """Rebuild a result from its JSON form."""
        return cls(
            op_id=uuid.UUID(str(data["op_id"])),
            status=Status(data["status"]),
            version=data.get("version"),
            reason=Reason(data["reason"]) if data.get("reason") else None,
            field_errors={k: list(v) for k, v in (data.get("field_errors") or {}).items()},
            current=data.get("current"),
            conflict_ids=tuple(uuid.UUID(c) for c in data.get("conflict_ids") or ()),
            flags=tuple(Flag(f) for f in data.get("flags") or ()),
            existing_id=uuid.UUID(str(data["existing_id"])) if data.get("existing_id") else None,
            candidate_ids=tuple(uuid.UUID(c) for c in data.get("candidate_ids") or ()),
        )
