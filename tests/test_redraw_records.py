"""A redraw's placement by area: points placed grid by grid inside the box, per point outside."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.extensions import db
from server.registry.models import Address
from server.registry.placement import placing
from tests.factories import IN_A, RegistryWorld, create_record, make_registry_world


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def _unplaced_address(client: FlaskClient, world: RegistryWorld) -> uuid.UUID:
    """An address inside grid A whose grid was lost, so placing it must find A again."""
    door = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    address_id = uuid.UUID(door["id"])
    db.session.execute(update(Address).where(Address.id == address_id).values(grid_id=None))
    db.session.commit()
    return address_id


def _place_near(address_id: uuid.UUID, box: tuple[float, float, float, float]) -> list[Any]:
    near = func.ST_MakeEnvelope(*box, 4326)
    where = Address.__table__.c.id == address_id
    moves = list(db.session.execute(placing("addresses", where=where, near=near)).tuples())
    db.session.commit()
    return moves


def test_a_point_inside_the_box_is_placed_in_its_grid(
    client: FlaskClient, world: RegistryWorld
) -> None:
    address_id = _unplaced_address(client, world)
    lng, lat = IN_A

    moves = _place_near(address_id, (lng - 0.01, lat - 0.01, lng + 0.01, lat + 0.01))

    assert moves == [(address_id, None, world.grid_a.id)]


def test_a_point_outside_the_box_is_still_placed_in_its_grid(
    client: FlaskClient, world: RegistryWorld
) -> None:
    address_id = _unplaced_address(client, world)

    moves = _place_near(address_id, (100.0, 20.0, 100.1, 20.1))

    assert moves == [(address_id, None, world.grid_a.id)]
    path = db.session.scalar(select(Address.scope_path).where(Address.id == address_id))
    assert path == list(world.grid_a.path)
