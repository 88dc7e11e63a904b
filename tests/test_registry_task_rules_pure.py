"""The task assignment rules as plain functions, without a database."""

from __future__ import annotations

import uuid

from server.registry.services.task_rules import (
    NO_CANCEL,
    NO_DELETE,
    NO_REASSIGN,
    NOT_YOURS,
    OWN_TASKS_ONLY,
    TaskWrite,
    gives_task,
    may_hold,
    worker_refusal,
)

ME, OTHER, GRID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_a_worker_may_sign_finish_and_report_on_their_own_task() -> None:
    assert worker_refusal(ME, TaskWrite(ME, status="signed")) is None
    assert worker_refusal(ME, TaskWrite(ME, ME, status="done")) is None


def test_a_worker_may_create_a_task_only_for_themselves() -> None:
    assert worker_refusal(ME, TaskWrite(None, ME)) is None
    assert worker_refusal(ME, TaskWrite(None, OTHER)) == {"assignee_id": [OWN_TASKS_ONLY]}


def test_a_worker_may_not_touch_a_task_held_by_someone_else() -> None:
    assert worker_refusal(ME, TaskWrite(OTHER, status="done")) == {"_op": [NOT_YOURS]}
    assert worker_refusal(ME, TaskWrite(OTHER, ME)) == {"_op": [NOT_YOURS]}


def test_a_worker_may_not_reassign_cancel_or_delete_even_their_own_task() -> None:
    assert worker_refusal(ME, TaskWrite(ME, OTHER)) == {"assignee_id": [NO_REASSIGN]}
    assert worker_refusal(ME, TaskWrite(ME, status="cancelled")) == {"status": [NO_CANCEL]}
    assert worker_refusal(ME, TaskWrite(None, ME, status="cancelled")) == {"status": [NO_CANCEL]}
    assert worker_refusal(ME, TaskWrite(ME, deleting=True)) == {"_op": [NO_DELETE]}


def test_only_a_new_task_or_a_change_of_hands_is_judged_for_its_assignee() -> None:
    assert gives_task(TaskWrite(None, ME))
    assert gives_task(TaskWrite(ME, OTHER))
    assert not gives_task(TaskWrite(ME, ME))
    assert not gives_task(TaskWrite(ME, status="done"))
    assert not gives_task(TaskWrite(ME, deleting=True))


def test_a_task_is_held_only_by_a_worker_of_its_grid_and_one_in_no_grid_by_nobody() -> None:
    grids = {ME: {GRID}}
    assert may_hold(ME, GRID, grids)
    assert not may_hold(OTHER, GRID, grids)
    assert not may_hold(ME, uuid.uuid4(), grids)
    assert not may_hold(ME, None, grids)
    assert not may_hold(None, GRID, grids)
