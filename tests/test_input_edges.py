"""Input that passed the field checks and then broke something: instants beyond what Python reads
back, numbers typed in full-width digits, a trailing newline, an integer beyond a float."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import (
    IN_A,
    RegistryWorld,
    auth_headers,
    citizen_id,
    create_record,
    make_registry_world,
    point,
)
from tests.test_redraw_apply import NEW_MID, E, N, S, make_town, rect
from tests.test_syncapi_push_pull import address_op, incident_op, push, sync_op

# 10000-01-01T13:59:59Z and 0000-12-31T10:00:00Z once in UTC: PostgreSQL stores both, Python
# reads neither back.
LATE = "9999-12-31T23:59:59-14:00"
EARLY = "0001-01-01T00:00:00+14:00"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
NEAR, FAR = (IN_A[0] + 0.001, IN_A[1]), (IN_A[0] + 0.002, IN_A[1])  # both inside grid A


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def _incident(when: str) -> dict[str, Any]:
    return {
        "kind": "event",
        "category": "0101",
        "title": "暴露垃圾",
        "occurred_at": when,
        "urgency": "02",
        "point": point(IN_A),
    }


@pytest.mark.parametrize("when", [LATE, EARLY, "1899-12-31T23:59:59+00:00"])
def test_an_incident_out_of_the_era_is_422_on_its_field(
    client: FlaskClient, world: RegistryWorld, when: str
) -> None:
    response = client.raw.post(
        "/api/v1/incidents", json=_incident(when), headers=world.headers["worker_a"]
    )
    assert response.status_code == 422
    assert "occurred_at" in response.get_json()["errors"]


def test_a_task_due_and_a_visit_out_of_the_era_are_422(
    client: FlaskClient, world: RegistryWorld
) -> None:
    dispatcher = world.headers["dispatcher_a"]
    task = {
        "task_type": "verify",
        "title": "核实门牌",
        "assignee_id": str(world.users["worker_a"].id),
        "target_grid_id": str(world.grid_a.id),
        "due_at": LATE,
    }
    refused = client.raw.post("/api/v1/tasks", json=task, headers=dispatcher)
    assert refused.status_code == 422
    assert "due_at" in refused.get_json()["errors"]
    visit = create_record(client, dispatcher, "visits", IN_A)
    moved = client.raw.patch(
        f"/api/v1/visits/{visit['id']}",
        json={"expected_version": visit["version"], "visited_at": EARLY},
        headers=dispatcher,
    )
    assert moved.status_code == 422
    assert "visited_at" in moved.get_json()["errors"]


def test_a_pushed_incident_out_of_the_era_is_rejected_and_the_list_still_reads(
    client: FlaskClient, world: RegistryWorld
) -> None:
    (result,) = push(client, world.headers["worker_a"], incident_op(IN_A, occurred_at=LATE))
    assert result["status"] == "rejected"
    assert "occurred_at" in result["field_errors"]
    for who in ("worker_a", "dispatcher_a", "admin"):
        assert client.get("/api/v1/incidents", headers=world.headers[who]).status_code == 200


def test_a_citizen_id_typed_in_full_width_digits_is_the_same_number(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    address = create_record(client, worker, "addresses", IN_A)
    number = citizen_id("19900307", 123)
    person = {
        "id_type": "111",
        "name": "张三",
        "sex": "1",
        "population_type": "01",
        "address_id": address["id"],
    }
    first = client.post("/api/v1/persons", json={**person, "id_number": number}, headers=worker)
    assert first.status_code == 201
    typed = number[:17].translate(FULL_WIDTH) + number[17]
    twin = client.raw.post("/api/v1/persons", json={**person, "id_number": typed}, headers=worker)
    assert twin.status_code == 409
    assert twin.get_json()["existing_id"] == first.get_json()["id"]


@pytest.mark.parametrize("code", ["610116001001\n", "610116001001".translate(FULL_WIDTH)])
def test_a_division_code_is_twelve_ascii_digits_and_nothing_after(
    client: FlaskClient, world: RegistryWorld, code: str
) -> None:
    door = {
        "kind": "door",
        "street": "长安路",
        "door_number": "12号",
        "division_code": code,
        "point": point(IN_A),
    }
    response = client.raw.post("/api/v1/addresses", json=door, headers=world.headers["worker_a"])
    assert response.status_code == 422
    assert "division_code" in response.get_json()["errors"]


def test_a_coordinate_beyond_a_float_is_422(client: FlaskClient, world: RegistryWorld) -> None:
    door = {
        "kind": "door",
        "street": "长安路",
        "door_number": "12号",
        "point": {"type": "Point", "coordinates": [2**1100, 34.205]},
    }
    response = client.raw.post("/api/v1/addresses", json=door, headers=world.headers["worker_a"])
    assert response.status_code == 422
    assert "point" in response.get_json()["errors"]


def test_an_expected_version_beyond_a_bigint_is_422(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    door = create_record(client, worker, "addresses", IN_A)
    patched = client.raw.patch(
        f"/api/v1/addresses/{door['id']}",
        json={"expected_version": 2**70, "room": "1"},
        headers=worker,
    )
    deleted = client.raw.delete(
        f"/api/v1/addresses/{door['id']}?expected_version={10**22}", headers=worker
    )
    assert (patched.status_code, deleted.status_code) == (422, 422)


@pytest.mark.parametrize("cursor", ["%C2%B2", "9" * 23, "9" * 5000])
def test_an_audit_cursor_that_is_no_entry_id_is_422(
    client: FlaskClient, world: RegistryWorld, cursor: str
) -> None:
    response = client.raw.get(f"/api/v1/audit?cursor={cursor}", headers=world.headers["auditor"])
    assert response.status_code == 422
    assert "cursor" in response.get_json()["errors"]


def test_a_code_table_name_with_a_nul_names_no_table(
    client: FlaskClient, world: RegistryWorld
) -> None:
    response = client.raw.get("/api/v1/code-tables/a%00b", headers=world.headers["worker_a"])
    assert response.status_code == 404


def test_a_conflict_edit_the_record_cannot_hold_is_422_and_the_conflict_stays_open(
    client: FlaskClient, world: RegistryWorld
) -> None:
    phone_1 = world.headers["worker_a"]
    phone_2 = auth_headers(world.users["worker_a"], "phone-2")
    door = address_op()
    push(client, phone_1, door)
    push(client, phone_1, sync_op("address", door["record_id"], "patch", 1, point=point(NEAR)))
    (lost,) = push(
        client, phone_2, sync_op("address", door["record_id"], "patch", 1, point=point(FAR))
    )
    url = f"/api/v1/conflicts/{lost['conflict_ids'][0]}/resolve"
    dispatcher = world.headers["dispatcher_a"]
    huge = {"type": "Point", "coordinates": [2**1100, 34.205]}
    for value in (huge, None):  # beyond a float; no point on a door
        response = client.raw.post(url, json={"action": "edit", "value": value}, headers=dispatcher)
        assert response.status_code == 422
        assert "point" in response.get_json()["errors"]
    kept = client.post(url, json={"action": "keep"}, headers=dispatcher)
    assert kept.status_code == 200


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e400"])
def test_a_draft_geometry_member_no_one_reads_is_not_stored(
    client: FlaskClient, app: Any, token: str
) -> None:
    town = make_town()
    ring = "[[108.9,34.2],[108.915,34.2],[108.915,34.21],[108.9,34.21],[108.9,34.2]]"
    body = (
        f'{{"grids":[{{"grid_id":"{town.west.id}",'
        f'"geometry":{{"type":"Polygon","bbox":[{token}],"coordinates":[{ring}]}}}}]}}'
    )
    response = client.raw.post(
        f"/api/v1/communities/{town.community.id}/redraws",
        data=body,
        content_type="application/json",
        headers=town.admin,
    )
    assert response.status_code == 201
    assert response.get_json()["grids"][0]["geometry"].keys() == {"type", "coordinates"}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # shapely's area of a ±1e300 square
def test_a_draft_drawn_at_astronomic_coordinates_is_answered_in_json(
    client: FlaskClient, app: Any
) -> None:
    town = make_town()
    body = {
        "grids": [
            {"grid_id": str(town.west.id), "geometry": rect(-1e300, -1e300, 1e300, 1e300)},
            {"grid_id": str(town.east.id), "geometry": rect(NEW_MID, S, E, N)},
        ]
    }
    draft = client.raw.post(
        f"/api/v1/communities/{town.community.id}/redraws", json=body, headers=town.admin
    )
    assert draft.status_code == 201
    validated = client.raw.post(
        f"/api/v1/redraws/{draft.get_json()['id']}/validate", headers=town.admin
    )
    assert validated.status_code in (200, 422)
    assert b"Infinity" not in validated.get_data()
    assert validated.get_json()["ok"] is False


def test_parts_that_make_a_text_longer_than_its_column_are_422(
    client: FlaskClient, world: RegistryWorld
) -> None:
    parts = {
        "street": "s" * 100,
        "door_number": "d" * 30,
        "courtyard": "c" * 100,
        "building": "b" * 30,
        "unit": "u" * 30,
        "floor": "f" * 10,
        "room": "r" * 30,
    }
    door = {"kind": "door", "point": point(IN_A), **parts}
    web = client.raw.post("/api/v1/addresses", json=door, headers=world.headers["worker_a"])
    assert web.status_code == 422
    assert "full_text" in web.get_json()["errors"]
    (pushed,) = push(client, world.headers["worker_a"], address_op(**parts))
    assert pushed["status"] == "rejected"
    assert "full_text" in pushed["field_errors"]


def test_a_text_that_nfkc_lengthens_is_kept_and_matched_by_its_first_300_characters(
    client: FlaskClient, world: RegistryWorld
) -> None:
    door = {"kind": "door", "point": point(IN_A), "full_text": "\ufdfa" * 300}
    response = client.raw.post("/api/v1/addresses", json=door, headers=world.headers["worker_a"])
    assert response.status_code == 201
    assert response.get_json()["full_text"] == "\ufdfa" * 300
    matching = db.session.scalar(
        text("SELECT normalized_text FROM addresses WHERE id = :id"),
        {"id": response.get_json()["id"]},
    )
    assert len(matching) == 300


@pytest.mark.parametrize(
    ("entity", "field"), [("houses", "tenant_count"), ("organizations", "staff_count")]
)
def test_a_count_is_a_whole_number_not_one_truncated(
    client: FlaskClient, world: RegistryWorld, entity: str, field: str
) -> None:
    worker = world.headers["worker_a"]
    record = create_record(client, worker, entity, IN_A)
    for value in (2.7, "3"):
        response = client.raw.patch(
            f"/api/v1/{entity}/{record['id']}",
            json={"expected_version": record["version"], field: value},
            headers=worker,
        )
        assert response.status_code == 422
        assert field in response.get_json()["errors"]
