"""No log record ever carries a password or a token, whatever the auth flow did."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from server.auth.models import RefreshToken
from server.extensions import db
from tests.factories import DEFAULT_PASSWORD, make_user

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
WRONG_PASSWORD = "wrong-password-do-not-log"


def test_logs_never_contain_a_token_or_a_password(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user()
    grace = client.application.config["REFRESH_REUSE_GRACE"]
    with caplog.at_level(logging.DEBUG):
        login = client.post(
            LOGIN,
            json={"username": user.username, "password": DEFAULT_PASSWORD, "device_id": "p-1"},
        ).get_json()
        rotated = client.post(REFRESH, json={"refresh_token": login["refresh_token"]}).get_json()
        client.post(
            LOGIN,
            json={"username": user.username, "password": WRONG_PASSWORD, "device_id": "p-1"},
        )
        # Reuse after the grace window, so the warning path is logged too.
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.rotated_at.is_not(None))
            .values(rotated_at=datetime.now(UTC) - timedelta(seconds=grace + 1))
        )
        db.session.commit()
        client.post(REFRESH, json={"refresh_token": login["refresh_token"]})
    secrets = [DEFAULT_PASSWORD, WRONG_PASSWORD, login["access_token"], login["refresh_token"]]
    secrets += [rotated["access_token"], rotated["refresh_token"]]
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    for record in caplog.records:
        logged = record.getMessage() + repr(vars(record))
        for secret in secrets:
            assert secret not in logged, f"{record.name} logged a secret"
