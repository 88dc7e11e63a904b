"""Two writes in one community cannot both pass the overlap check: the community row is locked."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from flask.testing import FlaskClient
from shapely import wkt
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.engine import Engine

from server.auth.models import Role
from tests.factories import auth_headers, make_org_tree, make_user, square_wkt


def test_create_waits_for_the_community_lock_and_then_sees_the_new_sibling(
    client: FlaskClient, owner_engine: Engine
) -> None:
    tree = make_org_tree()
    headers = auth_headers(make_user(Role.ADMIN))
    body = {
        "name": "Late",
        "kind": "comprehensive",
        "community_id": str(tree.community.id),
        "geometry": dict(mapping(wkt.loads(square_wkt(108.705, 34.30)))),
    }
    result: dict[str, Any] = {}

    def create() -> None:
        result["response"] = client.post("/api/v1/grids", json=body, headers=headers)

    sibling_id = uuid.uuid4()
    with owner_engine.connect() as other:
        # Another writer holds the community and inserts an overlapping grid meanwhile.
        other.execute(
            text("SELECT id FROM org_units WHERE id = :id FOR UPDATE"), {"id": tree.community.id}
        )
        worker = threading.Thread(target=create)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "the create did not wait for the community lock"
        other.execute(
            text(
                "INSERT INTO grids (id, code, name, kind, community_id, path, version) "
                "VALUES (:id, :code, 'First', 'comprehensive', :community, :path, 1)"
            ),
            {
                "id": sibling_id,
                "code": f"{tree.community.code}001",
                "community": tree.community.id,
                "path": list(tree.community.path),
            },
        )
        other.execute(
            text(
                "INSERT INTO grid_versions (id, grid_id, geom) "
                "VALUES (:id, :grid, ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {"id": uuid.uuid4(), "grid": sibling_id, "wkt": square_wkt(108.70, 34.30)},
        )
        other.commit()
    worker.join(timeout=30)
    response = result["response"]
    assert response.status_code == 422
    assert response.get_json()["errors"]["geometry"][0]["grid_id"] == str(sibling_id)
