"""Applying a redraw: the grids change in one transaction and every record in the area follows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select, update

from server.audit.models import AuditEntry
from server.auth.models import Device, Role, User
from server.extensions import db
from server.hierarchy.models import Grid, GridAssignment, GridVersion, OrgUnit
from server.registry.models import Address, Incident
from sync.tables import device_sync_state
from tests.factories import (
    assign_worker,
    auth_headers,
    citizen_id,
    create_record,
    make_grid,
    make_org_tree,
    make_user,
)

# Two grids side by side: west [W, MID], east [MID, E]; redraws move the border to NEW_MID.
W, S, MID, E, N = 108.90, 34.20, 108.91, 108.92, 34.21
NEW_MID = 108.915
MOVING = (108.912, 34.205)  # east before, west after the border moves east
STAYING_EAST = (108.918, 34.205)
STAYING_WEST = (108.905, 34.205)


def rect(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    """A GeoJSON rectangle."""
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def rect_wkt(w: float, s: float, e: float, n: float) -> str:
    """The same rectangle as WKT."""
    return f"POLYGON (({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


@dataclass
class Town:
    """One community with a west and an east grid, a worker on each, an admin."""

    community: OrgUnit
    west: Grid
    east: Grid
    worker_west: User
    worker_east: User
    admin_user: User
    admin: dict[str, str]
    headers: dict[str, dict[str, str]]


def make_town() -> Town:
    """Create the community, its two grids, their workers and an admin."""
    tree = make_org_tree()
    west = make_grid(tree.community, rect_wkt(W, S, MID, N))
    east = make_grid(tree.community, rect_wkt(MID, S, E, N))
    worker_west, worker_east = make_user(Role.WORKER), make_user(Role.WORKER)
    assign_worker(worker_west, west)
    assign_worker(worker_east, east)
    headers = {"west": auth_headers(worker_west), "east": auth_headers(worker_east)}
    admin_user = make_user(Role.ADMIN)
    admin = auth_headers(admin_user)
    return Town(tree.community, west, east, worker_west, worker_east, admin_user, admin, headers)


def border_draft(town: Town, mid: float = NEW_MID) -> dict[str, Any]:
    """A draft moving the shared border to `mid`."""
    return {
        "grids": [
            {"grid_id": str(town.west.id), "geometry": rect(W, S, mid, N)},
            {"grid_id": str(town.east.id), "geometry": rect(mid, S, E, N)},
        ]
    }


def new_draft(client: FlaskClient, town: Town, body: dict[str, Any]) -> dict[str, Any]:
    """POST a draft for the town's community; return it."""
    response = client.post(
        f"/api/v1/communities/{town.community.id}/redraws", json=body, headers=town.admin
    )
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def apply(client: FlaskClient, town: Town, draft: dict[str, Any], expected: int = 1) -> Any:
    """POST the apply of a draft."""
    return client.post(
        f"/api/v1/redraws/{draft['id']}/apply",
        json={"expected_boundary_version": expected},
        headers=town.admin,
    )


def move_set(moves: list[dict[str, Any]]) -> set[tuple[str, str | None, str | None, int]]:
    """Moves keyed by grid code, comparable between a preview and an apply."""
    return {(m["record_type"], m["from_code"], m["to_code"], m["count"]) for m in moves}


@pytest.fixture
def town(app: Any) -> Town:
    return make_town()


def test_preview_counts_equal_what_apply_moves(client: FlaskClient, town: Town) -> None:
    for entity in ("addresses", "houses", "persons", "visits", "incidents"):
        create_record(client, town.admin, entity, MOVING)
    create_record(client, town.admin, "persons", STAYING_EAST)
    create_record(client, town.admin, "houses", STAYING_WEST)
    # On the new border: both grids cover it, the lower code (west) takes it.
    create_record(client, town.admin, "addresses", (NEW_MID, 34.205))
    draft = new_draft(client, town, border_draft(town))

    preview = client.get(f"/api/v1/redraws/{draft['id']}/preview", headers=town.admin)
    assert preview.status_code == 200, preview.get_json()
    applied = apply(client, town, draft)

    assert applied.status_code == 200, applied.get_json()
    expected = preview.get_json()
    assert move_set(applied.get_json()["moves"]) == move_set(expected["moves"])
    # Every record but the incident hangs off a door of its own; a visit has a person.
    assert expected["per_type"] == {
        "addresses": 5,
        "houses": 1,
        "persons": 2,
        "visits": 1,
        "incidents": 1,
    }
    assert expected["into_no_grid"] == 0
    assert {(m["from_code"], m["to_code"]) for m in expected["moves"]} == {
        (town.east.code, town.west.code)
    }


