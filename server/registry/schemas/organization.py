"""Request shape of an organization."""

from __future__ import annotations

from marshmallow import fields, validate

from server.registry.codes import code_field
from server.registry.schemas.common import RecordSchema, required_text, text

PHONE = validate.Regexp(
    r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})\Z",
    error="A mobile number or a landline like 029-88886666.",
)


class OrganizationIn(RecordSchema):
    """A real organization at an address; the USCC is checked by the service."""

    uscc = fields.String(allow_none=True)
    name = required_text(200)
    org_type = code_field("org_type", required=True)
    industry = code_field("industry", allow_none=True)
    legal_representative = text(50)
    address_id = fields.UUID(required=True)
    phone = fields.String(allow_none=True, validate=PHONE)
    staff_count = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=0, max=1_000_000)
    )
    is_key_unit = fields.Boolean()
    security_officer = text(50)
    security_officer_phone = fields.String(allow_none=True)
    hazard_type = code_field("hazard_type", allow_none=True)
