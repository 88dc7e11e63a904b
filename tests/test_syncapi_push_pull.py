"""Push and pull over HTTP: creates reach the grid's other phones, replays change nothing."""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from server.extensions import db
from tests.factories import IN_A, auth_headers, make_registry_world, point


def stamp(offset_ms: int = 0, node: str = "phone") -> str:
    """An HLC stamp of now (plus an offset)."""
    return f"{int(time.time() * 1000) + offset_ms:015d}-00000-{node}"


def address_op(where: tuple[float, float] = IN_A, **fields: Any) -> dict[str, Any]:
    """A create op for a door address at `where`."""
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "address",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": {
            "kind": "door",
            "street": "长安路",
            "door_number": "12号",
            "point": point(where),
            **fields,
        },
    }


def sync_op(
    record_type: str, record_id: str, kind: str, base: int | None = None, **fields: Any
) -> dict[str, Any]:
    """An op of any kind on any record type, edited from version `base`."""
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": record_type,
        "record_id": record_id,
        "kind": kind,
        "stamp": stamp(),
        "base_version": base,
        "fields": fields,
    }


def incident_op(where: tuple[float, float] = IN_A, **fields: Any) -> dict[str, Any]:
    """A create op for an incident (an exposed-rubbish event) at `where`."""
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "incident",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": {
            "kind": "event",
            "category": "0101",
            "title": "暴露垃圾",
            "occurred_at": "2026-11-20T08:30:00+08:00",
            "urgency": "02",
            "point": point(where),
            **fields,
        },
    }


def push(client: FlaskClient, headers: dict[str, str], *ops: dict[str, Any]) -> list[Any]:
    """Push ops and return the results."""
    response = client.post("/api/v1/sync/push", json={"ops": list(ops)}, headers=headers)
    assert response.status_code == 200, response.get_json()
    results: list[Any] = response.get_json()["results"]
    return results


def pull(client: FlaskClient, headers: dict[str, str], cursor: str | None = None) -> Any:
    """Pull one page."""
    query = f"?cursor={cursor}" if cursor else ""
    response = client.get(f"/api/v1/sync/pull{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def resolve(
    client: FlaskClient, headers: dict[str, str], conflict_id: str, body: dict[str, Any]
) -> TestResponse:
    """POST a resolution of one conflict from the inbox."""
    return client.post(f"/api/v1/conflicts/{conflict_id}/resolve", json=body, headers=headers)


def test_created_record_reaches_another_phone_of_the_grid_only(client: FlaskClient) -> None:
    world = make_registry_world()
    other_phone = auth_headers(world.users["worker_a"], "phone-2")
    cursor_a = pull(client, other_phone)["cursor"]
    cursor_b = pull(client, world.headers["worker_b"])["cursor"]
    op = address_op()
    (result,) = push(client, world.headers["worker_a"], op)
    assert result["status"] == "applied"
    seen = pull(client, other_phone, cursor_a)
    ids = [c["record_id"] for c in seen["changes"] if c["kind"] == "upsert"]
    assert ids == [op["record_id"]]
    assert seen["changes"][0]["record"]["door_number"] == "12号"
    assert seen["changes"][0]["grid_id"] == str(world.grid_a.id)
    elsewhere = pull(client, world.headers["worker_b"], cursor_b)
    assert elsewhere["changes"] == []


def test_replayed_batch_returns_identical_results_and_changes_nothing(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    ops = [address_op(), address_op(door_number="13号")]
    first = push(client, headers, *ops)
    before = db.session.execute(text("SELECT id, version, updated_at FROM addresses")).all()
    log = db.session.scalar(text("SELECT count(*) FROM change_log"))
    again = push(client, headers, *ops)
    assert again == first
    after = db.session.execute(text("SELECT id, version, updated_at FROM addresses")).all()
    assert sorted(after) == sorted(before)
    assert db.session.scalar(text("SELECT count(*) FROM change_log")) == log


def test_first_download_checksum_matches_what_the_phone_computes(client: FlaskClient) -> None:
    from sync.slices import record_hash

    world = make_registry_world()
    headers = world.headers["worker_a"]
    push(client, headers, *[address_op() for _ in range(3)])
    first = pull(client, headers)
    assert first["added_grids"] == [str(world.grid_a.id)]
    records: list[Any] = []
    after = None
    while True:
        query = f"grid_id={world.grid_a.id}&limit=2" + (f"&after={after}" if after else "")
        page = client.get(f"/api/v1/sync/snapshot?{query}", headers=headers).get_json()
        records += page["records"]
        after = page["after"]
        if after is None:
            break
    total = sum(record_hash(uuid.UUID(r["record_id"]), r["version"]) for r in records) % 2**32
    assert page["summary"] == {"grid_id": str(world.grid_a.id), "count": 3, "checksum": total}
    (summary,) = first["summaries"]
    assert (summary["count"], summary["checksum"]) == (3, total)


def test_admin_may_not_write_special_populations(client: FlaskClient) -> None:
    world = make_registry_world()
    op = {
        "op_id": str(uuid.uuid4()),
        "record_type": "person_special_population",
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": {"person_id": str(uuid.uuid4()), "category": "community_correction"},
    }
    (result,) = push(client, world.headers["admin"], op)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert result["field_errors"]["_op"] == ["Your role may not record special populations."]
