"""Grid placement: which grid a record lies in, derived set-based in SQL and never by the client.

A located record takes the CURRENT grid version that covers its point (`ST_Covers`, so a point
on a boundary counts as inside); a point on an edge shared by two grids goes to the one with the
lowest code, so the answer never depends on row order. Other records follow their anchor (a
house its address, a person their house or else their address, a visit its person, ...), copying
the anchor's `grid_id` and `scope_path`. A point in no grid leaves `grid_id` NULL: the record is
unassigned, listed for admins and dispatchers, never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    case,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.util import ClauseAdapter

from server.extensions import db
from server.hierarchy.models import Grid, GridVersion


@dataclass(frozen=True)
class FromPoint:
    """The grid covering the record's own point column."""

    column: str = "point"


@dataclass(frozen=True)
class FromAnchor:
    """The grid of the record referenced by `fk` in table `anchor`."""

    fk: str
    anchor: str


Rule = FromPoint | FromAnchor

# The first rule whose column is set decides (a person in a house follows the house, else the
# address). Tasks are absent: their grid is fixed when they are created.
RULES: dict[str, tuple[Rule, ...]] = {
    "addresses": (FromPoint(),),
    "houses": (FromAnchor("address_id", "addresses"),),
    "persons": (FromAnchor("house_id", "houses"), FromAnchor("address_id", "addresses")),
    "person_special_populations": (FromAnchor("person_id", "persons"),),
    "households": (FromAnchor("address_id", "addresses"),),
    "household_members": (FromAnchor("household_id", "households"),),
    "organizations": (FromAnchor("address_id", "addresses"),),
    "incidents": (FromPoint(), FromAnchor("address_id", "addresses")),
    "visits": (FromAnchor("person_id", "persons"),),
    "follow_up_plans": (FromAnchor("person_id", "persons"),),
}

# Anchors in dependency order, for re-placing everything after a boundary redraw.
ORDER = tuple(RULES)


def _dependents(table_name: str) -> list[tuple[str, str]]:
    return [
        (name, rule.fk)
        for name, rules in RULES.items()
        for rule in rules
        if isinstance(rule, FromAnchor) and rule.anchor == table_name
    ]


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def covering_grid(point: ColumnElement[object], name: str) -> FromClause:
    """A LATERAL subquery (grid_id, path) of the current grid covering `point`, lowest code wins."""
    gv = GridVersion.__table__
    g = Grid.__table__
    return (
        select(g.c.id.label("grid_id"), g.c.path.label("path"))
        .select_from(gv.join(g, g.c.id == gv.c.grid_id))
        .where(
            gv.c.valid_to.is_(None),
            g.c.retired_at.is_(None),
            func.ST_Covers(gv.c.geom, point),
        )
        .order_by(g.c.code)
        .limit(1)
        .lateral(name)
    )


def _current_grids() -> Select[Any]:
    gv, g = GridVersion.__table__, Grid.__table__
    return (
        select(g.c.id, g.c.path, g.c.code, gv.c.geom)
        .select_from(gv.join(g, g.c.id == gv.c.grid_id))
        .where(gv.c.valid_to.is_(None), g.c.retired_at.is_(None))
    )


def _cover_of(point: ColumnElement[Any], column: str) -> ColumnElement[Any]:
    """A scalar subquery: `column` of the current grid covering `point`, lowest code wins."""
    grids = _current_grids().subquery()
    return (
        select(grids.c[column])
        .where(func.ST_Covers(grids.c.geom, point))
        .order_by(grids.c.code)
        .limit(1)
        .scalar_subquery()
    )


def cover_near_or_anywhere(
    point: ColumnElement[Any],
    near: ColumnElement[Any],
    found: ColumnElement[Any],
    column: str,
) -> ColumnElement[Any]:
    """`column` of the grid covering `point`: `found` (looked up among the grids overlapping the
    box `near`) when the point lies in that box, else of the lowest-coded current grid anywhere.

    Shared by apply and the redraw preview, so both place a point outside the redraw's box the
    same way: a grid covering it need not overlap the box, so the box's grids cannot tell.
    """
    return case((point.bool_op("&&")(near), found), else_=_cover_of(point, column))


def _covers_near(
    table: Table,
    column: str,
    where: ColumnElement[bool] | None,
    near: ColumnElement[Any],
    name: str,
) -> FromClause:
    """(id, grid_id, path) of the chosen rows whose point is in `near`, joined grid by grid.

    A grid covering a point inside the box overlaps the box, so these grids are all it needs.
    """
    grids = _current_grids().where(GridVersion.__table__.c.geom.bool_op("&&")(near)).subquery()
    rows = table.alias(f"{name}_rows")
    point = rows.c[column]
    query = (
        select(rows.c.id, grids.c.id.label("grid_id"), grids.c.path)
        .select_from(grids.join(rows, func.ST_Covers(grids.c.geom, point)))
        .where(point.bool_op("&&")(near))
        .distinct(rows.c.id)
        .order_by(rows.c.id, grids.c.code)
    )
    if where is not None:
        query = query.where(ClauseAdapter(rows).traverse(where))
    return query.subquery(name)


