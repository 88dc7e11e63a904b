"""Request shape of a standard address."""

from __future__ import annotations

from marshmallow import fields, validate

from server.registry.models.address import ADDRESS_KINDS
from server.registry.schemas.common import PointField, RecordSchema, text


class AddressIn(RecordSchema):
    """A node of the address tree; door and below need a point or inherit the parent's."""

    kind = fields.String(required=True, validate=validate.OneOf(ADDRESS_KINDS))
    parent_id = fields.UUID(allow_none=True)
    division_code = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^[0-9]{12}\Z", error="A division code is 12 digits."),
    )
    street = text(100)
    door_number = text(30)
    courtyard = text(100)
    building = text(30)
    unit = text(30)
    floor = text(10)
    room = text(30)
    full_text = text(300)
    point = PointField(allow_none=True)
    police_address_id = text(64)
