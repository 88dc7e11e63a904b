"""Tasks over sync follow the web API's rules: a task takes its target's grid, and its target
is fixed once it is created."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient

from server.extensions import db
from server.registry.models import Task
from tests.factories import IN_B, RegistryWorld, make_registry_world
from tests.test_syncapi_conflicts import patch_op
from tests.test_syncapi_push_pull import address_op, push, stamp


def _task_op(world: RegistryWorld, address_id: str) -> dict[str, Any]:
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "task",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": {
            "task_type": "verify",
            "title": "核实门牌",
            "assignee_id": str(world.users["worker_a"].id),
            "target_type": "address",
            "target_id": address_id,
        },
    }


def _address(client: FlaskClient, headers: dict[str, str], *where: Any) -> str:
    op = address_op(*where)
    assert push(client, headers, op)[0]["status"] == "applied"
    return str(op["record_id"])


def test_a_task_takes_its_targets_grid(client: FlaskClient) -> None:
    world = make_registry_world()
    address = _address(client, world.headers["worker_a"])
    op = _task_op(world, address)
    (result,) = push(client, world.headers["worker_a"], op)
    assert result["status"] == "applied", result
    task = db.session.get(Task, uuid.UUID(op["record_id"]))
    assert task is not None
    assert task.grid_id == world.grid_a.id


def test_a_task_about_another_grids_record_is_refused(client: FlaskClient) -> None:
    world = make_registry_world()
    elsewhere = _address(client, world.headers["worker_b"], IN_B)
    (result,) = push(client, world.headers["worker_a"], _task_op(world, elsewhere))
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")


def test_a_tasks_target_cannot_be_changed_after_it_is_created(client: FlaskClient) -> None:
    world = make_registry_world()
    first = _address(client, world.headers["worker_a"])
    second = _address(client, world.headers["worker_a"])
    op = _task_op(world, first)
    assert push(client, world.headers["worker_a"], op)[0]["status"] == "applied"
    moved = {**patch_op(op["record_id"], 1, target_id=second), "record_type": "task"}
    (result,) = push(client, world.headers["worker_a"], moved)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert result["field_errors"] == {"target_id": ["Fixed when the task is created."]}
    task = db.session.get(Task, uuid.UUID(op["record_id"]))
    assert task is not None
    assert str(task.target_id) == first


def test_a_create_of_an_existing_task_cannot_change_its_target(client: FlaskClient) -> None:
    # A create of an id that exists merges into the record like a patch: the target stays
    # fixed there too, whether the new target lies in another grid or in the same one.
    world = make_registry_world()
    headers = world.headers["worker_a"]
    first, other_here = _address(client, headers), _address(client, headers)
    elsewhere = _address(client, world.headers["worker_b"], IN_B)
    task = _task_op(world, first)
    assert push(client, headers, task)[0]["status"] == "applied"
    for target, reason in ((other_here, "invalid_fields"), (elsewhere, "out_of_scope")):
        again = {
            **task,
            "op_id": str(uuid.uuid4()),
            "fields": {**task["fields"], "target_id": target},
        }
        (result,) = push(client, headers, again)
        assert (result["status"], result["reason"]) == ("rejected", reason), result
    (same,) = push(client, headers, {**task, "op_id": str(uuid.uuid4())})
    assert same["status"] == "applied", same
    db.session.rollback()
    stored = db.session.get(Task, uuid.UUID(task["record_id"]))
    assert stored is not None
    assert (str(stored.target_id), stored.grid_id) == (first, world.grid_a.id)


def test_a_create_of_an_existing_task_names_the_fixed_field(client: FlaskClient) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    first, other_here = _address(client, headers), _address(client, headers)
    task = _task_op(world, first)
    push(client, headers, task)
    fields = {**task["fields"], "target_id": other_here}
    again = {**task, "op_id": str(uuid.uuid4()), "fields": fields}
    (result,) = push(client, headers, again)
    assert result["field_errors"] == {"target_id": ["Fixed when the task is created."]}