def place(
    table_name: str,
    *,
    ids: Iterable[uuid.UUID] | None = None,
    where: ColumnElement[bool] | None = None,
    bump: bool = False,
) -> list[uuid.UUID]:
    """Set grid_id and scope_path of the chosen rows from their rules in one UPDATE.

    Only rows whose placement changes are written; with `bump` they also get version + 1 (a
    record that moved is a change the phones must pull). Returns the ids that changed.
    """
    return list(db.session.scalars(placing(table_name, ids=ids, where=where, bump=bump)))


def placing(
    table_name: str,
    *,
    ids: Iterable[uuid.UUID] | None = None,
    where: ColumnElement[bool] | None = None,
    bump: bool = False,
    near: ColumnElement[Any] | None = None,
) -> ReturningUpdate[tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None]]:
    """`place`'s UPDATE, unexecuted, returning (id, old_gid, gid) of every row it writes.

    `near` (a box most chosen points lie in, e.g. a redraw's area) lets points be placed grid by
    grid: each current grid overlapping the box finds its points through their spatial index,
    about ten times cheaper than looking up the grid of each point in turn. A chosen point
    outside the box still gets its grid the per-point way.
    """
    table = _table(table_name)
    # The rules read the row through an alias: in UPDATE … FROM it holds the values as they were
    # before this statement, so the old grid comes back from the same statement as the new one.
    src = table.alias("src")
    joined: FromClause = src
    grids: list[tuple[ColumnElement[bool], ColumnElement[object]]] = []
    paths: list[tuple[ColumnElement[bool], ColumnElement[object]]] = []
    for i, rule in enumerate(RULES[table_name]):
        if isinstance(rule, FromPoint) and near is not None:
            point = src.c[rule.column]
            cover = _covers_near(table, rule.column, where, near, f"cover{i}")
            joined = joined.outerjoin(cover, cover.c.id == src.c.id)
            present = point.is_not(None)
            grids.append((present, cover_near_or_anywhere(point, near, cover.c.grid_id, "id")))
            paths.append((present, cover_near_or_anywhere(point, near, cover.c.path, "path")))
        elif isinstance(rule, FromPoint):
            cover = covering_grid(src.c[rule.column], f"cover{i}")
            joined = joined.outerjoin(cover, true())
            present = src.c[rule.column].is_not(None)
            grids.append((present, cover.c.grid_id))
            paths.append((present, cover.c.path))
        else:
            anchor = _table(rule.anchor).alias(f"anchor{i}")
            joined = joined.outerjoin(anchor, anchor.c.id == src.c[rule.fk])
            present = src.c[rule.fk].is_not(None)
            grids.append((present, anchor.c.grid_id))
            paths.append((present, anchor.c.scope_path))
    empty_path = literal([], ARRAY(UUID(as_uuid=True)))
    query = select(
        src.c.id.label("rid"),
        src.c.grid_id.label("old_gid"),
        case(*grids, else_=None).label("gid"),
        func.coalesce(case(*paths, else_=None), empty_path).label("gpath"),
    ).select_from(joined)
    if ids is not None:
        query = query.where(src.c.id.in_(list(ids)))
    if where is not None:
        # `where` is written against the real table; restated on the alias, so the candidates
        # are read once (by their own index) rather than again through `id IN (SELECT …)`.
        query = query.where(ClauseAdapter(src).traverse(where))
    placed = query.subquery("placed")
    values: dict[str, object] = {"grid_id": placed.c.gid, "scope_path": placed.c.gpath}
    if bump:
        values.update(version=table.c.version + 1, updated_at=func.now())
    return (
        update(table)
        .where(
            table.c.id == placed.c.rid,
            or_(
                table.c.grid_id.is_distinct_from(placed.c.gid),
                table.c.scope_path.is_distinct_from(placed.c.gpath),
            ),
        )
        .values(values)
        .returning(table.c.id, placed.c.old_gid.label("old_gid"), table.c.grid_id.label("gid"))
    )


def place_with_dependents(table_name: str, ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Place the given records, then re-place (and version-bump) every record that follows them."""
    changed = place(table_name, ids=ids)
    _cascade(table_name, changed)
    return changed


def _cascade(table_name: str, changed: list[uuid.UUID]) -> None:
    if not changed:
        return
    for dependent, fk in _dependents(table_name):
        table = _table(dependent)
        moved = place(
            dependent,
            where=table.c[fk].in_(changed) & table.c.deleted_at.is_(None),
            bump=True,
        )
        _cascade(dependent, moved)


def place_everything(*, bump: bool = True) -> int:
    """Re-place every record of every table (after a boundary redraw, or a bulk load)."""
    total = 0
    for name in ORDER:
        table = _table(name)
        total += len(place(name, where=table.c.deleted_at.is_(None), bump=bump))
    return total
