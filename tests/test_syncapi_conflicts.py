"""Merges, conflicts, the dispatchers' inbox and resolution reaching the losing phone."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import IN_B, auth_headers, citizen_id, make_registry_world, point
from tests.test_syncapi_privacy import person_op
from tests.test_syncapi_push_pull import address_op, incident_op, pull, push, resolve, stamp


def patch_op(record_id: str, base: int, **fields: Any) -> dict[str, Any]:
    """A patch of `fields` edited from version `base`."""
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "address",
        "record_id": record_id,
        "kind": "patch",
        "stamp": stamp(),
        "base_version": base,
        "fields": fields,
    }


def record_op(record_type: str, record_id: str, base: int, **fields: Any) -> dict[str, Any]:
    """A patch of any record type edited from version `base`."""
    return {**patch_op(record_id, base, **fields), "record_type": record_type}


def inbox(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The caller's open conflicts."""
    response = client.get("/api/v1/conflicts?status=open", headers=headers)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


def _two_phones(client: FlaskClient) -> tuple[Any, dict[str, str], dict[str, str], str]:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    op = address_op()
    assert push(client, phone1, op)[0]["status"] == "applied"
    return world, phone1, phone2, op["record_id"]


def test_stale_patch_of_another_field_merges(client: FlaskClient) -> None:
    _, phone1, phone2, record_id = _two_phones(client)
    assert push(client, phone1, patch_op(record_id, 1, courtyard="东院"))[0]["version"] == 2
    (result,) = push(client, phone2, patch_op(record_id, 1, building="3栋"))
    assert result["status"] == "merged"
    assert result["version"] == 3
    assert result["current"]["courtyard"] == "东院"
    assert result["current"]["building"] == "3栋"


def test_same_field_conflict_is_in_the_subtree_dispatchers_inbox_only(
    client: FlaskClient,
) -> None:
    world, phone1, phone2, record_id = _two_phones(client)
    push(client, phone1, patch_op(record_id, 1, courtyard="东院"))
    (result,) = push(client, phone2, patch_op(record_id, 1, courtyard="西院"))
    assert result["status"] == "conflict"
    assert result["current"]["courtyard"] == "东院"  # address fields: the server's value stands
    inbox = client.get("/api/v1/conflicts?status=open", headers=world.headers["dispatcher_a"])
    (item,) = inbox.get_json()["items"]
    assert item["id"] == result["conflict_ids"][0]
    assert (item["field"], item["server_value"], item["client_value"]) == (
        "courtyard",
        "东院",
        "西院",
    )
    assert item["username"] == world.users["worker_a"].username
    sibling = client.get("/api/v1/conflicts", headers=world.headers["dispatcher_b"])
    assert sibling.get_json()["items"] == []


def test_workers_cannot_read_the_inbox(client: FlaskClient) -> None:
    world = make_registry_world()
    response = client.get("/api/v1/conflicts", headers=world.headers["worker_a"])
    assert response.status_code == 403


def test_resolving_by_taking_the_losing_value_reaches_the_losing_phone(
    client: FlaskClient,
) -> None:
    world, phone1, phone2, record_id = _two_phones(client)
    push(client, phone1, patch_op(record_id, 1, courtyard="东院"))
    cursor = pull(client, phone2)["cursor"]
    (result,) = push(client, phone2, patch_op(record_id, 1, courtyard="西院"))
    conflict_id = result["conflict_ids"][0]
    resolved = resolve(client, world.headers["dispatcher_a"], conflict_id, {"action": "take"})
    assert resolved.status_code == 200
    assert resolved.get_json()["version"] == 3
    page = pull(client, phone2, cursor)
    (change,) = [c for c in page["changes"] if c["record_id"] == record_id]
    assert (change["version"], change["record"]["courtyard"]) == (3, "西院")
    (notice,) = page["conflicts"]
    assert (notice["id"], notice["status"], notice["resolved_how"]) == (
        conflict_id,
        "resolved",
        "take",
    )
    again = resolve(client, world.headers["dispatcher_a"], conflict_id, {"action": "keep"})
    assert again.status_code == 409


def test_sibling_dispatcher_cannot_resolve(client: FlaskClient) -> None:
    world, phone1, phone2, record_id = _two_phones(client)
    push(client, phone1, patch_op(record_id, 1, courtyard="东院"))
    (result,) = push(client, phone2, patch_op(record_id, 1, courtyard="西院"))
    response = resolve(
        client, world.headers["dispatcher_b"], result["conflict_ids"][0], {"action": "take"}
    )
    assert response.status_code == 404


