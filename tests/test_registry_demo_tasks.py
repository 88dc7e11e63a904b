"""Demo tasks keep the assignment rules: each is held by an active worker of its grid."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from server.demo.base_data import load_base_data
from server.demo.service import load_demo
from server.extensions import db
from server.hierarchy.models import GridAssignment
from server.registry.models import Task
from server.registry.services.task_rules import WORKER_GRIDS_SQL
from sync.records import uuid_array


def test_every_demo_task_goes_to_an_active_worker_of_its_grid_and_a_grid_without_one_gets_none(
    app: Flask,
) -> None:
    load_demo()
    # One grid loses its worker before the base data is made.
    left = db.session.scalars(sa.select(GridAssignment).order_by(GridAssignment.grid_id)).first()
    assert left is not None
    left.valid_to = sa.func.now()
    db.session.commit()
    load_base_data(db.session, households_per_grid=3)
    db.session.commit()
    tasks = db.session.execute(sa.select(Task.assignee_id, Task.grid_id)).all()
    assignees = {assignee for assignee, _ in tasks}
    held = set(
        db.session.execute(sa.text(WORKER_GRIDS_SQL), {"assignees": uuid_array(assignees)}).all()
    )
    assert tasks
    assert [t for t in tasks if (t.assignee_id, t.grid_id) not in held] == []
    assert left.grid_id not in {grid for _, grid in tasks}
