"""Addresses, houses, organizations, incidents, tasks, visits and follow-up plans."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.extensions import db
from tests.factories import (
    IN_A,
    IN_NO_GRID,
    RegistryWorld,
    create_record,
    make_registry_world,
    point,
    uscc,
)


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def _post(
    client: FlaskClient,
    world: RegistryWorld,
    path: str,
    body: dict[str, Any],
    who: str = "worker_a",
) -> Any:
    return client.post(f"/api/v1/{path}", json=body, headers=world.headers[who])


def test_a_room_without_a_point_inherits_its_parents_point(
    client: FlaskClient, world: RegistryWorld
) -> None:
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    room = _post(
        client, world, "addresses", {"kind": "room", "parent_id": door["id"], "room": "301"}
    )
    assert room.status_code == 201
    assert room.get_json()["point"] == door["point"]
    assert room.get_json()["grid_id"] == str(world.grid_a.id)
    assert room.get_json()["full_text"] == "301"


def test_a_door_without_any_point_is_422(client: FlaskClient, world: RegistryWorld) -> None:
    response = _post(client, world, "addresses", {"kind": "door", "full_text": "长安路1号"})
    assert response.status_code == 422
    assert "point" in response.get_json()["errors"]


def test_a_point_outside_the_district_extent_is_422(
    client: FlaskClient, world: RegistryWorld
) -> None:
    response = _post(
        client,
        world,
        "addresses",
        {"kind": "door", "full_text": "x", "point": point((116.4, 39.9))},
    )
    assert response.status_code == 422
    assert "point" in response.get_json()["errors"]


def test_the_same_address_twice_within_ten_metres_is_accepted_with_a_warning(
    client: FlaskClient, world: RegistryWorld
) -> None:
    first = _post(
        client,
        world,
        "addresses",
        {"kind": "door", "full_text": "长安路 12 号", "point": point(IN_A)},
    )
    near = (IN_A[0] + 0.00003, IN_A[1])
    second = _post(
        client,
        world,
        "addresses",
        {"kind": "door", "full_text": "长安路１２号。", "point": point(near)},
    )
    assert second.status_code == 201
    assert second.get_json()["warnings"] == [
        {"code": "possible_duplicate", "candidate_id": first.get_json()["id"]}
    ]


def test_an_address_far_away_with_the_same_text_gets_no_warning(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _post(
        client,
        world,
        "addresses",
        {"kind": "door", "full_text": "长安路12号", "point": point(IN_A)},
    )
    far = (IN_A[0] + 0.001, IN_A[1])
    second = _post(
        client, world, "addresses", {"kind": "door", "full_text": "长安路12号", "point": point(far)}
    )
    assert second.get_json()["warnings"] == []


def test_located_lists_answer_geojson(client: FlaskClient, world: RegistryWorld) -> None:
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    response = client.get("/api/v1/addresses?format=geojson", headers=world.headers["worker_a"])
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    assert body["features"][0]["id"] == door["id"]
    assert body["features"][0]["geometry"] == door["point"]


def test_a_list_without_points_refuses_geojson(client: FlaskClient, world: RegistryWorld) -> None:
    response = client.get("/api/v1/persons?format=geojson", headers=world.headers["worker_a"])
    assert response.status_code == 422


def test_changed_since_needs_a_zone(client: FlaskClient, world: RegistryWorld) -> None:
    response = client.get(
        "/api/v1/addresses?changed_since=2026-01-01T00:00:00", headers=world.headers["worker_a"]
    )
    assert response.status_code == 422
    assert "changed_since" in response.get_json()["errors"]


def test_a_house_owner_is_masked_for_workers(client: FlaskClient, world: RegistryWorld) -> None:
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    house = _post(
        client,
        world,
        "houses",
        {
            "address_id": door["id"],
            "house_use": "01",
            "occupancy": "02",
            "tenant_count": 3,
            "owner_name": "王五",
            "owner_id_number": "11010519491231002X",
            "owner_phone": "13912345678",
        },
    )
    assert house.status_code == 201
    body = house.get_json()
    assert (body["owner_name"], body["owner_id_number"], body["owner_phone"]) == (
        "王*",
        "110105********002X",
        "139****5678",
    )


def test_a_house_on_a_street_is_422(client: FlaskClient, world: RegistryWorld) -> None:
    street = _post(
        client, world, "addresses", {"kind": "street", "street": "长安路", "point": point(IN_A)}
    )
    house = _post(
        client,
        world,
        "houses",
        {"address_id": street.get_json()["id"], "house_use": "01", "occupancy": "01"},
    )
    assert house.status_code == 422
    assert "address_id" in house.get_json()["errors"]


@pytest.mark.parametrize("bad", ["91310000MA1FL0CM2K", "12345"])
def test_an_invalid_uscc_is_422(client: FlaskClient, world: RegistryWorld, bad: str) -> None:
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    response = _post(
        client,
        world,
        "organizations",
        {"uscc": bad, "name": "x", "org_type": "01", "address_id": door["id"]},
    )
    assert response.status_code == 422
    assert "uscc" in response.get_json()["errors"]


def test_a_repeated_uscc_is_accepted_with_a_warning(
    client: FlaskClient, world: RegistryWorld
) -> None:
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    code = uscc()
    body = {"uscc": code, "name": "秦创原", "org_type": "01", "address_id": door["id"]}
    first = _post(client, world, "organizations", body).get_json()
    second = _post(client, world, "organizations", body)
    assert second.status_code == 201
    assert second.get_json()["warnings"] == [
        {"code": "possible_duplicate", "candidate_id": first["id"]}
    ]


def test_the_documented_usccs_are_accepted(client: FlaskClient, world: RegistryWorld) -> None:
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    for code in ("91350100M000100Y43", "91110000802100433B", "9144030071526726XG"):
        body = {"uscc": code, "name": code, "org_type": "01", "address_id": door["id"]}
        assert _post(client, world, "organizations", body).status_code == 201


def test_an_incident_category_must_belong_to_its_kind(
    client: FlaskClient, world: RegistryWorld
) -> None:
    body = {
        "kind": "dispute",
        "category": "0101",
        "title": "x",
        "occurred_at": "2026-11-20T08:30:00+08:00",
        "urgency": "01",
        "point": point(IN_A),
    }
    response = _post(client, world, "incidents", body)
    assert response.status_code == 422
    assert "category" in response.get_json()["errors"]
    body["category"] = "02"
    assert _post(client, world, "incidents", body).status_code == 201


def test_an_incident_time_without_a_zone_is_422(client: FlaskClient, world: RegistryWorld) -> None:
    body = {
        "kind": "event",
        "category": "0101",
        "title": "x",
        "occurred_at": "2026-11-20T08:30:00",
        "urgency": "01",
        "point": point(IN_A),
    }
    response = _post(client, world, "incidents", body)
    assert response.status_code == 422
    assert "occurred_at" in response.get_json()["errors"]


def test_an_incident_keeps_its_origin_grid_and_hides_an_anonymous_reporter(
    client: FlaskClient, world: RegistryWorld
) -> None:
    body = {
        "kind": "event",
        "category": "0101",
        "title": "暴露垃圾",
        "occurred_at": "2026-11-20T08:30:00+08:00",
        "urgency": "03",
        "point": point(IN_A),
        "reporter": {"name": "赵六", "phone": "13700001111", "anonymous": True},
        "parties": [{"name": "钱七", "phone": "13600002222"}],
        "photo_sha256": ["a" * 64],
    }
    incident = _post(client, world, "incidents", body).get_json()
    assert incident["status"] == "reported"
    assert incident["origin_grid_id"] == str(world.grid_a.id)
    assert incident["reporter"] == {"anonymous": True, "name": None, "phone": None}
    assert incident["parties"] == [{"name": "钱七", "role": None, "phone": "136****2222"}]


def test_a_bad_photo_hash_is_422(client: FlaskClient, world: RegistryWorld) -> None:
    body = {
        "kind": "event",
        "category": "0101",
        "title": "x",
        "occurred_at": "2026-11-20T08:30:00+08:00",
        "urgency": "03",
        "point": point(IN_A),
        "photo_sha256": ["not-a-hash"],
    }
    response = _post(client, world, "incidents", body)
    assert response.status_code == 422
    assert "photo_sha256" in response.get_json()["errors"]


def test_a_task_takes_its_targets_grid_and_stamps_its_status_changes(
    client: FlaskClient, world: RegistryWorld
) -> None:
    person = create_record(client, world.headers["worker_a"], "persons", IN_A)
    task = _post(
        client,
        world,
        "tasks",
        {
            "task_type": "visit",
            "title": "走访",
            "assignee_id": str(world.users["worker_a"].id),
            "target_type": "person",
            "target_id": person["id"],
            "due_at": "2026-12-01T18:00:00+08:00",
        },
        who="dispatcher_a",
    )
    assert task.status_code == 201
    assert task.get_json()["grid_id"] == str(world.grid_a.id)
    signed = client.patch(
        f"/api/v1/tasks/{task.get_json()['id']}",
        json={"expected_version": 1, "status": "signed"},
        headers=world.headers["worker_a"],
    )
    assert signed.get_json()["status"] == "signed"
    assert signed.get_json()["signed_at"] is not None


def test_a_task_for_a_grid_outside_the_callers_scope_is_422(
    client: FlaskClient, world: RegistryWorld
) -> None:
    response = _post(
        client,
        world,
        "tasks",
        {
            "task_type": "collect",
            "title": "采集",
            "assignee_id": str(world.users["worker_b"].id),
            "target_grid_id": str(world.grid_b.id),
        },
        who="dispatcher_a",
    )
    assert response.status_code == 422
    assert "target_grid_id" in response.get_json()["errors"]


def test_a_visit_follows_its_persons_grid(client: FlaskClient, world: RegistryWorld) -> None:
    visit = create_record(client, world.headers["worker_a"], "visits", IN_A)
    assert visit["grid_id"] == str(world.grid_a.id)
    reads = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.record_type == "visit")
    ).all()
    assert reads == ["create"]


def test_a_follow_up_cycle_must_be_a_code(client: FlaskClient, world: RegistryWorld) -> None:
    person = create_record(client, world.headers["worker_a"], "persons", IN_A)
    response = _post(
        client, world, "follow-up-plans", {"person_id": person["id"], "cycle": "hourly"}
    )
    assert response.status_code == 422
    assert "cycle" in response.get_json()["errors"]


def test_a_worker_may_record_a_point_in_no_grid_which_goes_to_the_unassigned_list(
    client: FlaskClient, world: RegistryWorld
) -> None:
    created = _post(
        client,
        world,
        "addresses",
        {"kind": "door", "full_text": "荒地1号", "point": point(IN_NO_GRID)},
    )
    assert created.status_code == 201
    assert created.get_json()["grid_id"] is None
    assert created.get_json()["warnings"] == [{"code": "unassigned"}]
    # Outside every community: the admins' unassigned list (dispatchers see only their subtree's).
    unassigned = client.get("/api/v1/unassigned?type=addresses", headers=world.headers["admin"])
    assert [item["id"] for item in unassigned.get_json()["items"]] == [created.get_json()["id"]]
    assert (
        client.get(
            "/api/v1/unassigned?type=addresses", headers=world.headers["worker_a"]
        ).status_code
        == 403
    )
    assert (
        client.get(
            f"/api/v1/addresses/{created.get_json()['id']}", headers=world.headers["worker_a"]
        ).status_code
        == 404
    )


def test_the_phone_may_supply_the_id_and_a_replayed_id_is_409(
    client: FlaskClient, world: RegistryWorld
) -> None:
    record_id = "0b7d3c1e-5f2a-4c8e-9d61-3a2b1c0d9e8f"
    body = {"id": record_id, "kind": "door", "full_text": "长安路1号", "point": point(IN_A)}
    first = _post(client, world, "addresses", body)
    assert first.status_code == 201
    assert first.get_json()["id"] == record_id
    assert _post(client, world, "addresses", body).status_code == 409


def test_a_household_lists_its_members_and_a_patch_replaces_them(
    client: FlaskClient, world: RegistryWorld
) -> None:
    head = create_record(client, world.headers["worker_a"], "persons", IN_A)
    spouse = create_record(client, world.headers["worker_a"], "persons", IN_A)
    household = _post(
        client,
        world,
        "households",
        {
            "address_id": head["address_id"],
            "head_person_id": head["id"],
            "members": [
                {"person_id": head["id"], "relation_to_head": "02"},
                {"person_id": spouse["id"], "relation_to_head": "10"},
            ],
        },
    ).get_json()
    assert [m["relation_to_head"] for m in household["members"]] == ["02", "10"]
    changed = client.patch(
        f"/api/v1/households/{household['id']}",
        json={
            "expected_version": 1,
            "members": [{"person_id": head["id"], "relation_to_head": "02"}],
        },
        headers=world.headers["worker_a"],
    )
    assert changed.get_json()["members"] == [{"person_id": head["id"], "relation_to_head": "02"}]
    assert changed.get_json()["grid_id"] == str(world.grid_a.id)


def test_a_household_member_must_be_a_person_the_caller_sees(
    client: FlaskClient, world: RegistryWorld
) -> None:
    theirs = create_record(client, world.headers["worker_b"], "persons", (108.925, 34.205))
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    response = _post(
        client,
        world,
        "households",
        {
            "address_id": door["id"],
            "members": [{"person_id": theirs["id"], "relation_to_head": "02"}],
        },
    )
    assert response.status_code == 422
    assert "members.0.person_id" in response.get_json()["errors"]