# --- scope follows the record's current grid ----------------------------------------------------


def _conflict_then_move_to_b(client: FlaskClient) -> tuple[Any, str, str]:
    """A courtyard conflict on an address of grid A; then an admin moves the address to B."""
    world, phone1, phone2, record_id = _two_phones(client)
    push(client, phone1, patch_op(record_id, 1, courtyard="东院"))
    (result,) = push(client, phone2, patch_op(record_id, 1, courtyard="西院"))
    assert result["status"] == "conflict"
    moved = client.patch(
        f"/api/v1/addresses/{record_id}",
        json={"expected_version": 2, "point": point(IN_B)},
        headers=world.headers["admin"],
    )
    assert moved.status_code == 200, moved.get_json()
    return world, record_id, result["conflict_ids"][0]


def _courtyard(record_id: str) -> Any:
    value = db.session.scalar(
        text("SELECT courtyard FROM addresses WHERE id = :id"), {"id": record_id}
    )
    db.session.commit()
    return value


def test_a_conflict_follows_its_record_to_the_new_grids_inbox(client: FlaskClient) -> None:
    world, record_id, conflict_id = _conflict_then_move_to_b(client)
    assert inbox(client, world.headers["dispatcher_a"]) == []
    (item,) = inbox(client, world.headers["dispatcher_b"])
    assert (item["id"], item["record_id"]) == (conflict_id, record_id)
    assert item["grid_id"] == str(world.grid_b.id)


def test_the_old_grids_dispatcher_cannot_resolve_a_conflict_of_a_moved_record(
    client: FlaskClient,
) -> None:
    world, record_id, conflict_id = _conflict_then_move_to_b(client)
    refused = resolve(
        client,
        world.headers["dispatcher_a"],
        conflict_id,
        {"action": "edit", "value": "A的调度员写的"},
    )
    assert refused.status_code == 404
    assert _courtyard(record_id) == "东院"
    resolved = resolve(client, world.headers["dispatcher_b"], conflict_id, {"action": "take"})
    assert resolved.status_code == 200, resolved.get_json()
    assert _courtyard(record_id) == "西院"


# --- edit values: references and composite fields -----------------------------------------------


def _address_id_conflict(client: FlaskClient) -> tuple[Any, str, str]:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    a1, a2, a3 = address_op(), address_op(door_number="13号"), address_op(door_number="14号")
    person = person_op(a1["record_id"], citizen_id(seq=41))
    assert [r["status"] for r in push(client, phone1, a1, a2, a3, person)] == ["applied"] * 4
    person_id = person["record_id"]
    push(client, phone1, record_op("person", person_id, 1, address_id=a2["record_id"]))
    (result,) = push(client, phone2, record_op("person", person_id, 1, address_id=a3["record_id"]))
    assert result["status"] == "conflict", result
    return world, person_id, result["conflict_ids"][0]


def _person_grid(person_id: str) -> Any:
    grid = db.session.scalar(text("SELECT grid_id FROM persons WHERE id = :id"), {"id": person_id})
    db.session.commit()
    return grid


def test_an_edit_pointing_at_an_address_of_another_grid_is_refused_on_the_field(
    client: FlaskClient,
) -> None:
    world, person_id, conflict_id = _address_id_conflict(client)
    b_address = address_op(IN_B)
    assert push(client, world.headers["worker_b"], b_address)[0]["status"] == "applied"
    response = resolve(
        client,
        world.headers["dispatcher_a"],
        conflict_id,
        {"action": "edit", "value": b_address["record_id"]},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "address_id": ["The referenced record is not in your grids."]
    }
    assert _person_grid(person_id) == world.grid_a.id
    assert [i["id"] for i in inbox(client, world.headers["dispatcher_a"])] == [conflict_id]


def test_an_edit_naming_a_nonexistent_address_is_refused_on_the_field(client: FlaskClient) -> None:
    world, _, conflict_id = _address_id_conflict(client)
    response = resolve(
        client,
        world.headers["dispatcher_a"],
        conflict_id,
        {"action": "edit", "value": str(uuid.uuid4())},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"address_id": ["No such record."]}


