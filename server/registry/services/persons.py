"""Persons: ID number rules, encrypted identifiers, duplicates, special populations, reveal."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.engine import RowMapping

from server.auth.models import Role
from server.auth.principal import Principal
from server.errors import Duplicate, Forbidden, InvalidInput
from server.extensions import db
from server.privacy.masking import Exposure, FieldClass, exposure
from server.privacy.reveal import reveal
from server.registry.codes import ID_TYPE_CITIZEN_ID
from server.registry.models.address import Address
from server.registry.models.house import House
from server.registry.models.person import Person, SpecialPopulation
from server.registry.schemas.person import PersonIn
from server.registry.services import personal
from server.registry.services.children import replace_children
from server.registry.services.records import (
    Caller,
    Prepared,
    Resource,
    base_fields,
    caller_for,
    fetch_visible,
    jsonable,
    reference,
    tombstone_children,
    visible,
)
from server.registry.validators import birth_date_of, check_citizen_id, check_mobile
from server.transaction import transaction

TABLE: Table = Person.__table__
SPECIAL: Table = SpecialPopulation.__table__
PLAIN_FIELDS = ("id_type", "name", "sex", "ethnicity", "registered_place", "population_type")
EXTENSIONS = ("floating", "overseas", "left_behind")
SPECIAL_FIELDS = ("category", "start_date", "end_date", "supervising_unit", "risk_level", "notes")
REVEALABLE = {"id_number": personal.PERSON_ID_NUMBER, "phone": personal.PERSON_PHONE}


def normalize_id_number(id_type: str, value: str) -> str:
    """Upper-case, trimmed; citizen ID numbers are checked by `check_citizen_id` instead."""
    return value.strip().upper()


def _identity(
    data: dict[str, Any], current: RowMapping | None, values: dict[str, Any]
) -> str | None:
    """Check ID number, sex and birth date together; returns the new normalized ID number."""
    touched = {"id_type", "id_number", "sex", "birth_date"} & set(data)
    if current is not None and not touched:
        return None
    id_type = data.get("id_type", current["id_type"] if current else None)
    sex = data.get("sex", current["sex"] if current else None)
    number = data.get("id_number")
    if number is None and current is not None:
        number = personal.open_sealed(current["id_number_enc"], personal.PERSON_ID_NUMBER)
    assert number is not None
    assert id_type is not None
    if id_type != ID_TYPE_CITIZEN_ID:
        return normalize_id_number(id_type, number)
    try:
        normalized = check_citizen_id(number, sex=sex)
    except ValueError as exc:
        raise InvalidInput({"id_number": [str(exc)]}) from None
    born = birth_date_of(normalized)
    birth_date = data.get("birth_date", current["birth_date"] if current else None)
    if birth_date is None:
        values["birth_date"] = born
    elif birth_date != born:
        raise InvalidInput({"birth_date": ["Does not agree with the birth date in the ID number."]})
    return normalized


def _refuse_duplicate(caller: Caller, id_hash: str, own_id: uuid.UUID | None) -> None:
    query = select(TABLE.c.id).where(
        TABLE.c.id_number_hash == id_hash, TABLE.c.deleted_at.is_(None)
    )
    if own_id is not None:
        query = query.where(TABLE.c.id != own_id)
    existing = db.session.scalar(query)
    if existing is None:
        return
    seen = db.session.scalar(
        select(TABLE.c.id).where(TABLE.c.id == existing, visible(TABLE, caller))
    )
    if seen is not None:
        raise Duplicate("A person with this ID number already exists.", existing_id=str(existing))
    raise Duplicate("A person with this ID number already exists.")


def prepare(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for a person write: sealed identifiers, checked references."""
    values: dict[str, Any] = {k: data[k] for k in (*PLAIN_FIELDS, "birth_date") if k in data}
    normalized = _identity(data, current, values)
    if normalized is not None and (current is None or "id_number" in data or "id_type" in data):
        enc, id_hash = personal.seal(normalized, personal.PERSON_ID_NUMBER)
        assert id_hash is not None
        _refuse_duplicate(caller, id_hash, current["id"] if current else None)
        values.update(id_number_enc=enc, id_number_hash=id_hash)
    if "phone" in data:
        phone = data["phone"]
        if phone is not None:
            try:
                phone = check_mobile(phone)
            except ValueError as exc:
                raise InvalidInput({"phone": [str(exc)]}) from None
        values["phone_enc"], values["phone_hash"] = personal.seal(phone, personal.PERSON_PHONE)
    if "house_id" in data:
        reference(caller, House.__table__, data["house_id"], "house_id")
        values["house_id"] = data["house_id"]
    if "address_id" in data:
        reference(caller, Address.__table__, data["address_id"], "address_id")
        values["address_id"] = data["address_id"]
    for name in EXTENSIONS:
        if name in data:
            sent = (
                {k: jsonable(v) for k, v in data[name].items()} if data[name] is not None else None
            )
            stored = current[name] if current is not None else None
            values[name] = personal.kept_extension(caller.role, name, sent, stored)
    if "special_populations" in data and not personal.may_see(
        caller.role, FieldClass.SPECIAL_POPULATION
    ):
        raise Forbidden("Your role may not record special populations.")
    return Prepared(values)


