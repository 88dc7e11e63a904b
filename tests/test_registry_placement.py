"""Placement: grids derived from points on the server, anchored records following their anchor."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.extensions import db
from server.hierarchy.models import GridVersion
from server.registry import placement
from server.registry.models import House, Person
from tests.factories import (
    IN_A,
    RegistryWorld,
    create_record,
    make_grid,
    make_registry_world,
    point,
    square_wkt,
)


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def test_a_record_copies_its_grids_org_path(client: FlaskClient, world: RegistryWorld) -> None:
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    house = create_record(client, world.headers["worker_a"], "houses", IN_A)
    path = db.session.scalar(select(House.scope_path).where(House.id == uuid.UUID(house["id"])))
    assert door["grid_id"] == house["grid_id"] == str(world.grid_a.id)
    assert path == list(world.grid_a.path)


def test_a_point_on_a_shared_edge_goes_to_the_grid_with_the_lowest_code(
    client: FlaskClient, world: RegistryWorld
) -> None:
    east = make_grid(world.tree.community, square_wkt(108.91, 34.20))
    lowest = min((world.grid_a, east), key=lambda grid: grid.code)
    on_edge = (108.91, 34.205)
    created = client.post(
        "/api/v1/addresses",
        json={"kind": "door", "full_text": "边界路1号", "point": point(on_edge)},
        headers=world.headers["admin"],
    )
    assert created.get_json()["grid_id"] == str(lowest.id)


def test_moving_an_address_moves_what_hangs_off_it_and_bumps_their_versions(
    client: FlaskClient, world: RegistryWorld
) -> None:
    admin = world.headers["admin"]
    door = create_record(client, admin, "addresses", IN_A)
    house = client.post(
        "/api/v1/houses",
        json={"address_id": door["id"], "house_use": "01", "occupancy": "01"},
        headers=admin,
    ).get_json()
    person = client.post(
        "/api/v1/persons",
        json={
            "id_type": "414",
            "id_number": "E12345678",
            "name": "Anna",
            "sex": "2",
            "population_type": "03",
            "house_id": house["id"],
        },
        headers=admin,
    ).get_json()
    assert person["grid_id"] == str(world.grid_a.id)
    moved = client.patch(
        f"/api/v1/addresses/{door['id']}",
        json={"expected_version": 1, "point": point((108.925, 34.205))},
        headers=admin,
    )
    assert moved.get_json()["grid_id"] == str(world.grid_b.id)
    house_after = client.get(f"/api/v1/houses/{house['id']}", headers=admin).get_json()
    person_after = client.get(f"/api/v1/persons/{person['id']}", headers=admin).get_json()
    assert (house_after["grid_id"], house_after["version"]) == (str(world.grid_b.id), 2)
    assert (person_after["grid_id"], person_after["version"]) == (str(world.grid_b.id), 2)


def test_a_redrawn_boundary_re_places_every_record_set_based(
    client: FlaskClient, world: RegistryWorld
) -> None:
    person = create_record(client, world.headers["worker_a"], "persons", IN_A)
    # Grid B's new boundary swallows grid A's area; grid A's current version is closed.
    db.session.execute(
        update(GridVersion)
        .where(GridVersion.grid_id == world.grid_a.id, GridVersion.valid_to.is_(None))
        .values(valid_to=func.now())
    )
    db.session.execute(
        update(GridVersion)
        .where(GridVersion.grid_id == world.grid_b.id, GridVersion.valid_to.is_(None))
        .values(geom=func.ST_Multi(func.ST_GeomFromText(square_wkt(108.89, 34.19, 0.05), 4326)))
    )
    moved = placement.place_everything()
    db.session.commit()
    assert moved == 2  # the address and the person at it
    row = db.session.execute(
        select(Person.grid_id, Person.version).where(Person.id == uuid.UUID(person["id"]))
    ).one()
    assert row == (world.grid_b.id, 2)


def test_placement_without_changes_writes_nothing(
    client: FlaskClient, world: RegistryWorld
) -> None:
    create_record(client, world.headers["worker_a"], "persons", IN_A)
    assert placement.place_everything() == 0
