"""Tasks name people (a person as target, a title like 走访张三): reading one is audited."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.extensions import db
from tests.factories import create_record, make_registry_world


def test_reading_a_task_leaves_an_audit_row(client: FlaskClient) -> None:
    world = make_registry_world()
    task = create_record(
        client,
        world.headers["dispatcher_a"],
        "tasks",
        (0.0, 0.0),
        assignee=world.users["worker_a"],
        grid=world.grid_a,
    )
    read = client.get(f"/api/v1/tasks/{task['id']}", headers=world.headers["worker_a"])
    assert read.status_code == 200
    reads = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "read", AuditEntry.record_type == "task")
    ).all()
    assert [(e.actor_id, [str(i) for i in e.record_ids]) for e in reads] == [
        (world.users["worker_a"].id, [task["id"]])
    ]