def after_write(caller: Caller, person_id: uuid.UUID, data: dict[str, Any]) -> None:
    """Replace the person's special-population rows when the request carried them."""
    if "special_populations" in data:
        items = [{k: item.get(k) for k in SPECIAL_FIELDS} for item in data["special_populations"]]
        replace_children(caller, SPECIAL, "person_id", person_id, "category", items)


def on_delete(caller: Caller, person_id: uuid.UUID) -> None:
    """A deleted person's special-population rows go with them."""
    tombstone_children(SPECIAL, SPECIAL.c.person_id == person_id, caller.principal)


def _special_rows(person_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    rows = db.session.execute(
        select(SPECIAL)
        .where(SPECIAL.c.person_id.in_(person_ids), SPECIAL.c.deleted_at.is_(None))
        .order_by(SPECIAL.c.category)
    ).mappings()
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["person_id"]].append(
            {"id": str(row["id"]), "version": row["version"]}
            | {k: jsonable(row[k]) for k in SPECIAL_FIELDS}
        )
    return grouped


def _birth(role: Role, born: date | None) -> dict[str, Any]:
    """`birth_date` in full only to a role the policy shows birth dates in full (none by default:
    the date is the part of a citizen ID its mask hides), `birth_year` to any role the date is
    not hidden from."""
    seen = exposure(role, FieldClass.BIRTH_DATE)
    return {
        "birth_date": jsonable(born) if seen is Exposure.FULL else None,
        "birth_year": born.year if born is not None and seen is not Exposure.HIDDEN else None,
    }


def present(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Persons as the caller's role may see them: masked identifiers, special data if allowed."""
    role = caller.role
    special = None
    if personal.may_see(role, FieldClass.SPECIAL_POPULATION):
        special = _special_rows([row["id"] for row in rows])
    out = []
    for row in rows:
        body = {
            **base_fields(row),
            "id_type": row["id_type"],
            "id_number": personal.show_sealed(
                role, FieldClass.ID_NUMBER, row["id_number_enc"], personal.PERSON_ID_NUMBER
            ),
            "name": personal.show(role, FieldClass.PERSON_NAME, row["name"]),
            "sex": row["sex"],
            **_birth(role, row["birth_date"]),
            "ethnicity": row["ethnicity"],
            "phone": personal.show_sealed(
                role, FieldClass.PHONE, row["phone_enc"], personal.PERSON_PHONE
            ),
            "registered_place": row["registered_place"],
            "address_id": jsonable(row["address_id"]),
            "house_id": jsonable(row["house_id"]),
            "population_type": row["population_type"],
            **{name: personal.show_extension(role, name, row[name]) for name in EXTENSIONS},
        }
        if special is not None:
            body["special_populations"] = special.get(row["id"], [])
        out.append(body)
    return out


def search(table: Table, q: str) -> ColumnElement[bool]:
    """Name prefix."""
    return table.c.name.startswith(q.strip(), autoescape=True)


def by_id_number(table: Table, value: str) -> ColumnElement[bool]:
    """Exact ID number, through the keyed hash (the number itself is never in SQL)."""
    return table.c.id_number_hash == personal.lookup(
        value.strip().upper(), personal.PERSON_ID_NUMBER
    )


def reveal_field(
    principal: Principal, person_id: uuid.UUID, field: str, reason: str | None
) -> dict[str, Any]:
    """The full ID number or phone of a person in scope, with a stated reason (audited)."""
    caller = caller_for(principal)
    with transaction():
        row = fetch_visible(TABLE, caller, person_id, action="reveal", record_type="person")
        if field not in REVEALABLE:
            raise InvalidInput({"field": ["Only id_number or phone can be revealed."]})
        blob = row["id_number_enc"] if field == "id_number" else row["phone_enc"]
        if blob is None:
            raise InvalidInput({"field": ["Nothing is recorded in this field."]})
        context = REVEALABLE[field]
        value = reveal(
            principal,
            record_type="person",
            record_id=person_id,
            field=field,
            reason=reason,
            fetch=lambda: personal.open_sealed(blob, context) or "",
        )
    return {"value": value}


RESOURCE = Resource(
    name="persons",
    record_type="person",
    table=TABLE,
    schema=PersonIn,
    prepare=prepare,
    present=present,
    location_field="house_id",
    search=search,
    searches=FieldClass.PERSON_NAME,
    by_id_number=by_id_number,
    after_write=after_write,
    on_delete=on_delete,
)
