"""Organizations: USCC check, a repeated USCC warned (not refused), people fields masked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.engine import RowMapping

from server.errors import InvalidInput
from server.extensions import db
from server.privacy.masking import FieldClass
from server.registry.models.address import Address
from server.registry.models.organization import Organization
from server.registry.schemas.organization import OrganizationIn
from server.registry.services import personal
from server.registry.services.records import (
    Caller,
    Prepared,
    Resource,
    base_fields,
    jsonable,
    reference,
    visible,
)
from server.registry.validators import check_mobile, check_uscc

TABLE: Table = Organization.__table__
PLAIN_FIELDS = ("name", "org_type", "industry", "staff_count", "is_key_unit", "hazard_type")
PEOPLE_FIELDS = ("legal_representative", "phone", "security_officer")


def prepare(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for an organization write, with possible-duplicate warnings on the USCC."""
    values = {k: data[k] for k in (*PLAIN_FIELDS, *PEOPLE_FIELDS) if k in data}
    warnings: list[dict[str, Any]] = []
    if "address_id" in data:
        reference(caller, Address.__table__, data["address_id"], "address_id")
        values["address_id"] = data["address_id"]
    if "security_officer_phone" in data:
        officer_phone = data["security_officer_phone"]
        if officer_phone is not None:
            try:
                officer_phone = check_mobile(officer_phone)
            except ValueError as exc:
                raise InvalidInput({"security_officer_phone": [str(exc)]}) from None
        enc, digest = personal.seal(officer_phone, personal.SECURITY_OFFICER_PHONE)
        values["security_officer_phone_enc"], values["security_officer_phone_hash"] = enc, digest
    if "uscc" in data:
        uscc = data["uscc"]
        if uscc is not None:
            try:
                uscc = check_uscc(uscc)
            except ValueError as exc:
                raise InvalidInput({"uscc": [str(exc)]}) from None
            query = select(TABLE.c.id).where(TABLE.c.uscc == uscc, visible(TABLE, caller))
            if current is not None:
                query = query.where(TABLE.c.id != current["id"])
            warnings = [
                {"code": "possible_duplicate", "candidate_id": str(candidate)}
                for candidate in db.session.scalars(query.order_by(TABLE.c.id).limit(5))
            ]
        values["uscc"] = uscc
    return Prepared(values, warnings)


def present(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Organizations; the names and phones of its people go through the masking policy."""
    role = caller.role
    name, phone = FieldClass.PERSON_NAME, FieldClass.PHONE
    return [
        {
            **base_fields(row),
            "uscc": row["uscc"],
            "address_id": jsonable(row["address_id"]),
            **{k: jsonable(row[k]) for k in PLAIN_FIELDS},
            "legal_representative": personal.show(role, name, row["legal_representative"]),
            "phone": personal.show(role, phone, row["phone"]),
            "security_officer": personal.show(role, name, row["security_officer"]),
            "security_officer_phone": personal.show_sealed(
                role, phone, row["security_officer_phone_enc"], personal.SECURITY_OFFICER_PHONE
            ),
        }
        for row in rows
    ]


def search(table: Table, q: str) -> ColumnElement[bool]:
    """Name prefix, or an exact USCC."""
    value = q.strip()
    return table.c.name.startswith(value, autoescape=True) | (table.c.uscc == value.upper())


RESOURCE = Resource(
    name="organizations",
    record_type="organization",
    table=TABLE,
    schema=OrganizationIn,
    prepare=prepare,
    present=present,
    location_field="address_id",
    search=search,
)
