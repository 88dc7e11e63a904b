"""The cyclic collector paused around a push: no collection runs inside, it runs again after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from server import collector
from server.syncapi import service
from tests.factories import make_registry_world
from tests.test_syncapi_push_pull import address_op, push


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection that starts while the test runs."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


def _churn() -> None:
    """Enough short-lived containers to start young collections."""
    kept = [{"n": n} for n in range(5000)]
    del kept


def test_no_collection_runs_inside_and_they_run_again_after(collections: list[int]) -> None:
    with collector.paused():
        assert not gc.isenabled()
        _churn()
    assert collections == []
    assert gc.isenabled()
    _churn()
    assert collections


def test_the_collector_runs_again_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("the block failed")
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_push_is_applied_with_the_collector_paused(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_registry_world()
    enabled: list[bool] = []
    apply = service.push_batch

    def watched(*args: Any) -> dict[str, Any]:
        enabled.append(gc.isenabled())
        return apply(*args)

    monkeypatch.setattr(service, "push_batch", watched)
    (result,) = push(client, world.headers["worker_a"], address_op())
    assert result["status"] == "applied"
    assert enabled == [False]
    assert gc.isenabled()


def test_pull_and_snapshot_pages_are_served_with_the_collector_paused(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_registry_world()
    enabled: dict[str, bool] = {}
    for name in ("pull_page", "snapshot_page"):
        serve = getattr(service, name)

        def watched(*args: Any, _serve: Any = serve, _name: str = name) -> dict[str, Any]:
            enabled[_name] = gc.isenabled()
            result: dict[str, Any] = _serve(*args)
            return result

        monkeypatch.setattr(service, name, watched)
    headers = world.headers["worker_a"]
    assert client.get("/api/v1/sync/pull", headers=headers).status_code == 200
    snapshot = f"/api/v1/sync/snapshot?grid_id={world.grid_a.id}"
    assert client.get(snapshot, headers=headers).status_code == 200
    assert enabled == {"pull_page": False, "snapshot_page": False}
    assert gc.isenabled()
