"""kill -9 of the server process in the middle of a 500-op push: all or nothing, then exactly once.

The app runs under gunicorn as a subprocess against the test database. A phone pushes one
500-op batch from a thread; as soon as PostgreSQL shows the push's transaction holding the
device's lock and having written, the whole server is SIGKILLed. After a restart, the batch is
either wholly applied or not at all, and the phone's retry of the same batch lands every op once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import URL, Engine

from client.phone import Phone
from client.store import Store
from client.transport import HttpTransport, TransportError
from server.auth.models import Role
from tests.factories import (
    assign_worker,
    auth_headers,
    make_grid,
    make_org_tree,
    make_user,
    square_wkt,
)
from tests.live_server import ServerProcess, free_port

OPS = 500

# The push's transaction: it holds the device's advisory lock and has written (it holds its own
# transaction id). pg_locks, unlike pg_stat_activity, shows this for every role.
_PUSH_IN_FLIGHT = sa.text(
    """
    SELECT count(*) FROM pg_locks AS a JOIN pg_locks AS x ON x.pid = a.pid
    WHERE a.locktype = 'advisory' AND a.granted
      AND a.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND x.locktype = 'transactionid' AND x.mode = 'ExclusiveLock' AND x.granted
    """
)


def _counts(engine: Engine, ids: list[str]) -> tuple[int, int]:
    """(committed records among `ids`, committed receipts of the batch's ops)."""
    with engine.connect() as conn:
        records = conn.scalar(
            sa.text("SELECT count(*) FROM addresses WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": ids},
        )
        receipts = conn.scalar(sa.text("SELECT count(*) FROM op_receipts"))
    return int(records or 0), int(receipts or 0)


def _wait_for(engine: Engine, query: sa.TextClause, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.scalar(query):
                return True
            conn.rollback()
            time.sleep(0.005)
    return False


def test_a_server_killed_mid_push_applies_all_or_nothing_and_the_retry_lands_once(
    app: Flask, database_urls: tuple[URL, URL], owner_engine: Engine
) -> None:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.90, 34.20))
    user = make_user(Role.WORKER)
    assign_worker(user, grid)
    token = auth_headers(user, "kill-phone")["Authorization"].removeprefix("Bearer ")
    server = ServerProcess(database_urls[0], free_port())
    server.start()
    try:
        transport = HttpTransport(server.url, timeout=120)
        transport.access_token = token
        phone = Phone(Store(), transport, "kill-phone")
        ids = [
            phone.create(
                "address",
                {
                    "kind": "door",
                    "street": f"长安南路{n}号街区" + "巷" * 80,
                    "full_text": f"陕西省西安市长安南路{n}号" + "地址说明" * 60,
                    "point": {"type": "Point", "coordinates": [108.901 + n * 1e-5, 34.205]},
                },
            )
            for n in range(OPS)
        ]
        outcome: dict[str, Any] = {}

        def push() -> None:
            try:
                outcome["results"] = phone.api.push(phone.store.queue(OPS))
            except TransportError as error:
                outcome["error"] = error

        pusher = threading.Thread(target=push)
        pusher.start()
        assert _wait_for(owner_engine, _PUSH_IN_FLIGHT, timeout=60), (outcome, server.log())
        server.kill()
        pusher.join(timeout=60)
        assert "error" in outcome, "the push finished before the kill: nothing was tested"

        records, receipts = _counts(owner_engine, ids)
        assert (records, receipts) in ((0, 0), (OPS, OPS))
        print(f"after the kill: {records} of {OPS} ops applied")

        server = ServerProcess(database_urls[0], free_port())
        server.start()
        transport.base_url = server.url
        report = phone.sync()
    finally:
        server.kill()

    assert phone.store.queue() == []
    results = phone.store.results()
    assert len(results) == OPS
    assert sum(report.statuses.values()) == OPS
    assert set(report.statuses) == {"applied"}
    assert _counts(owner_engine, ids) == (OPS, OPS)
    with owner_engine.connect() as conn:
        entries = conn.scalar(
            sa.text("SELECT count(*) FROM change_log WHERE record_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": ids},
        )
    assert entries == OPS
    assert sorted(k[1] for k in phone.store.visible()) == sorted(ids)
