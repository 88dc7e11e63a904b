"""Batch limits, fields a phone may not write, commands, gzip, device health and revocation."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import make_registry_world
from tests.test_syncapi_conflicts import patch_op
from tests.test_syncapi_push_pull import address_op, incident_op, pull, push, stamp


def test_oversized_batch_is_refused_whole(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_registry_world()
    monkeypatch.setitem(app.config, "SYNC_MAX_OPS", 2)
    ops = [address_op() for _ in range(3)]
    response = client.post(
        "/api/v1/sync/push", json={"ops": ops}, headers=world.headers["worker_a"]
    )
    assert response.status_code == 413
    assert db.session.scalar(text("SELECT count(*) FROM addresses")) == 0
    assert db.session.scalar(text("SELECT count(*) FROM op_receipts")) == 0


def test_batch_over_the_byte_limit_is_refused_whole(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_registry_world()
    monkeypatch.setitem(app.config, "SYNC_MAX_BATCH_BYTES", 500)
    ops = [address_op(), address_op(courtyard="院" * 200)]
    response = client.post(
        "/api/v1/sync/push", json={"ops": ops}, headers=world.headers["worker_a"]
    )
    assert response.status_code == 413
    assert db.session.scalar(text("SELECT count(*) FROM addresses")) == 0


def test_server_owned_fields_are_rejected_with_field_errors(client: FlaskClient) -> None:
    world = make_registry_world()
    op = address_op()
    push(client, world.headers["worker_a"], op)
    sneaky = patch_op(op["record_id"], 1, grid_id=str(world.grid_b.id), courtyard="东院")
    derived = patch_op(op["record_id"], 1, normalized_text="x")
    results = push(client, world.headers["worker_a"], sneaky, derived)
    assert [(r["status"], r["reason"]) for r in results] == [
        ("rejected", "unknown_fields"),
        ("rejected", "invalid_fields"),
    ]
    assert results[0]["field_errors"] == {"grid_id": ["Set by the server; clients cannot send it."]}
    assert results[1]["field_errors"] == {
        "normalized_text": ["Set by the server; clients cannot send it."]
    }
    assert db.session.scalar(text("SELECT count(*) FROM rejected_ops")) == 2
    assert db.session.scalar(text("SELECT version FROM addresses")) == 1


def test_unknown_field_from_another_app_version_is_rejected(client: FlaskClient) -> None:
    world = make_registry_world()
    op = address_op(nickname="老街口")
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "unknown_fields")
    assert result["field_errors"] == {"nickname": ["unknown field"]}


def test_invalid_value_is_rejected_with_the_registry_message(client: FlaskClient) -> None:
    world = make_registry_world()
    (result,) = push(client, world.headers["worker_a"], address_op(kind="palace"))
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert list(result["field_errors"]) == ["kind"]


def test_incident_status_changes_only_by_command(client: FlaskClient) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    create = incident_op()
    (made,) = push(client, headers, create)
    assert made["status"] == "applied"
    direct = {**patch_op(str(create["record_id"]), 1, status="closed"), "record_type": "incident"}
    command = {
        "op_id": str(uuid.uuid4()),
        "record_type": "incident",
        "record_id": create["record_id"],
        "kind": "command",
        "stamp": stamp(),
        "command": "set_status",
        "args": {"status": "accepted"},
    }
    refused, done = push(client, headers, direct, command)
    assert (refused["status"], refused["reason"]) == ("rejected", "invalid_fields")
    assert done["status"] == "applied"
    row = db.session.execute(text("SELECT status, origin_grid_id FROM incidents")).one()
    assert (row.status, row.origin_grid_id) == ("accepted", world.grid_a.id)


def test_pull_is_gzipped_when_asked(client: FlaskClient) -> None:
    world = make_registry_world()
    push(client, world.headers["worker_a"], *[address_op() for _ in range(5)])
    headers = {**world.headers["worker_a"], "Accept-Encoding": "gzip"}
    response = client.raw.get(f"/api/v1/sync/snapshot?grid_id={world.grid_a.id}", headers=headers)
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(response.data))["records"]) == 5


def _push_gzipped(client: FlaskClient, headers: dict[str, str], body: bytes) -> Any:
    gzipped = {**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    return client.post("/api/v1/sync/push", data=body, headers=gzipped)


def test_gzipped_push_is_applied(client: FlaskClient) -> None:
    world = make_registry_world()
    body = gzip.compress(json.dumps({"ops": [address_op(), address_op()]}).encode())
    response = _push_gzipped(client, world.headers["worker_a"], body)
    assert response.status_code == 200, response.get_json()
    assert [r["status"] for r in response.get_json()["results"]] == ["applied", "applied"]
    assert db.session.scalar(text("SELECT count(*) FROM addresses")) == 2


def test_gzipped_push_inflating_past_the_limit_is_refused_without_inflating_it(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_registry_world()
    monkeypatch.setitem(app.config, "SYNC_MAX_BATCH_BYTES", 10_000)
    # ~100 KB on the wire, 100 MB inflated: valid JSON with a long run of whitespace.
    bomb = gzip.compress(json.dumps({"ops": [address_op()]}).encode() + b" " * 100_000_000, 1)
    assert len(bomb) < 500_000
    tracemalloc.start()
    try:
        response = _push_gzipped(client, world.headers["worker_a"], bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    assert peak < 10_000_000, peak
    assert db.session.scalar(text("SELECT count(*) FROM addresses")) == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"ops": []}',
        gzip.compress(b'{"ops": []}')[:-6],
        gzip.compress(b'{"ops": []}') + b"trailing",
    ],
    ids=["not gzip", "truncated", "trailing bytes"],
)
def test_push_that_is_not_one_gzip_member_is_422(client: FlaskClient, body: bytes) -> None:
    world = make_registry_world()
    response = _push_gzipped(client, world.headers["worker_a"], body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["_body"]


def test_admin_sees_device_sync_health(client: FlaskClient) -> None:
    world = make_registry_world()
    push(client, world.headers["worker_a"], address_op(kind="palace"))
    pull(client, world.headers["worker_a"])
    response = client.get("/api/v1/devices/sync-health", headers=world.headers["admin"])
    (device,) = [
        d for d in response.get_json()["items"] if d["username"] == world.users["worker_a"].username
    ]
    assert device["last_push_at"] is not None
    assert device["last_pull_at"] is not None
    assert device["failures"][0]["reason"] == "invalid_fields"
    worker = client.get("/api/v1/devices/sync-health", headers=world.headers["worker_a"])
    assert worker.status_code == 403


def test_revoked_device_is_told_to_wipe(client: FlaskClient) -> None:
    world = make_registry_world()
    db.session.execute(
        text("UPDATE devices SET revoked_at = now() WHERE user_id = :u"),
        {"u": world.users["worker_a"].id},
    )
    db.session.commit()
    response = client.post(
        "/api/v1/sync/push", json={"ops": [address_op()]}, headers=world.headers["worker_a"]
    )
    assert (response.status_code, response.get_json()["code"]) == (401, "device_revoked")


def test_point_sent_as_text_is_rejected_not_fatal(client: FlaskClient) -> None:
    world = make_registry_world()
    op = address_op()
    push(client, world.headers["worker_a"], op)
    odd = patch_op(op["record_id"], 1, point="SRID=4326;POINT(oops)")
    fine = address_op()
    results = push(client, world.headers["worker_a"], odd, address_op(point="POINT(1 2)"), fine)
    assert [(r["status"], r["reason"]) for r in results] == [
        ("rejected", "invalid_fields"),
        ("rejected", "invalid_fields"),
        ("applied", None),
    ]
