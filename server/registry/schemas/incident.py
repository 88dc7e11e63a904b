"""Request shape of an incident or dispute as reported."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from server.registry.codes import code_field
from server.registry.schemas.common import (
    PointField,
    RecordSchema,
    Whole,
    instant,
    photo_list,
    required_text,
    text,
)

MOBILE = validate.Regexp(r"^1[3-9][0-9]{9}\Z", error="A mobile number is 11 digits starting 13–19.")


class PartyIn(Schema):
    """One party to an incident or dispute."""

    class Meta:
        unknown = RAISE

    name = required_text(50)
    role = text(40)
    phone = fields.String(allow_none=True, validate=MOBILE)


class ReporterIn(Schema):
    """Who reported it; an anonymous report keeps neither name nor phone."""

    class Meta:
        unknown = RAISE

    name = text(50)
    phone = fields.String(allow_none=True, validate=MOBILE)
    anonymous = fields.Boolean(load_default=False)


class IncidentIn(RecordSchema):
    """An event or dispute; the category table depends on the kind (checked by the service)."""

    kind = fields.String(required=True, validate=validate.OneOf(("event", "dispute")))
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    title = required_text(200)
    description = text(5000)
    occurred_at = instant(required=True)
    point = PointField(allow_none=True)
    address_id = fields.UUID(allow_none=True)
    urgency = code_field("urgency", required=True)
    scale = code_field("incident_scale", allow_none=True)
    parties = fields.List(Whole(PartyIn), validate=validate.Length(max=50))
    reporter = Whole(ReporterIn, allow_none=True)
    photo_sha256 = photo_list()
