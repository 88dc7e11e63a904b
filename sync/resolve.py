"""Resolving a conflict from the dispatcher's inbox: an ordinary versioned write, then closed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sync import hlc, records
from sync.errors import SyncError
from sync.ops import JSON
from sync.registry import Registry
from sync.tables import conflicts


class How(StrEnum):
    """keep: the standing value stays; take: the losing value is written; edit: a new value."""

    KEEP = "keep"
    TAKE = "take"
    EDIT = "edit"


class ConflictNotOpen(SyncError):
    """The conflict does not exist or was already resolved."""

    code = "conflict_not_open"


class CannotResolve(SyncError):
    """This way of resolving does not apply to this kind of conflict."""

    code = "cannot_resolve"


@dataclass(frozen=True)
class Resolution:
    """The record's version after the resolution (unchanged for keep)."""

    conflict_id: uuid.UUID
    version: int


def _writes(
    kind: str, field: str | None, how: How, loser: JSON, value: JSON, now: str
) -> dict[str, JSON]:
    if how is How.KEEP:
        return {}
    if kind == "field" and field is not None:
        return {field: loser if how is How.TAKE else value}
    if kind == "update_vs_delete" and field is not None:
        # Taking the edit brings the record back from its tombstone, with the edited value.
        return {"deleted_at": None, "deleted_by": None, field: loser if how is How.TAKE else value}
    if kind == "delete_vs_update" and how is How.TAKE:
        return {"deleted_at": now}
    raise CannotResolve(f"{how.value} does not apply to a {kind} conflict")


def losing_value(row: sa.Row[Any]) -> JSON:
    """The value of a conflict row's losing side: what a `take` writes."""
    value: JSON = row.client_value if row.winner == "server" else row.server_value
    return value


def resolve_conflict(
    conn: sa.Connection,
    registry: Registry,
    conflict_id: uuid.UUID,
    user_id: uuid.UUID,
    how: How,
    value: JSON = None,
    *,
    also: Mapping[str, JSON] | None = None,
    companions: Sequence[uuid.UUID] = (),
    now: datetime | None = None,
) -> Resolution:
    """Resolve one open conflict in the caller's transaction; the write bumps the version.

    `also`: columns the write carries besides the field (values the caller derives from the
    written one), when there is a write. `companions`: open conflicts of those columns, closed
    with this one, the same way.
    """
    now = now or datetime.now(UTC)
    row = conn.execute(
        sa.select(conflicts).where(conflicts.c.id == conflict_id).with_for_update()
    ).one_or_none()
    if row is None or row.status != "open":
        raise ConflictNotOpen(f"conflict {conflict_id} is not open")
    record_type = registry.get(row.record_type)
    if record_type is None:
        raise CannotResolve(f"unknown record type {row.record_type}")
    writes = _writes(row.kind, row.field, how, losing_value(row), value, now.isoformat())
    if writes and also:
        writes = {**writes, **also}
    if "deleted_at" in writes and writes["deleted_at"] is not None:
        writes["deleted_by"] = str(user_id)
    found = records.lock_rows(conn, record_type, [row.record_id])
    current = found.get(row.record_id)
    if current is None:
        raise CannotResolve(f"record {row.record_id} no longer exists")
    version = int(current["version"])
    if writes:
        stamp = hlc.server_stamp(int(now.timestamp() * 1000)).encode()
        records.set_write_context(conn, {"stamp": stamp})
        version += 1
        records.update_row(
            conn,
            record_type,
            row.record_id,
            {
                **writes,
                "version": version,
                "updated_at": now.isoformat(),
                "updated_by": str(user_id),
            },
        )
        records.set_write_context(conn, None)
    conn.execute(
        conflicts.update()
        .where(
            sa.or_(
                conflicts.c.id == conflict_id,
                sa.and_(conflicts.c.id.in_(companions), conflicts.c.status == "open"),
            )
        )
        .values(status="resolved", resolved_by=user_id, resolved_at=now, resolved_how=how.value)
    )
    return Resolution(conflict_id, version)
