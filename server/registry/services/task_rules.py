"""Who may be given a task, and what a worker may change on one.

A task is work given to a worker: its assignee is an active worker whose current grid
assignments include the task's grid. A worker writes only the tasks given to them (signing,
finishing, the result) and never reassigns, cancels or deletes one; dispatchers and admins, within
their scope, may. The web API (`work.prepare_task`, one task) and the push
(`server.syncapi.tasks`, a whole batch in one statement) give the same answers from these rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from server.errors import InvalidInput
from server.extensions import db
from sync.records import uuid_array

ASSIGNEE_REFUSED = "Not an active worker of this task's grid."
OWN_TASKS_ONLY = "A worker may only create a task assigned to themselves."
NOT_YOURS = "This task is assigned to someone else."
NO_REASSIGN = "Only a dispatcher or an admin may reassign a task."
NO_CANCEL = "Only a dispatcher or an admin may cancel a task."
NO_DELETE = "Only a dispatcher or an admin may delete a task."
CANCELLED = "cancelled"

# The current grid assignments of active workers among the users named by :assignees (a uuid[]
# literal); an assignee may hold a task of exactly these grids. Retired grids count for nobody.
WORKER_GRIDS_SQL = """
    SELECT a.user_id, a.grid_id
    FROM grid_assignments AS a
    JOIN users AS u ON u.id = a.user_id
    JOIN grids AS g ON g.id = a.grid_id
    WHERE a.user_id = ANY(CAST(:assignees AS uuid[])) AND a.valid_to IS NULL
      AND g.retired_at IS NULL AND u.role = 'worker' AND u.status = 'active'
"""


@dataclass(frozen=True)
class TaskWrite:
    """One write to a task as both paths see it: who holds the task now (None: a new task) and
    what the write sends (`assignee` None: not sent)."""

    held_by: uuid.UUID | None
    assignee: uuid.UUID | None = None
    status: str | None = None
    deleting: bool = False


def worker_refusal(worker_id: uuid.UUID, write: TaskWrite) -> dict[str, list[str]] | None:
    """Why a worker may not make `write`, as {field: [message]}; None when they may."""
    if write.deleting:
        return {"_op": [NO_DELETE]}
    if write.held_by is None:
        if write.assignee is not None and write.assignee != worker_id:
            return {"assignee_id": [OWN_TASKS_ONLY]}
    elif write.held_by != worker_id:
        return {"_op": [NOT_YOURS]}
    elif write.assignee is not None and write.assignee != write.held_by:
        return {"assignee_id": [NO_REASSIGN]}
    if write.status == CANCELLED:
        return {"status": [NO_CANCEL]}
    return None


def gives_task(write: TaskWrite) -> bool:
    """Whether `write` gives the task to someone (a new task, or a change of hands): then its
    assignee must be a worker of the task's grid. An unchanged assignee is not judged again."""
    if write.deleting:
        return False
    return write.held_by is None or (write.assignee not in (None, write.held_by))


def worker_grids(assignees: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The current grids of the active workers among `assignees`, in one query."""
    wanted = set(assignees)
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    if wanted:
        rows = db.session.execute(sa.text(WORKER_GRIDS_SQL), {"assignees": uuid_array(wanted)})
        for user_id, grid_id in rows:
            found.setdefault(user_id, set()).add(grid_id)
    return found


def check_holder(assignee: uuid.UUID | None, grid_id: uuid.UUID | None) -> None:
    """422 on `assignee_id` unless `assignee` may hold a task of `grid_id` (one task's write;
    a push judges its whole batch with `WORKER_GRIDS_SQL` and `may_hold`)."""
    holders = worker_grids([assignee] if assignee else [])
    if not may_hold(assignee, grid_id, holders):
        raise InvalidInput({"assignee_id": [ASSIGNEE_REFUSED]})


def may_hold(
    assignee: uuid.UUID | None,
    grid_id: uuid.UUID | None,
    worker_grids: Mapping[uuid.UUID, set[uuid.UUID]],
) -> bool:
    """Whether `assignee` may hold a task of `grid_id`, given the workers' current grids
    (`WORKER_GRIDS_SQL`); a task in no grid can be held by nobody."""
    if assignee is None or grid_id is None:
        return False
    return grid_id in worker_grids.get(assignee, set())
