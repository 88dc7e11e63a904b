"""Request shapes of the sync endpoints (responses are built by the services)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from server.syncapi.field_checks import as_uuid
from sync.ops import Op, OpKind

_KINDS = {k.value: k for k in OpKind}


class OpIn(Schema):
    """One op as docs/sync-protocol.md describes it; unknown keys of an op are ignored."""

    class Meta:
        unknown = EXCLUDE

    op_id = fields.UUID(required=True)
    record_type = fields.String(required=True, validate=validate.Length(min=1, max=60))
    record_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in OpKind]))
    stamp = fields.String(required=True, validate=validate.Length(min=1, max=120))
    base_version = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0))
    fields_ = fields.Dict(keys=fields.String(), data_key="fields", load_default=dict)
    stamps = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    command = fields.String(allow_none=True, load_default=None)
    args = fields.Dict(keys=fields.String(), load_default=dict, allow_none=True)


def _text(value: Any, longest: int) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= longest


def _plain_op(raw: Any) -> Op | None:
    """The op `OpIn` would load, when it is certainly valid; None to let `OpIn` judge it."""
    if not isinstance(raw, dict):
        return None
    op_id, record_id = as_uuid(raw.get("op_id")), as_uuid(raw.get("record_id"))
    kind = raw.get("kind")
    kind = _KINDS.get(kind) if isinstance(kind, str) else None
    base = raw.get("base_version")
    changed = raw.get("fields", {})
    stamps = raw.get("stamps", {})
    command = raw.get("command")
    args = raw.get("args", {})
    if (
        op_id is None
        or record_id is None
        or kind is None
        or not _text(raw.get("record_type"), 60)
        or not _text(raw.get("stamp"), 120)
        or not (base is None or (type(base) is int and base >= 0))
        or type(changed) is not dict
        or type(stamps) is not dict
        or not all(type(v) is str for v in stamps.values())
        or not (command is None or isinstance(command, str))
        or not (args is None or type(args) is dict)
    ):
        return None
    # The parsed body's own dicts: nothing else holds them.
    return Op(
        op_id,
        raw["record_type"],
        record_id,
        kind,
        raw["stamp"],
        base,
        changed,
        stamps,
        command,
        args or {},
    )


def _loaded_op(loaded: Mapping[str, Any]) -> Op:
    return Op(
        loaded["op_id"],
        loaded["record_type"],
        loaded["record_id"],
        _KINDS[loaded["kind"]],
        loaded["stamp"],
        loaded.get("base_version"),
        loaded["fields_"],
        loaded["stamps"],
        loaded["command"],
        loaded.get("args") or {},
    )


def load_ops(raw_ops: Sequence[Any]) -> list[Op]:
    """The ops of a push as `OpIn(many=True)` loads them, checked by hand: a batch of 500 would
    otherwise spend a quarter of its time in marshmallow. Any op the hand check is not sure of
    sends the whole list to `OpIn`, which raises with its per-op messages."""
    ops = [_plain_op(raw) for raw in raw_ops]
    if any(op is None for op in ops):
        not_objects = {
            i: ["Not a valid mapping type."]
            for i, raw in enumerate(raw_ops)
            if not isinstance(raw, Mapping)
        }
        if not_objects:  # as `PushIn.ops` said when it was a list of Dict fields
            raise ValidationError({"ops": not_objects})
        return [_loaded_op(op) for op in OpIn(many=True).load(raw_ops)]  # raises for bad ops
    return [op for op in ops if op is not None]


class PushIn(Schema):
    """A batch: the ops in queue order, and optionally the phone's clock and app version."""

    class Meta:
        unknown = RAISE

    # Each op is checked by `load_ops`: a Dict field here would copy 500 of them for nothing.
    ops = fields.List(fields.Raw(), required=True)
    device_clock = fields.String(allow_none=True, validate=validate.Length(max=120))
    app_version = fields.String(allow_none=True, validate=validate.Length(max=40))


class PullArgs(Schema):
    """Query of a pull."""

    class Meta:
        unknown = RAISE

    cursor = fields.String(load_default=None, validate=validate.Length(max=20000))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class SnapshotArgs(Schema):
    """Query of a grid snapshot page."""

    class Meta:
        unknown = RAISE

    grid_id = fields.UUID(required=True)
    after = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))


class ConflictListArgs(Schema):
    """Query of the conflict inbox."""

    class Meta:
        unknown = RAISE

    status = fields.String(load_default="open", validate=validate.OneOf(("open", "resolved")))


class ResolveIn(Schema):
    """How a dispatcher resolves a conflict; `value` only with `edit`."""

    class Meta:
        unknown = RAISE

    action = fields.String(required=True, validate=validate.OneOf(("keep", "take", "edit")))
    value = fields.Raw(allow_none=True, load_default=None)
