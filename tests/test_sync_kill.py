"""A 500-op push killed midway: all or nothing, then exactly once.

The app runs under gunicorn as a subprocess against the test database. A phone pushes one
500-op batch from a thread; as soon as PostgreSQL shows the push's transaction holding the
device's lock and having written, either the whole server is SIGKILLed (then restarted) or the
push's database session is terminated under it (the server keeps running). Either way the batch
is wholly applied or not at all, and the phone's retry of the same batch lands every op once.
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


_PUSH_BACKENDS = sa.text(
    """
    SELECT pg_terminate_backend(a.pid) FROM pg_locks AS a
    WHERE a.locktype = 'advisory' AND a.granted
      AND a.database = (SELECT oid FROM pg_database WHERE datname = :database)
    """
)


def _phone_with_a_batch(url: str, token: str) -> tuple[Phone, HttpTransport, list[str]]:
    """A phone of the test grid holding OPS queued address creates (~1 KB each)."""
    transport = HttpTransport(url, timeout=120)
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
    return phone, transport, ids


def _push_in_background(phone: Phone) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def push() -> None:
        try:
            outcome["results"] = phone.api.push(phone.store.queue(OPS))
        except TransportError as error:
            outcome["error"] = error

    pusher = threading.Thread(target=push)
    pusher.start()
    return pusher, outcome


def _worker_token() -> str:
    tree = make_org_tree()
    grid = make_grid(tree.community, square_wkt(108.90, 34.20))
    user = make_user(Role.WORKER)
    assign_worker(user, grid)
    return auth_headers(user, "kill-phone")["Authorization"].removeprefix("Bearer ")


def _assert_landed_once(phone: Phone, report: Any, owner_engine: Engine, ids: list[str]) -> None:
    assert phone.store.queue() == []
    assert len(phone.store.results()) == OPS
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


def test_a_server_killed_mid_push_applies_all_or_nothing_and_the_retry_lands_once(
    app: Flask, database_urls: tuple[URL, URL], owner_engine: Engine
) -> None:
    token = _worker_token()
    server = ServerProcess(database_urls[0], free_port())
    server.start()
    try:
        phone, transport, ids = _phone_with_a_batch(server.url, token)
        pusher, outcome = _push_in_background(phone)
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
    _assert_landed_once(phone, report, owner_engine, ids)


def test_a_push_whose_database_session_dies_applies_nothing_and_the_retry_lands_once(
    app: Flask, database_urls: tuple[URL, URL], owner_engine: Engine, admin_engine: Engine
) -> None:
    token = _worker_token()
    server = ServerProcess(database_urls[0], free_port())
    server.start()
    try:
        phone, _, ids = _phone_with_a_batch(server.url, token)
        # The change log locked against writers: the push stops at its first tracked write,
        # inside its transaction, and stays there until its session is terminated.
        with owner_engine.connect() as blocker:
            blocker.execute(sa.text("LOCK TABLE change_log IN EXCLUSIVE MODE"))
            pusher, outcome = _push_in_background(phone)
            assert _wait_for(owner_engine, _PUSH_IN_FLIGHT, timeout=60), (outcome, server.log())
            with admin_engine.connect() as conn:
                killed = conn.execute(_PUSH_BACKENDS, {"database": database_urls[0].database}).all()
            blocker.rollback()
        pusher.join(timeout=60)
        assert killed == [(True,)]
        assert "error" in outcome, "the push finished before its session died: nothing was tested"
        assert _counts(owner_engine, ids) == (0, 0)

        # The same server process, with its pool's dead connection: the retry goes through.
        report = phone.sync()
    finally:
        server.kill()
    _assert_landed_once(phone, report, owner_engine, ids)
