"""Preview equals apply beyond a moved border: a split into a new grid, a merge, chains of
records that follow their anchors (address > house > person > visit), and records placed by
their own point or anchor from outside the redraw's area."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from server.extensions import db
from server.hierarchy.models import Grid
from server.redraw.plan import make_plan
from server.redraw.preview import likely_moves_more_than
from server.registry.models import Address, House, Person
from tests.factories import create_record, make_grid, point
from tests.test_redraw_apply import (
    MID,
    MOVING,
    STAYING_EAST,
    STAYING_WEST,
    E,
    N,
    S,
    Town,
    W,
    apply,
    border_draft,
    make_town,
    move_set,
    new_draft,
    rect,
    rect_wkt,
)

SOUTH_EAST = (108.918, 34.202)  # east grid, south half
# A third grid of the community, far enough west that its box does not touch the redraw's area.
FAR_W, FAR_E = W - 0.03, W - 0.02
FAR = (W - 0.025, 34.205)


@pytest.fixture
def town(app: Any) -> Town:
    return make_town()


def _preview_then_apply(
    client: FlaskClient, town: Town, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    draft = new_draft(client, town, body)
    preview = client.get(f"/api/v1/redraws/{draft['id']}/preview", headers=town.admin)
    assert preview.status_code == 200, preview.get_json()
    applied = apply(client, town, draft)
    assert applied.status_code == 200, applied.get_json()
    return preview.get_json(), applied.get_json()


def _populate(client: FlaskClient, town: Town) -> None:
    for entity in ("addresses", "houses", "persons", "visits", "follow-up-plans", "households"):
        create_record(client, town.admin, entity, SOUTH_EAST)
    for entity in ("houses", "persons", "incidents"):
        create_record(client, town.admin, entity, STAYING_EAST)
    for entity in ("persons", "organizations"):
        create_record(client, town.admin, entity, STAYING_WEST)
    create_record(client, town.admin, "visits", MOVING)


def test_a_split_into_a_new_grid_moves_what_the_preview_said(
    client: FlaskClient, town: Town
) -> None:
    _populate(client, town)
    body = {
        "grids": [
            {"grid_id": str(town.east.id), "geometry": rect(MID, 34.205, E, N)},
            {"key": "se", "name": "东南网格", "geometry": rect(MID, S, E, 34.205)},
        ]
    }

    preview, applied = _preview_then_apply(client, town, body)

    assert move_set(applied["moves"]) == move_set(preview["moves"])
    assert preview["per_type"] == applied["per_type"]
    new_code = applied["created"][0]["code"]
    assert {m["to_code"] for m in applied["moves"]} == {new_code}
    assert preview["per_type"]["visits"] == 1


def test_a_merge_retiring_a_grid_moves_what_the_preview_said(
    client: FlaskClient, town: Town
) -> None:
    _populate(client, town)
    body = {
        "grids": [{"grid_id": str(town.west.id), "geometry": rect(W, S, E, N)}],
        "retire": [str(town.east.id)],
    }

    preview, applied = _preview_then_apply(client, town, body)

    assert move_set(applied["moves"]) == move_set(preview["moves"])
    assert {(m["from_code"], m["to_code"]) for m in applied["moves"]} == {
        (town.east.code, town.west.code)
    }
    assert preview["into_no_grid"] == applied["into_no_grid"] == 0


def test_a_redraw_that_moves_nothing_previews_and_applies_no_moves(
    client: FlaskClient, town: Town
) -> None:
    _populate(client, town)
    body = {
        "grids": [
            {"grid_id": str(town.west.id), "geometry": rect(W, S, MID, N)},
            {"grid_id": str(town.east.id), "geometry": rect(MID, S, E, N)},
        ]
    }

    preview, applied = _preview_then_apply(client, town, body)

    assert preview["moves"] == applied["moves"] == []


def _far_grid(town: Town) -> Grid:
    return make_grid(town.community, rect_wkt(FAR_W, S, FAR_E, N))


def _incident(
    client: FlaskClient,
    town: Town,
    where: tuple[float, float] | None,
    address: dict[str, Any],
) -> dict[str, Any]:
    """An incident at `where` (or with no point of its own) reported at `address`."""
    body = {
        "kind": "event",
        "category": "0101",
        "title": "暴露垃圾",
        "occurred_at": "2026-11-20T08:30:00+08:00",
        "urgency": "02",
        "point": point(where) if where is not None else None,
        "address_id": address["id"],
    }
    response = client.post("/api/v1/incidents", json=body, headers=town.admin)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def _moves_by_type(moves: list[dict[str, Any]]) -> dict[str, set[tuple[str | None, str | None]]]:
    found: dict[str, set[tuple[str | None, str | None]]] = {}
    for m in moves:
        found.setdefault(m["record_type"], set()).add((m["from_code"], m["to_code"]))
    return found


@pytest.mark.parametrize(
    ("incident_at", "address_at", "moves"),
    [
        pytest.param(FAR, MOVING, None, id="point-outside-area-anchor-moved"),
        pytest.param(FAR, STAYING_EAST, None, id="point-outside-area-anchor-stays"),
        pytest.param(STAYING_WEST, MOVING, None, id="point-inside-area-stays-anchor-moved"),
        pytest.param(MOVING, STAYING_EAST, ("east", "west"), id="point-inside-area-moves"),
        pytest.param(None, MOVING, ("east", "west"), id="no-point-follows-moved-anchor"),
        pytest.param(None, STAYING_EAST, None, id="no-point-follows-anchor-that-stays"),
    ],
)
def test_an_incident_placed_by_its_point_or_else_its_address_moves_as_previewed(
    client: FlaskClient,
    town: Town,
    incident_at: tuple[float, float] | None,
    address_at: tuple[float, float],
    moves: tuple[str, str] | None,
) -> None:
    far = _far_grid(town)
    address = create_record(client, town.admin, "addresses", address_at)
    _incident(client, town, incident_at, address)

    preview, applied = _preview_then_apply(client, town, border_draft(town))

    assert move_set(applied["moves"]) == move_set(preview["moves"])
    codes = {"east": town.east.code, "west": town.west.code, "far": far.code}
    expected = {(codes[moves[0]], codes[moves[1]])} if moves else None
    assert _moves_by_type(applied["moves"]).get("incidents") == expected
    assert preview["into_no_grid"] == applied["into_no_grid"] == 0


def test_a_record_outside_the_area_still_named_in_a_retired_grid_moves_as_previewed(
    client: FlaskClient, town: Town
) -> None:
    # A stale grid: the address lies in the far grid but still names the east one, which the
    # draft retires. Apply re-places it by its point (into the far grid), its house after it.
    far = _far_grid(town)
    house = create_record(client, town.admin, "houses", FAR)
    db.session.execute(
        update(Address).where(Address.id == house["address_id"]).values(grid_id=town.east.id)
    )
    db.session.execute(update(House).where(House.id == house["id"]).values(grid_id=town.east.id))
    db.session.commit()
    body = {
        "grids": [{"grid_id": str(town.west.id), "geometry": rect(W, S, E, N)}],
        "retire": [str(town.east.id)],
    }

    preview, applied = _preview_then_apply(client, town, body)

    assert move_set(applied["moves"]) == move_set(preview["moves"])
    assert _moves_by_type(applied["moves"]) == {
        "addresses": {(town.east.code, far.code)},
        "houses": {(town.east.code, far.code)},
    }


def test_a_record_anchored_outside_the_area_in_a_retired_grid_follows_its_anchor(
    client: FlaskClient, town: Town
) -> None:
    far = _far_grid(town)
    house = create_record(client, town.admin, "houses", FAR)
    db.session.execute(update(House).where(House.id == house["id"]).values(grid_id=town.east.id))
    db.session.commit()
    body = {
        "grids": [{"grid_id": str(town.west.id), "geometry": rect(W, S, E, N)}],
        "retire": [str(town.east.id)],
    }

    preview, applied = _preview_then_apply(client, town, body)

    assert move_set(applied["moves"]) == move_set(preview["moves"])
    assert _moves_by_type(applied["moves"]) == {"houses": {(town.east.code, far.code)}}


@pytest.mark.parametrize(
    ("house_at", "moves"),
    [
        pytest.param(STAYING_EAST, None, id="house-stays-address-moves"),
        pytest.param(MOVING, ("east", "west"), id="house-moves-with-the-address"),
    ],
)
def test_a_person_follows_their_house_before_their_address_as_previewed(
    client: FlaskClient,
    town: Town,
    house_at: tuple[float, float],
    moves: tuple[str, str] | None,
) -> None:
    person = create_record(client, town.admin, "persons", MOVING)
    house = create_record(client, town.admin, "houses", house_at)
    db.session.execute(update(Person).where(Person.id == person["id"]).values(house_id=house["id"]))
    db.session.commit()

    preview, applied = _preview_then_apply(client, town, border_draft(town))

    assert move_set(applied["moves"]) == move_set(preview["moves"])
    codes = {"east": town.east.code, "west": town.west.code}
    expected = {(codes[moves[0]], codes[moves[1]])} if moves else None
    assert _moves_by_type(applied["moves"]).get("persons") == expected


def _unplaced_address(client: FlaskClient, town: Town) -> dict[str, Any]:
    """An address at MOVING (east) left in no grid, as if placed before its grid was drawn."""
    address = create_record(client, town.admin, "addresses", MOVING)
    db.session.execute(
        update(Address).where(Address.id == address["id"]).values(grid_id=None, scope_path=[])
    )
    db.session.commit()
    return address


def _same_boundaries(town: Town) -> dict[str, Any]:
    return {
        "grids": [
            {"grid_id": str(town.west.id), "geometry": rect(W, S, MID, N)},
            {"grid_id": str(town.east.id), "geometry": rect(MID, S, E, N)},
        ],
        "retire": [],
    }


def test_a_record_in_no_grid_that_the_redraw_places_is_previewed(
    client: FlaskClient, town: Town
) -> None:
    _unplaced_address(client, town)

    preview, applied = _preview_then_apply(client, town, _same_boundaries(town))

    assert move_set(applied["moves"]) == move_set(preview["moves"])
    assert _moves_by_type(applied["moves"]) == {"addresses": {(None, town.east.code)}}


def test_records_in_no_grid_that_the_redraw_places_count_toward_the_estimate(
    client: FlaskClient, town: Town
) -> None:
    _unplaced_address(client, town)

    plan = make_plan(town.community, _same_boundaries(town))

    assert likely_moves_more_than(plan, 0)
    assert not likely_moves_more_than(plan, 1)
