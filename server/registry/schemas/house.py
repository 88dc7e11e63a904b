"""Request shape of a house (real housing)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from server.registry.codes import code_field
from server.registry.schemas.common import RecordSchema, text


class HouseIn(RecordSchema):
    """A house at a door or room address; owner identifiers are sealed by the service."""

    address_id = fields.UUID(required=True)
    house_use = code_field("house_use", required=True)
    house_nature = code_field("house_nature", allow_none=True)
    area_m2 = fields.Decimal(
        allow_none=True, places=2, validate=validate.Range(min=0, max=10_000_000)
    )
    owner_name = text(50)
    owner_id_number = fields.String(allow_none=True)
    owner_phone = fields.String(allow_none=True)
    occupancy = code_field("occupancy", required=True)
    tenant_count = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=0, max=10_000)
    )
    rent_start = fields.Date(allow_none=True)
    rent_end = fields.Date(allow_none=True)
    hazard_type = code_field("hazard_type", allow_none=True)

    @validates_schema
    def rent_period(self, data: dict[str, Any], **kwargs: Any) -> None:
        """The rent ends after it starts."""
        start, end = data.get("rent_start"), data.get("rent_end")
        if start and end and end < start:
            raise ValidationError("The rent ends before it starts.", "rent_end")
