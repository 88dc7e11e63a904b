"""Preview equals apply beyond a moved border: a split into a new grid, a merge, and chains of
records that follow their anchors (address > house > person > visit)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import create_record
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
    make_town,
    move_set,
    new_draft,
    rect,
)

SOUTH_EAST = (108.918, 34.202)  # east grid, south half


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
