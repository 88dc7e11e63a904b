"""Standard addresses: tree rules, normalized text, point inheritance and duplicate warnings."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.engine import RowMapping

from server.errors import InvalidInput
from server.extensions import db
from server.registry.models.address import ADDRESS_KINDS, Address
from server.registry.schemas.address import AddressIn
from server.registry.services.records import (
    BASE_FIELDS,
    Caller,
    Prepared,
    Resource,
    as_stored,
    columns,
    visible,
)

TABLE: Table = Address.__table__
DUPLICATE_RADIUS_M = 10.0
PARTS = ("street", "door_number", "courtyard", "building", "unit", "floor", "room")
TEXT_MAX = 300  # full_text and normalized_text columns
PARTS_TOO_LONG = f"The parts make a text of more than {TEXT_MAX} characters: give full_text."
DETAIL_FIELDS = ("kind", "parent_id", "division_code", *PARTS, "full_text", "police_address_id")
_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_address_text(value: str) -> str:
    """Matching form of an address: NFKC (full-width → half-width), no spaces or punctuation,
    lower-case Latin letters; at most TEXT_MAX characters (NFKC can lengthen a text: one ﷺ is
    eighteen letters)."""
    folded = unicodedata.normalize("NFKC", value)
    # `_DROP` matches exactly the characters `str.isalnum` refuses: an address with nothing to
    # drop (most are) skips the regex, which costs ~6 µs on a long CJK text.
    return (folded if folded.isalnum() else _DROP.sub("", folded)).lower()[:TEXT_MAX]


def point_sql(lng: float, lat: float) -> ColumnElement[Any]:
    """A WGS84 point expression."""
    return func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326)


def _parent(caller: Caller, parent_id: Any, kind: str) -> RowMapping | None:
    if parent_id is None:
        return None
    row = (
        db.session.execute(
            select(*columns(TABLE)).where(TABLE.c.id == parent_id, TABLE.c.deleted_at.is_(None))
        )
        .mappings()
        .one_or_none()
    )
    # Streets are district-wide reference data; any other parent must be in the caller's scope.
    if row is not None and row["kind"] != "street":
        seen = db.session.scalar(
            select(TABLE.c.id).where(TABLE.c.id == parent_id, visible(TABLE, caller))
        )
        row = row if seen is not None else None
    if row is None:
        raise InvalidInput({"parent_id": ["No such record."]})
    if ADDRESS_KINDS.index(row["kind"]) >= ADDRESS_KINDS.index(kind):
        raise InvalidInput({"parent_id": [f"A {kind} cannot hang under a {row['kind']}."]})
    return row


def _coordinates(point: Any) -> tuple[float, float] | None:
    if point is None:
        return None
    if isinstance(point, tuple):
        return point
    lng, lat = point["coordinates"]
    return float(lng), float(lat)


def prepare(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for an address write, with possible-duplicate warnings."""
    merged: dict[str, Any] = {k: current[k] for k in (*DETAIL_FIELDS, "point")} if current else {}
    merged.update(data)
    kind = merged["kind"]
    values = {k: v for k, v in data.items() if k in DETAIL_FIELDS}
    parent = (
        _parent(caller, merged.get("parent_id"), kind)
        if (current is None or "parent_id" in data or "kind" in data)
        else None
    )
    coords = _coordinates(merged.get("point"))
    if "point" in data and data["point"] is not None:
        values["point"] = point_sql(*data["point"])
    if coords is None and kind != "street":
        parent = parent or _parent(caller, merged.get("parent_id"), kind)
        coords = _coordinates(parent["point"]) if parent else None
        if coords is None:
            raise InvalidInput({"point": ["A door, building, unit or room needs a point."]})
        values["point"] = point_sql(*coords)
    if current is None or "full_text" in data or any(p in data for p in PARTS):
        full = merged.get("full_text") or "".join(str(merged[p]) for p in PARTS if merged.get(p))
        if not full:
            raise InvalidInput({"full_text": ["Give the full text or its parts."]})
        if len(full) > TEXT_MAX:
            raise InvalidInput({"full_text": [PARTS_TOO_LONG]})
        values["full_text"] = full
        values["normalized_text"] = normalize_address_text(full)
    warnings = []
    normalized = values.get("normalized_text") or (current["normalized_text"] if current else None)
    if coords is not None and normalized and ("point" in values or "normalized_text" in values):
        warnings = _duplicates(caller, normalized, coords, current["id"] if current else None)
    return Prepared(values, warnings)


def _duplicates(
    caller: Caller, normalized: str, coords: tuple[float, float], own_id: Any
) -> list[dict[str, Any]]:
    """Addresses the caller can see with the same normalized text within ~10 m."""
    near = func.ST_DWithin(
        func.Geography(TABLE.c.point), func.Geography(point_sql(*coords)), DUPLICATE_RADIUS_M
    )
    query = select(TABLE.c.id).where(
        visible(TABLE, caller), TABLE.c.normalized_text == normalized, near
    )
    if own_id is not None:
        query = query.where(TABLE.c.id != own_id)
    return [
        {"code": "possible_duplicate", "candidate_id": str(candidate)}
        for candidate in db.session.scalars(query.order_by(TABLE.c.id).limit(5))
    ]


_STORED_FIELDS = (*BASE_FIELDS, *DETAIL_FIELDS, "normalized_text")


def present(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Addresses carry no personal data: every field as stored."""
    return [{**as_stored(row, _STORED_FIELDS), "point": row["point"]} for row in rows]


def search(table: Table, q: str) -> ColumnElement[bool]:
    """Prefix match on the normalized text."""
    return table.c.normalized_text.startswith(normalize_address_text(q), autoescape=True)


RESOURCE = Resource(
    name="addresses",
    record_type="address",
    table=TABLE,
    schema=AddressIn,
    prepare=prepare,
    present=present,
    audit_reads=False,
    located=True,
    search=search,
)
