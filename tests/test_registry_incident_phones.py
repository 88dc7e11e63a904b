"""Incident party and reporter phones are sealed at rest and masked on the way out."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from server.extensions import db
from server.privacy.crypto import lookup_hash
from server.registry.models.incident import Incident
from server.registry.services import personal
from server.registry.services.incidents import PARTY_PHONE
from tests.factories import IN_A, auth_headers, make_registry_world, point
from tests.test_syncapi_privacy import _tables_holding
from tests.test_syncapi_push_pull import pull, push, resolve, stamp

PARTY = "13812345678"
REPORTER = "13912348765"
OTHER = "13655551111"
SERVER_SIDE = "13700009999"
EDITED = "15800001234"


def _fields(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "dispute",
        "category": "02",
        "title": "邻里噪音纠纷",
        "occurred_at": "2026-11-20T08:30:00+08:00",
        "urgency": "03",
        "point": point(IN_A),
        "parties": [{"name": "钱七", "role": "申请人", "phone": PARTY}],
        "reporter": {"name": "赵六", "phone": REPORTER},
        **overrides,
    }


def _incident_op(**fields: Any) -> dict[str, Any]:
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "incident",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": _fields(**fields),
    }


def _patch(record_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "incident",
        "record_id": record_id,
        "kind": "patch",
        "stamp": stamp(),
        "base_version": 1,
        "fields": fields,
    }


def _stored() -> tuple[list[dict[str, Any]], bytes | None, str | None]:
    parties, enc, digest = db.session.execute(
        select(Incident.parties, Incident.reporter_phone_enc, Incident.reporter_phone_hash)
    ).one()
    return parties, enc, digest


def _assert_sealed() -> None:
    assert _tables_holding(PARTY) == []
    assert _tables_holding(REPORTER) == []
    (party,), enc, digest = _stored()
    assert "phone" not in party
    assert party["phone_hash"] == lookup_hash(PARTY, context=PARTY_PHONE)
    assert enc is not None
    assert digest == lookup_hash(REPORTER, context=personal.REPORTER_PHONE)


def _assert_masked(body: dict[str, Any]) -> None:
    assert body["parties"] == [{"name": "钱七", "role": "申请人", "phone": "138****5678"}]
    assert body["reporter"]["phone"] == "139****8765"


def test_web_created_incident_keeps_no_phone_in_clear_and_shows_them_masked(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    response = client.post("/api/v1/incidents", json=_fields(), headers=headers)
    assert response.status_code == 201, response.get_json()
    _assert_masked(response.get_json())
    _assert_sealed()
    read = client.get(f"/api/v1/incidents/{response.get_json()['id']}", headers=headers)
    _assert_masked(read.get_json())


def test_pushed_incident_keeps_no_phone_in_clear_and_reads_back_masked(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    cursor = pull(client, headers)["cursor"]
    op = _incident_op()
    (result,) = push(client, headers, op)
    assert result["status"] == "applied", result
    _assert_sealed()
    read = client.get(f"/api/v1/incidents/{op['record_id']}", headers=headers)
    _assert_masked(read.get_json())
    changes = pull(client, headers, cursor)["changes"]
    (pulled,) = [c for c in changes if c["record_type"] == "incident"]
    _assert_masked(pulled["record"])
    assert "_enc" not in str(changes)
    assert "_hash" not in str(changes)


def test_a_phone_cannot_write_the_reporter_phone_hash(client: FlaskClient) -> None:
    world = make_registry_world()
    op = _incident_op(reporter_phone_hash="0" * 64)
    (result,) = push(client, world.headers["worker_a"], op)
    assert result["status"] == "rejected", result
    assert db.session.scalar(select(Incident.id)) is None


def test_conflicting_party_and_reporter_phones_reach_the_inbox_masked(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    op = _incident_op()
    assert push(client, phone1, op)[0]["status"] == "applied"
    mine = _patch(
        op["record_id"],
        parties=[{"name": "钱七", "phone": OTHER}],
        reporter={"name": "赵六", "phone": SERVER_SIDE},
    )
    assert push(client, phone1, mine)[0]["status"] == "applied"
    (result,) = push(
        client,
        phone2,
        _patch(
            op["record_id"],
            parties=[{"name": "孙八", "phone": PARTY}],
            reporter={"name": "赵六", "phone": OTHER},
        ),
    )
    assert _tables_holding(OTHER) == []
    assert _tables_holding(PARTY) == []
    inbox = client.get("/api/v1/conflicts?status=open", headers=world.headers["dispatcher_a"])
    assert inbox.status_code == 200
    items = inbox.get_json()["items"]
    (parties,) = [i for i in items if i["field"] == "parties"]
    assert parties["server_value"] == [{"name": "钱七", "role": None, "phone": "136****1111"}]
    assert parties["client_value"] == [{"name": "孙八", "role": None, "phone": "138****5678"}]
    assert "reporter_phone_hash" not in [i["field"] for i in items]
    (reporter,) = [i for i in items if i["field"] == "reporter_phone_enc"]
    assert (reporter["server_value"], reporter["client_value"]) == ("137****9999", "136****1111")
    assert result["status"] == "conflict", result
    body = str(items)
    assert OTHER not in body
    assert PARTY not in body
    assert "_hash" not in body


def test_editing_a_reporter_phone_conflict_seals_and_hashes_the_new_number(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    phone1 = world.headers["worker_a"]
    phone2 = auth_headers(world.users["worker_a"], "phone-2")
    op = _incident_op()
    push(client, phone1, op)
    push(client, phone1, _patch(op["record_id"], reporter={"name": "赵六", "phone": SERVER_SIDE}))
    push(client, phone2, _patch(op["record_id"], reporter={"name": "赵六", "phone": OTHER}))
    inbox = client.get("/api/v1/conflicts?status=open", headers=world.headers["dispatcher_a"])
    (item,) = [i for i in inbox.get_json()["items"] if i["field"] == "reporter_phone_enc"]
    resolved = resolve(
        client, world.headers["dispatcher_a"], item["id"], {"action": "edit", "value": EDITED}
    )
    assert resolved.status_code == 200, resolved.get_json()
    assert _tables_holding(EDITED) == []
    _, _, digest = _stored()
    assert digest == lookup_hash(EDITED, context=personal.REPORTER_PHONE)
    read = client.get(f"/api/v1/incidents/{op['record_id']}", headers=phone1)
    assert read.get_json()["reporter"]["phone"] == "158****1234"
