"""Personal identifiers pushed by phones are sealed: no plaintext in any table, masked on pull."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import auth_headers, citizen_id, make_registry_world
from tests.test_syncapi_push_pull import address_op, pull, push, resolve, stamp, sync_op

PHONE = "13912345678"


def person_op(address_id: str, number: str, **fields: Any) -> dict[str, Any]:
    """A create op for a person living at an address."""
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "person",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": {
            "id_type": "111",
            "id_number": number,
            "name": "张三",
            "sex": "1",
            "population_type": "01",
            "phone": PHONE,
            "address_id": address_id,
            **fields,
        },
    }


def _tables_holding(needle: str) -> list[str]:
    columns = db.session.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')"
        )
    ).all()
    found = []
    for table, column, data_type in columns:
        if data_type == "bytea":
            where = f"position(convert_to(:n, 'UTF8') IN \"{column}\") > 0"
        else:
            where = f"\"{column}\"::text LIKE '%' || :n || '%'"
        hit = db.session.scalar(
            text(f'SELECT count(*) FROM "{table}" WHERE {where}'),
            {"n": needle},
        )
        if hit:
            found.append(f"{table}.{column}")
    return found


def test_pushed_id_number_is_stored_in_no_table_in_clear(client: FlaskClient) -> None:
    world = make_registry_world()
    number = citizen_id(seq=11)
    bad_number = number[:-1] + ("0" if number[-1] != "0" else "1")
    address = address_op()
    person = person_op(address["record_id"], number)
    rejected = person_op(address["record_id"], bad_number)
    unknown = {**person_op(address["record_id"], number), "record_type": "citizen"}
    results = push(client, world.headers["worker_a"], address, person, rejected, unknown)
    assert [r["status"] for r in results] == ["applied", "applied", "rejected", "rejected"]
    assert results[2]["field_errors"] == {
        "id_number": ["The check character of the citizen ID number is wrong."]
    }
    # A conflict on the number stores both sides: sealed too.
    other = dict(person, op_id=str(uuid.uuid4()), kind="patch", base_version=0)
    other["fields"] = {"id_number": citizen_id(seq=13)}
    (clash,) = push(client, world.headers["dispatcher_a"], other)
    assert clash["status"] == "conflict"
    assert db.session.scalar(text("SELECT count(*) FROM conflicts")) == 2  # the enc and the hash
    grid = db.session.scalar(text("SELECT grid_id FROM persons"))
    assert grid == world.grid_a.id
    assert "persons.name" in _tables_holding("张三")  # the scan does find what is there
    for needle in (number, bad_number, PHONE):
        assert _tables_holding(needle) == [], needle


def test_pulled_person_is_masked_like_the_web_api(client: FlaskClient) -> None:
    world = make_registry_world()
    number = citizen_id(seq=15)
    address = address_op()
    person = person_op(address["record_id"], number)
    push(client, world.headers["worker_a"], address, person)
    snap = client.get(
        f"/api/v1/sync/snapshot?grid_id={world.grid_a.id}", headers=world.headers["worker_a"]
    ).get_json()
    (record,) = [r["record"] for r in snap["records"] if r["record_type"] == "person"]
    assert record["id_number"] == number[:6] + "********" + number[-4:]
    assert record["phone"] == "139****5678"
    assert "id_number_enc" not in record
    web = client.get(f"/api/v1/persons/{person['record_id']}", headers=world.headers["worker_a"])
    assert web.get_json()["id_number"] == record["id_number"]
    assert pull(client, world.headers["worker_a"])["added_grids"] == [str(world.grid_a.id)]


def _id_number_conflict(client: FlaskClient, theirs: str) -> tuple[Any, str, dict[str, Any]]:
    """A person whose ID number a second phone changed to `theirs` from a stale base: (world,
    the person's id, the inbox item)."""
    world = make_registry_world()
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=17))
    push(client, world.headers["worker_a"], address, person)
    clash = dict(person, op_id=str(uuid.uuid4()), kind="patch", base_version=0)
    clash["fields"] = {"id_number": theirs}
    (result,) = push(client, auth_headers(world.users["worker_a"], "phone-2"), clash)
    assert (result["status"], result["version"]) == ("conflict", 1)
    (item,) = client.get("/api/v1/conflicts", headers=world.headers["dispatcher_a"]).get_json()[
        "items"
    ]
    return world, person["record_id"], item


