"""Request and response shapes for org units, grids (GeoJSON features) and assignments."""

from __future__ import annotations

import math
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from server.extensions import BIGINT_MAX
from server.hierarchy.models import GridKind, OrgLevel
from server.validation import NOT_BLANK

_NAME = [NOT_BLANK, validate.Length(max=100)]


class BBox(fields.Field[tuple[float, float, float, float]]):
    """A `minLng,minLat,maxLng,maxLat` query value, read into a 4-tuple of floats."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[float, float, float, float]:
        parts = str(value).split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError as exc:
            raise ValidationError("bbox is four numbers: minLng,minLat,maxLng,maxLat.") from exc
        if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
            raise ValidationError("bbox is four numbers: minLng,minLat,maxLng,maxLat.")
        min_lng, min_lat, max_lng, max_lat = numbers
        if not (-180 <= min_lng < max_lng <= 180 and -90 <= min_lat < max_lat <= 90):
            raise ValidationError("bbox needs min < max, lng within ±180 and lat within ±90.")
        return (min_lng, min_lat, max_lng, max_lat)


# --- org units ------------------------------------------------------------------------------


class OrgUnitCreateSchema(Schema):
    """POST /org-units."""

    parent_id = fields.UUID(load_default=None, allow_none=True)
    level = fields.Enum(OrgLevel, by_value=True, required=True)
    name = fields.String(required=True, validate=_NAME)
    code = fields.String(load_default=None, allow_none=True)
    boundary = fields.Dict(load_default=None, allow_none=True)


class OrgUnitSchema(Schema):
    """An org unit in a list: nothing beyond its place in the tree and its names."""

    id = fields.UUID()
    parent_id = fields.UUID(allow_none=True)
    level = fields.Enum(OrgLevel, by_value=True)
    code = fields.String(allow_none=True)
    name = fields.String()


class OrgUnitDetailSchema(OrgUnitSchema):
    """One org unit, with a community's boundary (GeoJSON) when it has one."""

    boundary = fields.Raw(allow_none=True)
    boundary_version = fields.Integer()


# --- grids ----------------------------------------------------------------------------------


class GridListQuerySchema(Schema):
    """GET /grids query string; an unknown parameter is a 422, never silently ignored."""

    class Meta:
        # Ignoring unknowns once made `as_of` answer the present: a typo must not pass quietly.
        unknown = RAISE

    bbox = BBox(load_default=None)
    # The boundaries valid at this instant (ISO 8601 with zone), retired grids included.
    as_of = fields.AwareDateTime(load_default=None)


class GridGetQuerySchema(Schema):
    """GET /grids/{id} query string; an unknown parameter is a 422."""

    class Meta:
        unknown = RAISE

    as_of = fields.AwareDateTime(load_default=None)


class GridCreateSchema(Schema):
    """POST /grids."""

    code = fields.String(load_default=None, allow_none=True)
    name = fields.String(required=True, validate=_NAME)
    kind = fields.Enum(GridKind, by_value=True, required=True)
    community_id = fields.UUID(required=True)
    geometry = fields.Dict(required=True)


class GridPatchSchema(Schema):
    """PATCH /grids/{id}: a new geometry needs the version it was drawn from."""

    name = fields.String(validate=_NAME)
    kind = fields.Enum(GridKind, by_value=True)
    geometry = fields.Dict()
    expected_version = fields.Integer(strict=True, validate=validate.Range(min=1, max=BIGINT_MAX))

    @validates_schema
    def _geometry_needs_version(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send at least one of name, kind, geometry.")
        if "geometry" in data and "expected_version" not in data:
            raise ValidationError(
                "A new geometry needs the version it replaces.", "expected_version"
            )


class GridPropertiesSchema(Schema):
    """A grid feature's properties."""

    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    kind = fields.Enum(GridKind, by_value=True)
    community_id = fields.UUID()
    version = fields.Integer()
    valid_from = fields.AwareDateTime()


class GridFeatureSchema(Schema):
    """A grid as a GeoJSON Feature (geometry: its current MultiPolygon)."""

    type = fields.Constant("Feature")
    id = fields.UUID()
    geometry = fields.Raw()
    properties = fields.Method("_properties")

    def _properties(self, view: Any) -> Any:
        return GridPropertiesSchema().dump(view)


class GridCollectionSchema(Schema):
    """Grids as a GeoJSON FeatureCollection."""

    type = fields.Constant("FeatureCollection")
    features = fields.List(fields.Nested(GridFeatureSchema))


# --- assignments ----------------------------------------------------------------------------


class AssignmentQuerySchema(Schema):
    """Filters shared by both assignment lists; an unknown parameter (`userid`) is a 422
    rather than a list of everyone's assignments."""

    class Meta:
        unknown = RAISE

    user_id = fields.UUID()
    current = fields.Boolean()


class GridAssignmentQuerySchema(AssignmentQuerySchema):
    """GET /grid-assignments."""

    grid_id = fields.UUID()


class OrgAssignmentQuerySchema(AssignmentQuerySchema):
    """GET /org-assignments."""

    org_unit_id = fields.UUID()


class GridAssignmentCreateSchema(Schema):
    """POST /grid-assignments."""

    user_id = fields.UUID(required=True)
    grid_id = fields.UUID(required=True)


class OrgAssignmentCreateSchema(Schema):
    """POST /org-assignments."""

    user_id = fields.UUID(required=True)
    org_unit_id = fields.UUID(required=True)


class _AssignmentSchema(Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    valid_from = fields.AwareDateTime()
    valid_to = fields.AwareDateTime(allow_none=True)
    assigned_by = fields.UUID(allow_none=True)
    current = fields.Method("_current")

    def _current(self, assignment: Any) -> bool:
        return assignment.valid_to is None


class GridAssignmentSchema(_AssignmentSchema):
    """A worker's grid assignment, open (`current`) or ended."""

    grid_id = fields.UUID()


class OrgAssignmentSchema(_AssignmentSchema):
    """A dispatcher's org-unit assignment, open (`current`) or ended."""

    org_unit_id = fields.UUID()
