"""Child rows replaced as a set through their parent (special populations, household members)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, and_, func, insert, select, update

from server.extensions import db
from server.registry import placement
from server.registry.services.records import Caller, tombstone_children


def replace_children(
    caller: Caller,
    table: Table,
    parent_fk: str,
    parent_id: uuid.UUID,
    key: str,
    items: Sequence[dict[str, Any]],
) -> None:
    """Make the live children of a parent equal `items` (matched on `key`).

    Changed rows get version + 1, new rows are inserted, missing ones are tombstoned; the set is
    then placed (children follow their parent's grid).
    """
    user = caller.principal.user_id
    fields = sorted({name for item in items for name in item} - {key})
    existing = {
        row[key]: row
        for row in db.session.execute(
            select(table).where(table.c[parent_fk] == parent_id, table.c.deleted_at.is_(None))
        ).mappings()
    }
    for item in items:
        row = existing.get(item[key])
        if row is None:
            db.session.execute(
                insert(table).values(
                    id=uuid.uuid4(),
                    created_by=user,
                    updated_by=user,
                    **{parent_fk: parent_id},
                    **item,
                )
            )
        elif any(row[name] != item.get(name) for name in fields):
            db.session.execute(
                update(table)
                .where(table.c.id == row["id"])
                .values(
                    version=table.c.version + 1,
                    updated_at=func.now(),
                    updated_by=user,
                    **{name: item.get(name) for name in fields},
                )
            )
    kept = [item[key] for item in items]
    tombstone_children(
        table,
        and_(table.c[parent_fk] == parent_id, table.c[key].not_in(kept)),
        caller.principal,
    )
    placement.place(table.name, where=table.c[parent_fk] == parent_id)
