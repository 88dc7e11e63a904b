"""Redraw drafts: stored, replaced, discarded and validated by admins only."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.auth.models import Role
from tests.factories import auth_headers, make_user
from tests.test_redraw_apply import MID, NEW_MID, N, S, Town, W, border_draft, make_town, rect


@pytest.fixture
def town(app: Any) -> Town:
    return make_town()


def _create(client: FlaskClient, town: Town, body: dict[str, Any], headers: Any = None) -> Any:
    return client.post(
        f"/api/v1/communities/{town.community.id}/redraws",
        json=body,
        headers=headers or town.admin,
    )


def test_a_draft_records_the_communitys_boundary_version(client: FlaskClient, town: Town) -> None:
    created = _create(client, town, border_draft(town)).get_json()

    fetched = client.get(f"/api/v1/redraws/{created['id']}", headers=town.admin).get_json()

    assert (fetched["status"], fetched["base_boundary_version"], fetched["ok"]) == (
        "draft",
        1,
        None,
    )
    assert [g["grid_id"] for g in fetched["grids"]] == [str(town.west.id), str(town.east.id)]


@pytest.mark.parametrize("role", [Role.WORKER, Role.DISPATCHER, Role.AUDITOR])
def test_only_admins_draft_redraws(client: FlaskClient, town: Town, role: Role) -> None:
    response = _create(client, town, border_draft(town), auth_headers(make_user(role)))

    assert response.status_code == 403


def test_a_draft_naming_a_grid_of_another_community_is_refused(
    client: FlaskClient, town: Town
) -> None:
    other = make_town()
    body = {"grids": [{"grid_id": str(other.west.id), "geometry": rect(W, S, MID, N)}]}

    response = _create(client, town, body)

    assert response.status_code == 422
    assert "grids.0.grid_id" in response.get_json()["errors"]


def test_a_drafted_grid_named_only_by_whitespace_is_refused(
    client: FlaskClient, town: Town
) -> None:
    body = border_draft(town)
    body["grids"][0]["name"] = " \u3000 "

    response = _create(client, town, body)

    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "grids": {"0": {"name": ["Must not be empty or only whitespace."]}}
    }


def test_replacing_a_draft_clears_its_validation(client: FlaskClient, town: Town) -> None:
    draft = _create(client, town, border_draft(town)).get_json()
    client.post(f"/api/v1/redraws/{draft['id']}/validate", headers=town.admin)

    replaced = client.put(
        f"/api/v1/redraws/{draft['id']}", json=border_draft(town, 108.913), headers=town.admin
    ).get_json()

    assert (replaced["ok"], replaced["problems"], replaced["snapped"]) == (None, None, None)
    assert replaced["grids"][0]["geometry"]["coordinates"][0][2][0] == 108.913


def test_a_discarded_draft_is_gone(client: FlaskClient, town: Town) -> None:
    draft = _create(client, town, border_draft(town)).get_json()

    deleted = client.delete(f"/api/v1/redraws/{draft['id']}", headers=town.admin)

    assert deleted.status_code == 204
    assert client.get(f"/api/v1/redraws/{draft['id']}", headers=town.admin).status_code == 404


def test_an_applied_draft_can_no_longer_change(client: FlaskClient, town: Town) -> None:
    draft = _create(client, town, border_draft(town)).get_json()
    client.post(
        f"/api/v1/redraws/{draft['id']}/apply",
        json={"expected_boundary_version": 1},
        headers=town.admin,
    )

    response = client.put(
        f"/api/v1/redraws/{draft['id']}", json=border_draft(town), headers=town.admin
    )

    assert response.status_code == 409


def test_validation_stores_the_snapped_geometries(
    client: FlaskClient, town: Town, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "GRID_OVERLAP_TOLERANCE_M2", 50.0)
    # The east grid's new west edge misses the new border by ~1 cm: a 10 m² sliver, snapped.
    body = {
        "grids": [
            {"grid_id": str(town.west.id), "geometry": rect(W, S, NEW_MID, N)},
            {"grid_id": str(town.east.id), "geometry": rect(NEW_MID + 1e-7, S, 108.92, N)},
        ]
    }
    draft = _create(client, town, body).get_json()

    verdict = client.post(f"/api/v1/redraws/{draft['id']}/validate", headers=town.admin)

    body = verdict.get_json()
    assert (verdict.status_code, body["ok"], body["problems"]) == (200, True, [])
    stored = client.get(f"/api/v1/redraws/{draft['id']}", headers=town.admin).get_json()
    assert stored["ok"] is True
    assert len(stored["snapped"]) == 2


def test_validation_locates_a_gap_for_the_editor(client: FlaskClient, town: Town) -> None:
    body = {"grids": [{"grid_id": str(town.west.id), "geometry": rect(W, S, 108.905, N)}]}
    draft = _create(client, town, body).get_json()

    verdict = client.post(f"/api/v1/redraws/{draft['id']}/validate", headers=town.admin).get_json()

    assert verdict["ok"] is False
    (gap,) = verdict["problems"]
    assert gap["kind"] == "gap"
    assert gap["keys"] == [str(town.west.id)]
    lng, lat = gap["location"]
    assert 108.905 < lng < MID
    assert S < lat < N
    assert gap["size_m2"] > 100_000
