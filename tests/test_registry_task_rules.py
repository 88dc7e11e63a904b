"""Tasks on the web API: a task goes to an active worker of its grid, and a worker may only
work the tasks given to them — never reassign, cancel or delete one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from server.extensions import db
from server.registry.models import Task
from server.registry.services.task_rules import (
    ASSIGNEE_REFUSED,
    NO_CANCEL,
    NO_DELETE,
    NO_REASSIGN,
    NOT_YOURS,
    OWN_TASKS_ONLY,
)
from tests.factories import (
    NOT_WORKERS_OF_A,
    RegistryWorld,
    create_record,
    make_task_world,
)


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_task_world()


def _task(client: FlaskClient, world: RegistryWorld, assignee: str = "worker_a") -> Any:
    """A task of grid A, given by the dispatcher of town A."""
    return create_record(
        client,
        world.headers["dispatcher_a"],
        "tasks",
        (0.0, 0.0),
        assignee=world.users[assignee],
        grid=world.grid_a,
    )


def _create(client: FlaskClient, world: RegistryWorld, who: str, assignee_id: uuid.UUID) -> Any:
    body = {
        "task_type": "verify",
        "title": "核实门牌",
        "assignee_id": str(assignee_id),
        "target_grid_id": str(world.grid_a.id),
    }
    return client.post("/api/v1/tasks", json=body, headers=world.headers[who])


def _patch(client: FlaskClient, world: RegistryWorld, who: str, task: Any, **fields: Any) -> Any:
    return client.patch(
        f"/api/v1/tasks/{task['id']}",
        json={"expected_version": task["version"], **fields},
        headers=world.headers[who],
    )


def _stored(task: Any) -> tuple[uuid.UUID, str, int]:
    db.session.expire_all()
    row = db.session.get(Task, uuid.UUID(task["id"]))
    assert row is not None
    return row.assignee_id, row.status, row.version


@pytest.mark.parametrize("assignee", NOT_WORKERS_OF_A)
def test_a_task_for_anyone_but_an_active_worker_of_its_grid_is_422_on_assignee_id(
    client: FlaskClient, world: RegistryWorld, assignee: str
) -> None:
    response = _create(client, world, "dispatcher_a", world.users[assignee].id)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}


def test_a_task_for_a_user_who_does_not_exist_is_422_on_assignee_id(
    client: FlaskClient, world: RegistryWorld
) -> None:
    response = _create(client, world, "dispatcher_a", uuid.uuid4())
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}


@pytest.mark.parametrize("assignee", NOT_WORKERS_OF_A)
def test_reassigning_a_task_to_anyone_but_an_active_worker_of_its_grid_is_422(
    client: FlaskClient, world: RegistryWorld, assignee: str
) -> None:
    task = _task(client, world)
    response = _patch(
        client, world, "dispatcher_a", task, assignee_id=str(world.users[assignee].id)
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}
    assert _stored(task) == (world.users["worker_a"].id, "assigned", 1)


def test_a_dispatcher_reassigns_a_task_to_another_worker_of_its_grid(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    response = _patch(
        client, world, "dispatcher_a", task, assignee_id=str(world.users["worker_a2"].id)
    )
    assert response.status_code == 200
    assert response.get_json()["assignee_id"] == str(world.users["worker_a2"].id)


def test_a_dispatcher_cancels_a_task(client: FlaskClient, world: RegistryWorld) -> None:
    task = _task(client, world)
    response = _patch(client, world, "dispatcher_a", task, status="cancelled")
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"


def test_a_worker_signs_finishes_and_reports_on_their_own_task(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    signed = _patch(client, world, "worker_a", task, status="signed")
    assert signed.status_code == 200
    done = _patch(client, world, "worker_a", signed.get_json(), status="done", result="已核实")
    assert done.status_code == 200
    assert (done.get_json()["status"], done.get_json()["result"]) == ("done", "已核实")


def test_a_worker_reassigning_their_own_task_is_403(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    response = _patch(client, world, "worker_a", task, assignee_id=str(world.users["worker_a2"].id))
    assert response.status_code == 403
    assert response.get_json()["detail"] == NO_REASSIGN
    assert _stored(task) == (world.users["worker_a"].id, "assigned", 1)


def test_a_worker_cancelling_their_own_task_is_403(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    response = _patch(client, world, "worker_a", task, status="cancelled")
    assert response.status_code == 403
    assert response.get_json()["detail"] == NO_CANCEL
    assert _stored(task) == (world.users["worker_a"].id, "assigned", 1)


@pytest.mark.parametrize(
    "change",
    [{"status": "cancelled"}, {"status": "done"}, {"result": "不用做了"}, {"assignee_id": "self"}],
)
def test_a_worker_writing_a_task_of_another_worker_of_their_grid_is_403(
    client: FlaskClient, world: RegistryWorld, change: dict[str, str]
) -> None:
    task = _task(client, world, assignee="worker_a2")
    if change.get("assignee_id") == "self":
        change = {"assignee_id": str(world.users["worker_a"].id)}
    response = _patch(client, world, "worker_a", task, **change)
    assert response.status_code == 403
    assert response.get_json()["detail"] == NOT_YOURS
    assert _stored(task) == (world.users["worker_a2"].id, "assigned", 1)


def test_a_worker_deleting_a_task_is_403_and_it_stays(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    response = client.delete(
        f"/api/v1/tasks/{task['id']}?expected_version=1", headers=world.headers["worker_a"]
    )
    assert response.status_code == 403
    assert response.get_json()["detail"] == NO_DELETE
    db.session.expire_all()
    stored = db.session.get(Task, uuid.UUID(task["id"]))
    assert stored is not None
    assert (stored.deleted_at, stored.version) == (None, 1)


def test_a_dispatcher_deletes_a_task(client: FlaskClient, world: RegistryWorld) -> None:
    task = _task(client, world)
    response = client.delete(
        f"/api/v1/tasks/{task['id']}?expected_version=1", headers=world.headers["dispatcher_a"]
    )
    assert response.status_code == 200


def test_a_worker_creates_a_task_for_themselves(client: FlaskClient, world: RegistryWorld) -> None:
    response = _create(client, world, "worker_a", world.users["worker_a"].id)
    assert response.status_code == 201


def test_a_worker_creating_a_task_for_another_worker_of_their_grid_is_403(
    client: FlaskClient, world: RegistryWorld
) -> None:
    response = _create(client, world, "worker_a", world.users["worker_a2"].id)
    assert response.status_code == 403
    assert response.get_json()["detail"] == OWN_TASKS_ONLY


def test_a_task_with_a_bad_field_is_answered_for_that_field_alone(
    client: FlaskClient, world: RegistryWorld
) -> None:
    body = {
        "task_type": "verify",
        "title": "长" * 201,
        "assignee_id": str(world.users["auditor"].id),
        "target_grid_id": str(world.grid_a.id),
    }
    response = client.post("/api/v1/tasks", json=body, headers=world.headers["dispatcher_a"])
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"title"}
