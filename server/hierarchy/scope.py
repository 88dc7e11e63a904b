"""The one scope resolver: which grids may this caller see, read from the database per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.dialects.postgresql import array

from server.auth.models import Role
from server.auth.principal import Principal
from server.extensions import db
from server.hierarchy.models import Grid, GridAssignment, OrgAssignment


@dataclass(frozen=True)
class Scope:
    """A caller's slice: every grid (`everything`), or exactly `grid_ids`.

    `org_unit_ids` are a dispatcher's subtree roots (empty for workers), used for records that are
    scoped by org path rather than by grid.
    """

    everything: bool
    grid_ids: frozenset[uuid.UUID]
    org_unit_ids: frozenset[uuid.UUID] = frozenset()

    def allows_grid(self, grid_id: uuid.UUID | None) -> bool:
        """True when a record in `grid_id` is visible (records with no grid: only `everything`)."""
        if self.everything:
            return True
        return grid_id is not None and grid_id in self.grid_ids

    def grid_filter(self, column: ColumnElement[uuid.UUID]) -> ColumnElement[bool]:
        """A SQL predicate restricting `column` (a grid id) to this scope."""
        if self.everything:
            return true()
        if not self.grid_ids:
            return false()
        return column.in_(self.grid_ids)


def _worker_grid_ids(user_id: uuid.UUID, at: datetime | None) -> set[uuid.UUID]:
    query = select(GridAssignment.grid_id).where(GridAssignment.user_id == user_id)
    if at is None:
        # A retired grid leaves the scope even if its assignment was not ended with it, as it
        # leaves a dispatcher's.
        query = query.join(Grid, Grid.id == GridAssignment.grid_id).where(
            GridAssignment.valid_to.is_(None), Grid.retired_at.is_(None)
        )
    else:
        query = query.where(
            GridAssignment.valid_from <= at,
            (GridAssignment.valid_to.is_(None)) | (GridAssignment.valid_to > at),
        )
    return set(db.session.scalars(query))


def _dispatcher_scope(user_id: uuid.UUID) -> Scope:
    org_ids = set(
        db.session.scalars(
            select(OrgAssignment.org_unit_id).where(
                OrgAssignment.user_id == user_id, OrgAssignment.valid_to.is_(None)
            )
        )
    )
    if not org_ids:
        return Scope(everything=False, grid_ids=frozenset())
    grid_ids = set(
        db.session.scalars(
            select(Grid.id).where(
                Grid.path.overlap(array(list(org_ids))),
                Grid.retired_at.is_(None),
            )
        )
    )
    return Scope(everything=False, grid_ids=frozenset(grid_ids), org_unit_ids=frozenset(org_ids))


def resolve_scope(principal: Principal) -> Scope:
    """Return the grids the caller may see now: a worker's current grids, a dispatcher's
    subtrees, everything for admins and auditors (auditors are read-only elsewhere)."""
    if principal.role in (Role.ADMIN, Role.AUDITOR):
        return Scope(everything=True, grid_ids=frozenset())
    if principal.role == Role.DISPATCHER:
        return _dispatcher_scope(principal.user_id)
    return Scope(everything=False, grid_ids=frozenset(_worker_grid_ids(principal.user_id, None)))


def worker_grids_at(user_id: uuid.UUID, at: datetime) -> frozenset[uuid.UUID]:
    """The grids a worker covered at a past instant (assignment history), for offline edits."""
    return frozenset(_worker_grid_ids(user_id, at))
