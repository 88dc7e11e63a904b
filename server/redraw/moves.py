"""Which records a redraw moves, set-based: the candidate rows (one definition shared by preview
and apply) and the preview query that computes every move in one SELECT, changing nothing.

Candidates are the live rows whose own point lies in the affected area (a `&&` bbox prefilter,
then `ST_Covers`), rows anchored to a row that moved, and rows still naming a retired grid.
The preview places them the way `server.registry.placement` will: a point takes the lowest-coded
grid covering it among the grids as they will be (near the area; a point outside the area's box
keeps the grid covering it now, which the redraw cannot change); an anchored row follows its
anchor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    LargeBinary,
    String,
    Table,
    and_,
    any_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from server.extensions import db
from server.hierarchy.models import Grid, GridVersion
from server.registry.placement import ORDER, RULES, FromPoint, cover_near_or_anywhere

MovedIn = Callable[[str, ColumnElement[Any]], ColumnElement[bool]]
# (record type, grid before, grid after, how many records)
MoveCount = tuple[str, uuid.UUID | None, uuid.UUID | None, int]


@dataclass(frozen=True)
class Area:
    """The affected area as WKB (exact doubles, unlike WKT), bound into SQL where it is used."""

    wkb: bytes

    def sql(self) -> ColumnElement[Any]:
        """The area as a PostGIS geometry (SRID 4326)."""
        return func.ST_GeomFromWKB(literal(self.wkb, LargeBinary), 4326)


@dataclass(frozen=True)
class AfterGrid:
    """A drafted grid as it will be: its id (a stand-in for a new grid), code and boundary."""

    id: uuid.UUID
    code: str
    wkb: bytes


def table(name: str) -> Table:
    """A registry table by name."""
    return db.metadata.tables[name]


def uuid_array(ids: Sequence[uuid.UUID]) -> ColumnElement[Any]:
    """One uuid[] parameter (not one parameter per id: a redraw may move 100,000 rows)."""
    return literal(list(ids), ARRAY(UUID(as_uuid=True)))


def in_ids(column: ColumnElement[Any], ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """`column = ANY(ids)`, or false for no ids."""
    return column == any_(uuid_array(ids)) if ids else false()


def candidates(
    name: str,
    rows: FromClause,
    area: Area,
    moved_in: MovedIn,
    retired: Sequence[uuid.UUID],
) -> ColumnElement[bool]:
    """The rows of `name` (as `rows`) a redraw may move; `moved_in(anchor, fk)` says whether
    the fk points at a row of `anchor` that moved."""
    clauses: list[ColumnElement[bool]] = []
    for rule in RULES[name]:
        if isinstance(rule, FromPoint):
            point = rows.c[rule.column]
            clauses.append(
                and_(
                    point.bool_op("&&")(func.ST_Envelope(area.sql())),
                    func.ST_Covers(area.sql(), point),
                )
            )
        else:
            clauses.append(moved_in(rule.anchor, rows.c[rule.fk]))
    if retired:
        clauses.append(in_ids(rows.c.grid_id, retired))
    return and_(rows.c.deleted_at.is_(None), or_(*clauses))


def may_have_candidates(name: str, moved: Mapping[str, int], retired: Sequence[uuid.UUID]) -> bool:
    """False when `candidates` of `name` is sure to select nothing: no point of its own, no
    anchor with rows written (`moved`: rows per table), no retired grid."""
    return bool(retired) or any(
        isinstance(rule, FromPoint) or bool(moved.get(rule.anchor)) for rule in RULES[name]
    )


def _after_grids(area: Area, drafted: Sequence[AfterGrid], replaced: Sequence[uuid.UUID]) -> CTE:
    """(grid_id, code, geom) of every grid near the area as it will be after the redraw."""
    gv, g = GridVersion.__table__, Grid.__table__
    kept = (
        select(g.c.id.label("grid_id"), g.c.code.label("code"), gv.c.geom.label("geom"))
        .select_from(gv.join(g, g.c.id == gv.c.grid_id))
        .where(
            gv.c.valid_to.is_(None),
            g.c.retired_at.is_(None),
            g.c.id.not_in(list(replaced)),
            gv.c.geom.bool_op("&&")(func.ST_Envelope(area.sql())),
        )
    )
    new = [
        select(
            literal(grid.id, UUID(as_uuid=True)).label("grid_id"),
            literal(grid.code, String).label("code"),
            func.ST_GeomFromWKB(literal(grid.wkb, LargeBinary), 4326).label("geom"),
        )
        for grid in drafted
    ]
    return union_all(kept, *new).cte("after_grids")


def _moves(
    name: str, area: Area, after: CTE, moves: dict[str, CTE], retired: Sequence[uuid.UUID]
) -> CTE:
    """(id, old_gid, new_gid) of the rows of `name` whose grid the redraw changes."""
    src = table(name).alias(f"src_{name}")
    joined: FromClause = src
    choices: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []
    for i, rule in enumerate(RULES[name]):
        if isinstance(rule, FromPoint):
            point = src.c[rule.column]
            cover = (
                select(after.c.grid_id)
                .where(func.ST_Covers(after.c.geom, point))
                .order_by(after.c.code)
                .limit(1)
                .lateral(f"cover_{name}_{i}")
            )
            joined = joined.outerjoin(cover, true())
            # `after` holds only the grids near the area; a point outside its box (a candidate
            # for its moved anchor or its retired grid) keeps what covers it now, as in apply.
            near = func.ST_Envelope(area.sql())
            grid = cover_near_or_anywhere(point, near, cover.c.grid_id, "id")
            choices.append((point.is_not(None), grid))
        else:
            fk = src.c[rule.fk]
            anchor = table(rule.anchor).alias(f"anchor_{name}_{i}")
            moved = moves[rule.anchor].alias(f"moved_{name}_{i}")
            joined = joined.outerjoin(anchor, anchor.c.id == fk).outerjoin(moved, moved.c.id == fk)
            follows = case((moved.c.id.is_not(None), moved.c.new_gid), else_=anchor.c.grid_id)
            choices.append((fk.is_not(None), follows))

    def moved_in(anchor_name: str, column: ColumnElement[Any]) -> ColumnElement[bool]:
        return column.in_(select(moves[anchor_name].c.id))

    placed = (
        select(
            src.c.id.label("id"),
            src.c.grid_id.label("old_gid"),
            case(*choices, else_=None).label("new_gid"),
        )
        .select_from(joined)
        .where(candidates(name, src, area, moved_in, retired))
        .subquery(f"placed_{name}")
    )
    return (
        select(placed.c.id, placed.c.old_gid, placed.c.new_gid)
        .where(placed.c.old_gid.is_distinct_from(placed.c.new_gid))
        .cte(f"moves_{name}")
    )


def count_moves(
    area: Area,
    drafted: Sequence[AfterGrid],
    replaced: Sequence[uuid.UUID],
    retired: Sequence[uuid.UUID],
) -> list[MoveCount]:
    """How many records of each type would move from which grid to which, in one SELECT.

    `drafted` are the grids as drawn (new ones under stand-in ids), `replaced` the existing
    grids whose current boundary they replace or that are retired.
    """
    after = _after_grids(area, drafted, replaced)
    moves: dict[str, CTE] = {}
    for name in ORDER:
        moves[name] = _moves(name, area, after, moves, retired)
    counts = union_all(
        *[
            select(
                literal(name, String).label("record_type"),
                cte.c.old_gid,
                cte.c.new_gid,
                func.count().label("n"),
            ).group_by(cte.c.old_gid, cte.c.new_gid)
            for name, cte in moves.items()
        ]
    )
    return [(str(t), old, new, int(n)) for t, old, new, n in db.session.execute(counts)]
