"""The conflict inbox shows losing values exactly as masked as the web API would."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import auth_headers, citizen_id, make_registry_world
from tests.test_syncapi_privacy import PHONE, person_op
from tests.test_syncapi_push_pull import address_op, pull, push, resolve, stamp


def _op(record_type: str, record_id: str, kind: str, base: int, **fields: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "op_id": str(uuid.uuid4()),
        "record_type": record_type,
        "record_id": record_id,
        "kind": kind,
        "stamp": stamp(),
        "base_version": base,
    }
    if fields:
        op["fields"] = fields
    return op


def _inbox(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get("/api/v1/conflicts?status=open", headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


def test_delete_vs_update_conflict_masks_the_persons_changed_fields(client: FlaskClient) -> None:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=23))
    push(client, phone1, address, person)
    new_phone = "13698765432"
    patch = _op("person", person["record_id"], "patch", 1, phone=new_phone)
    assert push(client, phone1, patch)[0]["status"] == "applied"
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    (result,) = push(client, phone2, _op("person", person["record_id"], "delete", 1))
    assert result["status"] == "conflict"
    (item,) = _inbox(client, world.headers["dispatcher_a"])
    assert item["field"] is None
    assert item["server_value"] == {"phone": "136****5432"}
    assert item["base_value"] == {"phone": PHONE[:3] + "****" + PHONE[-4:]}
    body = str(item)
    assert new_phone not in body
    assert "_enc" not in body
    assert "_hash" not in body


def test_admin_pull_never_links_a_special_population_row_to_its_person(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    admin_cursor = pull(client, world.headers["admin"])["cursor"]
    worker_cursor = pull(client, world.headers["worker_a"])["cursor"]
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=25))
    push(client, world.headers["worker_a"], address, person)
    special = {
        "op_id": str(uuid.uuid4()),
        "record_type": "person_special_population",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": {"person_id": person["record_id"], "category": "drug_user"},
    }
    (created,) = push(client, world.headers["worker_a"], special)
    assert created["status"] == "applied", created
    changes = pull(client, world.headers["admin"], admin_cursor)["changes"]
    (row,) = [c for c in changes if c["record_type"] == "person_special_population"]
    assert row["record"]["person_id"] is None
    assert "category" not in row["record"]
    assert "drug_user" not in str(changes)
    mine = pull(client, world.headers["worker_a"], worker_cursor)["changes"]
    (seen,) = [c for c in mine if c["record_type"] == "person_special_population"]
    assert seen["record"]["person_id"] == person["record_id"]


def _special_population_world(client: FlaskClient) -> tuple[Any, str, list[str]]:
    world = make_registry_world()
    address = address_op()
    people = [person_op(address["record_id"], citizen_id(seq=seq)) for seq in (31, 33, 35)]
    special_id = str(uuid.uuid4())
    special = {
        "op_id": str(uuid.uuid4()),
        "record_type": "person_special_population",
        "record_id": special_id,
        "kind": "create",
        "stamp": stamp(),
        "fields": {"person_id": people[0]["record_id"], "category": "drug_user"},
    }
    results = push(client, world.headers["worker_a"], address, *people, special)
    assert [r["status"] for r in results] == ["applied"] * 5, results
    return world, special_id, [p["record_id"] for p in people]


def _special_conflict(client: FlaskClient, world: Any, special_id: str, **edits: Any) -> str:
    """Two phones patch the same special-population fields; the second loses."""
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    first, second = ({k: v[0] for k, v in edits.items()}, {k: v[1] for k, v in edits.items()})
    push(
        client,
        world.headers["worker_a"],
        _op("person_special_population", special_id, "patch", 1, **first),
    )
    (result,) = push(
        client, phone2, _op("person_special_population", special_id, "patch", 1, **second)
    )
    assert result["status"] == "conflict", result
    conflict_id: str = result["conflict_ids"][0]
    return conflict_id


def test_the_admin_inbox_never_links_a_special_population_row_to_its_person(
    client: FlaskClient,
) -> None:
    world, special_id, (p1, p2, p3) = _special_population_world(client)
    _special_conflict(client, world, special_id, person_id=(p2, p3))
    (item,) = _inbox(client, world.headers["admin"])
    assert item["field"] == "person_id"
    assert (item["base_value"], item["server_value"], item["client_value"]) == (None, None, None)
    assert all(p not in str(item) for p in (p1, p2, p3))
    (shown,) = _inbox(client, world.headers["dispatcher_a"])
    assert (shown["server_value"], shown["client_value"]) == (p2, p3)


def _notes(special_id: str) -> Any:
    notes = db.session.scalar(
        text("SELECT notes FROM person_special_populations WHERE id = :id"), {"id": special_id}
    )
    db.session.commit()
    return notes


def test_an_admin_cannot_resolve_a_special_population_conflict(client: FlaskClient) -> None:
    world, special_id, _ = _special_population_world(client)
    conflict_id = _special_conflict(client, world, special_id, notes=("甲", "乙"))
    before = _notes(special_id)
    response = resolve(
        client,
        world.headers["admin"],
        conflict_id,
        {"action": "edit", "value": "管理员写入的矫正备注"},
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"
    assert _notes(special_id) == before
    assert [i["id"] for i in _inbox(client, world.headers["admin"])] == [conflict_id]


def test_a_birth_date_conflict_shows_only_the_years(client: FlaskClient) -> None:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    address = address_op()
    person = person_op(
        address["record_id"],
        "E98765432",
        id_type="414",
        population_type="03",
        birth_date="1985-04-12",
        overseas={"nationality": "GBR"},
    )
    assert [r["status"] for r in push(client, phone1, address, person)] == ["applied"] * 2
    mine = _op("person", person["record_id"], "patch", 1, birth_date="1985-04-13")
    assert push(client, phone1, mine)[0]["status"] == "applied"
    (lost,) = push(
        client, phone2, _op("person", person["record_id"], "patch", 1, birth_date="1986-05-14")
    )
    assert lost["status"] == "conflict"
    (item,) = _inbox(client, world.headers["dispatcher_a"])
    assert item["field"] == "birth_date"
    assert (item["base_value"], item["server_value"], item["client_value"]) == (
        "1985-**-**",
        "1985-**-**",
        "1986-**-**",
    )
