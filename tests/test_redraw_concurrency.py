"""Two admins redrawing one community at once: the second waits for the lock, then gets 409."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from server.extensions import db
from server.hierarchy.models import GridVersion
from tests.test_redraw_apply import Town, border_draft, make_town, new_draft


@pytest.fixture
def town(app: Any) -> Town:
    return make_town()


def test_an_apply_waits_for_a_concurrent_redraw_and_then_answers_409(
    client: FlaskClient, town: Town, owner_engine: Engine
) -> None:
    draft = new_draft(client, town, border_draft(town))
    result: dict[str, Any] = {}

    def apply() -> None:
        result["response"] = client.post(
            f"/api/v1/redraws/{draft['id']}/apply",
            json={"expected_boundary_version": 1},
            headers=town.admin,
        )

    with owner_engine.connect() as other:
        # Another admin's apply holds the community row and lands version 2 meanwhile.
        other.execute(
            text("SELECT id FROM org_units WHERE id = :id FOR UPDATE"), {"id": town.community.id}
        )
        worker = threading.Thread(target=apply)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "the apply did not wait for the community lock"
        other.execute(
            text("UPDATE org_units SET boundary_version = 2 WHERE id = :id"),
            {"id": town.community.id},
        )
        other.commit()
    worker.join(timeout=30)

    response = result["response"]
    assert response.status_code == 409
    assert response.get_json()["code"] == "stale_version"
    assert db.session.scalar(select(func.count()).select_from(GridVersion)) == 2