def _persons_with(client: FlaskClient, headers: dict[str, str], number: str) -> list[str]:
    found = client.get(f"/api/v1/persons?id_number={number}", headers=headers).get_json()
    return [p["id"] for p in found["items"]]


def test_inbox_shows_conflicting_id_numbers_masked_and_edit_reseals(client: FlaskClient) -> None:
    theirs = citizen_id(seq=19)
    world, person_id, item = _id_number_conflict(client, theirs)
    dispatcher = world.headers["dispatcher_a"]
    assert item["field"] == "id_number"
    assert item["client_value"] == theirs[:6] + "********" + theirs[-4:]
    fixed = citizen_id(seq=21)
    response = resolve(client, dispatcher, item["id"], {"action": "edit", "value": fixed})
    assert response.status_code == 200
    assert _persons_with(client, dispatcher, fixed) == [person_id]
    assert _tables_holding(fixed) == []
    assert client.get("/api/v1/conflicts", headers=dispatcher).get_json()["items"] == []


def test_taking_a_losing_id_number_writes_its_seal_and_hash_in_one_version(
    client: FlaskClient,
) -> None:
    theirs = citizen_id(seq=25)
    world, person_id, item = _id_number_conflict(client, theirs)
    dispatcher = world.headers["dispatcher_a"]
    response = resolve(client, dispatcher, item["id"], {"action": "take"})
    assert response.status_code == 200
    assert response.get_json()["version"] == 2  # one write: the seal and its hash
    assert _persons_with(client, dispatcher, theirs) == [person_id]
    still_open = db.session.scalar(text("SELECT count(*) FROM conflicts WHERE status = 'open'"))
    db.session.commit()
    assert still_open == 0


def test_replayed_person_batch_is_recognised_as_the_same_ops(client: FlaskClient) -> None:
    world = make_registry_world()
    address = address_op()
    batch = [address, person_op(address["record_id"], citizen_id(seq=23))]
    first = push(client, world.headers["worker_a"], *batch)
    again = push(client, world.headers["worker_a"], *batch)
    assert again == first
    assert [r["status"] for r in again] == ["applied", "applied"]
    assert db.session.scalar(text("SELECT version FROM persons")) == 1


def test_a_replay_after_the_record_left_the_callers_grids_shows_nothing_of_it_now(
    client: FlaskClient,
) -> None:
    from tests.factories import IN_A, IN_B, point
    from tests.test_syncapi_conflicts import patch_op

    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    op = address_op(IN_A)
    push(client, phone1, op)
    push(client, phone1, patch_op(op["record_id"], 1, courtyard="东院"))
    losing = patch_op(op["record_id"], 1, courtyard="西院")
    (first,) = push(client, phone2, losing)
    assert first["status"] == "conflict"
    assert first["current"]["courtyard"] == "东院"
    moved = client.patch(
        f"/api/v1/addresses/{op['record_id']}",
        json={"expected_version": 2, "point": point(IN_B), "courtyard": "B网格内部信息"},
        headers=world.headers["admin"],
    )
    assert moved.status_code == 200, moved.get_json()
    # The phone lost the response and sends the batch again: the stored answer, without the
    # record as grid B holds it now.
    (again,) = push(client, phone2, losing)
    assert again == {**first, "current": None}


def test_an_unknown_identifier_key_in_a_party_is_not_kept_in_clear(client: FlaskClient) -> None:
    from tests.factories import IN_A, point

    world = make_registry_world()
    number = citizen_id(seq=777)
    incident = {
        **address_op(),
        "record_type": "incident",
        "fields": {
            "kind": "dispute",
            "category": "01",
            "title": "邻里纠纷",
            "occurred_at": "2026-11-20T08:30:00+08:00",
            "urgency": "02",
            "point": point(IN_A),
            "parties": [
                {"name": "王五", "phone": "13912345678", "id_number": number},
                {"name": "赵六", "extra": {"passport_no": "E12345678"}},
            ],
        },
    }
    (result,) = push(client, world.headers["worker_a"], incident)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    db.session.rollback()
    assert _tables_holding(number) == []
    assert _tables_holding("E12345678") == []
    kept = db.session.scalar(
        text("SELECT payload FROM rejected_ops WHERE op_id = :i"), {"i": incident["op_id"]}
    )
    assert kept["fields"]["parties"][0]["id_number"] == "[redacted]"
    assert kept["fields"]["parties"][0]["name"] == "王五"


