"""The audit search query and the entries it returns."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from server.audit.service import SEARCH_LIMIT_MAX, AuditFilters
from server.extensions import BIGINT_MAX


def _cursor(value: str) -> None:
    # ASCII digits only (str.isdigit takes "²"), and within an entry id (a bigint; 19 digits).
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > BIGINT_MAX:
        raise ValidationError("Not a valid cursor.")


class AuditQuerySchema(Schema):
    """GET /audit query parameters; unknown parameters are an error, not silently ignored."""

    record_id = fields.UUID()
    actor_id = fields.UUID()
    action = fields.String(validate=validate.Length(min=1, max=20))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    cursor = fields.String(validate=_cursor)
    limit = fields.Integer(validate=validate.Range(min=1, max=SEARCH_LIMIT_MAX))

    @post_load
    def to_filters(self, data: dict[str, Any], **_: Any) -> AuditFilters:
        """Build the service's filter object."""
        if "cursor" in data:
            data["cursor"] = int(data["cursor"])
        return AuditFilters(**data)


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    actor_id = fields.UUID(allow_none=True)
    actor_role = fields.String(allow_none=True)
    device_id = fields.UUID(allow_none=True)
    action = fields.String()
    record_type = fields.String()
    record_ids = fields.List(fields.UUID())
    reason = fields.String(allow_none=True)
    result = fields.String()
    request_id = fields.String(allow_none=True)
    detail = fields.Dict(allow_none=True)
