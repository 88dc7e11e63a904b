"""Houses: anchored to a door or room address, owner identity sealed and masked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.engine import RowMapping

from server.errors import InvalidInput
from server.privacy.masking import FieldClass
from server.registry.models.address import Address
from server.registry.models.house import House
from server.registry.schemas.house import HouseIn
from server.registry.services import personal
from server.registry.services.records import (
    Caller,
    Prepared,
    Resource,
    base_fields,
    jsonable,
    reference,
)
from server.registry.validators import check_citizen_id, check_mobile

TABLE: Table = House.__table__
PLAIN_FIELDS = (
    "house_use",
    "house_nature",
    "area_m2",
    "occupancy",
    "tenant_count",
    "rent_start",
    "rent_end",
    "hazard_type",
    "owner_name",
)
HOUSE_ADDRESS_KINDS = ("door", "room")


def prepare(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for a house write: the address must be a door or room the caller sees."""
    values = {k: data[k] for k in PLAIN_FIELDS if k in data}
    if "address_id" in data:
        address = reference(caller, Address.__table__, data["address_id"], "address_id")
        assert address is not None
        if address["kind"] not in HOUSE_ADDRESS_KINDS:
            raise InvalidInput({"address_id": ["A house hangs off a door or room address."]})
        values["address_id"] = data["address_id"]
    if "owner_id_number" in data:
        number = data["owner_id_number"]
        if number is not None:
            try:
                number = check_citizen_id(number)
            except ValueError as exc:
                raise InvalidInput({"owner_id_number": [str(exc)]}) from None
        enc, hashed = personal.seal(number, personal.OWNER_ID_NUMBER)
        values.update(owner_id_number_enc=enc, owner_id_number_hash=hashed)
    if "owner_phone" in data:
        phone = data["owner_phone"]
        if phone is not None:
            try:
                phone = check_mobile(phone)
            except ValueError as exc:
                raise InvalidInput({"owner_phone": [str(exc)]}) from None
        enc, hashed = personal.seal(phone, personal.OWNER_PHONE)
        values.update(owner_phone_enc=enc, owner_phone_hash=hashed)
    return Prepared(values)


def present(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Houses with the owner's identity as the caller's role may see it."""
    role = caller.role
    owner = FieldClass.OWNER_IDENTITY
    return [
        {
            **base_fields(row),
            "address_id": str(row["address_id"]),
            **{k: jsonable(row[k]) for k in PLAIN_FIELDS if k != "owner_name"},
            "owner_name": personal.show(role, owner, row["owner_name"]),
            "owner_id_number": personal.show_sealed(
                role, owner, row["owner_id_number_enc"], personal.OWNER_ID_NUMBER
            ),
            "owner_phone": personal.show_sealed(
                role, owner, row["owner_phone_enc"], personal.OWNER_PHONE
            ),
        }
        for row in rows
    ]


def by_owner_id_number(table: Table, value: str) -> ColumnElement[bool]:
    """Houses owned by this exact ID number (through the keyed hash)."""
    return table.c.owner_id_number_hash == personal.lookup(
        value.strip().upper(), personal.OWNER_ID_NUMBER
    )


RESOURCE = Resource(
    name="houses",
    record_type="house",
    table=TABLE,
    schema=HouseIn,
    prepare=prepare,
    present=present,
    location_field="address_id",
    by_id_number=by_owner_id_number,
    id_number_class=FieldClass.OWNER_IDENTITY,
)
