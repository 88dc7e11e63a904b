"""Large redraws: applied by a background job that reports its progress and result."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.extensions import db
from server.hierarchy.models import GridVersion, OrgUnit
from server.redraw import jobs
from server.registry.models import Address
from tests.factories import create_record
from tests.test_redraw_apply import MOVING, Town, border_draft, make_town, new_draft


@pytest.fixture
def town(app: Any) -> Town:
    return make_town()


def _wait(client: FlaskClient, town: Town, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(
            f"/api/v1/redraw-jobs/{job_id}", headers=town.admin
        ).get_json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the redraw job did not finish in 30 s")


def test_a_redraw_over_the_limit_runs_as_a_job(
    client: FlaskClient, town: Town, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REDRAW_SYNC_LIMIT", 0)
    address = create_record(client, town.admin, "addresses", MOVING)
    draft = new_draft(client, town, border_draft(town))

    queued = client.post(
        f"/api/v1/redraws/{draft['id']}/apply",
        json={"expected_boundary_version": 1},
        headers=town.admin,
    )

    assert queued.status_code == 202
    job = _wait(client, town, queued.get_json()["id"])
    assert job["status"] == "done", job
    assert job["progress"]["done"] == job["progress"]["total"]
    assert job["result"]["per_type"] == {"addresses": 1}
    db.session.expire_all()
    row = db.session.get(Address, uuid.UUID(address["id"]))
    assert row is not None
    assert row.grid_id == town.west.id
    stored = client.get(f"/api/v1/redraws/{draft['id']}", headers=town.admin).get_json()
    assert stored["status"] == "applied"


def test_a_job_that_finds_the_version_moved_fails_and_frees_its_draft(
    client: FlaskClient, town: Town, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REDRAW_SYNC_LIMIT", 0)
    started: list[tuple[Any, ...]] = []
    # Hold the thread back so another redraw can land between the 202 and the job's run.
    monkeypatch.setattr(jobs, "start", lambda *args: started.append(args))
    create_record(client, town.admin, "addresses", MOVING)
    draft = new_draft(client, town, border_draft(town))
    queued = client.post(
        f"/api/v1/redraws/{draft['id']}/apply",
        json={"expected_boundary_version": 1},
        headers=town.admin,
    ).get_json()
    db.session.execute(
        update(OrgUnit).where(OrgUnit.id == town.community.id).values(boundary_version=2)
    )
    db.session.commit()

    jobs.run(*started[0])

    job = client.get(f"/api/v1/redraw-jobs/{queued['id']}", headers=town.admin).get_json()
    assert (job["status"], job["error"]["code"]) == ("failed", "stale_version")
    stored = client.get(f"/api/v1/redraws/{draft['id']}", headers=town.admin).get_json()
    assert stored["status"] == "draft"
    assert db.session.scalar(select(func.count()).select_from(GridVersion)) == 2
