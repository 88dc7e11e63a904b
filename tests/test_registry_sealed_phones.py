"""A natural person's phone on an organization is sealed at rest and masked on the way out."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from server.extensions import db
from server.registry.models.organization import Organization
from tests.factories import IN_A, create_record, make_registry_world, uscc
from tests.test_syncapi_privacy import _tables_holding
from tests.test_syncapi_push_pull import push, stamp

OFFICER_PHONE = "13755554321"


def _organization(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    address = create_record(client, headers, "addresses", IN_A)
    response = client.post(
        "/api/v1/organizations",
        json={
            "name": "秦创原科技",
            "org_type": "01",
            "uscc": uscc(),
            "address_id": address["id"],
            "security_officer": "王五",
            "security_officer_phone": OFFICER_PHONE,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_security_officer_phone_is_stored_in_no_table_in_clear(client: FlaskClient) -> None:
    world = make_registry_world()
    created = _organization(client, world.headers["worker_a"])
    assert created["security_officer_phone"] == "137****4321"
    assert _tables_holding(OFFICER_PHONE) == []
    stored = db.session.execute(
        select(Organization.security_officer_phone_enc, Organization.security_officer_phone_hash)
    ).one()
    assert stored[0] is not None
    assert stored[1] is not None


def test_security_officer_phone_reads_back_masked(client: FlaskClient) -> None:
    world = make_registry_world()
    created = _organization(client, world.headers["worker_a"])
    read = client.get(f"/api/v1/organizations/{created['id']}", headers=world.headers["worker_a"])
    assert read.get_json()["security_officer_phone"] == "137****4321"


def test_pushed_security_officer_phone_is_sealed(client: FlaskClient) -> None:
    world = make_registry_world()
    address = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    op = {
        "op_id": str(uuid.uuid4()),
        "record_type": "organization",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": {
            "name": "秦创原商贸",
            "org_type": "01",
            "address_id": address["id"],
            "security_officer_phone": OFFICER_PHONE,
        },
    }
    (result,) = push(client, world.headers["worker_a"], op)
    assert result["status"] == "applied", result
    assert _tables_holding(OFFICER_PHONE) == []
    read = client.get(f"/api/v1/organizations/{op['record_id']}", headers=world.headers["worker_a"])
    assert read.get_json()["security_officer_phone"] == "137****4321"
