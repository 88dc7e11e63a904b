"""Use cases for assignments: workers to grids, dispatchers to org units. History is kept:
ending an assignment sets its valid_to; scope reads the open ones on every request.

Both kinds share one start / end / list; `AssignmentKind` holds the little that differs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


@dataclass(frozen=True)
class AssignmentKind(Generic[A]):
    """What differs between grid and org-unit assignments."""

    model: type[A]
    # The column naming what the user is assigned to, also the request field and audit key.
    target: str
    target_noun: str
    # The only role that may hold this kind of assignment.
    assignee_role: Role
    # The audit log's name for this kind of assignment.
    record_type: str
    target_exists: Callable[[uuid.UUID], bool]


def _current_grid(grid_id: uuid.UUID) -> bool:
    grid = db.session.get(Grid, grid_id)
    return grid is not None and grid.retired_at is None


def _org_unit(org_unit_id: uuid.UUID) -> bool:
    return db.session.get(OrgUnit, org_unit_id) is not None


GRID: AssignmentKind[GridAssignment] = AssignmentKind(
    GridAssignment, "grid_id", "grid", Role.WORKER, "grid_assignment", _current_grid
)
ORG: AssignmentKind[OrgAssignment] = AssignmentKind(
    OrgAssignment, "org_unit_id", "org unit", Role.DISPATCHER, "org_assignment", _org_unit
)


def _require_user(user_id: uuid.UUID, role: Role) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role != role:
        raise InvalidInput({"user_id": [f"No such {role.value}."]})
    return user


def start_assignment(
    kind: AssignmentKind[A], principal: Principal, user_id: uuid.UUID, target_id: uuid.UUID
) -> A:
    """Assign a user to a target; an already-open identical assignment is a conflict."""
    _require_user(user_id, kind.assignee_role)
    if not kind.target_exists(target_id):
        raise InvalidInput({kind.target: [f"No such {kind.target_noun}."]})
    model = kind.model
    target_column: Any = getattr(model, kind.target)
    duplicate = select(model.id).where(
        model.user_id == user_id, target_column == target_id, model.valid_to.is_(None)
    )
    assignment = model(
        id=uuid.uuid4(),
        user_id=user_id,
        assigned_by=principal.user_id,
        **{kind.target: target_id},
    )
    try:
        with transaction():
            if db.session.scalar(duplicate) is not None:
                raise Duplicate("The assignment is already open.")
            db.session.add(assignment)
            record_access(
                "start",
                kind.record_type,
                [assignment.id],
                detail={"user_id": user_id, kind.target: target_id},
            )
    except IntegrityError as exc:
        # Two admins opening the same assignment at once: the partial unique index decides.
        raise Duplicate("The assignment is already open.") from exc
    return assignment


def end_assignment(kind: AssignmentKind[A], assignment_id: uuid.UUID) -> A:
    """End an open assignment now; its row stays as history."""
    model = kind.model
    with transaction():
        assignment = db.session.scalar(
            select(model).where(model.id == assignment_id).with_for_update()
        )
        if assignment is None:
            raise NotFound("No such assignment.")
        if assignment.valid_to is not None:
            raise Conflict("The assignment has already ended.")
        assignment.valid_to = func.now()
        record_access("end", kind.record_type, [assignment.id])
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


def list_assignments(
    kind: AssignmentKind[A],
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    current: bool | None = None,
) -> list[A]:
    """Assignments of one kind, newest first, filtered by user, target and open/ended."""
    user_id = _own_filter(principal, user_id, kind.assignee_role)
    model = kind.model
    query = select(model).order_by(model.valid_from.desc())
    if user_id is not None:
        query = query.where(model.user_id == user_id)
    if target_id is not None:
        query = query.where(getattr(model, kind.target) == target_id)
    if current is not None:
        ended = model.valid_to.is_not(None)
        query = query.where(~ended if current else ended)
    return list(db.session.scalars(query))


def open_grid_assignment(
    principal: Principal, *, user_id: uuid.UUID, grid_id: uuid.UUID
) -> GridAssignment:
    """Assign a worker to a current grid; an already-open identical assignment is a conflict."""
    return start_assignment(GRID, principal, user_id, grid_id)


def end_grid_assignment(assignment_id: uuid.UUID) -> GridAssignment:
    """End an open grid assignment now."""
    return end_assignment(GRID, assignment_id)


def list_grid_assignments(
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    grid_id: uuid.UUID | None = None,
    current: bool | None = None,
) -> list[GridAssignment]:
    """Grid assignments, newest first, filtered by worker, grid and open/ended."""
    return list_assignments(GRID, principal, user_id=user_id, target_id=grid_id, current=current)


def open_org_assignment(
    principal: Principal, *, user_id: uuid.UUID, org_unit_id: uuid.UUID
) -> OrgAssignment:
    """Assign a dispatcher to an org unit's subtree; an identical open one is a conflict."""
    return start_assignment(ORG, principal, user_id, org_unit_id)


def end_org_assignment(assignment_id: uuid.UUID) -> OrgAssignment:
    """End an open org-unit assignment now."""
    return end_assignment(ORG, assignment_id)


def list_org_assignments(
    principal: Principal,
    *,
    user_id: uuid.UUID | None = None,
    org_unit_id: uuid.UUID | None = None,
    current: bool | None = None,
) -> list[OrgAssignment]:
    """Org-unit assignments, newest first, filtered by dispatcher, unit and open/ended."""
    return list_assignments(ORG, principal, user_id=user_id, target_id=org_unit_id, current=current)
