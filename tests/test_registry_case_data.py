"""Visits and follow-up plans: what they say about the person followed up is case data of a
special population, seen only by the roles that work the case (workers, dispatchers)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import IN_A, RegistryWorld, create_record, make_registry_world, point
from tests.test_syncapi_push_pull import push, sync_op


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def _case(client: FlaskClient, world: RegistryWorld) -> tuple[dict[str, Any], dict[str, Any]]:
    person = create_record(client, world.headers["worker_a"], "persons", IN_A)
    visit = client.post(
        "/api/v1/visits",
        json={
            "person_id": person["id"],
            "visited_at": "2026-11-21T10:00:00+08:00",
            "form": "in_person",
            "content": "精神状况稳定，按时服药",
            "point": point((108.9051, 34.2052)),
        },
        headers=world.headers["worker_a"],
    )
    plan = client.post(
        "/api/v1/follow-up-plans",
        json={"person_id": person["id"], "cycle": "monthly", "notes": "每月随访"},
        headers=world.headers["worker_a"],
    )
    assert (visit.status_code, plan.status_code) == (201, 201)
    return visit.get_json(), plan.get_json()


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_case_data_is_withheld_from_roles_special_populations_are_hidden_from(
    client: FlaskClient, world: RegistryWorld, who: str
) -> None:
    visit, plan = _case(client, world)
    headers = world.headers[who]
    shown = client.get(f"/api/v1/visits/{visit['id']}", headers=headers).get_json()
    assert (shown["content"], shown["state"], shown["measures"], shown["point"]) == (None,) * 4
    assert shown["visited_at"] == visit["visited_at"]
    listed = client.get("/api/v1/follow-up-plans", headers=headers).get_json()["items"]
    assert [(p["id"], p["notes"]) for p in listed] == [(plan["id"], None)]
    assert "按时服药" not in client.get("/api/v1/visits", headers=headers).get_data(as_text=True)
    mapped = client.get("/api/v1/visits", query_string={"format": "geojson"}, headers=headers)
    (feature,) = mapped.get_json()["features"]
    assert feature["geometry"] is None  # where the person was found is whereabouts
    assert feature["properties"]["content"] is None


def test_the_worker_and_the_dispatcher_see_the_case(
    client: FlaskClient, world: RegistryWorld
) -> None:
    visit, _ = _case(client, world)
    for who in ("worker_a", "dispatcher_a"):
        shown = client.get(f"/api/v1/visits/{visit['id']}", headers=world.headers[who]).get_json()
        assert shown["content"] == "精神状况稳定，按时服药"
        assert shown["point"] is not None
        listed = client.get("/api/v1/follow-up-plans", headers=world.headers[who]).get_json()
        assert listed["items"][0]["notes"] == "每月随访"


def test_an_admin_may_not_write_case_data_on_the_web_or_over_sync(
    client: FlaskClient, world: RegistryWorld
) -> None:
    visit, plan = _case(client, world)
    admin = world.headers["admin"]
    refused = client.patch(
        f"/api/v1/visits/{visit['id']}",
        json={"expected_version": visit["version"], "content": "改写"},
        headers=admin,
    )
    assert refused.status_code == 403
    (pushed,) = push(client, admin, sync_op("follow_up_plan", plan["id"], "patch", 1, notes="改写"))
    assert pushed["status"] == "rejected"
    assert "notes" in pushed["field_errors"]
    # Fields outside the case stay theirs to correct.
    moved = client.patch(
        f"/api/v1/visits/{visit['id']}",
        json={"expected_version": visit["version"], "form": "phone"},
        headers=admin,
    )
    assert moved.status_code == 200
    kept = client.get(f"/api/v1/visits/{visit['id']}", headers=world.headers["worker_a"])
    assert kept.get_json()["content"] == "精神状况稳定，按时服药"
