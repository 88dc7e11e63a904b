"""Request shapes of the sync endpoints (responses are built by the services)."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from sync.ops import OpKind


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


class PushIn(Schema):
    """A batch: the ops in queue order, and optionally the phone's clock and app version."""

    class Meta:
        unknown = RAISE

    ops = fields.List(fields.Dict(), required=True)
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
