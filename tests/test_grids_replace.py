"""A grid drawn or re-drawn outside a redraw still moves the records under it: the land a grid
gives up takes its records with it, and a new grid takes the records on its land."""

from __future__ import annotations

from flask.testing import FlaskClient

from server.audit.models import AuditEntry
from server.auth.models import Role
from server.extensions import db
from server.hierarchy.models import Grid
from tests.factories import (
    IN_A,
    assign_worker,
    auth_headers,
    create_record,
    make_registry_world,
    make_user,
)
from tests.test_redraw_apply import rect


def test_a_boundary_patch_and_a_new_grid_move_the_records_of_the_land_with_them(
    client: FlaskClient,
) -> None:
    # Grid A is [108.90, 108.91] x [34.20, 34.21]; IN_A = (108.905, 34.205).
    world = make_registry_world()
    worker_a, admin = world.headers["worker_a"], world.headers["admin"]
    person = create_record(client, worker_a, "persons", IN_A)
    shrunk = client.patch(
        f"/api/v1/grids/{world.grid_a.id}",
        json={"geometry": rect(108.90, 34.20, 108.903, 34.21), "expected_version": 1},
        headers=admin,
    )
    assert shrunk.status_code == 200, shrunk.get_json()
    # The person's door is no longer in grid A: neither are the door and the person.
    assert client.get(f"/api/v1/persons/{person['id']}", headers=worker_a).status_code == 404
    shown = client.get(f"/api/v1/persons/{person['id']}", headers=admin).get_json()
    assert shown["grid_id"] is None
    assert shown["version"] == person["version"] + 1  # a move the phones pull
    audit = db.session.query(AuditEntry).filter_by(action="update", record_type="grid").one()
    assert audit.detail["moved"] == 2  # the door and the person

    drawn = client.post(
        "/api/v1/grids",
        json={
            "name": "A2",
            "kind": "comprehensive",
            "community_id": str(world.tree.community.id),
            "geometry": rect(108.903, 34.20, 108.91, 34.21),
        },
        headers=admin,
    )
    assert drawn.status_code == 201, drawn.get_json()
    worker_a2 = make_user(Role.WORKER)
    assign_worker(worker_a2, db.session.get(Grid, drawn.get_json()["id"]))
    seen = client.get(f"/api/v1/persons/{person['id']}", headers=auth_headers(worker_a2))
    assert seen.status_code == 200
    assert seen.get_json()["grid_id"] == drawn.get_json()["id"]
    assert client.get(f"/api/v1/persons/{person['id']}", headers=worker_a).status_code == 404
