"""Pull edges: transactions that commit in another order than their ids, a person's
special-population rows, forged cursors."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from client.phone import Phone
from client.store import Store
from tests.factories import IN_A, IN_B, auth_headers, citizen_id, make_registry_world, point
from tests.test_syncapi_conflicts import patch_op
from tests.test_syncapi_privacy import person_op
from tests.test_syncapi_push_pull import address_op, pull, push, sync_op


class FlaskApi:
    """The reference client's SyncApi over the Flask test client (one device's headers)."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers
        self.pages: list[dict[str, Any]] = []

    def push(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.client.post("/api/v1/sync/push", json={"ops": ops}, headers=self.headers)
        assert response.status_code == 200, response.get_json()
        results: list[dict[str, Any]] = response.get_json()["results"]
        return results

    def pull(self, cursor: str | None, limit: int) -> dict[str, Any]:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = self.client.get(f"/api/v1/sync/pull?{query}", headers=self.headers)
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        self.pages.append(body)
        return body

    def snapshot(self, grid_id: str, after: str | None, limit: int) -> dict[str, Any]:
        query = f"grid_id={grid_id}&limit={limit}" + (f"&after={after}" if after else "")
        response = self.client.get(f"/api/v1/sync/snapshot?{query}", headers=self.headers)
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body


class ProbePhone(Phone):
    api: FlaskApi


def make_phone(client: FlaskClient, headers: dict[str, str], node: str = "phone") -> ProbePhone:
    return ProbePhone(Store(), FlaskApi(client, headers), node)


def server_view(client: FlaskClient, headers: dict[str, str], grid: str) -> dict[Any, Any]:
    """What a fresh snapshot of `grid` holds: {(type, id): record}."""
    api = FlaskApi(client, headers)
    out: dict[Any, Any] = {}
    after = None
    while True:
        page = api.snapshot(grid, after, 1000)
        out.update({(r["record_type"], str(r["record_id"])): r["record"] for r in page["records"]})
        after = page["after"]
        if after is None:
            return out


def _cursor(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def test_forged_cursor_with_out_of_range_txid_is_refused_with_422(client: FlaskClient) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    forged = _cursor({"v": 1, "t": 1e30, "s": 0, "tt": 1e30, "ts": 0, "g": [str(world.grid_a.id)]})
    response = client.raw.get(f"/api/v1/sync/pull?cursor={forged}", headers=headers)
    assert response.status_code == 422, response.status_code


def test_record_moved_out_by_an_older_transaction_that_commits_late_gets_a_leave(
    client: FlaskClient, owner_engine: Engine
) -> None:
    """T1 (e.g. a redraw or web edit) takes its xid first; meanwhile a push moves R into grid A
    and commits; the phone of A pulls R; then T1 moves R out of A to B and commits. The next
    pull of A's phone must say that R left A (or the phone keeps a record of grid B)."""
    world = make_registry_world()
    admin, phone = world.headers["admin"], world.headers["worker_a"]
    op = address_op(IN_B)
    assert push(client, admin, op)[0]["status"] == "applied"
    record_id = op["record_id"]
    cursor = pull(client, phone)["cursor"]  # holds grid A; R lies in grid B
    with owner_engine.connect() as other:
        late = other.begin()
        other.execute(text("SELECT pg_current_xact_id()"))  # T1 has its xid, below the push's
        move_in = patch_op(record_id, 1, point=point(IN_A))
        assert push(client, admin, move_in)[0]["status"] == "applied"
        page = pull(client, phone, cursor)
        assert [(c["kind"], c["record_id"]) for c in page["changes"]] == [("upsert", record_id)]
        cursor = page["cursor"]
        other.execute(
            text(
                "UPDATE addresses SET grid_id = :b, scope_path = ARRAY[:b], "
                "version = version + 1, point = ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
                "WHERE id = :r"
            ),
            {"b": world.grid_b.id, "r": record_id, "x": IN_B[0], "y": IN_B[1]},
        )
        late.commit()
    page = pull(client, phone, cursor)
    kinds = [(c["kind"], c["record_id"]) for c in page["changes"]]
    assert ("leave", record_id) in kinds, (kinds, page["summaries"], page["has_more"])


def test_a_persons_special_populations_reach_the_phone_only_as_records_of_their_own(
    client: FlaskClient,
) -> None:
    """The web API embeds a person's special-population rows in the person; a phone must not get
    them that way: changing a row does not change the person's version, so the embedded copy
    would never be re-sent and a deleted "drug user" would stay on the phone."""
    world = make_registry_world()
    writer = world.headers["worker_a"]
    grid = str(world.grid_a.id)
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=61))
    special = sync_op(
        "person_special_population",
        str(uuid.uuid4()),
        "create",
        None,
        person_id=person["record_id"],
        category="drug_user",
    )
    assert [r["status"] for r in push(client, writer, address, person, special)] == ["applied"] * 3
    phone = make_phone(client, auth_headers(world.users["worker_a"], "phone-2"))
    phone.sync()
    held = phone.get("person", person["record_id"])
    assert held is not None
    assert "special_populations" not in held
    assert (
        "special_populations"
        not in server_view(client, writer, grid)[("person", person["record_id"])]
    )
    row = phone.get("person_special_population", special["record_id"])
    assert row is not None
    assert row["category"] == "drug_user"
    gone = sync_op("person_special_population", special["record_id"], "delete", 1)
    assert push(client, writer, gone)[0]["status"] == "applied"
    phone.sync()
    assert phone.get("person_special_population", special["record_id"]) is None