def test_an_admin_may_not_delete_special_populations_over_sync(client: FlaskClient) -> None:
    from tests.factories import IN_A, create_record

    world = make_registry_world()
    person = create_record(client, world.headers["worker_a"], "persons", IN_A)
    special = {
        **address_op(),
        "record_type": "person_special_population",
        "fields": {"person_id": person["id"], "category": "drug_user", "notes": "社区戒毒"},
    }
    assert push(client, world.headers["worker_a"], special)[0]["status"] == "applied"
    delete = {
        **address_op(),
        "record_type": "person_special_population",
        "record_id": special["record_id"],
        "kind": "delete",
        "base_version": 1,
        "fields": {},
    }
    (result,) = push(client, world.headers["admin"], delete)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    db.session.rollback()
    deleted = db.session.scalar(
        text("SELECT deleted_at FROM person_special_populations WHERE id = :i"),
        {"i": special["record_id"]},
    )
    assert deleted is None


def _passport_holder_as_pulled(
    client: FlaskClient, phone: dict[str, str], passport: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Push a door and a passport holder behind it; the person's op and the person as the phone
    then pulls it."""
    cursor = pull(client, phone)["cursor"]
    address = address_op()
    person = person_op(
        address["record_id"],
        passport,
        id_type="414",
        population_type="03",
        overseas={"nationality": "GBR", "passport_number": passport},
    )
    push(client, phone, address, person)
    changes = pull(client, phone, cursor)["changes"]
    (pulled,) = [c for c in changes if c["record_type"] == "person"]
    return person, pulled


def test_a_passport_number_comes_masked_and_a_phone_sending_it_back_keeps_it(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    phone = world.headers["worker_a"]
    passport = "E98765432"
    person, pulled = _passport_holder_as_pulled(client, phone, passport)
    shown = pulled["record"]["overseas"]
    assert shown == {"nationality": "GBR", "passport_number": "*****5432"}
    edited = {**shown, "nationality": "IRL"}
    patch = sync_op("person", person["record_id"], "patch", pulled["version"], overseas=edited)
    patch["stamp"] = stamp(1)
    (result,) = push(client, phone, patch)
    assert result["status"] == "applied"
    stored = db.session.scalar(
        text("SELECT overseas FROM persons WHERE id = :id"), {"id": person["record_id"]}
    )
    assert stored == {"nationality": "IRL", "passport_number": passport}


def test_a_replayed_patch_that_sent_a_passport_number_back_masked_answers_as_before(
    client: FlaskClient,
) -> None:
    """The push restores the stored number into the op; its payload hash is still the op as
    sent, so a replay after someone changed the number gets the stored answer, not
    `op_id_reused`, and changes nothing."""
    world = make_registry_world()
    phone = world.headers["worker_a"]
    person, pulled = _passport_holder_as_pulled(client, phone, "E98765432")
    edited = {**pulled["record"]["overseas"], "nationality": "IRL"}
    patch = sync_op("person", person["record_id"], "patch", pulled["version"], overseas=edited)
    patch["stamp"] = stamp(1)
    (first,) = push(client, phone, patch)
    assert first["status"] == "applied"
    renewed = {"nationality": "IRL", "passport_number": "E11112222"}
    response = client.patch(
        f"/api/v1/persons/{person['record_id']}",
        json={"expected_version": first["version"], "overseas": renewed},
        headers=world.headers["worker_a"],
    )
    assert response.status_code == 200, response.get_json()
    (replayed,) = push(client, phone, patch)
    assert replayed == first
    stored = db.session.scalar(
        text("SELECT overseas FROM persons WHERE id = :id"), {"id": person["record_id"]}
    )
    assert stored == {"nationality": "IRL", "passport_number": "E11112222"}
