"""Request shapes of persons, their extensions and households."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from server.registry.codes import code_field
from server.registry.schemas.common import RecordSchema, Whole, required_text, text

SEVERE_MENTAL_ILLNESS = "severe_mental_illness"
EARLIEST_BIRTH = date(1900, 1, 1)
# "Today" is the operator's calendar day: a child born this morning in China is still yesterday in
# UTC. China keeps UTC+8 all year, so a fixed offset needs no time-zone database.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
END_BEFORE_START = "Ends before it starts."


def _plausible_birth_date(value: date) -> None:
    """A birth date between 1900-01-01 and today, whatever the ID type (a citizen ID's is also
    checked against the number by the service)."""
    if value < EARLIEST_BIRTH:
        raise ValidationError("Must not be before 1900-01-01.")
    if value > datetime.now(CHINA_STANDARD_TIME).date():
        raise ValidationError("Must not be in the future.")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class FloatingIn(_Strict):
    """Floating population: why they came, residence permit and dates."""

    reason = text(100)
    permit_number = text(40)
    arrival_date = fields.Date(allow_none=True)
    permit_expiry = fields.Date(allow_none=True)


class OverseasIn(_Strict):
    """Overseas persons: nationality, passport, purpose and dates of stay."""

    nationality = text(60)
    passport_number = text(40)
    purpose = text(100)
    entry_date = fields.Date(allow_none=True)
    stay_until = fields.Date(allow_none=True)


class LeftBehindIn(_Strict):
    """Left-behind persons (children, elderly, women)."""

    category = fields.String(
        required=True, validate=validate.OneOf(("child", "elderly", "woman", "other"))
    )
    notes = text(500)


class SpecialPopulationIn(_Strict):
    """One special-population category; a risk level only (and always) for mental illness."""

    category = code_field("special_population", required=True)
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    supervising_unit = text(100)
    risk_level = code_field("mental_risk_level", allow_none=True)
    notes = text(2000)

    @validates_schema
    def check_risk_level(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Risk level belongs to severe mental illness and is required there."""
        severe = data.get("category") == SEVERE_MENTAL_ILLNESS
        if severe and data.get("risk_level") is None:
            raise ValidationError("Required for severe mental illness.", "risk_level")
        if not severe and data.get("risk_level") is not None:
            raise ValidationError("Only for severe mental illness.", "risk_level")

    @validates_schema
    def end_not_before_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        """When both dates are sent, the end is not before the start (a push's patch of one of
        them is not compared with the stored other)."""
        start, end = data.get("start_date"), data.get("end_date")
        if start is not None and end is not None and end < start:
            raise ValidationError(END_BEFORE_START, "end_date")


class PersonIn(RecordSchema):
    """A person; the ID number is validated against sex and birth date in the service."""

    id_type = code_field("id_type", required=True)
    id_number = required_text(40)
    name = required_text(50)
    sex = code_field("sex", required=True)
    birth_date = fields.Date(allow_none=True, validate=_plausible_birth_date)
    ethnicity = code_field("ethnicity", allow_none=True)
    phone = fields.String(allow_none=True)
    registered_place = text(200)
    address_id = fields.UUID(allow_none=True)
    house_id = fields.UUID(allow_none=True)
    population_type = code_field("population_type", required=True)
    floating = Whole(FloatingIn, allow_none=True)
    overseas = Whole(OverseasIn, allow_none=True)
    left_behind = Whole(LeftBehindIn, allow_none=True)
    special_populations = fields.List(Whole(SpecialPopulationIn), validate=validate.Length(max=5))

    @validates_schema
    def one_row_per_category(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Each special-population category at most once."""
        categories = [item["category"] for item in data.get("special_populations") or []]
        if len(categories) != len(set(categories)):
            raise ValidationError("Each category at most once.", "special_populations")


class MemberIn(_Strict):
    """A household member and their relation to the head."""

    person_id = fields.UUID(required=True)
    relation_to_head = code_field("relation_to_head", required=True)


class HouseholdIn(RecordSchema):
    """A household at an address with its head and members (the list replaces the old one)."""

    household_number = text(30)
    address_id = fields.UUID(required=True)
    head_person_id = fields.UUID(allow_none=True)
    members = fields.List(Whole(MemberIn), validate=validate.Length(max=50))

    @validates_schema
    def one_row_per_member(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Each person at most once."""
        people = [item["person_id"] for item in data.get("members") or []]
        if len(people) != len(set(people)):
            raise ValidationError("Each person at most once.", "members")
