"""Scope: a record outside the caller's slice is indistinguishable from one that does not exist."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import (
    IN_A,
    IN_B,
    REGISTRY_ENTITIES,
    RegistryWorld,
    create_record,
    make_grid,
    make_registry_world,
    square_wkt,
)


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def _in_grid_b(client: FlaskClient, world: RegistryWorld, entity: str) -> dict[str, Any]:
    return create_record(
        client,
        world.headers["worker_b"],
        entity,
        IN_B,
        assignee=world.users["worker_b"],
        grid=world.grid_b,
    )


def _without_request_id(response: Any) -> dict[str, Any]:
    body = dict(response.get_json())
    body.pop("request_id", None)
    return body


def _act(client: FlaskClient, action: str, entity: str, record_id: str, headers: Any) -> Any:
    path = f"/api/v1/{entity}/{record_id}"
    if action == "read":
        return client.get(path, headers=headers)
    if action == "update":
        return client.patch(path, json={"expected_version": 1}, headers=headers)
    return client.delete(f"{path}?expected_version=1", headers=headers)


@pytest.mark.parametrize("action", ["read", "update", "delete"])
@pytest.mark.parametrize("entity", REGISTRY_ENTITIES)
def test_worker_of_grid_a_gets_the_same_404_for_grid_b_as_for_a_random_id(
    client: FlaskClient, world: RegistryWorld, entity: str, action: str
) -> None:
    record = _in_grid_b(client, world, entity)
    headers = world.headers["worker_a"]
    theirs = _act(client, action, entity, record["id"], headers)
    nobodys = _act(client, action, entity, str(uuid.uuid4()), headers)
    assert theirs.status_code == nobodys.status_code == 404
    assert _without_request_id(theirs) == _without_request_id(nobodys)
    assert record["id"] not in theirs.get_data(as_text=True)


@pytest.mark.parametrize("entity", REGISTRY_ENTITIES)
def test_worker_of_grid_a_lists_and_searches_nothing_of_grid_b(
    client: FlaskClient, world: RegistryWorld, entity: str
) -> None:
    record = _in_grid_b(client, world, entity)
    headers = world.headers["worker_a"]
    listed = client.get(f"/api/v1/{entity}", headers=headers)
    assert listed.status_code == 200
    assert listed.get_json() == {"items": [], "next_cursor": None, "total": 0}
    by_grid = client.get(f"/api/v1/{entity}?grid_id={world.grid_b.id}", headers=headers)
    assert by_grid.get_json()["total"] == 0
    assert record["id"] not in listed.get_data(as_text=True) + by_grid.get_data(as_text=True)


@pytest.mark.parametrize(
    ("entity", "query"),
    [
        ("persons", "q=张三"),
        ("organizations", "q=秦创原"),
        ("addresses", "q=长安路"),
        ("incidents", "q=暴露"),
    ],
)
def test_text_search_never_reaches_another_grid(
    client: FlaskClient, world: RegistryWorld, entity: str, query: str
) -> None:
    _in_grid_b(client, world, entity)
    mine = create_record(client, world.headers["worker_a"], entity, IN_A)
    found = client.get(f"/api/v1/{entity}?{query}", headers=world.headers["worker_a"])
    assert [item["id"] for item in found.get_json()["items"]] == [mine["id"]]
    assert found.get_json()["total"] == 1


@pytest.mark.parametrize("entity", REGISTRY_ENTITIES)
def test_dispatcher_sees_its_subtree_and_nothing_of_the_sibling_town(
    client: FlaskClient, world: RegistryWorld, entity: str
) -> None:
    in_b = _in_grid_b(client, world, entity)
    seen = client.get(f"/api/v1/{entity}/{in_b['id']}", headers=world.headers["dispatcher_b"])
    assert seen.status_code == 200
    assert (
        client.get(f"/api/v1/{entity}", headers=world.headers["dispatcher_b"]).get_json()["total"]
        >= 1
    )
    hidden = client.get(f"/api/v1/{entity}/{in_b['id']}", headers=world.headers["dispatcher_a"])
    assert hidden.status_code == 404
    listed = client.get(f"/api/v1/{entity}", headers=world.headers["dispatcher_a"])
    assert listed.get_json()["total"] == 0


@pytest.mark.parametrize("entity", REGISTRY_ENTITIES)
def test_worker_with_no_grid_sees_nothing(
    client: FlaskClient, world: RegistryWorld, entity: str
) -> None:
    record = _in_grid_b(client, world, entity)
    headers = world.headers["worker_none"]
    assert client.get(f"/api/v1/{entity}/{record['id']}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/{entity}", headers=headers).get_json()["total"] == 0


def test_worker_cannot_place_a_point_in_another_workers_grid(
    client: FlaskClient, world: RegistryWorld
) -> None:
    response = client.post(
        "/api/v1/addresses",
        json={
            "kind": "door",
            "full_text": "长安路9号",
            "point": {"type": "Point", "coordinates": list(IN_B)},
        },
        headers=world.headers["worker_a"],
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"point": ["This location is outside your grids."]}
    admin_list = client.get("/api/v1/addresses", headers=world.headers["admin"]).get_json()
    assert admin_list["total"] == 0


def test_worker_cannot_hang_a_house_off_an_address_in_another_grid(
    client: FlaskClient, world: RegistryWorld
) -> None:
    address = create_record(client, world.headers["worker_b"], "addresses", IN_B)
    response = client.post(
        "/api/v1/houses",
        json={"address_id": address["id"], "house_use": "01", "occupancy": "01"},
        headers=world.headers["worker_a"],
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"address_id": ["No such record."]}


def test_worker_cannot_move_a_record_out_of_their_grids(
    client: FlaskClient, world: RegistryWorld
) -> None:
    address = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    moved = client.patch(
        f"/api/v1/addresses/{address['id']}",
        json={"expected_version": 1, "point": {"type": "Point", "coordinates": list(IN_B)}},
        headers=world.headers["worker_a"],
    )
    assert moved.status_code == 422
    again = client.get(f"/api/v1/addresses/{address['id']}", headers=world.headers["worker_a"])
    assert again.get_json()["version"] == 1
    assert again.get_json()["grid_id"] == str(world.grid_a.id)


def test_auditor_reads_but_cannot_write(client: FlaskClient, world: RegistryWorld) -> None:
    record = _in_grid_b(client, world, "addresses")
    assert (
        client.get(
            f"/api/v1/addresses/{record['id']}", headers=world.headers["auditor"]
        ).status_code
        == 200
    )
    refused = client.post(
        "/api/v1/addresses",
        json={"kind": "street", "full_text": "长安路"},
        headers=world.headers["auditor"],
    )
    assert refused.status_code == 403


def test_an_out_of_scope_404_carries_no_field_of_the_record(
    client: FlaskClient, world: RegistryWorld
) -> None:
    person = _in_grid_b(client, world, "persons")
    response = client.get(f"/api/v1/persons/{person['id']}", headers=world.headers["worker_a"])
    text = json.dumps(response.get_json(), ensure_ascii=False)
    assert "张三" not in text
    assert person["id"] not in text


def test_an_id_number_search_never_finds_a_person_in_another_grid(
    client: FlaskClient, world: RegistryWorld
) -> None:
    address_b = create_record(client, world.headers["worker_b"], "addresses", IN_B)
    number = "11010519491231002X"
    created = client.post(
        "/api/v1/persons",
        json={
            "id_type": "111",
            "id_number": number,
            "name": "李四",
            "sex": "2",
            "population_type": "01",
            "address_id": address_b["id"],
        },
        headers=world.headers["worker_b"],
    )
    assert created.status_code == 201
    mine = client.get(f"/api/v1/persons?id_number={number}", headers=world.headers["worker_a"])
    theirs = client.get(f"/api/v1/persons?id_number={number}", headers=world.headers["worker_b"])
    assert mine.get_json()["total"] == 0
    assert theirs.get_json()["total"] == 1


def test_dispatchers_reach_unassigned_records_only_through_the_unassigned_list(
    client: FlaskClient, world: RegistryWorld
) -> None:
    created = create_record(client, world.headers["admin"], "addresses", (108.95, 34.25))
    assert created["grid_id"] is None
    # Inside community A's outline (its grids' union) once this grid exists; not yet re-placed.
    make_grid(world.tree.community, square_wkt(108.94, 34.24))
    headers = world.headers["dispatcher_a"]
    assert client.get("/api/v1/addresses", headers=headers).get_json()["total"] == 0
    unassigned = client.get("/api/v1/unassigned?type=addresses", headers=headers).get_json()
    assert [item["id"] for item in unassigned["items"]] == [created["id"]]
    assert client.get(f"/api/v1/addresses/{created['id']}", headers=headers).status_code == 200
