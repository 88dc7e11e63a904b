"""Unassigned records: a dispatcher sees those inside a community of their subtree, nothing else."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, update

from server.extensions import db
from server.hierarchy.models import OrgUnit
from tests.factories import (
    IN_NO_GRID,
    RegistryWorld,
    create_record,
    make_grid,
    make_registry_world,
    square_wkt,
)
from tests.test_syncapi_push_pull import push, stamp


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def _give_community_a_boundary_around_no_grid(world: RegistryWorld) -> None:
    # Community A's outline reaches past its grids and covers IN_NO_GRID (108.95, 34.25).
    db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.id == world.tree.community.id)
        .values(boundary=func.ST_Multi(func.ST_GeomFromText(square_wkt(108.90, 34.20, 0.06), 4326)))
    )
    db.session.commit()


def _unassigned_ids(client: FlaskClient, headers: dict[str, str], entity: str) -> list[str]:
    response = client.get(f"/api/v1/unassigned?type={entity}", headers=headers)
    assert response.status_code == 200
    return [item["id"] for item in response.get_json()["items"]]


@pytest.mark.parametrize("entity", ["addresses", "persons", "incidents", "visits"])
def test_dispatcher_sees_an_unassigned_record_inside_a_community_of_their_subtree(
    client: FlaskClient, world: RegistryWorld, entity: str
) -> None:
    _give_community_a_boundary_around_no_grid(world)
    record = create_record(client, world.headers["admin"], entity, IN_NO_GRID)
    assert record["grid_id"] is None
    mine = world.headers["dispatcher_a"]
    assert _unassigned_ids(client, mine, entity) == [record["id"]]
    assert client.get(f"/api/v1/{entity}/{record['id']}", headers=mine).status_code == 200


@pytest.mark.parametrize("entity", ["addresses", "persons", "incidents", "visits"])
def test_sibling_dispatcher_learns_nothing_of_an_unassigned_record_in_another_subtree(
    client: FlaskClient, world: RegistryWorld, entity: str
) -> None:
    _give_community_a_boundary_around_no_grid(world)
    record = create_record(client, world.headers["admin"], entity, IN_NO_GRID)
    theirs = world.headers["dispatcher_b"]
    listed = client.get(f"/api/v1/unassigned?type={entity}", headers=theirs).get_json()
    assert listed == {"items": [], "next_cursor": None, "total": 0}
    assert client.get(f"/api/v1/{entity}/{record['id']}", headers=theirs).status_code == 404


def test_sibling_dispatcher_cannot_reveal_an_unassigned_persons_id_number(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _give_community_a_boundary_around_no_grid(world)
    person = create_record(client, world.headers["admin"], "persons", IN_NO_GRID)
    response = client.post(
        f"/api/v1/persons/{person['id']}/reveal",
        json={"field": "id_number", "reason": "核实身份"},
        headers=world.headers["dispatcher_b"],
    )
    assert response.status_code == 404


@pytest.mark.parametrize("entity", ["addresses", "persons"])
def test_a_record_outside_every_community_is_for_admins_only(
    client: FlaskClient, world: RegistryWorld, entity: str
) -> None:
    record = create_record(client, world.headers["admin"], entity, IN_NO_GRID)
    for dispatcher in ("dispatcher_a", "dispatcher_b"):
        headers = world.headers[dispatcher]
        assert _unassigned_ids(client, headers, entity) == []
        assert client.get(f"/api/v1/{entity}/{record['id']}", headers=headers).status_code == 404
    assert _unassigned_ids(client, world.headers["admin"], entity) == [record["id"]]


def test_a_community_without_a_boundary_is_the_union_of_its_current_grids(
    client: FlaskClient, world: RegistryWorld
) -> None:
    record = create_record(client, world.headers["admin"], "addresses", IN_NO_GRID)
    # A grid drawn over the point later (not yet re-placed) puts it inside community A's outline.
    make_grid(world.tree.community, square_wkt(108.94, 34.24))
    assert _unassigned_ids(client, world.headers["dispatcher_a"], "addresses") == [record["id"]]
    assert _unassigned_ids(client, world.headers["dispatcher_b"], "addresses") == []


def _patch_op(record_id: str) -> dict[str, Any]:
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": "address",
        "record_id": record_id,
        "kind": "patch",
        "stamp": stamp(),
        "base_version": 1,
        "fields": {"courtyard": "东院"},
    }


def test_sync_push_edits_an_unassigned_record_only_from_the_dispatchers_own_subtree(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _give_community_a_boundary_around_no_grid(world)
    record = create_record(client, world.headers["admin"], "addresses", IN_NO_GRID)
    (theirs,) = push(client, world.headers["dispatcher_b"], _patch_op(record["id"]))
    assert theirs["status"] == "rejected"
    assert "current" not in theirs or theirs["current"] is None
    (mine,) = push(client, world.headers["dispatcher_a"], _patch_op(record["id"]))
    assert mine["status"] == "applied"
