"""Households: at an address, with a head and members (each with a relation to the head)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import RowMapping

from server.extensions import db
from server.registry.models.address import Address
from server.registry.models.person import Household, HouseholdMember, Person
from server.registry.schemas.person import HouseholdIn
from server.registry.services.children import replace_children
from server.registry.services.records import (
    Caller,
    Prepared,
    Resource,
    base_fields,
    jsonable,
    reference,
    tombstone_children,
)

TABLE: Table = Household.__table__
MEMBERS: Table = HouseholdMember.__table__
PERSONS: Table = Person.__table__


def prepare(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for a household write; address, head and members must be visible."""
    values = {k: data[k] for k in ("household_number",) if k in data}
    if "address_id" in data:
        reference(caller, Address.__table__, data["address_id"], "address_id")
        values["address_id"] = data["address_id"]
    if "head_person_id" in data:
        reference(caller, PERSONS, data["head_person_id"], "head_person_id")
        values["head_person_id"] = data["head_person_id"]
    for i, member in enumerate(data.get("members") or []):
        reference(caller, PERSONS, member["person_id"], f"members.{i}.person_id")
    return Prepared(values)


def after_write(caller: Caller, household_id: uuid.UUID, data: dict[str, Any]) -> None:
    """Replace the member list when the request carried one."""
    if "members" in data:
        replace_children(
            caller, MEMBERS, "household_id", household_id, "person_id", data["members"]
        )


def on_delete(caller: Caller, household_id: uuid.UUID) -> None:
    """Memberships of a deleted household are tombstoned with it."""
    tombstone_children(MEMBERS, MEMBERS.c.household_id == household_id, caller.principal)


def present(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Households with their live members (ids and relations only; names live on persons)."""
    members: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for member in db.session.execute(
        select(MEMBERS.c.household_id, MEMBERS.c.person_id, MEMBERS.c.relation_to_head)
        .where(
            MEMBERS.c.household_id.in_([row["id"] for row in rows]),
            MEMBERS.c.deleted_at.is_(None),
        )
        .order_by(MEMBERS.c.relation_to_head, MEMBERS.c.person_id)
    ).mappings():
        members[member["household_id"]].append(
            {"person_id": str(member["person_id"]), "relation_to_head": member["relation_to_head"]}
        )
    return [
        {
            **base_fields(row),
            "household_number": row["household_number"],
            "address_id": str(row["address_id"]),
            "head_person_id": jsonable(row["head_person_id"]),
            "members": members.get(row["id"], []),
        }
        for row in rows
    ]


RESOURCE = Resource(
    name="households",
    record_type="household",
    table=TABLE,
    schema=HouseholdIn,
    prepare=prepare,
    present=present,
    location_field="address_id",
    after_write=after_write,
    on_delete=on_delete,
)
