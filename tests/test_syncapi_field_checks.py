"""The push's precompiled field checks only ever vouch for values marshmallow accepts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema, ValidationError

from server.registry.schemas.address import AddressIn
from server.registry.schemas.house import HouseIn
from server.registry.schemas.incident import IncidentIn
from server.registry.schemas.organization import OrganizationIn
from server.syncapi.field_checks import FieldChecks
from server.syncapi.translate import translate
from sync.ops import Op, OpKind

GOOD_POINT = {"type": "Point", "coordinates": [108.905, 34.205]}
SAMPLES: list[tuple[type[Schema], str, Any]] = [
    (AddressIn, "kind", "door"),
    (AddressIn, "kind", "castle"),
    (AddressIn, "kind", None),
    (AddressIn, "kind", 3),
    (AddressIn, "division_code", "610116001001"),
    (AddressIn, "division_code", "61011600100"),
    (AddressIn, "street", "长安路"),
    (AddressIn, "street", "长" * 101),
    (AddressIn, "street", None),
    (AddressIn, "street", ["长安路"]),
    (AddressIn, "parent_id", "0190f5a0-0000-7000-8000-000000000000"),
    (AddressIn, "parent_id", "not a uuid"),
    (AddressIn, "point", GOOD_POINT),
    (AddressIn, "point", {"type": "Point", "coordinates": [0.0, 0.0]}),
    (AddressIn, "point", {"type": "Point", "coordinates": [True, 34.2]}),
    (AddressIn, "point", {"type": "Point", "coordinates": [float("nan"), 34.2]}),
    (AddressIn, "point", {"type": "LineString", "coordinates": [108.9, 34.2]}),
    (OrganizationIn, "org_type", "01"),
    (OrganizationIn, "org_type", "zz"),
    (OrganizationIn, "staff_count", 12),
    (OrganizationIn, "staff_count", -1),
    (OrganizationIn, "staff_count", True),
    (OrganizationIn, "staff_count", "12"),
    (OrganizationIn, "is_key_unit", True),
    (OrganizationIn, "is_key_unit", "yes"),
    (OrganizationIn, "phone", "029-88886666"),
    (OrganizationIn, "phone", "88886666"),
    (OrganizationIn, "name", "秦创原公司"),
    (OrganizationIn, "name", "\u3000 "),
    (IncidentIn, "occurred_at", "2026-11-20T08:30:00+08:00"),
    (IncidentIn, "parties", [{"name": "张三"}]),
    (HouseIn, "rent_start", "2026-01-01"),
]


def _marshmallow_accepts(schema: Schema, data: dict[str, Any]) -> bool:
    try:
        schema.load(data, partial=True)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("schema_class", "name", "value"), SAMPLES)
def test_a_vouched_value_is_one_marshmallow_accepts(
    app: Flask, schema_class: type[Schema], name: str, value: Any
) -> None:
    checks = FieldChecks(schema_class())
    if checks.certainly_valid({name: value}):
        assert _marshmallow_accepts(checks.schema, {name: value})


def test_a_plain_valid_address_is_vouched_for_without_marshmallow(app: Flask) -> None:
    checks = FieldChecks(AddressIn())
    fields = {"kind": "door", "street": "长安路", "door_number": "12号", "point": GOOD_POINT}
    assert checks.certainly_valid(fields)


def test_an_invalid_value_is_left_to_marshmallow(app: Flask) -> None:
    checks = FieldChecks(AddressIn())
    assert not checks.certainly_valid({"kind": "door", "street": "长" * 101})


def test_a_schema_with_a_schema_level_validator_is_always_loaded(app: Flask) -> None:
    checks = FieldChecks(HouseIn())
    assert not checks.certainly_valid({"owner_name": "王五"})


@pytest.mark.parametrize(
    ("record_type", "name"),
    [("task", "target_id"), ("house", "address_id"), ("person", "house_id")],
)
def test_translate_writes_an_id_in_its_canonical_form(record_type: str, name: str) -> None:
    sent = "0190F5A0-0000-7000-8000-00000000ABCD"
    op = Op(uuid.uuid4(), record_type, uuid.uuid4(), OpKind.PATCH, "1-0-phone", 1, {name: sent})
    assert translate(op).op.fields[name] == sent.lower()


def test_translate_leaves_what_is_not_an_id_for_the_schema_check() -> None:
    op = Op(uuid.uuid4(), "task", uuid.uuid4(), OpKind.PATCH, "1-0-phone", 1, {"target_id": "x"})
    assert translate(op).op.fields["target_id"] == "x"
