"""Records on the way out to phones: the web API's own presenters, masked by the caller's role."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from server.audit.service import record_access
from server.extensions import db
from server.privacy.masking import FieldClass
from server.registry.services import personal
from server.registry.services.catalog import RESOURCES
from server.registry.services.persons import SPECIAL_FIELDS
from server.registry.services.records import Caller, base_fields, columns, jsonable
from server.syncapi.record_types import BY_NAME
from sync.ops import JSON

_RESOURCE_BY_TYPE = {r.record_type: r for r in RESOURCES.values()}


def _special(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    shown = personal.may_see(caller.role, FieldClass.SPECIAL_POPULATION)
    out = []
    for row in rows:
        # For a role the policy hides special populations from, even which person a row belongs
        # to is withheld: that link alone says "this person is a drug user / under correction".
        body = {**base_fields(row), "person_id": jsonable(row["person_id"]) if shown else None}
        if shown:
            body.update({k: jsonable(row[k]) for k in SPECIAL_FIELDS})
        out.append(body)
    return out


def _member(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    return [
        {
            **base_fields(row),
            "household_id": jsonable(row["household_id"]),
            "person_id": jsonable(row["person_id"]),
            "relation_to_head": row["relation_to_head"],
        }
        for row in rows
    ]


_OWN_PRESENTERS = {"person_special_population": _special, "household_member": _member}


def present_records(
    caller: Caller, record_type: str, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Current rows of one type by id, as the caller's role sees them in the web API."""
    wanted = sorted(set(ids))
    sync_type = BY_NAME.get(record_type)
    if not wanted or sync_type is None:
        return {}
    table = sync_type.table
    rows = list(
        db.session.execute(sa.select(*columns(table)).where(table.c.id.in_(wanted))).mappings()
    )
    resource = _RESOURCE_BY_TYPE.get(record_type)
    presenter = resource.present if resource else _OWN_PRESENTERS[record_type]
    bodies = presenter(caller, rows)
    if rows and (resource is None or resource.audit_reads):
        # Downloads of personal records leave the same trail as web reads.
        record_access("sync_read", record_type, [row["id"] for row in rows])
    out = {}
    for row, body in zip(rows, bodies, strict=True):
        body.pop("warnings", None)
        body["deleted_at"] = jsonable(row["deleted_at"])
        out[row["id"]] = body
    return out


def present_docs(
    caller: Caller, docs: Sequence[tuple[str, Mapping[str, JSON]]]
) -> list[dict[str, Any] | None]:
    """Replace engine documents (raw rows) with presented records, one query per type."""
    by_type: dict[str, list[uuid.UUID]] = {}
    for record_type, doc in docs:
        by_type.setdefault(record_type, []).append(uuid.UUID(str(doc["id"])))
    shown = {t: present_records(caller, t, ids) for t, ids in by_type.items()}
    return [shown.get(t, {}).get(uuid.UUID(str(doc["id"]))) for t, doc in docs]
