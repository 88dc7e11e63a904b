"""Use cases for assignments: workers to grids, dispatchers to org units. History is kept:
ending an assignment sets its valid_to; scope reads the open ones on every request."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.audit.service import record_access
from server.auth.models import Role, User
from server.auth.principal import Principal
from server.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotFound
from server.extensions import db
from server.hierarchy.models import Grid, GridAssignment, OrgAssignment, OrgUnit
from server.transaction import transaction

A = TypeVar("A", GridAssignment, OrgAssignment)

# The audit log's name for each kind of assignment.
_RECORD_TYPE: dict[type[Any], str] = {
    GridAssignment: "grid_assignment",
    OrgAssignment: "org_assignment",
}


def _require_user(user_id: uuid.UUID, role: Role) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role != role:
        raise InvalidInput({"user_id": [f"No such {role.value}."]})
    return user


def _open(assignment: A, duplicate: Any, target: dict[str, uuid.UUID]) -> A:
    try:
        with transaction():
            if db.session.scalar(duplicate) is not None:
                raise Duplicate("The assignment is already open.")
            db.session.add(assignment)
            record_access(
                "start",
                _RECORD_TYPE[type(assignment)],
                [assignment.id],
                detail={"user_id": assignment.user_id, **target},
            )
    except IntegrityError as exc:
        # Two admins opening the same assignment at once: the partial unique index decides.
        raise Duplicate("The assignment is already open.") from exc
    return assignment


def _end(model: type[A], assignment_id: uuid.UUID) -> A:
    with transaction():
        assignment = db.session.scalar(
            select(model).where(model.id == assignment_id).with_for_update()
        )
        if assignment is None:
            raise NotFound("No such assignment.")
        if assignment.valid_to is not None:
            raise Conflict("The assignment has already ended.")
        assignment.valid_to = func.now()
        record_access("end", _RECORD_TYPE[model], [assignment.id])
    return assignment


def _own_filter(
    principal: Principal, user_id: uuid.UUID | None, own_role: Role
) -> uuid.UUID | None:
    """Admins filter freely; the assignee role may only list its own assignments."""
    if principal.role == Role.ADMIN:
        return user_id
    if principal.role == own_role and user_id in (None, principal.user_id):
        return principal.user_id
    raise Forbidden("Only admins list other users' assignments.")


def open_grid_assignment(
    principal: Principal, *, user_id: uuid.UUID, grid_id: uuid.UUID
) -> GridAssignment:
    """Assign a worker to a current grid; an already-open identical assignment is a conflict."""
    _require_user(user_id, Role.WORKER)
    grid = db.session.get(Grid, grid_id)
    if grid is None or grid.retired_at is not None:
        raise InvalidInput({"grid_id": ["No such grid."]})
    duplicate = select(GridAssignment.id).where(
        GridAssignment.user_id == user_id,
        GridAssignment.grid_id == grid_id,
        GridAssignment.valid_to.is_(None),
    )
    assignment = GridAssignment(
        id=uuid.uuid4(), user_id=user_id, grid_id=grid_id, assigned_by=principal.user_id
    )
    return _open(assignment, duplicate, {"grid_id": grid_id})


def end_grid_assignment(assignment_id: uuid.UUID) -> GridAssignment:
    """End an open grid assignment now."""
    return _end(GridAssignment, assignment_id)


def list_grid_assignments(
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    grid_id: uuid.UUID | None = None,
    current: bool | None = None,
) -> list[GridAssignment]:
    """Grid assignments, newest first, filtered by worker, grid and open/ended."""
    user_id = _own_filter(principal, user_id, Role.WORKER)
    query = select(GridAssignment).order_by(GridAssignment.valid_from.desc())
    if user_id is not None:
        query = query.where(GridAssignment.user_id == user_id)
    if grid_id is not None:
        query = query.where(GridAssignment.grid_id == grid_id)
    if current is not None:
        ended = GridAssignment.valid_to.is_not(None)
        query = query.where(~ended if current else ended)
    return list(db.session.scalars(query))


def open_org_assignment(
    principal: Principal, *, user_id: uuid.UUID, org_unit_id: uuid.UUID
) -> OrgAssignment:
    """Assign a dispatcher to an org unit's subtree; an identical open one is a conflict."""
    _require_user(user_id, Role.DISPATCHER)
    if db.session.get(OrgUnit, org_unit_id) is None:
        raise InvalidInput({"org_unit_id": ["No such org unit."]})
    duplicate = select(OrgAssignment.id).where(
        OrgAssignment.user_id == user_id,
        OrgAssignment.org_unit_id == org_unit_id,
        OrgAssignment.valid_to.is_(None),
    )
    assignment = OrgAssignment(
        id=uuid.uuid4(), user_id=user_id, org_unit_id=org_unit_id, assigned_by=principal.user_id
    )
    return _open(assignment, duplicate, {"org_unit_id": org_unit_id})


def end_org_assignment(assignment_id: uuid.UUID) -> OrgAssignment:
    """End an open org-unit assignment now."""
    return _end(OrgAssignment, assignment_id)


def list_org_assignments(
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    org_unit_id: uuid.UUID | None = None,
    current: bool | None = None,
) -> list[OrgAssignment]:
    """Org-unit assignments, newest first, filtered by dispatcher, unit and open/ended."""
    user_id = _own_filter(principal, user_id, Role.DISPATCHER)
    query = select(OrgAssignment).order_by(OrgAssignment.valid_from.desc())
    if user_id is not None:
        query = query.where(OrgAssignment.user_id == user_id)
    if org_unit_id is not None:
        query = query.where(OrgAssignment.org_unit_id == org_unit_id)
    if current is not None:
        ended = OrgAssignment.valid_to.is_not(None)
        query = query.where(~ended if current else ended)
    return list(db.session.scalars(query))
