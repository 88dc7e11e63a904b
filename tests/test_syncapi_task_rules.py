"""Tasks over sync keep the web API's assignment rules: a task goes to an active worker of its
grid, and a worker may only work the tasks given to them. Refused ops are rejected, kept for
review, and change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from server.auth.models import Role
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
    IN_B,
    NOT_WORKERS_OF_A,
    RegistryWorld,
    assign_worker,
    auth_headers,
    create_record,
    make_task_world,
    make_user,
)
from tests.test_syncapi_push_pull import address_op, push, resolve, stamp, sync_op


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_task_world()


def _address(client: FlaskClient, world: RegistryWorld, where: Any = None) -> str:
    who = "worker_b" if where == IN_B else "worker_a"
    op = address_op(where) if where else address_op()
    assert push(client, world.headers[who], op)[0]["status"] == "applied"
    return str(op["record_id"])


def _create_op(target: str, assignee: uuid.UUID, **fields: Any) -> dict[str, Any]:
    """A create of a task to verify the door `target`, given to `assignee`."""
    task = {
        "task_type": "verify",
        "title": "核实门牌",
        "assignee_id": str(assignee),
        "target_type": "address",
        "target_id": target,
    }
    return sync_op("task", str(uuid.uuid4()), "create", None, **{**task, **fields})


def _task(client: FlaskClient, world: RegistryWorld, assignee: str = "worker_a") -> Any:
    """A task of grid A, given on the web by the dispatcher of town A."""
    return create_record(
        client,
        world.headers["dispatcher_a"],
        "tasks",
        (0.0, 0.0),
        assignee=world.users[assignee],
        grid=world.grid_a,
    )


def _stored(task_id: str) -> tuple[uuid.UUID, str, int, bool]:
    db.session.expire_all()
    row = db.session.get(Task, uuid.UUID(task_id))
    assert row is not None
    return row.assignee_id, row.status, row.version, row.deleted_at is not None


def _kept_reason(op: dict[str, Any]) -> str | None:
    found: str | None = db.session.scalar(
        sa.text("SELECT reason FROM rejected_ops WHERE op_id = :o"), {"o": op["op_id"]}
    )
    return found


@pytest.mark.parametrize("assignee", NOT_WORKERS_OF_A)
def test_a_pushed_task_for_anyone_but_an_active_worker_of_its_grid_is_rejected(
    client: FlaskClient, world: RegistryWorld, assignee: str
) -> None:
    op = _create_op(_address(client, world), world.users[assignee].id)
    (result,) = push(client, world.headers["dispatcher_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert result["field_errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}
    assert db.session.get(Task, uuid.UUID(op["record_id"])) is None
    assert _kept_reason(op) == "invalid_fields"


def test_a_pushed_task_for_a_user_who_does_not_exist_is_rejected(
    client: FlaskClient, world: RegistryWorld
) -> None:
    op = _create_op(_address(client, world), uuid.uuid4())
    (result,) = push(client, world.headers["dispatcher_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert result["field_errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}


def test_a_pushed_task_without_a_target_is_in_no_grid_and_can_be_held_by_nobody(
    client: FlaskClient, world: RegistryWorld
) -> None:
    op = _create_op(str(uuid.uuid4()), world.users["worker_a"].id)
    del op["fields"]["target_type"], op["fields"]["target_id"]
    (result,) = push(client, world.headers["dispatcher_a"], op)
    assert result["field_errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}


@pytest.mark.parametrize("assignee", NOT_WORKERS_OF_A)
def test_a_pushed_reassignment_to_anyone_but_an_active_worker_of_the_grid_is_rejected(
    client: FlaskClient, world: RegistryWorld, assignee: str
) -> None:
    task = _task(client, world)
    op = sync_op("task", task["id"], "patch", 1, assignee_id=str(world.users[assignee].id))
    (result,) = push(client, world.headers["dispatcher_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert result["field_errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}
    assert _stored(task["id"]) == (world.users["worker_a"].id, "assigned", 1, False)


def test_a_dispatcher_reassigns_a_task_to_another_worker_of_its_grid_over_sync(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    op = sync_op("task", task["id"], "patch", 1, assignee_id=str(world.users["worker_a2"].id))
    (result,) = push(client, world.headers["dispatcher_a"], op)
    assert result["status"] == "applied", result
    assert _stored(task["id"]) == (world.users["worker_a2"].id, "assigned", 2, False)


def test_a_dispatcher_cancels_a_task_over_sync(client: FlaskClient, world: RegistryWorld) -> None:
    task = _task(client, world)
    (result,) = push(
        client,
        world.headers["dispatcher_a"],
        sync_op("task", task["id"], "patch", 1, status="cancelled"),
    )
    assert result["status"] == "applied", result
    assert _stored(task["id"])[1] == "cancelled"


def test_a_worker_signs_and_reports_on_their_own_task_over_sync(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    op = sync_op("task", task["id"], "patch", 1, status="signed", result="已到现场")
    (result,) = push(client, world.headers["worker_a"], op)
    assert result["status"] == "applied", result
    assert _stored(task["id"]) == (world.users["worker_a"].id, "signed", 2, False)


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"assignee_id": "worker_a2"}, {"assignee_id": [NO_REASSIGN]}),
        ({"status": "cancelled"}, {"status": [NO_CANCEL]}),
    ],
)
def test_a_worker_reassigning_or_cancelling_their_own_task_over_sync_changes_nothing(
    client: FlaskClient, world: RegistryWorld, change: dict[str, str], errors: Any
) -> None:
    task = _task(client, world)
    if "assignee_id" in change:
        change = {"assignee_id": str(world.users[change["assignee_id"]].id)}
    op = sync_op("task", task["id"], "patch", 1, **change)
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")
    assert result["field_errors"] == errors
    assert _stored(task["id"]) == (world.users["worker_a"].id, "assigned", 1, False)
    assert _kept_reason(op) == "out_of_scope"


@pytest.mark.parametrize(
    "change",
    [{"status": "cancelled"}, {"status": "done"}, {"result": "不用做了"}, {"assignee_id": "self"}],
)
def test_a_worker_writing_a_task_of_another_worker_of_their_grid_over_sync_changes_nothing(
    client: FlaskClient, world: RegistryWorld, change: dict[str, str]
) -> None:
    task = _task(client, world, assignee="worker_a2")
    if change.get("assignee_id") == "self":
        change = {"assignee_id": str(world.users["worker_a"].id)}
    (result,) = push(
        client, world.headers["worker_a"], sync_op("task", task["id"], "patch", 1, **change)
    )
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")
    assert result["field_errors"] == {"_op": [NOT_YOURS]}
    assert _stored(task["id"]) == (world.users["worker_a2"].id, "assigned", 1, False)


def test_a_worker_deleting_a_task_over_sync_changes_nothing(
    client: FlaskClient, world: RegistryWorld
) -> None:
    task = _task(client, world)
    (result,) = push(client, world.headers["worker_a"], sync_op("task", task["id"], "delete", 1))
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")
    assert result["field_errors"] == {"_op": [NO_DELETE]}
    assert _stored(task["id"]) == (world.users["worker_a"].id, "assigned", 1, False)


def test_a_worker_creating_a_task_for_another_worker_over_sync_is_rejected(
    client: FlaskClient, world: RegistryWorld
) -> None:
    op = _create_op(_address(client, world), world.users["worker_a2"].id)
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")
    assert result["field_errors"] == {"assignee_id": [OWN_TASKS_ONLY]}
    assert db.session.get(Task, uuid.UUID(op["record_id"])) is None


def test_a_create_of_an_existing_task_cannot_hand_it_to_the_worker_pushing_it(
    client: FlaskClient, world: RegistryWorld
) -> None:
    # A create of an id that exists merges into the record like a patch: the same rules hold.
    address = _address(client, world)
    given = _create_op(address, world.users["worker_a2"].id)
    assert push(client, world.headers["dispatcher_a"], given)[0]["status"] == "applied"
    taken = {**given, "op_id": str(uuid.uuid4())}
    taken["fields"] = {**given["fields"], "assignee_id": str(world.users["worker_a"].id)}
    (result,) = push(client, world.headers["worker_a"], taken)
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")
    assert _stored(given["record_id"])[0] == world.users["worker_a2"].id


def test_a_worker_creates_and_signs_their_own_task_in_one_batch(
    client: FlaskClient, world: RegistryWorld
) -> None:
    create = _create_op(_address(client, world), world.users["worker_a"].id)
    sign = sync_op("task", create["record_id"], "patch", 1, status="signed")
    results = push(client, world.headers["worker_a"], create, sign)
    assert [r["status"] for r in results] == ["applied", "applied"], results
    assert _stored(create["record_id"]) == (world.users["worker_a"].id, "signed", 2, False)


def test_a_worker_cannot_hand_on_a_task_created_earlier_in_the_same_batch(
    client: FlaskClient, world: RegistryWorld
) -> None:
    create = _create_op(_address(client, world), world.users["worker_a"].id)
    hand_on = sync_op(
        "task", create["record_id"], "patch", 1, assignee_id=str(world.users["worker_a2"].id)
    )
    first, second = push(client, world.headers["worker_a"], create, hand_on)
    assert first["status"] == "applied"
    assert (second["status"], second["field_errors"]) == (
        "rejected",
        {"assignee_id": [NO_REASSIGN]},
    )
    assert _stored(create["record_id"])[0] == world.users["worker_a"].id


def test_a_refused_task_outside_the_pushers_grids_is_answered_without_a_word_about_it(
    client: FlaskClient, world: RegistryWorld
) -> None:
    theirs = _create_op(_address(client, world, IN_B), world.users["worker_a"].id)
    (result,) = push(client, world.headers["worker_a"], theirs)
    assert (result["status"], result["reason"], result["field_errors"]) == (
        "rejected",
        "out_of_scope",
        {},
    )


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def test_a_batch_of_task_ops_asks_about_tasks_and_assignees_in_one_statement(
    client: FlaskClient, world: RegistryWorld
) -> None:
    address = _address(client, world)
    tasks = [_task(client, world) for _ in range(10)]
    assignees = [world.users["worker_a"].id, world.users["worker_a2"].id]
    ops = [_create_op(address, assignees[i % 2]) for i in range(10)]
    ops += [
        sync_op("task", t["id"], "patch", 1, assignee_id=str(assignees[i % 2]))
        for i, t in enumerate(tasks)
    ]
    with _statements() as seen:
        results = push(client, world.headers["dispatcher_a"], *ops)
    assert {r["status"] for r in results} == {"applied"}, results
    assert len([s for s in seen if "grid_assignments" in s]) == 1


def test_a_pushed_task_with_a_bad_field_is_answered_for_that_field_alone_as_on_the_web(
    client: FlaskClient, world: RegistryWorld
) -> None:
    op = _create_op(_address(client, world), world.users["auditor"].id, title="长" * 201)
    (result,) = push(client, world.headers["dispatcher_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert set(result["field_errors"]) == {"title"}


def test_the_inbox_gives_a_task_only_to_an_active_worker_of_its_grid(
    client: FlaskClient, world: RegistryWorld
) -> None:
    world.users["worker_a3"] = make_user(Role.WORKER)
    assign_worker(world.users["worker_a3"], world.grid_a)
    task = _task(client, world)
    phone1 = world.headers["dispatcher_a"]
    phone2 = auth_headers(world.users["dispatcher_a"], "phone-2")
    push(
        client,
        phone1,
        sync_op("task", task["id"], "patch", 1, assignee_id=str(world.users["worker_a2"].id)),
    )
    late = {
        **sync_op("task", task["id"], "patch", 1, assignee_id=str(world.users["worker_a3"].id)),
        "stamp": stamp(-60_000),
    }
    (result,) = push(client, phone2, late)
    assert result["status"] == "conflict", result
    (conflict_id,) = result["conflict_ids"]
    for who in ("auditor", "worker_b", "disabled_a"):
        body = {"action": "edit", "value": str(world.users[who].id)}
        response = resolve(client, phone1, conflict_id, body)
        assert response.status_code == 422, who
        assert response.get_json()["errors"] == {"assignee_id": [ASSIGNEE_REFUSED]}
    assert _stored(task["id"])[0] == world.users["worker_a2"].id
    response = resolve(client, phone1, conflict_id, {"action": "take"})
    assert response.status_code == 200, response.get_json()
    assert _stored(task["id"])[0] == world.users["worker_a3"].id
