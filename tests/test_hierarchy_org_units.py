"""Org units: create with level and code rules (admin), list and read within scope."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from shapely import wkt
from shapely.geometry import mapping
from sqlalchemy import func, select

from server.auth.models import Role
from server.extensions import db
from server.hierarchy.models import OrgLevel, OrgUnit
from tests.factories import (
    assign_dispatcher,
    assign_worker,
    auth_headers,
    make_grid,
    make_org_tree,
    make_org_unit,
    make_user,
    square_wkt,
)

BOWTIE = "POLYGON ((108.70 34.30, 108.72 34.32, 108.72 34.30, 108.70 34.32, 108.70 34.30))"


def unit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OrgUnit)) or 0


def post_unit(client: FlaskClient, **body: Any) -> Any:
    return client.post("/api/v1/org-units", json=body, headers=auth_headers(make_user(Role.ADMIN)))


def test_admin_creates_a_root_new_area(client: FlaskClient) -> None:
    response = post_unit(client, level="new_area", name="Xixian New Area")
    assert response.status_code == 201
    body = response.get_json()
    assert body["parent_id"] is None
    unit = db.session.get(OrgUnit, body["id"])
    assert unit is not None
    assert unit.path == [unit.id]


@pytest.mark.parametrize("blank", ["", "   ", "\u3000"])
def test_a_blank_unit_name_is_422_and_nothing_is_stored(client: FlaskClient, blank: str) -> None:
    response = post_unit(client, level="new_area", name=blank)
    assert response.status_code == 422
    assert "name" in response.get_json()["errors"]
    assert unit_count() == 0


def test_child_path_is_the_parents_path_plus_itself(client: FlaskClient) -> None:
    tree = make_org_tree()
    response = post_unit(
        client,
        parent_id=str(tree.town.id),
        level="community",
        name="Riverside",
        code=f"{tree.town.code}150",
    )
    assert response.status_code == 201
    unit = db.session.get(OrgUnit, response.get_json()["id"])
    assert unit is not None
    assert unit.path == [*tree.town.path, unit.id]


def test_level_must_be_one_below_the_parent(client: FlaskClient) -> None:
    tree = make_org_tree()
    before = unit_count()
    response = post_unit(
        client,
        parent_id=str(tree.new_city.id),
        level="community",
        name="Skipping",
        code=f"{tree.town.code}151",
    )
    assert response.status_code == 422
    assert "level" in response.get_json()["errors"]
    assert unit_count() == before


def test_only_a_new_area_may_have_no_parent(client: FlaskClient) -> None:
    response = post_unit(client, level="town", name="Floating", code="610116001")
    assert response.status_code == 422
    assert "level" in response.get_json()["errors"]


def test_community_code_must_extend_its_towns(client: FlaskClient) -> None:
    tree = make_org_tree()
    response = post_unit(
        client, parent_id=str(tree.town.id), level="community", name="Off", code="999999001001"
    )
    assert response.status_code == 422
    assert "code" in response.get_json()["errors"]


def test_town_township_digits_must_be_in_range(client: FlaskClient) -> None:
    tree = make_org_tree()
    response = post_unit(
        client, parent_id=str(tree.new_city.id), level="town", name="Bad", code="610116400"
    )
    assert response.status_code == 422
    assert "code" in response.get_json()["errors"]


def test_code_in_use_is_409(client: FlaskClient) -> None:
    tree = make_org_tree()
    response = post_unit(
        client,
        parent_id=str(tree.town.id),
        level="community",
        name="Twin",
        code=tree.community.code,
    )
    assert response.status_code == 409


def test_community_boundary_is_stored_and_returned(client: FlaskClient) -> None:
    tree = make_org_tree()
    boundary = dict(mapping(wkt.loads(square_wkt(108.70, 34.30, 0.05))))
    response = post_unit(
        client,
        parent_id=str(tree.town.id),
        level="community",
        name="Drawn",
        code=f"{tree.town.code}152",
        boundary=boundary,
    )
    assert response.status_code == 201
    assert response.get_json()["boundary"]["type"] == "MultiPolygon"


def test_invalid_community_boundary_is_422_with_location(client: FlaskClient) -> None:
    tree = make_org_tree()
    before = unit_count()
    response = post_unit(
        client,
        parent_id=str(tree.town.id),
        level="community",
        name="Bowtie",
        code=f"{tree.town.code}153",
        boundary=dict(mapping(wkt.loads(BOWTIE))),
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["boundary"][0]["location"] == [108.71, 34.31]
    assert unit_count() == before


def test_non_admin_cannot_create_org_units(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/org-units",
        json={"level": "new_area", "name": "Mine"},
        headers=auth_headers(make_user(Role.DISPATCHER)),
    )
    assert response.status_code == 403
    assert unit_count() == 0


def test_admin_lists_every_unit_with_only_tree_fields(client: FlaskClient) -> None:
    make_org_tree()
    response = client.get("/api/v1/org-units", headers=auth_headers(make_user(Role.ADMIN)))
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == 4
    assert set(items[0]) == {"id", "parent_id", "level", "code", "name"}


def test_dispatcher_sees_their_subtree_and_ancestors_but_not_a_sibling_town(
    client: FlaskClient,
) -> None:
    tree = make_org_tree()
    town_u = make_org_unit(OrgLevel.TOWN, tree.new_city)
    dispatcher = make_user(Role.DISPATCHER)
    assign_dispatcher(dispatcher, tree.town)
    response = client.get("/api/v1/org-units", headers=auth_headers(dispatcher))
    ids = {item["id"] for item in response.get_json()["items"]}
    assert ids == {str(u.id) for u in (tree.new_area, tree.new_city, tree.town, tree.community)}
    assert str(town_u.id) not in ids


def test_worker_sees_the_units_above_their_grid(client: FlaskClient) -> None:
    tree = make_org_tree()
    other = make_org_unit(OrgLevel.COMMUNITY, tree.town)
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    worker = make_user(Role.WORKER)
    assign_worker(worker, grid)
    response = client.get("/api/v1/org-units", headers=auth_headers(worker))
    ids = {item["id"] for item in response.get_json()["items"]}
    assert ids == {str(u.id) for u in (tree.new_area, tree.new_city, tree.town, tree.community)}
    assert str(other.id) not in ids


def test_worker_without_a_grid_sees_no_units(client: FlaskClient) -> None:
    make_org_tree()
    response = client.get("/api/v1/org-units", headers=auth_headers(make_user(Role.WORKER)))
    assert response.get_json() == {"items": []}


def test_unit_outside_scope_reads_as_unknown(client: FlaskClient) -> None:
    tree = make_org_tree()
    town_u = make_org_unit(OrgLevel.TOWN, tree.new_city)
    dispatcher = make_user(Role.DISPATCHER)
    assign_dispatcher(dispatcher, tree.town)
    headers = auth_headers(dispatcher)
    assert client.get(f"/api/v1/org-units/{town_u.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/org-units/{tree.town.id}", headers=headers).status_code == 200
