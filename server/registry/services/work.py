"""Tasks, visits and follow-up plans."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.engine import RowMapping

from server.auth.models import Role
from server.errors import Forbidden, InvalidInput
from server.extensions import db
from server.hierarchy.models import Grid
from server.privacy.masking import FieldClass
from server.registry.models import (
    Address,
    FollowUpPlan,
    House,
    Household,
    Incident,
    Organization,
    Person,
    Task,
    Visit,
)
from server.registry.schemas.work import FollowUpPlanIn, TaskIn, VisitIn
from server.registry.services import personal, task_rules
from server.registry.services.addresses import point_sql
from server.registry.services.records import (
    BASE_FIELDS,
    Caller,
    Prepared,
    Resource,
    as_stored,
    base_fields,
    jsonable,
    reference,
)
from server.registry.services.task_rules import TaskWrite

TASKS: Table = Task.__table__
VISITS: Table = Visit.__table__
PLANS: Table = FollowUpPlan.__table__
TARGETS: dict[str, Table] = {
    "address": Address.__table__,
    "house": House.__table__,
    "person": Person.__table__,
    "household": Household.__table__,
    "organization": Organization.__table__,
    "incident": Incident.__table__,
}
TASK_FIELDS = ("task_type", "title", "assignee_id", "due_at", "status", "result")
FIXED_TASK_FIELDS = ("target_type", "target_id", "target_grid_id")


def _task_grid(caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
    """The task's grid: its target's, or the given grid, which must be in the caller's scope."""
    target_type, target_id = data.get("target_type"), data.get("target_id")
    grid_id = data.get("target_grid_id")
    if (target_type is None) != (target_id is None):
        raise InvalidInput({"target_id": ["Give both target_type and target_id, or neither."]})
    if target_type is not None:
        if grid_id is not None:
            raise InvalidInput(
                {"target_grid_id": ["A task with a target takes the target's grid."]}
            )
        target = reference(caller, TARGETS[target_type], target_id, "target_id")
        assert target is not None
        return {
            "target_type": target_type,
            "target_id": target_id,
            "grid_id": target["grid_id"],
            "scope_path": target["scope_path"],
        }
    if grid_id is None:
        raise InvalidInput({"target_grid_id": ["Give a target record or a grid."]})
    path = db.session.scalar(select(Grid.path).where(Grid.id == grid_id, Grid.retired_at.is_(None)))
    if path is None or not caller.scope.allows_grid(grid_id):
        raise InvalidInput({"target_grid_id": ["No such grid."]})
    return {"grid_id": grid_id, "scope_path": path}


