"""Redraw jobs whose worker died: detected by their lease, reported `worker_lost`, re-runnable."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine

from server.extensions import db
from server.hierarchy.models import GridVersion
from server.redraw import jobs
from server.redraw.models import RedrawJob
from server.registry.models import Address
from tests.factories import create_record
from tests.test_redraw_apply import MOVING, Town, border_draft, make_town, new_draft
from tests.test_redraw_jobs import _wait


@pytest.fixture
def town(app: Any) -> Town:
    return make_town()


@pytest.fixture
def dead_worker(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every apply becomes a job whose thread never starts, as if its process died at once."""
    monkeypatch.setitem(app.config, "REDRAW_SYNC_LIMIT", 0)
    started: list[tuple[Any, ...]] = []
    monkeypatch.setattr(jobs, "start", lambda *args: started.append(args))
    return started


def _queue(client: FlaskClient, town: Town) -> tuple[dict[str, Any], dict[str, Any]]:
    """A moving address and a queued job applying a draft that moves it: (draft, job)."""
    create_record(client, town.admin, "addresses", MOVING)
    draft = new_draft(client, town, border_draft(town))
    queued = client.post(
        f"/api/v1/redraws/{draft['id']}/apply",
        json={"expected_boundary_version": 1},
        headers=town.admin,
    )
    assert queued.status_code == 202
    return draft, queued.get_json()


def _expire_lease(job_id: str) -> None:
    db.session.execute(
        update(RedrawJob)
        .where(RedrawJob.id == uuid.UUID(job_id))
        .values(lease_expires_at=func.now() - timedelta(minutes=5))
    )
    db.session.commit()


def _job(client: FlaskClient, town: Town, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/redraw-jobs/{job_id}", headers=town.admin)
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def _draft_status(client: FlaskClient, town: Town, draft_id: str) -> str:
    body = client.get(f"/api/v1/redraws/{draft_id}", headers=town.admin).get_json()
    return str(body["status"])


def test_a_queued_job_holds_a_lease(
    client: FlaskClient, town: Town, dead_worker: list[tuple[Any, ...]]
) -> None:
    _, job = _queue(client, town)

    assert job["lease_expires_at"] is not None
    assert _job(client, town, job["id"])["status"] == "queued"


def test_a_job_whose_lease_ran_out_is_reported_lost(
    client: FlaskClient, town: Town, dead_worker: list[tuple[Any, ...]]
) -> None:
    _, job = _queue(client, town)
    _expire_lease(job["id"])

    read = _job(client, town, job["id"])

    assert (read["status"], read["error"]["code"]) == ("failed", "worker_lost")
    assert read["finished_at"] is not None


def test_a_lost_job_frees_its_draft(
    client: FlaskClient, town: Town, dead_worker: list[tuple[Any, ...]]
) -> None:
    draft, job = _queue(client, town)
    assert _draft_status(client, town, draft["id"]) == "applying"
    _expire_lease(job["id"])

    _job(client, town, job["id"])

    assert _draft_status(client, town, draft["id"]) == "draft"


def test_the_admin_re_runs_a_lost_job_by_applying_its_draft_again(
    client: FlaskClient,
    town: Town,
    app: Flask,
    dead_worker: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draft, job = _queue(client, town)
    _expire_lease(job["id"])
    _job(client, town, job["id"])
    monkeypatch.setattr(jobs, "start", lambda *args: jobs.run(*args))

    again = client.post(
        f"/api/v1/redraws/{draft['id']}/apply",
        json={"expected_boundary_version": 1},
        headers=town.admin,
    )

    assert again.status_code == 202
    done = _wait(client, town, again.get_json()["id"])
    assert done["status"] == "done", done
    assert done["result"]["per_type"] == {"addresses": 1}
    db.session.expire_all()
    address = db.session.scalar(select(Address))
    assert address is not None
    assert address.grid_id == town.west.id


def test_a_lost_job_does_not_apply_if_its_worker_wakes_up(
    client: FlaskClient, town: Town, dead_worker: list[tuple[Any, ...]]
) -> None:
    _, job = _queue(client, town)
    _expire_lease(job["id"])
    _job(client, town, job["id"])

    jobs.run(*dead_worker[0])

    read = _job(client, town, job["id"])
    assert (read["status"], read["error"]["code"]) == ("failed", "worker_lost")
    assert db.session.scalar(select(func.count()).select_from(GridVersion)) == 2


def test_a_job_whose_draft_is_held_by_a_transaction_is_not_reported_lost(
    client: FlaskClient,
    town: Town,
    dead_worker: list[tuple[Any, ...]],
    owner_engine: Engine,
) -> None:
    draft, job = _queue(client, town)
    _expire_lease(job["id"])

    # A worker still inside its apply holds the draft row: late heartbeat, not a dead worker.
    with owner_engine.connect() as worker:
        worker.execute(
            text("SELECT 1 FROM redraw_drafts WHERE id = :id FOR UPDATE"), {"id": draft["id"]}
        )
        assert _job(client, town, job["id"])["status"] == "queued"
        worker.rollback()

    assert _job(client, town, job["id"])["error"]["code"] == "worker_lost"


def test_the_heartbeat_renews_the_lease(
    client: FlaskClient, town: Town, app: Flask, dead_worker: list[tuple[Any, ...]]
) -> None:
    _, job = _queue(client, town)
    _expire_lease(job["id"])

    with jobs.Heartbeat(app, uuid.UUID(job["id"]), timedelta(seconds=0.3)):
        time.sleep(0.5)

    read = _job(client, town, job["id"])
    assert read["status"] == "queued"
    assert read["heartbeat_at"] is not None


def test_a_redraw_of_grids_without_records_is_applied_at_once(
    client: FlaskClient, town: Town, dead_worker: list[tuple[Any, ...]]
) -> None:
    draft = new_draft(client, town, border_draft(town))

    applied = client.post(
        f"/api/v1/redraws/{draft['id']}/apply",
        json={"expected_boundary_version": 1},
        headers=town.admin,
    )

    assert applied.status_code == 200
    assert dead_worker == []
