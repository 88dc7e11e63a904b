"""Who sees which grids: GET /api/v1/grids and /api/v1/grids/{id} follow the caller's scope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask.testing import FlaskClient

from server.auth.models import Role
from server.auth.principal import Principal
from server.extensions import db
from server.hierarchy.models import OrgLevel
from server.hierarchy.scope import resolve_scope
from tests.factories import (
    assign_dispatcher,
    assign_worker,
    auth_headers,
    make_grid,
    make_org_tree,
    make_org_unit,
    make_user,
    square_wkt,
)


def codes(response: object) -> set[str]:
    body = response.get_json()  # type: ignore[attr-defined]
    assert body["type"] == "FeatureCollection"
    return {f["properties"]["code"] for f in body["features"]}


def two_towns() -> dict[str, object]:
    """Town T (grids t1, t2) and its sibling town U (grid u1) under one new city."""
    tree = make_org_tree()
    town_u = make_org_unit(OrgLevel.TOWN, tree.new_city)
    community_u = make_org_unit(OrgLevel.COMMUNITY, town_u)
    return {
        "tree": tree,
        "town_u": town_u,
        "t1": make_grid(tree.community, square_wkt(108.70, 34.30)),
        "t2": make_grid(tree.community, square_wkt(108.71, 34.30)),
        "u1": make_grid(community_u, square_wkt(108.80, 34.30)),
    }


def test_worker_sees_only_their_own_grids(client: FlaskClient) -> None:
    world = two_towns()
    worker_a, worker_b = make_user(Role.WORKER), make_user(Role.WORKER)
    assign_worker(worker_a, world["t1"])  # type: ignore[arg-type]
    assign_worker(worker_b, world["t2"])  # type: ignore[arg-type]
    response = client.get("/api/v1/grids", headers=auth_headers(worker_a))
    assert response.status_code == 200
    assert codes(response) == {world["t1"].code}  # type: ignore[attr-defined]


def test_grid_feature_carries_the_documented_properties(client: FlaskClient) -> None:
    world = two_towns()
    worker = make_user(Role.WORKER)
    assign_worker(worker, world["t1"])  # type: ignore[arg-type]
    feature = client.get("/api/v1/grids", headers=auth_headers(worker)).get_json()["features"][0]
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert set(feature["properties"]) == {
        "id", "code", "name", "kind", "community_id", "version", "valid_from"
    }  # fmt: skip
    assert feature["properties"]["version"] == 1


def test_other_workers_grid_reads_exactly_like_an_unknown_grid(client: FlaskClient) -> None:
    world = two_towns()
    worker_a, worker_b = make_user(Role.WORKER), make_user(Role.WORKER)
    assign_worker(worker_a, world["t1"])  # type: ignore[arg-type]
    assign_worker(worker_b, world["t2"])  # type: ignore[arg-type]
    headers = auth_headers(worker_a)
    theirs = client.get(f"/api/v1/grids/{world['t2'].id}", headers=headers)  # type: ignore[attr-defined]
    unknown = client.get(f"/api/v1/grids/{uuid.uuid4()}", headers=headers)
    assert theirs.status_code == unknown.status_code == 404
    strip = {"request_id"}
    assert {k: v for k, v in theirs.get_json().items() if k not in strip} == {
        k: v for k, v in unknown.get_json().items() if k not in strip
    }


def test_worker_reads_their_own_grid_by_id(client: FlaskClient) -> None:
    world = two_towns()
    worker = make_user(Role.WORKER)
    assign_worker(worker, world["t1"])  # type: ignore[arg-type]
    grid_id = world["t1"].id  # type: ignore[attr-defined]
    response = client.get(f"/api/v1/grids/{grid_id}", headers=auth_headers(worker))
    assert response.status_code == 200
    assert response.get_json()["id"] == str(grid_id)


def test_worker_without_a_grid_gets_an_empty_collection(client: FlaskClient) -> None:
    two_towns()
    worker = make_user(Role.WORKER)
    response = client.get("/api/v1/grids", headers=auth_headers(worker))
    assert response.status_code == 200
    assert response.get_json() == {"type": "FeatureCollection", "features": []}


def test_dispatcher_of_a_town_sees_its_grids_and_none_of_the_sibling_town(
    client: FlaskClient,
) -> None:
    world = two_towns()
    dispatcher = make_user(Role.DISPATCHER)
    assign_dispatcher(dispatcher, world["tree"].town)  # type: ignore[attr-defined]
    response = client.get("/api/v1/grids", headers=auth_headers(dispatcher))
    assert codes(response) == {world["t1"].code, world["t2"].code}  # type: ignore[attr-defined]


def test_dispatcher_cannot_read_a_grid_of_the_sibling_town(client: FlaskClient) -> None:
    world = two_towns()
    dispatcher = make_user(Role.DISPATCHER)
    assign_dispatcher(dispatcher, world["tree"].town)  # type: ignore[attr-defined]
    grid_id = world["u1"].id  # type: ignore[attr-defined]
    response = client.get(f"/api/v1/grids/{grid_id}", headers=auth_headers(dispatcher))
    assert response.status_code == 404


def test_admin_and_auditor_see_every_grid(client: FlaskClient) -> None:
    world = two_towns()
    everything = {world[k].code for k in ("t1", "t2", "u1")}  # type: ignore[attr-defined]
    for role in (Role.ADMIN, Role.AUDITOR):
        response = client.get("/api/v1/grids", headers=auth_headers(make_user(role)))
        assert codes(response) == everything


def test_bbox_keeps_only_grids_meeting_the_box(client: FlaskClient) -> None:
    world = two_towns()
    admin = make_user(Role.ADMIN)
    response = client.get(
        "/api/v1/grids?bbox=108.795,34.295,108.85,34.35", headers=auth_headers(admin)
    )
    assert response.status_code == 200
    assert codes(response) == {world["u1"].code}  # type: ignore[attr-defined]


def test_malformed_bbox_is_422(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    for bad in ("1,2,3", "a,b,c,d", "108.9,34.3,108.8,34.4"):
        response = client.get(f"/api/v1/grids?bbox={bad}", headers=auth_headers(admin))
        assert response.status_code == 422, bad
        assert "bbox" in response.get_json()["errors"]


def test_grids_need_a_login(client: FlaskClient) -> None:
    assert client.get("/api/v1/grids").status_code == 401


def test_a_new_assignment_takes_effect_on_the_next_request(client: FlaskClient) -> None:
    world = two_towns()
    admin, worker = make_user(Role.ADMIN), make_user(Role.WORKER)
    admin_h, worker_h = auth_headers(admin), auth_headers(worker)
    assert codes(client.get("/api/v1/grids", headers=worker_h)) == set()
    grid = world["t1"]
    opened = client.post(
        "/api/v1/grid-assignments",
        json={"user_id": str(worker.id), "grid_id": str(grid.id)},  # type: ignore[attr-defined]
        headers=admin_h,
    )
    assert opened.status_code == 201
    assert codes(client.get("/api/v1/grids", headers=worker_h)) == {grid.code}  # type: ignore[attr-defined]
    ended = client.post(f"/api/v1/grid-assignments/{opened.get_json()['id']}/end", headers=admin_h)
    assert ended.status_code == 200
    assert codes(client.get("/api/v1/grids", headers=worker_h)) == set()


def test_a_dispatcher_assignment_takes_effect_on_the_next_request(client: FlaskClient) -> None:
    world = two_towns()
    admin, dispatcher = make_user(Role.ADMIN), make_user(Role.DISPATCHER)
    admin_h, dispatcher_h = auth_headers(admin), auth_headers(dispatcher)
    town_u = world["town_u"]
    opened = client.post(
        "/api/v1/org-assignments",
        json={"user_id": str(dispatcher.id), "org_unit_id": str(town_u.id)},  # type: ignore[attr-defined]
        headers=admin_h,
    )
    assert opened.status_code == 201
    assert codes(client.get("/api/v1/grids", headers=dispatcher_h)) == {world["u1"].code}  # type: ignore[attr-defined]
    client.post(f"/api/v1/org-assignments/{opened.get_json()['id']}/end", headers=admin_h)
    assert codes(client.get("/api/v1/grids", headers=dispatcher_h)) == set()


def test_a_retired_grid_leaves_a_workers_scope_even_with_an_open_assignment(
    client: FlaskClient,
) -> None:
    world = two_towns()
    worker = make_user(Role.WORKER)
    grid = world["t1"]
    assign_worker(worker, grid)  # type: ignore[arg-type]
    grid.retired_at = datetime.now(UTC)  # type: ignore[attr-defined]
    db.session.commit()
    principal = Principal(worker.id, worker.username, Role.WORKER, uuid.uuid4(), uuid.uuid4())
    assert not resolve_scope(principal).allows_grid(grid.id)  # type: ignore[attr-defined]


def test_an_unknown_query_parameter_is_422_not_silently_ignored(client: FlaskClient) -> None:
    two_towns()
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.get("/api/v1/grids?bbx=108.0,34.0,109.0,35.0", headers=admin)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"bbx"}
