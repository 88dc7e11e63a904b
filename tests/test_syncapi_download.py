"""First download: snapshot pages present every record exactly as the feed and the web API do."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import IN_A, REGISTRY_ENTITIES, create_record, make_registry_world
from tests.test_syncapi_push_pull import pull, push, stamp

# Web API path of each record type, to read a record back the way the web client sees it.
_WEB_PATH = {
    "address": "addresses",
    "house": "houses",
    "person": "persons",
    "household": "households",
    "organization": "organizations",
    "incident": "incidents",
    "task": "tasks",
    "visit": "visits",
    "follow_up_plan": "follow-up-plans",
}


def _snapshot(client: FlaskClient, headers: dict[str, str], grid: str, limit: int) -> list[Any]:
    records: list[Any] = []
    after = None
    while True:
        query = f"grid_id={grid}&limit={limit}" + (f"&after={after}" if after else "")
        response = client.get(f"/api/v1/sync/snapshot?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        records += page["records"]
        after = page["after"]
        if after is None:
            return records


def _feed(client: FlaskClient, headers: dict[str, str], cursor: str) -> dict[Any, Any]:
    upserts: dict[Any, Any] = {}
    while True:
        page = pull(client, headers, cursor)
        for change in page["changes"]:
            if change["kind"] == "upsert":
                upserts[(change["record_type"], change["record_id"])] = change["record"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return upserts


def _every_kind_in_grid_a(client: FlaskClient, world: Any) -> None:
    creator = world.headers["dispatcher_a"]
    for entity in REGISTRY_ENTITIES:
        create_record(
            client, creator, entity, IN_A, assignee=world.users["worker_a"], grid=world.grid_a
        )


@pytest.mark.parametrize("who", ["worker_a", "dispatcher_a", "admin"])
def test_snapshot_pages_present_records_exactly_as_the_feed_does(
    client: FlaskClient, who: str
) -> None:
    world = make_registry_world()
    headers = world.headers[who]
    cursor = pull(client, headers)["cursor"]  # holds grid A: what follows comes by the feed
    _every_kind_in_grid_a(client, world)
    fed = _feed(client, headers, cursor)
    # Pages of 3 split the records of one type over pages and put several types in one page.
    snap = _snapshot(client, headers, str(world.grid_a.id), limit=3)
    snapped = {(r["record_type"], r["record_id"]): r["record"] for r in snap}
    assert len(snapped) == len(snap)
    assert snapped == fed
    assert {t for t, _ in snapped} >= set(_WEB_PATH)


def test_snapshot_records_read_like_the_web_api(client: FlaskClient) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    _every_kind_in_grid_a(client, world)
    for item in _snapshot(client, headers, str(world.grid_a.id), limit=1000):
        path = _WEB_PATH.get(item["record_type"])
        if path is None:
            continue  # a child row (special population, household member) has no web path
        web = client.get(f"/api/v1/{path}/{item['record_id']}", headers=headers).get_json()
        shared = {k: v for k, v in item["record"].items() if k in web}
        assert shared == {k: web[k] for k in shared}, item["record_type"]
        assert set(item["record"]) - set(web) <= {"deleted_at"}, item["record_type"]


def test_snapshot_skips_a_deleted_record_inside_a_page(client: FlaskClient) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    made = [create_record(client, headers, "addresses", IN_A)["id"] for _ in range(5)]
    gone = sorted(made)[2]
    delete = {
        "op_id": str(uuid.uuid4()),
        "record_type": "address",
        "record_id": gone,
        "kind": "delete",
        "stamp": stamp(),
        "base_version": 1,
        "fields": {},
    }
    assert push(client, headers, delete)[0]["status"] == "applied"
    snap = _snapshot(client, headers, str(world.grid_a.id), limit=1000)
    assert sorted(r["record_id"] for r in snap) == sorted(set(made) - {gone})
    assert all(r["record"] is not None for r in snap)
