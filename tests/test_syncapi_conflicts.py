"""Merges, conflicts, the dispatchers' inbox and resolution reaching the losing phone."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient

from tests.factories import auth_headers, make_registry_world
from tests.test_syncapi_push_pull import address_op, pull, push, stamp


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
    resolved = client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve",
        json={"action": "take"},
        headers=world.headers["dispatcher_a"],
    )
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
    again = client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve",
        json={"action": "keep"},
        headers=world.headers["dispatcher_a"],
    )
    assert again.status_code == 409


def test_sibling_dispatcher_cannot_resolve(client: FlaskClient) -> None:
    world, phone1, phone2, record_id = _two_phones(client)
    push(client, phone1, patch_op(record_id, 1, courtyard="东院"))
    (result,) = push(client, phone2, patch_op(record_id, 1, courtyard="西院"))
    response = client.post(
        f"/api/v1/conflicts/{result['conflict_ids'][0]}/resolve",
        json={"action": "take"},
        headers=world.headers["dispatcher_b"],
    )
    assert response.status_code == 404
