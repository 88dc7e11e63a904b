"""Assigning workers to grids and dispatchers to org units: open, end, history, who may read."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from server.auth.models import Role, User
from server.hierarchy.models import Grid
from tests.factories import (
    assign_worker,
    auth_headers,
    make_grid,
    make_org_tree,
    make_user,
    square_wkt,
)


def a_grid() -> Grid:
    return make_grid(make_org_tree().community, square_wkt(108.70, 34.30))


def open_grid(client: FlaskClient, admin: User, user: User, grid: Grid) -> Any:
    return client.post(
        "/api/v1/grid-assignments",
        json={"user_id": str(user.id), "grid_id": str(grid.id)},
        headers=auth_headers(admin),
    )


def test_admin_opens_a_grid_assignment(client: FlaskClient) -> None:
    grid, admin, worker = a_grid(), make_user(Role.ADMIN), make_user(Role.WORKER)
    response = open_grid(client, admin, worker, grid)
    assert response.status_code == 201
    body = response.get_json()
    assert body["current"] is True
    assert body["valid_to"] is None
    assert body["assigned_by"] == str(admin.id)


def test_a_second_open_assignment_of_the_same_pair_is_409(client: FlaskClient) -> None:
    grid, admin, worker = a_grid(), make_user(Role.ADMIN), make_user(Role.WORKER)
    open_grid(client, admin, worker, grid)
    response = open_grid(client, admin, worker, grid)
    assert response.status_code == 409
    assert response.get_json()["code"] == "duplicate"


def test_only_workers_are_assigned_to_grids(client: FlaskClient) -> None:
    grid, admin = a_grid(), make_user(Role.ADMIN)
    response = open_grid(client, admin, make_user(Role.DISPATCHER), grid)
    assert response.status_code == 422
    assert "user_id" in response.get_json()["errors"]


def test_only_dispatchers_are_assigned_to_org_units(client: FlaskClient) -> None:
    tree, admin = make_org_tree(), make_user(Role.ADMIN)
    response = client.post(
        "/api/v1/org-assignments",
        json={"user_id": str(make_user(Role.WORKER).id), "org_unit_id": str(tree.town.id)},
        headers=auth_headers(admin),
    )
    assert response.status_code == 422
    assert "user_id" in response.get_json()["errors"]


def test_ending_keeps_the_history_and_allows_a_new_assignment(client: FlaskClient) -> None:
    grid, admin, worker = a_grid(), make_user(Role.ADMIN), make_user(Role.WORKER)
    first = open_grid(client, admin, worker, grid).get_json()
    ended = client.post(f"/api/v1/grid-assignments/{first['id']}/end", headers=auth_headers(admin))
    assert ended.status_code == 200
    assert ended.get_json()["current"] is False
    assert open_grid(client, admin, worker, grid).status_code == 201
    listed = client.get(
        f"/api/v1/grid-assignments?user_id={worker.id}", headers=auth_headers(admin)
    ).get_json()["items"]
    assert sorted(item["current"] for item in listed) == [False, True]


def test_ending_twice_is_409(client: FlaskClient) -> None:
    grid, admin, worker = a_grid(), make_user(Role.ADMIN), make_user(Role.WORKER)
    opened = open_grid(client, admin, worker, grid).get_json()
    url = f"/api/v1/grid-assignments/{opened['id']}/end"
    client.post(url, headers=auth_headers(admin))
    assert client.post(url, headers=auth_headers(admin)).status_code == 409


def test_current_filter_separates_open_from_ended(client: FlaskClient) -> None:
    grid, admin, worker = a_grid(), make_user(Role.ADMIN), make_user(Role.WORKER)
    opened = open_grid(client, admin, worker, grid).get_json()
    client.post(f"/api/v1/grid-assignments/{opened['id']}/end", headers=auth_headers(admin))
    headers = auth_headers(admin)
    current = client.get("/api/v1/grid-assignments?current=true", headers=headers)
    ended = client.get("/api/v1/grid-assignments?current=false", headers=headers)
    assert current.get_json()["items"] == []
    assert [item["id"] for item in ended.get_json()["items"]] == [opened["id"]]


def test_worker_lists_only_their_own_assignments(client: FlaskClient) -> None:
    grid = a_grid()
    me, other = make_user(Role.WORKER), make_user(Role.WORKER)
    mine = assign_worker(me, grid)
    assign_worker(other, grid)
    response = client.get("/api/v1/grid-assignments", headers=auth_headers(me))
    assert response.status_code == 200
    assert [item["id"] for item in response.get_json()["items"]] == [str(mine.id)]


def test_worker_cannot_ask_for_someone_elses_assignments(client: FlaskClient) -> None:
    me, other = make_user(Role.WORKER), make_user(Role.WORKER)
    response = client.get(f"/api/v1/grid-assignments?user_id={other.id}", headers=auth_headers(me))
    assert response.status_code == 403


def test_dispatcher_cannot_list_grid_assignments(client: FlaskClient) -> None:
    response = client.get(
        "/api/v1/grid-assignments", headers=auth_headers(make_user(Role.DISPATCHER))
    )
    assert response.status_code == 403


def test_non_admin_cannot_assign(client: FlaskClient) -> None:
    grid, dispatcher, worker = a_grid(), make_user(Role.DISPATCHER), make_user(Role.WORKER)
    assert open_grid(client, dispatcher, worker, grid).status_code == 403


def test_non_admin_cannot_end_an_assignment(client: FlaskClient) -> None:
    grid, worker = a_grid(), make_user(Role.WORKER)
    assignment = assign_worker(worker, grid)
    response = client.post(
        f"/api/v1/grid-assignments/{assignment.id}/end", headers=auth_headers(worker)
    )
    assert response.status_code == 403


def test_dispatcher_assignment_opens_ends_and_lists(client: FlaskClient) -> None:
    tree, admin, dispatcher = make_org_tree(), make_user(Role.ADMIN), make_user(Role.DISPATCHER)
    headers = auth_headers(admin)
    opened = client.post(
        "/api/v1/org-assignments",
        json={"user_id": str(dispatcher.id), "org_unit_id": str(tree.town.id)},
        headers=headers,
    )
    assert opened.status_code == 201
    duplicate = client.post(
        "/api/v1/org-assignments",
        json={"user_id": str(dispatcher.id), "org_unit_id": str(tree.town.id)},
        headers=headers,
    )
    assert duplicate.status_code == 409
    ended = client.post(f"/api/v1/org-assignments/{opened.get_json()['id']}/end", headers=headers)
    assert ended.get_json()["current"] is False
    own = client.get("/api/v1/org-assignments", headers=auth_headers(dispatcher))
    assert [item["id"] for item in own.get_json()["items"]] == [opened.get_json()["id"]]


def test_ending_an_unknown_assignment_is_404(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/org-assignments/00000000-0000-4000-8000-000000000000/end",
        headers=auth_headers(make_user(Role.ADMIN)),
    )
    assert response.status_code == 404


def test_a_misspelt_filter_is_422_rather_than_everyones_assignments(client: FlaskClient) -> None:
    grid = a_grid()
    admin, worker = make_user(Role.ADMIN), make_user(Role.WORKER)
    assign_worker(worker, grid)
    assign_worker(make_user(Role.WORKER), grid)
    response = client.get(
        f"/api/v1/grid-assignments?userid={worker.id}", headers=auth_headers(admin)
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"userid"}
