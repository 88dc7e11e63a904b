"""The preview of a redraw: what would move, whose work changes, which phones to sync first.

Nothing is written: the counts come from one SELECT over the snapped draft (see `moves`).
"""

from __future__ import annotations

import uuid
from typing import Any

import shapely
from sqlalchemy import text

from server.errors import InvalidInput
from server.extensions import db
from server.redraw import report
from server.redraw.moves import AfterGrid, Area, MoveCount, count_moves
from server.redraw.plan import Plan, display_key, problem_dict


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


def moved_count(plan: Plan) -> int:
    """How many records a valid plan would move."""
    counts, _ = predicted_moves(plan)
    return sum(n for *_, n in counts)


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
