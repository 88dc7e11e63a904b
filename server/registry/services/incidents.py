"""Incidents and disputes as reported: category per kind, location, reporter, origin grid."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, update
from sqlalchemy.engine import RowMapping

from server.auth.models import Role
from server.errors import InvalidInput
from server.extensions import db
from server.privacy.crypto import UndecryptableField, decrypt_field, encrypt_field, lookup_hash
from server.privacy.masking import FieldClass
from server.registry.codes import check_code
from server.registry.models.address import Address
from server.registry.models.incident import Incident
from server.registry.schemas.incident import IncidentIn
from server.registry.services import personal
from server.registry.services.addresses import point_sql
from server.registry.services.records import (
    Caller,
    Prepared,
    Resource,
    base_fields,
    jsonable,
    reference,
)

TABLE: Table = Incident.__table__
PLAIN_FIELDS = ("kind", "category", "title", "description", "occurred_at", "urgency", "scale")
CATEGORY_TABLE = {"event": "incident_category", "dispute": "dispute_category"}
# Parties live in a JSONB list, so a party's phone is sealed inside its JSON object.
PARTY_PHONE = "incident.party_phone"
PARTY_SEALED_KEYS = ("phone", "phone_enc", "phone_hash")
Encrypt = Callable[[str, str], bytes]


def _random_nonce(value: str, context: str) -> bytes:
    return encrypt_field(value, context=context)


def seal_party(party: Any, encrypt: Encrypt = _random_nonce) -> Any:
    """A party as stored: phone replaced by base64 ciphertext and keyed hash (non-objects kept)."""
    if not isinstance(party, dict):
        return party
    stored = {k: v for k, v in party.items() if k not in PARTY_SEALED_KEYS}
    phone = party.get("phone")
    if phone is None:
        return {**stored, "phone_enc": None, "phone_hash": None}
    normalized = str(phone).strip()
    blob = encrypt(normalized, PARTY_PHONE)
    return {
        **stored,
        "phone_enc": base64.b64encode(blob).decode("ascii"),
        "phone_hash": lookup_hash(normalized, context=PARTY_PHONE),
    }


def open_party_phone(party: Any) -> str | None:
    """A stored party's phone in clear, or None (no phone, or not a blob sealed for parties)."""
    if not isinstance(party, dict) or not isinstance(party.get("phone_enc"), str):
        return None
    try:
        blob = base64.b64decode(party["phone_enc"], validate=True)
        return decrypt_field(blob, context=PARTY_PHONE)
    except (binascii.Error, UndecryptableField):
        return None


def show_party(role: Role, party: Any) -> dict[str, Any] | None:
    """A stored party as `role` sees it: {name, role, phone}, the phone masked, never the hash."""
    if not isinstance(party, dict):
        return None
    name = party.get("name")
    phone = open_party_phone(party) if personal.may_see(role, FieldClass.PHONE) else None
    return {
        "name": personal.show(role, FieldClass.PERSON_NAME, name)
        if isinstance(name, str)
        else None,
        "role": party.get("role"),
        "phone": personal.show(role, FieldClass.PHONE, phone),
    }


def prepare(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for an incident write."""
    values: dict[str, Any] = {k: data[k] for k in PLAIN_FIELDS if k in data}
    kind = str(data.get("kind", current["kind"] if current else ""))
    category = str(data.get("category", current["category"] if current else ""))
    if ("kind" in data or "category" in data) and not check_code(CATEGORY_TABLE[kind], category):
        raise InvalidInput({"category": [f"Not a valid {CATEGORY_TABLE[kind]} code."]})
    if "point" in data:
        values["point"] = point_sql(*data["point"]) if data["point"] is not None else None
    if "address_id" in data:
        reference(caller, Address.__table__, data["address_id"], "address_id")
        values["address_id"] = data["address_id"]
    has_point = data["point"] is not None if "point" in data else bool(current and current["point"])
    has_address = (
        data["address_id"] is not None
        if "address_id" in data
        else bool(current and current["address_id"])
    )
    if not (has_point or has_address):
        raise InvalidInput({"point": ["Give a point, an address, or both."]})
    if "parties" in data:
        values["parties"] = [seal_party(party) for party in data["parties"] or []]
    if "reporter" in data:
        reporter = data["reporter"] or {}
        anonymous = bool(reporter.get("anonymous"))
        values["reporter_anonymous"] = anonymous
        values["reporter_name"] = None if anonymous else reporter.get("name")
        phone = None if anonymous else reporter.get("phone")
        enc, digest = personal.seal(phone, personal.REPORTER_PHONE)
        values["reporter_phone_enc"], values["reporter_phone_hash"] = enc, digest
    if "photo_sha256" in data:
        values["photo_sha256"] = data["photo_sha256"]
    if current is None:
        values.setdefault("parties", [])
        values.setdefault("photo_sha256", [])
        values["status"] = "reported"
    return Prepared(values)


def after_write(caller: Caller, incident_id: uuid.UUID, data: dict[str, Any]) -> None:
    """On creation, remember the grid the incident was reported in (kept for statistics)."""
    db.session.execute(
        update(TABLE)
        .where(TABLE.c.id == incident_id, TABLE.c.version == 1)
        .values(origin_grid_id=TABLE.c.grid_id)
    )


def present(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Incidents; reporter and parties masked per role, an anonymous reporter never named."""
    role = caller.role
    name, phone = FieldClass.PERSON_NAME, FieldClass.PHONE
    return [
        {
            **base_fields(row),
            **{k: jsonable(row[k]) for k in PLAIN_FIELDS},
            "point": row["point"],
            "address_id": jsonable(row["address_id"]),
            "parties": [show_party(role, party) for party in row["parties"] or []],
            "reporter": {
                "anonymous": row["reporter_anonymous"],
                "name": personal.show(role, name, row["reporter_name"]),
                "phone": personal.show_sealed(
                    role, phone, row["reporter_phone_enc"], personal.REPORTER_PHONE
                ),
            },
            "photo_sha256": list(row["photo_sha256"] or []),
            "status": row["status"],
            "origin_grid_id": jsonable(row["origin_grid_id"]),
        }
        for row in rows
    ]


def search(table: Table, q: str) -> ColumnElement[bool]:
    """Title prefix."""
    return table.c.title.startswith(q.strip(), autoescape=True)


RESOURCE = Resource(
    name="incidents",
    record_type="incident",
    table=TABLE,
    schema=IncidentIn,
    prepare=prepare,
    present=present,
    located=True,
    search=search,
    after_write=after_write,
)
