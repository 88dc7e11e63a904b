"""Re-placing the records of a redraw's area, table by table, without a round trip per id.

Each table is one UPDATE (`server.registry.placement.placing`) wrapped in a statement that files
the ids it wrote into a transaction-local temp table and returns only the move counts per (old
grid, new grid). The next tables find "anchored to a row that moved" from that temp table, so
the moved ids never travel to Python and back: at 1M records, sending and parsing them as uuid
arrays took longer than the UPDATEs that wrote them. (The temp table needs the database's
default TEMP privilege for the runtime role.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    Table,
    Text,
    any_,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from server.extensions import db
from server.redraw.moves import Area, MoveCount, candidates, may_have_candidates, table
from server.redraw.plan import Plan
from server.redraw.preview import area_of
from server.registry.placement import ORDER, placing

Progress = Callable[[int, int], None]

# Not in db.metadata: it exists only inside an apply's transaction (ON COMMIT DROP).
_MOVED = Table(
    "redraw_moved",
    MetaData(),
    Column("record_table", Text, nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
)


def place_records(plan: Plan, progress: Progress) -> list[MoveCount]:
    """Re-place the affected area of a redraw's plan; the moves per type and grids."""
    return place_area(area_of(plan), plan.retire, progress)


def place_area(
    area: Area, retire: Sequence[uuid.UUID], progress: Progress | None = None
) -> list[MoveCount]:
    """Re-place the records in `area` and on the `retire`d grids (anchors first), version-bumped
    so the change log carries each move to the phones; the moves per type and grids."""
    # The planner cannot estimate the area's rows; its high cost guess would start JIT
    # compilation that takes longer than the statements (measured at 1M records).
    db.session.execute(text("SET LOCAL jit = off"))
    db.session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS redraw_moved (record_table text NOT NULL, "
            "id uuid NOT NULL) ON COMMIT DROP"
        )
    )
    near = func.ST_Envelope(area.sql())
    written: dict[str, int] = {}
    counts: list[MoveCount] = []

    def moved_in(anchor: str, column: ColumnElement[Any]) -> ColumnElement[bool]:
        # `= ANY(one array, computed once)` rather than `IN (SELECT …)`: the planner then reads
        # the few followers through their fk index instead of scanning the table for them.
        ids = select(func.array_agg(_MOVED.c.id)).where(_MOVED.c.record_table == anchor)
        # (The cast keeps PostgreSQL from reading `ANY (SELECT …)` as a subquery of rows.)
        return column == any_(cast(ids.scalar_subquery(), ARRAY(UUID(as_uuid=True))))

    for done, name in enumerate(ORDER, start=1):
        written[name] = 0
        rows = table(name)
        # An UPDATE that matches nothing still runs the table's change-log trigger (a statement
        # trigger, planned afresh per connection): skip tables that cannot match, such as empty
        # ones. (Probing the candidates themselves is no cheaper: `= ANY(array parameter)` is a
        # linear search when the planner scans the table for a first row.)
        if may_have_candidates(name, written, retire) and db.session.scalar(
            select(exists().select_from(rows))
        ):
            where = candidates(name, rows, area, moved_in, retire)
            for old, new, n in _place_table(name, where, near):
                written[name] += n
                if old != new:
                    counts.append((name, old, new, n))
        if progress is not None:
            progress(done, len(ORDER))
    return counts


def _place_table(
    name: str, where: ColumnElement[bool], near: ColumnElement[Any]
) -> list[tuple[uuid.UUID | None, uuid.UUID | None, int]]:
    """Run one table's UPDATE; file the ids it wrote; (old grid, new grid, rows) per pair."""
    moved = placing(name, where=where, bump=True, near=near).cte(f"moved_{name}")
    filed = insert(_MOVED).from_select(
        ["record_table", "id"], select(literal(name, Text), moved.c.id)
    )
    statement = (
        select(moved.c.old_gid, moved.c.gid, func.count())
        .group_by(moved.c.old_gid, moved.c.gid)
        .add_cte(filed.cte(f"filed_{name}"))
    )
    return [(old, new, int(n)) for old, new, n in db.session.execute(statement).tuples()]