def test_record_moved_back_in_by_an_older_transaction_that_commits_late_is_delivered(
    client: FlaskClient, owner_engine: Engine
) -> None:
    """T1 takes its xid first; a push moves R out of grid A and commits; A's phone pulls the
    leave and drops R; then T1 moves R back into A and commits. The next pull must give the
    phone R again: it is in A now. The feed answers with the (older) leave instead."""
    world = make_registry_world()
    admin, phone = world.headers["admin"], world.headers["worker_a"]
    op_ = address_op(IN_A)
    assert push(client, admin, op_)[0]["status"] == "applied"
    record_id = op_["record_id"]
    cursor = pull(client, phone)["cursor"]
    with owner_engine.connect() as other:
        late = other.begin()
        other.execute(text("SELECT pg_current_xact_id()"))
        move_out = patch_op(record_id, 1, point=point(IN_B))
        assert push(client, admin, move_out)[0]["status"] == "applied"
        page = pull(client, phone, cursor)
        assert [(c["kind"], c["record_id"]) for c in page["changes"]] == [("leave", record_id)]
        cursor = page["cursor"]
        other.execute(
            text(
                "UPDATE addresses SET grid_id = :a, scope_path = ARRAY[:a], "
                "version = version + 1, point = ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
                "WHERE id = :r"
            ),
            {"a": world.grid_a.id, "r": record_id, "x": IN_A[0], "y": IN_A[1]},
        )
        late.commit()
    page = pull(client, phone, cursor)
    kinds = [(c["kind"], c["record_id"]) for c in page["changes"]]
    assert kinds == [("upsert", record_id)], (kinds, page["summaries"])


def test_a_record_deleted_after_it_moved_away_leaves_without_its_tombstone(
    client: FlaskClient,
) -> None:
    """A's phone must drop a record that moved to B and was deleted there, and learn nothing
    of B: a tombstone would name grid B and who deleted the record there."""
    world = make_registry_world()
    admin, phone = world.headers["admin"], world.headers["worker_a"]
    created = address_op(IN_A)
    assert push(client, admin, created)[0]["status"] == "applied"
    record_id = created["record_id"]
    cursor = pull(client, phone)["cursor"]  # the phone holds grid A, and the record by snapshot
    assert push(client, admin, patch_op(record_id, 1, point=point(IN_B)))[0]["status"] == "applied"
    assert push(client, admin, sync_op("address", record_id, "delete", 2))[0]["status"] == "applied"
    page = pull(client, phone, cursor)
    mine = [c for c in page["changes"] if c["record_id"] == record_id]
    assert [(c["kind"], c["grid_id"], c["record"]) for c in mine] == [
        ("leave", str(world.grid_a.id), None)
    ]
    assert str(world.grid_b.id) not in str(page)
