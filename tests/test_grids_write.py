"""Creating and redrawing grids: codes, geometry validation, overlap, versions, admin only."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from shapely import wkt
from shapely.geometry import mapping
from sqlalchemy import func, select

from server.auth.models import Role
from server.extensions import db
from server.hierarchy.models import Grid, GridKind, GridVersion
from tests.factories import auth_headers, make_grid, make_org_tree, make_user, square_wkt

BOWTIE = "POLYGON ((108.70 34.30, 108.72 34.32, 108.72 34.30, 108.70 34.32, 108.70 34.30))"


def geojson(text: str) -> dict[str, Any]:
    return dict(mapping(wkt.loads(text)))


def rows() -> tuple[int, int]:
    """(grids, grid versions) stored."""
    return (
        db.session.scalar(select(func.count()).select_from(Grid)) or 0,
        db.session.scalar(select(func.count()).select_from(GridVersion)) or 0,
    )


def post_grid(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/grids", json=body, headers=headers)


def test_admin_creates_a_grid_with_the_next_code(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="East lane",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.70, 34.30)),
    )
    assert response.status_code == 201
    feature = response.get_json()
    assert feature["properties"]["code"] == f"{tree.community.code}001"
    assert feature["properties"]["version"] == 1
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert rows() == (1, 1)


def test_next_code_skips_codes_in_use(client: FlaskClient) -> None:
    tree = make_org_tree()
    make_grid(tree.community, square_wkt(108.70, 34.30), code=f"{tree.community.code}001")
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Next",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.71, 34.30)),
    )
    assert response.get_json()["properties"]["code"] == f"{tree.community.code}002"


def test_dedicated_grid_takes_the_reserved_range(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="No. 3 Middle School",
        kind="dedicated",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.70, 34.30)),
    )
    assert response.get_json()["properties"]["code"] == f"{tree.community.code}900"


def test_given_code_outside_its_kinds_range_is_422(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        code=f"{tree.community.code}950",
        name="Wrong range",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.70, 34.30)),
    )
    assert response.status_code == 422
    assert "code" in response.get_json()["errors"]
    assert rows() == (0, 0)


def test_given_code_of_another_community_is_422(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        code="610116999999001",
        name="Elsewhere",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.70, 34.30)),
    )
    assert response.status_code == 422
    assert "code" in response.get_json()["errors"]


def test_code_in_use_is_409(client: FlaskClient) -> None:
    tree = make_org_tree()
    taken = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        code=taken.code,
        name="Twin",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.75, 34.30)),
    )
    assert response.status_code == 409
    assert response.get_json()["code"] == "duplicate"


def test_self_intersecting_grid_is_422_with_the_location_and_nothing_is_stored(
    client: FlaskClient,
) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Bowtie",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(BOWTIE),
    )
    assert response.status_code == 422
    [problem] = response.get_json()["errors"]["geometry"]
    assert problem["kind"] == "self_intersection"
    assert problem["location"] == [108.71, 34.31]
    assert rows() == (0, 0)


def test_grid_outside_the_district_is_422(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Beijing",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(116.30, 39.90)),
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["geometry"][0]["kind"] == "outside_extent"
    assert rows() == (0, 0)


def test_a_point_is_not_a_grid_geometry(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Point",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry={"type": "Point", "coordinates": [108.7, 34.3]},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["geometry"][0]["kind"] == "wrong_type"


def test_a_ring_that_does_not_close_is_422_and_nothing_is_stored(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    ring = [[108.70, 34.30], [108.71, 34.30], [108.71, 34.31], [108.70, 34.31]]
    response = post_grid(
        client,
        admin,
        name="Open",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry={"type": "Polygon", "coordinates": [ring]},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["geometry"][0]["kind"] == "ring_not_closed"
    assert rows() == (0, 0)


def test_a_geometry_without_coordinates_is_422_not_a_crash(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Nothing",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry={"type": "Polygon"},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["geometry"][0]["kind"] == "malformed"
    assert rows() == (0, 0)


def test_overlapping_a_sibling_is_422_naming_it_and_nothing_is_stored(
    client: FlaskClient,
) -> None:
    tree = make_org_tree()
    sibling = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Intruder",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.705, 34.30)),
    )
    assert response.status_code == 422
    [problem] = response.get_json()["errors"]["geometry"]
    assert problem["kind"] == "overlap"
    assert problem["grid_id"] == str(sibling.id)
    assert problem["code"] == sibling.code
    # Half of a 0.01° square at 34.3°N: about 510,000 m².
    assert 500_000 < problem["area_m2"] < 520_000
    assert rows() == (1, 1)


def test_touching_a_sibling_is_fine(client: FlaskClient) -> None:
    tree = make_org_tree()
    make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Neighbour",
        kind="comprehensive",
        community_id=str(tree.community.id),
        geometry=geojson(square_wkt(108.71, 34.30)),
    )
    assert response.status_code == 201


def test_unknown_community_is_422(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    response = post_grid(
        client,
        admin,
        name="Orphan",
        kind="comprehensive",
        community_id=str(tree.town.id),
        geometry=geojson(square_wkt(108.70, 34.30)),
    )
    assert response.status_code == 422
    assert "community_id" in response.get_json()["errors"]


def test_non_admins_cannot_create_grids(client: FlaskClient) -> None:
    tree = make_org_tree()
    body = {
        "name": "Mine",
        "kind": "comprehensive",
        "community_id": str(tree.community.id),
        "geometry": geojson(square_wkt(108.70, 34.30)),
    }
    for role in (Role.WORKER, Role.DISPATCHER, Role.AUDITOR):
        response = post_grid(client, auth_headers(make_user(role)), **body)
        assert response.status_code == 403, role
    assert rows() == (0, 0)


def test_redraw_keeps_history_with_one_current_version(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(
        f"/api/v1/grids/{grid.id}",
        json={"geometry": geojson(square_wkt(108.70, 34.30, 0.02)), "expected_version": 1},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.get_json()["properties"]["version"] == 2
    versions = db.session.execute(
        select(GridVersion.valid_from, GridVersion.valid_to)
        .where(GridVersion.grid_id == grid.id)
        .order_by(GridVersion.valid_from, GridVersion.valid_to.nulls_last())
    ).all()
    assert len(versions) == 2
    assert [v.valid_to is None for v in versions] == [False, True]
    # The new boundary starts exactly when the old one stops: no gap, no overlap in time.
    assert versions[0].valid_to == versions[1].valid_from


def test_redraw_with_a_stale_version_is_409_and_changes_nothing(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(
        f"/api/v1/grids/{grid.id}",
        json={"geometry": geojson(square_wkt(108.70, 34.30, 0.02)), "expected_version": 7},
        headers=admin,
    )
    assert response.status_code == 409
    assert response.get_json()["code"] == "stale_version"
    assert rows() == (1, 1)


def test_redraw_needs_the_expected_version(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(
        f"/api/v1/grids/{grid.id}",
        json={"geometry": geojson(square_wkt(108.70, 34.30, 0.02))},
        headers=admin,
    )
    assert response.status_code == 422
    assert "expected_version" in response.get_json()["errors"]


def test_redraw_onto_a_sibling_is_422_and_keeps_the_old_boundary(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    sibling = make_grid(tree.community, square_wkt(108.71, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(
        f"/api/v1/grids/{grid.id}",
        json={"geometry": geojson(square_wkt(108.70, 34.30, 0.02)), "expected_version": 1},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["geometry"][0]["grid_id"] == str(sibling.id)
    assert rows() == (2, 2)


def test_redraw_does_not_overlap_the_grid_with_itself(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(
        f"/api/v1/grids/{grid.id}",
        json={"geometry": geojson(square_wkt(108.701, 34.30)), "expected_version": 1},
        headers=admin,
    )
    assert response.status_code == 200


def test_rename_keeps_the_boundary_version(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(f"/api/v1/grids/{grid.id}", json={"name": "Renamed"}, headers=admin)
    assert response.status_code == 200
    assert response.get_json()["properties"]["name"] == "Renamed"
    assert response.get_json()["properties"]["version"] == 1
    assert rows() == (1, 1)


def test_a_rename_to_only_whitespace_is_422_and_keeps_the_name(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    admin = auth_headers(make_user(Role.ADMIN))
    named = grid.name
    response = client.patch(f"/api/v1/grids/{grid.id}", json={"name": " \u3000 "}, headers=admin)
    assert response.status_code == 422
    assert "name" in response.get_json()["errors"]
    db.session.refresh(grid)
    assert grid.name == named


def test_kind_outside_the_codes_range_is_refused(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30), kind=GridKind.COMPREHENSIVE)
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(f"/api/v1/grids/{grid.id}", json={"kind": "dedicated"}, headers=admin)
    assert response.status_code == 422
    assert "kind" in response.get_json()["errors"]


def test_patch_of_an_unknown_grid_is_404(client: FlaskClient) -> None:
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.patch(
        "/api/v1/grids/00000000-0000-4000-8000-000000000000", json={"name": "x"}, headers=admin
    )
    assert response.status_code == 404


def test_non_admins_cannot_patch_grids(client: FlaskClient) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.70, 34.30))
    worker = make_user(Role.WORKER)
    response = client.patch(
        f"/api/v1/grids/{grid.id}", json={"name": "Mine"}, headers=auth_headers(worker)
    )
    assert response.status_code == 403


def test_a_malformed_json_body_is_a_400_problem_not_a_list_of_missing_fields(
    client: FlaskClient,
) -> None:
    admin = auth_headers(make_user(Role.ADMIN))
    response = client.post(
        "/api/v1/grids", data='{"name": "x",', content_type="application/json", headers=admin
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert rows() == (0, 0)


def test_a_body_that_is_not_json_is_a_415_problem(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin = auth_headers(make_user(Role.ADMIN))
    body = {
        "name": "Plain",
        "kind": "comprehensive",
        "community_id": str(tree.community.id),
        "geometry": geojson(square_wkt(108.70, 34.30)),
    }
    response = client.post(
        "/api/v1/grids", data=json.dumps(body), content_type="text/plain", headers=admin
    )
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert rows() == (0, 0)
