"""Request and response shapes for redraw drafts, previews, applies and jobs."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.hierarchy.models import GridKind
from server.validation import NOT_BLANK


class DraftGridSchema(Schema):
    """One drafted grid: an existing `grid_id` that continues, or a new grid's `key`."""

    grid_id = fields.UUID(load_default=None, allow_none=True)
    key = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    name = fields.String(
        load_default=None, allow_none=True, validate=[NOT_BLANK, validate.Length(max=100)]
    )
    kind = fields.Enum(GridKind, by_value=True, load_default=None, allow_none=True)
    geometry = fields.Dict(required=True)

    @validates_schema
    def _one_identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("grid_id") is None) == (data.get("key") is None):
            raise ValidationError("Give exactly one of grid_id (existing grid) or key (new grid).")


class DraftInSchema(Schema):
    """POST /communities/{id}/redraws and PUT /redraws/{id}."""

    grids = fields.List(fields.Nested(DraftGridSchema), load_default=list)
    retire = fields.List(fields.UUID(), load_default=list)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        grids, retire = data.get("grids", []), data.get("retire", [])
        if not grids and not retire:
            raise ValidationError("A draft changes at least one grid.")
        keys = [g["key"] for g in grids if g.get("key") is not None]
        ids = [g["grid_id"] for g in grids if g.get("grid_id") is not None]
        if len(set(keys)) != len(keys):
            raise ValidationError("Each new grid needs its own key.", "grids")
        if len(set(ids)) != len(ids):
            raise ValidationError("A grid may appear only once.", "grids")
        if len(set(retire)) != len(retire) or set(retire) & set(ids):
            raise ValidationError("Retire each grid once, and not one the draft redraws.", "retire")


class ApplyInSchema(Schema):
    """POST /redraws/{id}/apply."""

    expected_boundary_version = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1)
    )


class ProblemSchema(Schema):
    """A located problem of a draft (an editor draws it at `location`)."""

    kind = fields.String()
    keys = fields.List(fields.String())
    location = fields.List(fields.Float())
    size_m2 = fields.Float()
    detail = fields.String()


class DraftSchema(Schema):
    """A redraw draft with its last validation and, once applied, its result."""

    id = fields.UUID()
    community_id = fields.UUID()
    base_boundary_version = fields.Integer()
    status = fields.String()
    grids = fields.Function(lambda d: d.content["grids"])
    retire = fields.Function(lambda d: d.content["retire"])
    ok = fields.Function(lambda d: None if d.problems is None else not d.problems)
    problems = fields.List(fields.Nested(ProblemSchema), allow_none=True)
    snapped = fields.Raw(allow_none=True)
    result = fields.Raw(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    validated_at = fields.AwareDateTime(allow_none=True)
    applied_at = fields.AwareDateTime(allow_none=True)


class MoveSchema(Schema):
    """How many records of one type move from one grid to another (null: no grid)."""

    record_type = fields.String()
    from_grid_id = fields.UUID(allow_none=True)
    from_code = fields.String(allow_none=True)
    to_grid_id = fields.UUID(allow_none=True)
    to_key = fields.String(allow_none=True)
    to_code = fields.String(allow_none=True)
    count = fields.Integer()


class WorkerChangeSchema(Schema):
    """A worker whose grids gain or lose records."""

    user_id = fields.UUID()
    username = fields.String()
    gains = fields.Integer()
    losses = fields.Integer()


class DeviceSchema(Schema):
    """A device of a losing worker that may hold edits not yet pushed."""

    device_id = fields.UUID()
    user_id = fields.UUID()
    name = fields.String(allow_none=True)
    last_seen_at = fields.AwareDateTime(allow_none=True)
    last_push_at = fields.AwareDateTime(allow_none=True)
    last_pull_at = fields.AwareDateTime(allow_none=True)


class NewGridSchema(Schema):
    """A new grid's key and proposed code."""

    key = fields.String()
    code = fields.String()
    kind = fields.String()


class PreviewSchema(Schema):
    """GET /redraws/{id}/preview."""

    draft_id = fields.UUID()
    community_id = fields.UUID()
    boundary_version = fields.Integer()
    moves = fields.List(fields.Nested(MoveSchema))
    total_moved = fields.Integer()
    per_type = fields.Dict(keys=fields.String(), values=fields.Integer())
    into_no_grid = fields.Integer()
    new_grids = fields.List(fields.Nested(NewGridSchema))
    workers = fields.List(fields.Nested(WorkerChangeSchema))
    devices = fields.List(fields.Nested(DeviceSchema))
    device_source = fields.String()


class ValidationSchema(Schema):
    """POST /redraws/{id}/validate: the verdict and the draft as stored."""

    ok = fields.Boolean()
    problems = fields.List(fields.Nested(ProblemSchema))
    draft = fields.Nested(DraftSchema)


class JobSchema(Schema):
    """A background apply: status, tables placed so far, the result or error, and its lease."""

    id = fields.UUID()
    draft_id = fields.UUID()
    status = fields.String()
    progress = fields.Function(lambda j: {"done": j.tables_done, "total": j.tables_total})
    result = fields.Raw(allow_none=True)
    error = fields.Raw(allow_none=True)
    created_at = fields.AwareDateTime()
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    heartbeat_at = fields.AwareDateTime(allow_none=True)
    lease_expires_at = fields.AwareDateTime(allow_none=True)
