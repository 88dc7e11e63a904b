"""The preview of a redraw: what would move, whose work changes, which phones to sync first.

Nothing is written: the counts come from one SELECT over the snapped draft (see `moves`).
"""

from __future__ import annotations

import uuid
from typing import Any

import shapely
from sqlalchemy import false, func, literal, select, text, union_all

from server.errors import InvalidInput
from server.extensions import db
from server.redraw import report
from server.redraw.moves import (
    AfterGrid,
    Area,
    MoveCount,
    candidates,
    count_moves,
    in_ids,
    table,
)
from server.redraw.plan import Plan, display_key, problem_dict
from server.registry.placement import ORDER, RULES, FromPoint


def refuse_invalid(plan: Plan) -> None:
    """Raise a 422 listing the draft's located problems unless it is valid."""
    if not plan.ok:
        problems = [problem_dict(p) for p in plan.verdict.problems]
        raise InvalidInput(
            {"grids": problems}, detail=f"The draft breaks {len(problems)} redraw rule(s)."
        )


def area_of(plan: Plan) -> Area:
    """The affected area of a plan, for SQL."""
    return Area(shapely.to_wkb(plan.affected_area()))


def predicted_moves(plan: Plan) -> tuple[list[MoveCount], dict[uuid.UUID, tuple[str, str]]]:
    """Move counts of a valid plan; new grids stand in under fresh ids, mapped to (key, code)."""
    # The move count joins record tables to draft geometries the planner cannot estimate; its
    # cost estimate triggers JIT compilation that took longer than the query itself (measured at
    # 1M records). Off for the rest of this transaction, which also covers apply's UPDATEs.
    db.session.execute(text("SET LOCAL jit = off"))
    stand_ins = {g.key: uuid.uuid4() for g in plan.grids if g.grid_id is None}
    drafted = []
    for grid in plan.grids:
        if grid.grid_id is None:
            grid_id, code = stand_ins[grid.key], plan.codes[grid.key]
        else:
            grid_id, code = grid.grid_id, plan.current[grid.key].code
        drafted.append(AfterGrid(grid_id, code, shapely.to_wkb(plan.new_geometry(grid.key))))
    counts = count_moves(area_of(plan), drafted, plan.drafted_ids(), plan.retire)
    new_keys = {gid: (display_key(key), plan.codes[key]) for key, gid in stand_ins.items()}
    return counts, new_keys


def likely_moves_more_than(plan: Plan, limit: int) -> bool:
    """A cheap guess whether a valid plan moves more than `limit` records.

    Apply uses it to choose between now and a background job; the exact count (the preview's
    `predicted_moves`) costs about as much as the apply itself. The guess: the records in no
    grid whose own point lies in the affected area (the redraw places them), plus the records
    now in the drafted grids times the share of the affected area whose grid changes. Each
    table's rows are counted on an index ((grid_id, id), or the point's), and only up to what
    could still tip the total over the limit. Records following an unplaced anchor are not
    counted.
    """
    affected = plan.affected_area()
    unplaced = _unplaced_in(Area(shapely.to_wkb(affected)), limit + 1)
    if unplaced > limit:
        return True
    limit -= unplaced
    share = plan.changed_area().area / affected.area if affected.area > 0 else 0.0
    if share <= 0:
        return False
    drafted = plan.drafted_ids()
    if not drafted:
        return False
    enough = limit / share  # rows in the drafted grids that make the guess exceed `limit`
    seen = 0
    for name in ORDER:
        rows = table(name)
        cap = int(enough - seen) + 1
        within = select(literal(1)).where(in_ids(rows.c.grid_id, drafted)).limit(cap).subquery()
        seen += int(db.session.scalar(select(func.count()).select_from(within)) or 0)
        if seen > enough:
            return True
    return False


def _unplaced_in(area: Area, cap: int) -> int:
    """Live records in no grid whose own point is in the affected `area`, counted (in one
    statement) up to `cap` per table.

    Apply re-places them by their point (see `moves.candidates`); since a valid redraw covers
    the same ground before and after, each of them lands in a grid.
    """
    found = []
    for name in ORDER:
        if any(isinstance(rule, FromPoint) for rule in RULES[name]):
            rows = table(name)
            own_point = candidates(name, rows, area, lambda _anchor, _fk: false(), ())
            found.append(select(literal(1)).where(rows.c.grid_id.is_(None), own_point).limit(cap))
    if not found:
        return 0
    every = union_all(*found).subquery("unplaced")
    return int(db.session.scalar(select(func.count()).select_from(every)) or 0)


def build_preview(plan: Plan) -> dict[str, Any]:
    """The whole preview of a valid plan (no writes)."""
    refuse_invalid(plan)
    counts, new_keys = predicted_moves(plan)
    rows = report.move_rows(counts, new_keys)
    people = report.workers(rows)
    losing = [p["user_id"] for p in people if p["losses"] > 0]
    return {
        "community_id": plan.community.id,
        "boundary_version": plan.community.boundary_version,
        "moves": rows,
        **report.totals(rows),
        "new_grids": [
            {
                "key": grid.new_key,
                "code": plan.codes[grid.key],
                "kind": (grid.kind.value if grid.kind else "comprehensive"),
            }
            for grid in plan.grids
            if grid.grid_id is None
        ],
        "workers": people,
        "devices": report.devices(losing),
        "device_source": report.DEVICE_SOURCE,
    }