def test_preview_changes_nothing(client: FlaskClient, town: Town) -> None:
    address = create_record(client, town.admin, "addresses", MOVING)
    draft = new_draft(client, town, border_draft(town))

    client.get(f"/api/v1/redraws/{draft['id']}/preview", headers=town.admin)

    row = db.session.get(Address, uuid.UUID(address["id"]))
    assert row is not None
    assert (row.grid_id, row.version) == (town.east.id, 1)
    assert db.session.scalar(select(func.count()).select_from(GridVersion)) == 2


def test_a_new_grid_gets_the_proposed_code_and_its_records(client: FlaskClient, town: Town) -> None:
    create_record(client, town.admin, "persons", (108.915, 34.208))
    body = {
        "grids": [
            {"grid_id": str(town.east.id), "geometry": rect(MID, S, E, 34.205)},
            {"key": "ne", "name": "东北网格", "geometry": rect(MID, 34.205, E, N)},
        ]
    }
    draft = new_draft(client, town, body)
    preview = client.get(f"/api/v1/redraws/{draft['id']}/preview", headers=town.admin).get_json()

    result = apply(client, town, draft).get_json()

    proposed = preview["new_grids"][0]["code"]
    assert result["created"][0]["code"] == proposed == f"{town.community.code}003"
    assert move_set(result["moves"]) == move_set(preview["moves"])
    assert ("persons", town.east.code, proposed, 1) in move_set(result["moves"])


def test_the_second_of_two_applies_on_the_same_version_gets_409_and_changes_nothing(
    client: FlaskClient, town: Town
) -> None:
    address = create_record(client, town.admin, "addresses", MOVING)
    first = new_draft(client, town, border_draft(town))
    second = new_draft(client, town, border_draft(town, mid=108.913))
    assert apply(client, town, first).status_code == 200
    versions = db.session.scalar(select(func.count()).select_from(GridVersion))

    response = apply(client, town, second)

    assert response.status_code == 409
    assert response.get_json()["code"] == "stale_version"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(GridVersion)) == versions
    assert db.session.get(OrgUnit, town.community.id).boundary_version == 2  # type: ignore[union-attr]
    row = db.session.get(Address, uuid.UUID(address["id"]))
    assert row is not None
    assert row.version == 2
    again = client.get(f"/api/v1/redraws/{second['id']}", headers=town.admin).get_json()
    assert again["status"] == "draft"


@pytest.mark.parametrize(
    ("west", "kind"),
    [
        (rect(W, S, 108.915, N), "overlap"),
        (rect(W, S, 108.905, N), "gap"),
        (
            {"type": "Polygon", "coordinates": [[[W, S], [MID, N], [MID, S], [W, N], [W, S]]]},
            "invalid_polygon",
        ),
    ],
)
def test_an_invalid_draft_is_refused_with_located_problems_and_nothing_stored(
    client: FlaskClient, town: Town, west: dict[str, Any], kind: str
) -> None:
    draft = new_draft(client, town, {"grids": [{"grid_id": str(town.west.id), "geometry": west}]})

    response = apply(client, town, draft)

    assert response.status_code == 422
    problems = response.get_json()["errors"]["grids"]
    assert kind in {p["kind"] for p in problems}
    assert all(len(p["location"]) == 2 and p["size_m2"] >= 0 for p in problems)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(GridVersion)) == 2
    assert db.session.get(OrgUnit, town.community.id).boundary_version == 1  # type: ignore[union-attr]


def test_an_incident_keeps_its_origin_grid_while_its_grid_moves(
    client: FlaskClient, town: Town
) -> None:
    incident = create_record(client, town.admin, "incidents", MOVING)
    draft = new_draft(client, town, border_draft(town))

    apply(client, town, draft)

    row = db.session.get(Incident, uuid.UUID(incident["id"]))
    assert row is not None
    assert (row.origin_grid_id, row.grid_id, row.version) == (town.east.id, town.west.id, 2)


def test_workers_see_the_move_at_their_next_request(client: FlaskClient, town: Town) -> None:
    address = create_record(client, town.admin, "addresses", MOVING)
    draft = new_draft(client, town, border_draft(town))

    apply(client, town, draft)

    def ids(side: str) -> set[str]:
        page = client.get("/api/v1/addresses", headers=town.headers[side]).get_json()
        return {item["id"] for item in page["items"]}

    assert address["id"] in ids("west")
    assert address["id"] not in ids("east")
    grids = client.get("/api/v1/grids", headers=town.headers["west"]).get_json()["features"]
    ring = grids[0]["geometry"]["coordinates"][0][0]
    assert max(lng for lng, _ in ring) == pytest.approx(NEW_MID)