def test_an_edit_naming_a_deleted_address_is_refused_on_the_field(client: FlaskClient) -> None:
    world, _, conflict_id = _address_id_conflict(client)
    gone = address_op(door_number="15号")
    push(client, world.headers["worker_a"], gone)
    deleted = {**patch_op(gone["record_id"], 1), "kind": "delete"}
    del deleted["fields"]
    assert push(client, world.headers["worker_a"], deleted)[0]["status"] == "applied"
    response = resolve(
        client,
        world.headers["dispatcher_a"],
        conflict_id,
        {"action": "edit", "value": gone["record_id"]},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"address_id": ["The referenced record was deleted."]}


def test_an_edit_pointing_at_an_address_in_scope_is_written(client: FlaskClient) -> None:
    world, person_id, conflict_id = _address_id_conflict(client)
    other = address_op(door_number="16号")
    push(client, world.headers["worker_a"], other)
    response = resolve(
        client,
        world.headers["dispatcher_a"],
        conflict_id,
        {"action": "edit", "value": other["record_id"]},
    )
    assert response.status_code == 200, response.get_json()
    stored = db.session.scalar(
        text("SELECT address_id::text FROM persons WHERE id = :id"), {"id": person_id}
    )
    db.session.commit()
    assert stored == other["record_id"]


def _reporter_conflict(client: FlaskClient) -> tuple[Any, str]:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    create = incident_op(reporter={"name": "赵六"})
    record_id = create["record_id"]
    assert push(client, phone1, create)[0]["status"] == "applied"
    push(client, phone1, record_op("incident", record_id, 1, reporter={"name": "李四"}))
    (result,) = push(client, phone2, record_op("incident", record_id, 1, reporter={"name": "王五"}))
    assert result["status"] == "conflict", result
    (conflict_id,) = result["conflict_ids"]
    return world, conflict_id


def _reporter_name() -> Any:
    name = db.session.scalar(text("SELECT reporter_name FROM incidents"))
    db.session.commit()
    return name


