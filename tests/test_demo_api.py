"""End to end over HTTP: a demo login, then the grids that login may see."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from server.demo.service import demo_logins, load_demo


def _grid_codes_seen_by(client: FlaskClient, login: dict[str, Any]) -> list[str]:
    response = client.post(
        "/api/v1/auth/login",
        json={
            "username": login["username"],
            "password": login["password"],
            "device_id": "demo-test",
        },
    )
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["access_token"]
    grids = client.get("/api/v1/grids", headers={"Authorization": f"Bearer {token}"})
    assert grids.status_code == 200, grids.get_json()
    return [feature["properties"]["code"] for feature in grids.get_json()["features"]]


def test_a_demo_worker_logs_in_and_lists_exactly_their_grids(client: FlaskClient) -> None:
    load_demo()
    worker = next(x for x in demo_logins() if x["role"] == "worker" and len(x["grids"]) == 2)
    assert sorted(_grid_codes_seen_by(client, worker)) == sorted(worker["grids"])


def test_the_town_dispatcher_lists_the_grids_of_the_town(client: FlaskClient) -> None:
    load_demo()
    dispatcher = next(x for x in demo_logins() if x["username"] == "dispatcher01")
    codes = _grid_codes_seen_by(client, dispatcher)
    assert len(codes) > 0
    assert all(code.startswith("610112011") for code in codes)
