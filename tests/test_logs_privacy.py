"""Logs are JSON lines tied to a request id, and they never carry what the caller sent."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask.testing import FlaskClient

from server.logs import JsonFormatter

SECRET = "hunter2-do-not-log"
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def json_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog whose handler formats each record with JsonFormatter while its request is live."""
    caplog.set_level(logging.INFO)
    caplog.handler.setFormatter(JsonFormatter())
    return caplog


def _entries(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    lines = caplog.text.splitlines()
    assert len(lines) == len(caplog.records), "a record did not format to exactly one line"
    return [json.loads(line) for line in lines]


def test_every_log_record_is_json_with_its_request_id(
    client: FlaskClient, json_log: pytest.LogCaptureFixture
) -> None:
    client.get("/healthz", headers={"X-Request-Id": "health-0001"})
    client.get("/api/v1/nowhere", headers={"X-Request-Id": "missing-0002"})
    entries = _entries(json_log)
    assert len(entries) >= 2
    assert {e["request_id"] for e in entries} == {"health-0001", "missing-0002"}


def test_a_422_is_logged_as_json_with_its_request_id(
    client: FlaskClient, json_log: pytest.LogCaptureFixture
) -> None:
    response = client.post(
        LOGIN, json={"password": SECRET}, headers={"X-Request-Id": "invalid-0003"}
    )
    assert response.status_code == 422
    entries = _entries(json_log)
    assert entries
    assert {e["request_id"] for e in entries} == {"invalid-0003"}
    assert SECRET not in json_log.text


def test_logs_leave_out_the_query_the_body_and_the_token(
    client: FlaskClient, json_log: pytest.LogCaptureFixture
) -> None:
    client.post(
        f"/api/v1/nowhere?password={SECRET}",
        json={"password": SECRET},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert json_log.records
    assert SECRET not in json_log.text


def test_a_valid_supplied_request_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/api/v1/nowhere", headers={"X-Request-Id": "client-id_0042.a"})
    assert response.headers["X-Request-Id"] == "client-id_0042.a"
    assert response.get_json()["request_id"] == "client-id_0042.a"


@pytest.mark.parametrize("supplied", ["short", "has space 12345", "x" * 65, "ünïcode-12345"])
def test_an_invalid_supplied_request_id_is_replaced(client: FlaskClient, supplied: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": supplied})
    echoed = response.headers["X-Request-Id"]
    assert echoed != supplied
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_a_missing_request_id_is_generated(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])