def test_editing_a_reporter_name_too_long_is_refused_on_the_field(client: FlaskClient) -> None:
    world, conflict_id = _reporter_conflict(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    assert item["field"] == "reporter_name"
    before = _reporter_name()
    response = resolve(
        client, world.headers["dispatcher_a"], conflict_id, {"action": "edit", "value": "名" * 60}
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["reporter_name"]
    assert _reporter_name() == before


def test_editing_a_reporter_name_with_an_object_is_refused_on_the_field(
    client: FlaskClient,
) -> None:
    world, conflict_id = _reporter_conflict(client)
    before = _reporter_name()
    response = resolve(
        client, world.headers["dispatcher_a"], conflict_id, {"action": "edit", "value": {"evil": 1}}
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["reporter_name"]
    assert _reporter_name() == before


def test_editing_a_reporter_name_writes_the_new_name(client: FlaskClient) -> None:
    world, conflict_id = _reporter_conflict(client)
    response = resolve(
        client, world.headers["dispatcher_a"], conflict_id, {"action": "edit", "value": "孙七"}
    )
    assert response.status_code == 200, response.get_json()
    assert _reporter_name() == "孙七"


def _anonymous_report_with_a_losing_name(client: FlaskClient) -> tuple[Any, dict[str, str]]:
    """An incident made anonymous by one phone after another phone named its reporter offline:
    the conflicts of that name (and of the anonymity), by field."""
    world, _ = _reporter_conflict(client)
    record_id, version = db.session.execute(text("SELECT id::text, version FROM incidents")).one()
    db.session.commit()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    named = {
        **record_op("incident", record_id, version, reporter={"name": "周八"}),
        "stamp": stamp(-60_000),
    }
    push(client, phone1, record_op("incident", record_id, version, reporter={"anonymous": True}))
    (result,) = push(client, phone2, named)
    assert result["status"] == "conflict", result
    rows = db.session.execute(
        text("SELECT field, id::text FROM conflicts WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": result["conflict_ids"]},
    )
    by_field = {r.field: r.id for r in rows}
    db.session.commit()
    assert {"reporter_name", "reporter_anonymous"} <= by_field.keys()
    return world, by_field


def test_an_anonymous_report_takes_no_reporter_name_from_the_inbox(client: FlaskClient) -> None:
    world, by_field = _anonymous_report_with_a_losing_name(client)
    for action, value in (("take", None), ("edit", "孙七")):
        response = resolve(
            client,
            world.headers["dispatcher_a"],
            by_field["reporter_name"],
            {"action": action, "value": value},
        )
        assert response.status_code == 422
        assert list(response.get_json()["errors"]) == ["reporter_name"]
    assert _reporter_name() is None


def test_a_report_made_named_again_takes_the_reporter_name(client: FlaskClient) -> None:
    world, by_field = _anonymous_report_with_a_losing_name(client)
    for field in ("reporter_anonymous", "reporter_name"):
        response = resolve(
            client, world.headers["dispatcher_a"], by_field[field], {"action": "take"}
        )
        assert response.status_code == 200, response.get_json()
    assert _reporter_name() == "周八"


# --- sealed fields on the losing phone ------------------------------------------------------------


def test_the_losing_phone_is_told_of_a_sealed_field_conflict_once_by_its_wire_name(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=51))
    push(client, phone1, address, person)
    push(client, phone1, record_op("person", person["record_id"], 1, phone="13698765432"))
    (result,) = push(
        client, phone2, record_op("person", person["record_id"], 1, phone="13511112222")
    )
    assert result["status"] == "conflict", result
    notices = pull(client, phone2)["conflicts"]
    assert [n["field"] for n in notices] == ["phone"]
    assert [i["field"] for i in inbox(client, world.headers["dispatcher_a"])] == ["phone"]


# --- an address's matching text follows its full text ------------------------------------------


def _full_text_conflict(client: FlaskClient) -> tuple[Any, str, dict[str, Any]]:
    world, phone1, phone2, record_id = _two_phones(client)
    push(client, phone1, patch_op(record_id, 1, full_text="长安南路 1 号东院"))
    (result,) = push(client, phone2, patch_op(record_id, 1, full_text="长安南路 1 号（西院）"))
    assert result["status"] == "conflict"
    return world, record_id, result


def _texts(record_id: str) -> tuple[str, str]:
    row = db.session.execute(
        text("SELECT full_text, normalized_text FROM addresses WHERE id = :id"), {"id": record_id}
    ).one()
    return row.full_text, row.normalized_text


def _conflict_status(record_id: str) -> dict[str, str]:
    rows = db.session.execute(
        text("SELECT field, status FROM conflicts WHERE record_id = :id"), {"id": record_id}
    )
    return {r.field: r.status for r in rows}


def test_a_full_text_conflict_is_one_item_in_the_inbox(client: FlaskClient) -> None:
    world, record_id, result = _full_text_conflict(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    assert (item["field"], item["id"]) == ("full_text", result["conflict_ids"][0])
    assert _conflict_status(record_id) == {"full_text": "open", "normalized_text": "open"}


def test_taking_a_losing_full_text_writes_its_matching_text_in_the_same_version(
    client: FlaskClient,
) -> None:
    world, record_id, _ = _full_text_conflict(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    resolved = resolve(client, world.headers["dispatcher_a"], item["id"], {"action": "take"})
    assert resolved.status_code == 200
    assert resolved.get_json()["version"] == 3
    assert _texts(record_id) == ("长安南路 1 号（西院）", "长安南路1号西院")
    assert _conflict_status(record_id) == {"full_text": "resolved", "normalized_text": "resolved"}


def test_editing_a_full_text_writes_its_matching_text(client: FlaskClient) -> None:
    world, record_id, _ = _full_text_conflict(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    resolved = resolve(
        client,
        world.headers["dispatcher_a"],
        item["id"],
        {"action": "edit", "value": "长安南路 1 号 南院"},
    )
    assert resolved.status_code == 200
    assert _texts(record_id) == ("长安南路 1 号 南院", "长安南路1号南院")
    assert _conflict_status(record_id) == {"full_text": "resolved", "normalized_text": "resolved"}


def test_keeping_a_full_text_closes_its_matching_text_conflict(client: FlaskClient) -> None:
    world, record_id, _ = _full_text_conflict(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    resolved = resolve(client, world.headers["dispatcher_a"], item["id"], {"action": "keep"})
    assert resolved.status_code == 200
    assert _texts(record_id) == ("长安南路 1 号东院", "长安南路1号东院")
    assert _conflict_status(record_id) == {"full_text": "resolved", "normalized_text": "resolved"}


def test_the_matching_text_conflict_cannot_be_resolved_on_its_own(client: FlaskClient) -> None:
    world, record_id, _ = _full_text_conflict(client)
    derived = db.session.scalar(
        text("SELECT id FROM conflicts WHERE record_id = :id AND field = 'normalized_text'"),
        {"id": record_id},
    )
    for action, value in (("take", None), ("edit", "anything")):
        response = resolve(
            client, world.headers["dispatcher_a"], derived, {"action": action, "value": value}
        )
        assert response.status_code == 404
    assert _texts(record_id) == ("长安南路 1 号东院", "长安南路1号东院")


def _edit_of_a_deleted_address(client: FlaskClient) -> tuple[Any, str]:
    """An address one phone deleted while another edited its full text offline."""
    world, phone1, phone2, record_id = _two_phones(client)
    assert push(client, phone1, {**patch_op(record_id, 1), "kind": "delete"})[0]["status"] == (
        "applied"
    )
    (result,) = push(client, phone2, patch_op(record_id, 1, full_text="长安南路 1 号（西院）"))
    assert result["status"] == "conflict", result
    return world, record_id


def test_taking_the_full_text_of_a_deleted_address_writes_its_matching_text(
    client: FlaskClient,
) -> None:
    world, record_id = _edit_of_a_deleted_address(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    assert (item["kind"], item["field"]) == ("update_vs_delete", "full_text")
    response = resolve(client, world.headers["dispatcher_a"], item["id"], {"action": "take"})
    assert response.status_code == 200
    assert _texts(record_id) == ("长安南路 1 号（西院）", "长安南路1号西院")
    assert _conflict_status(record_id) == {"full_text": "resolved", "normalized_text": "resolved"}


def test_keeping_a_deleted_address_closes_its_matching_text_conflict(client: FlaskClient) -> None:
    world, record_id = _edit_of_a_deleted_address(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    response = resolve(client, world.headers["dispatcher_a"], item["id"], {"action": "keep"})
    assert response.status_code == 200
    assert _conflict_status(record_id) == {"full_text": "resolved", "normalized_text": "resolved"}


def test_editing_a_full_text_to_nothing_is_refused_on_the_field(client: FlaskClient) -> None:
    world, record_id, _ = _full_text_conflict(client)
    (item,) = inbox(client, world.headers["dispatcher_a"])
    for value in (None, "  "):
        response = resolve(
            client, world.headers["dispatcher_a"], item["id"], {"action": "edit", "value": value}
        )
        assert response.status_code == 422, response.get_json()
        assert list(response.get_json()["errors"]) == ["full_text"]
    assert _texts(record_id) == ("长安南路 1 号东院", "长安南路1号东院")


# --- the resolved list -------------------------------------------------------------------------


def test_resolved_conflicts_are_listed_most_recently_resolved_first(client: FlaskClient) -> None:
    world, phone1, phone2, record_id = _two_phones(client)
    push(client, phone1, patch_op(record_id, 1, courtyard="东院"))
    (older,) = push(client, phone2, patch_op(record_id, 1, courtyard="西院"))
    push(client, phone1, patch_op(record_id, 2, building="1栋"))
    (newer,) = push(client, phone2, patch_op(record_id, 2, building="2栋"))
    for result, action in ((older, "take"), (newer, "keep")):
        response = resolve(
            client, world.headers["dispatcher_a"], result["conflict_ids"][0], {"action": action}
        )
        assert response.status_code == 200
    listed = client.get("/api/v1/conflicts?status=resolved", headers=world.headers["dispatcher_a"])
    items = listed.get_json()["items"]
    assert [(i["id"], i["resolved_how"]) for i in items] == [
        (newer["conflict_ids"][0], "keep"),
        (older["conflict_ids"][0], "take"),
    ]
    assert inbox(client, world.headers["dispatcher_a"]) == []
    other = client.get("/api/v1/conflicts?status=resolved", headers=world.headers["dispatcher_b"])
    assert other.get_json()["items"] == []


# --- an id is the same id in either case -------------------------------------------------------


def test_the_same_reference_in_upper_case_is_no_conflict(client: FlaskClient) -> None:
    """iOS writes UUIDs in upper case: the same address is the same value, not a conflict."""
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    first, second = address_op(), address_op()
    house = record_op("house", str(uuid.uuid4()), 0, address_id=first["record_id"])
    house = {**house, "kind": "create", "base_version": None}
    house["fields"].update(house_use="01", occupancy="01")
    results = push(client, phone1, first, second, house)
    assert [r["status"] for r in results] == ["applied"] * 3, results
    moved = record_op("house", house["record_id"], 1, address_id=second["record_id"])
    assert push(client, phone1, moved)[0]["status"] == "applied"
    same = record_op("house", house["record_id"], 1, address_id=second["record_id"].upper())
    (result,) = push(client, phone2, {**same, "stamp": stamp(-60_000)})
    assert (result["status"], result["conflict_ids"]) == ("merged", []), result
    assert inbox(client, world.headers["dispatcher_a"]) == []
