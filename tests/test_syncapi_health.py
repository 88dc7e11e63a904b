"""Sync health shows each device's backlog: ops awaiting review, open conflicts, changes not
pulled yet."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from sync.cursor import decode_cursor
from tests.factories import IN_B, RegistryWorld, auth_headers, citizen_id, make_registry_world
from tests.test_syncapi_conflicts import inbox, patch_op, record_op
from tests.test_syncapi_privacy import person_op
from tests.test_syncapi_push_pull import address_op, pull, push


def _health(client: FlaskClient, world: RegistryWorld, device_key: str = "phone-1") -> Any:
    response = client.get("/api/v1/devices/sync-health", headers=world.headers["admin"])
    assert response.status_code == 200
    name = world.users["worker_a"].username
    (device,) = [
        d
        for d in response.get_json()["items"]
        if d["username"] == name and d["device_name"] == device_key
    ]
    return device


def test_a_device_that_never_pulled_has_no_unpulled_count(client: FlaskClient) -> None:
    world = make_registry_world()
    push(client, world.headers["worker_a"], address_op())
    backlog = _health(client, world)["backlog"]
    assert backlog["changes_since_cursor"] is None
    assert backlog["changes_capped"] is False


def test_rejected_ops_count_until_reviewed(client: FlaskClient) -> None:
    world = make_registry_world()
    push(client, world.headers["worker_a"], address_op(kind="palace"), address_op(kind="palace"))
    assert _health(client, world)["backlog"]["rejected_awaiting_review"] == 2
    db.session.execute(
        text(
            "UPDATE rejected_ops SET reviewed_at = now() "
            "WHERE id = (SELECT id FROM rejected_ops ORDER BY id LIMIT 1)"
        )
    )
    db.session.commit()
    assert _health(client, world)["backlog"]["rejected_awaiting_review"] == 1


def test_open_conflicts_raised_by_the_device_are_counted(client: FlaskClient) -> None:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    op = address_op()
    push(client, phone1, op)
    push(client, phone1, patch_op(op["record_id"], 1, courtyard="东院"))
    (lost,) = push(client, phone2, patch_op(op["record_id"], 1, courtyard="西院"))
    assert lost["status"] == "conflict"
    assert _health(client, world, "phone-2")["backlog"]["open_conflicts"] == 1
    assert _health(client, world)["backlog"]["open_conflicts"] == 0


def test_a_sealed_field_conflict_counts_once_as_in_the_inbox(client: FlaskClient) -> None:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=51))
    push(client, phone1, address, person)
    push(client, phone1, record_op("person", person["record_id"], 1, phone="13698765432"))
    (lost,) = push(client, phone2, record_op("person", person["record_id"], 1, phone="13511112222"))
    assert lost["status"] == "conflict"
    assert len(inbox(client, world.headers["dispatcher_a"])) == 1
    device = _health(client, world, "phone-2")
    assert (device["pending_conflicts"], device["backlog"]["open_conflicts"]) == (1, 1)


def test_changes_in_the_devices_grids_after_its_cursor_are_counted(client: FlaskClient) -> None:
    world = make_registry_world()
    pull(client, world.headers["worker_a"])
    before = _health(client, world)["backlog"]["changes_since_cursor"]
    assert before is not None
    other_phone = auth_headers(world.users["worker_a"], "phone-2")
    push(client, other_phone, address_op(), address_op())
    push(client, world.headers["worker_b"], address_op(IN_B))  # another grid: not counted
    assert _health(client, world)["backlog"]["changes_since_cursor"] == before + 2


def test_the_backlog_counts_from_the_cursor_the_device_was_last_given(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    first = pull(client, world.headers["worker_a"])["cursor"]
    push(client, auth_headers(world.users["worker_a"], "phone-2"), address_op())
    given = decode_cursor(pull(client, world.headers["worker_a"], first)["cursor"]).position
    stored = db.session.execute(
        text(
            "SELECT cursor_txid::text AS txid, cursor_seq AS seq FROM device_sync_state "
            "WHERE last_pull_at IS NOT NULL"
        )
    ).all()
    assert [(int(r.txid), r.seq) for r in stored] == [(given.txid, given.seq)]


def test_an_unreadable_cursor_is_refused_and_noted_as_a_pull_failure(client: FlaskClient) -> None:
    world = make_registry_world()
    push(client, world.headers["worker_a"], address_op(kind="palace"))
    response = client.get("/api/v1/sync/pull?cursor=not-ours", headers=world.headers["worker_a"])
    assert response.status_code == 422
    assert "cursor" in response.get_json()["errors"]
    failures = _health(client, world)["failures"]
    assert [(f["stage"], f["reason"]) for f in failures] == [
        ("pull", "invalid_cursor"),
        ("push", "invalid_fields"),
    ]
    assert failures[0]["op_id"] is None