def _locked_holder(task_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The task's assignee and grid, its row locked: the holder judged is the one the update
    writes over, even if a reassignment committed since the record was read."""
    row = db.session.execute(
        select(TASKS.c.assignee_id, TASKS.c.grid_id).where(TASKS.c.id == task_id).with_for_update()
    ).one()
    return row.assignee_id, row.grid_id


def _keep_assignment_rules(caller: Caller, write: TaskWrite, grid_id: uuid.UUID | None) -> None:
    """403 for a write a worker may not make; 422 on `assignee_id` for someone who may not
    hold a task of `grid_id` (`task_rules`)."""
    if caller.role == Role.WORKER:
        refusal = task_rules.worker_refusal(caller.principal.user_id, write)
        if refusal is not None:
            raise Forbidden(next(iter(refusal.values()))[0])
    if task_rules.gives_task(write):
        task_rules.check_holder(write.assignee, grid_id)


def prepare_task(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for a task write; target and grid are fixed at creation, and the write
    keeps the assignment rules (`task_rules`)."""
    values = {k: data[k] for k in TASK_FIELDS if k in data}
    if current is None:
        values.update(_task_grid(caller, data))
        held_by, grid_id = None, values["grid_id"]
    else:
        for name in FIXED_TASK_FIELDS:
            if name in data:
                raise InvalidInput({name: ["Fixed when the task is created."]})
        held_by, grid_id = _locked_holder(current["id"])
    write = TaskWrite(held_by, data.get("assignee_id"), data.get("status"))
    _keep_assignment_rules(caller, write, grid_id)
    if current is None and values.setdefault("status", "assigned") != "assigned":
        raise InvalidInput({"status": ["A new task is assigned."]})
    status = data.get("status")
    if current is not None and status is not None and status != current["status"]:
        if status == "signed":
            values["signed_at"] = func.now()
        elif status == "done":
            values["done_at"] = func.now()
    return Prepared(values)


def refuse_worker_delete(caller: Caller, task_id: uuid.UUID) -> None:
    """A worker may not delete a task (403). Runs inside the delete's transaction, so the
    refusal rolls the tombstone back; a push refuses the same delete before it is applied."""
    if caller.role == Role.WORKER:
        refusal = task_rules.worker_refusal(
            caller.principal.user_id, TaskWrite(None, deleting=True)
        )
        assert refusal is not None
        raise Forbidden(next(iter(refusal.values()))[0])


def present_tasks(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Tasks as stored."""
    names = (*TASK_FIELDS, "target_type", "target_id", "signed_at", "done_at")
    return [as_stored(row, (*BASE_FIELDS, *names)) for row in rows]


VISIT_FIELDS = ("visited_at", "form", "content", "state", "measures", "photo_sha256")
# What a visit or a follow-up plan says about the person followed up (their state, what was
# done, where they were found): special-population case data, for the roles that work the case.
CASE_FIELDS = {"visit": ("content", "state", "measures", "point"), "follow_up_plan": ("notes",)}
CASE_REFUSED = "Your role may not record follow-up case data."


def _refuse_case_data(caller: Caller, record_type: str, data: Mapping[str, Any]) -> None:
    if personal.may_see(caller.role, FieldClass.SPECIAL_POPULATION):
        return
    if any(data.get(name) is not None for name in CASE_FIELDS[record_type]):
        raise Forbidden(CASE_REFUSED)


def _case_shown(caller: Caller, record_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body with its case data null for a role that may not see special populations."""
    if personal.may_see(caller.role, FieldClass.SPECIAL_POPULATION):
        return body
    return {**body, **dict.fromkeys(CASE_FIELDS[record_type])}


def prepare_visit(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for a visit; the person must be visible (the visit follows their grid)."""
    _refuse_case_data(caller, "visit", data)
    values = {k: data[k] for k in VISIT_FIELDS if k in data}
    if current is None:
        values.setdefault("photo_sha256", [])
    if "person_id" in data:
        reference(caller, Person.__table__, data["person_id"], "person_id")
        values["person_id"] = data["person_id"]
    if "point" in data:
        values["point"] = point_sql(*data["point"]) if data["point"] is not None else None
    return Prepared(values)


def present_visits(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Visits (their GPS points are whereabouts: reads are audited)."""
    return [
        _case_shown(
            caller,
            "visit",
            {
                **base_fields(row),
                "person_id": str(row["person_id"]),
                **{k: jsonable(row[k]) for k in VISIT_FIELDS},
                "photo_sha256": list(row["photo_sha256"] or []),
                "point": row["point"],
            },
        )
        for row in rows
    ]


PLAN_FIELDS = ("cycle", "next_due", "notes")


def prepare_plan(caller: Caller, data: dict[str, Any], current: RowMapping | None) -> Prepared:
    """Column values for a follow-up plan."""
    _refuse_case_data(caller, "follow_up_plan", data)
    values = {k: data[k] for k in PLAN_FIELDS if k in data}
    if "person_id" in data:
        reference(caller, Person.__table__, data["person_id"], "person_id")
        values["person_id"] = data["person_id"]
    return Prepared(values)


def present_plans(caller: Caller, rows: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """Follow-up plans."""
    return [
        _case_shown(
            caller,
            "follow_up_plan",
            {
                **base_fields(row),
                "person_id": str(row["person_id"]),
                **{k: jsonable(row[k]) for k in PLAN_FIELDS},
            },
        )
        for row in rows
    ]


TASK_RESOURCE = Resource(
    name="tasks",
    record_type="task",
    table=TASKS,
    schema=TaskIn,
    prepare=prepare_task,
    present=present_tasks,
    location_field="target_id",
    on_delete=refuse_worker_delete,
    # Tasks name people (title, a person as target, where to visit whom): reads are audited.
    placed=False,
)
VISIT_RESOURCE = Resource(
    name="visits",
    record_type="visit",
    table=VISITS,
    schema=VisitIn,
    prepare=prepare_visit,
    present=present_visits,
    location_field="person_id",
    located=True,
)
PLAN_RESOURCE = Resource(
    name="follow-up-plans",
    record_type="follow_up_plan",
    table=PLANS,
    schema=FollowUpPlanIn,
    prepare=prepare_plan,
    present=present_plans,
    location_field="person_id",
)