def test_retiring_a_grid_ends_its_assignments(client: FlaskClient, town: Town) -> None:
    body = {
        "grids": [{"grid_id": str(town.west.id), "geometry": rect(W, S, E, N)}],
        "retire": [str(town.east.id)],
    }
    draft = new_draft(client, town, body)

    result = apply(client, town, draft).get_json()

    assert result["assignments_ended"] == 1
    open_ = db.session.scalars(
        select(GridAssignment).where(
            GridAssignment.grid_id == town.east.id, GridAssignment.valid_to.is_(None)
        )
    ).all()
    assert open_ == []
    mine = client.get("/api/v1/grids", headers=town.headers["east"]).get_json()
    assert mine["features"] == []


def test_as_of_returns_last_years_boundaries_after_a_redraw(
    client: FlaskClient, town: Town
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=500)
    db.session.execute(update(GridVersion).values(valid_from=long_ago))
    db.session.commit()
    body = {
        "grids": [{"grid_id": str(town.west.id), "geometry": rect(W, S, E, N)}],
        "retire": [str(town.east.id)],
    }
    apply(client, town, new_draft(client, town, body))
    last_year = (datetime.now(UTC) - timedelta(days=365)).isoformat()

    then = client.get("/api/v1/grids", query_string={"as_of": last_year}, headers=town.admin)
    now = client.get("/api/v1/grids", headers=town.admin).get_json()["features"]

    features = {f["id"]: f for f in then.get_json()["features"]}
    assert set(features) == {str(town.west.id), str(town.east.id)}
    west_ring = features[str(town.west.id)]["geometry"]["coordinates"][0][0]
    assert max(lng for lng, _ in west_ring) == pytest.approx(MID)
    assert features[str(town.west.id)]["properties"]["version"] == 1
    assert [f["id"] for f in now] == [str(town.west.id)]
    one = client.get(
        f"/api/v1/grids/{town.east.id}", query_string={"as_of": last_year}, headers=town.admin
    )
    assert one.status_code == 200


def test_an_applied_redraw_is_audited_under_the_admins_name(
    client: FlaskClient, town: Town
) -> None:
    create_record(client, town.admin, "addresses", MOVING)

    apply(client, town, new_draft(client, town, border_draft(town)))

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "redraw")).one()
    assert (entry.actor_id, entry.record_type, entry.record_ids) == (
        town.admin_user.id,
        "community",
        [town.community.id],
    )
    assert entry.detail is not None
    assert entry.detail["per_type"] == {"addresses": 1}


def test_preview_names_the_workers_and_devices_the_move_concerns(
    client: FlaskClient, town: Town
) -> None:
    create_record(client, town.admin, "addresses", MOVING)
    device_id = db.session.scalar(select(Device.id).where(Device.user_id == town.worker_east.id))
    pushed = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    db.session.execute(insert(device_sync_state).values(device_id=device_id, last_push_at=pushed))
    db.session.commit()
    draft = new_draft(client, town, border_draft(town))

    preview = client.get(f"/api/v1/redraws/{draft['id']}/preview", headers=town.admin).get_json()

    changes = {w["user_id"]: (w["gains"], w["losses"]) for w in preview["workers"]}
    assert changes == {str(town.worker_west.id): (1, 0), str(town.worker_east.id): (0, 1)}
    (device,) = preview["devices"]
    assert device["device_id"] == str(device_id)
    assert datetime.fromisoformat(device["last_push_at"]) == pushed


def test_as_of_needs_a_time_zone(client: FlaskClient, town: Town) -> None:
    response = client.get(
        "/api/v1/grids", query_string={"as_of": "2025-11-01T00:00:00"}, headers=town.admin
    )

    assert response.status_code == 422
    assert "as_of" in response.get_json()["errors"]


def test_special_populations_move_with_their_person_but_are_never_counted_to_the_admin(
    client: FlaskClient, town: Town
) -> None:
    door = create_record(client, town.headers["east"], "addresses", MOVING)
    person = client.post(
        "/api/v1/persons",
        json={
            "id_type": "111",
            "id_number": citizen_id(seq=51),
            "name": "赵六",
            "sex": "1",
            "population_type": "01",
            "address_id": door["id"],
            "special_populations": [{"category": "severe_mental_illness", "risk_level": "3"}],
        },
        headers=town.headers["east"],
    ).get_json()
    draft = new_draft(client, town, border_draft(town))
    preview = client.get(f"/api/v1/redraws/{draft['id']}/preview", headers=town.admin).get_json()
    applied = apply(client, town, draft).get_json()
    for report in (preview, applied):
        assert report["per_type"] == {"addresses": 1, "persons": 1}
        assert "person_special_populations" not in str(report)
    # Moved all the same: the west worker now follows the person up.
    shown = client.get(f"/api/v1/persons/{person['id']}", headers=town.headers["west"])
    assert shown.get_json()["special_populations"][0]["category"] == "severe_mental_illness"
