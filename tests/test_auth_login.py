"""Login: tokens and device registration, lockout, and one answer for every bad credential."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from server.auth import service
from server.auth.models import AuthSession, Device, RefreshToken, Role, User, UserStatus
from server.auth.tokens import hash_refresh_token
from server.extensions import db
from tests.factories import DEFAULT_PASSWORD, make_user

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
WRONG = "not the password"


def _login(
    client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD, **extra: Any
) -> TestResponse:
    body = {"username": username, "password": password, "device_id": "phone-1", **extra}
    return client.post(LOGIN, json=body, headers={"X-Request-Id": "login-request-1"})


def _fail(client: FlaskClient, username: str, times: int) -> None:
    for _ in range(times):
        assert _login(client, username, WRONG).status_code == 401


def test_login_returns_a_bearer_pair_and_the_user(client: FlaskClient) -> None:
    user = make_user(Role.DISPATCHER, display_name="Li Na")
    response = _login(client, user.username)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == client.application.config["ACCESS_TOKEN_TTL"]
    assert body["refresh_token"].startswith("rt_")
    assert body["user"] == {
        "id": str(user.id),
        "username": user.username,
        "display_name": "Li Na",
        "role": "dispatcher",
    }
    me = client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200


def test_login_registers_the_device_and_a_session_lasting_the_refresh_ttl(
    client: FlaskClient,
) -> None:
    user = make_user()
    before = datetime.now(UTC)
    _login(client, user.username, device_name="Redmi 12", app_version="1.4.0")
    device = db.session.scalars(select(Device).where(Device.user_id == user.id)).one()
    assert (device.device_key, device.name, device.app_version) == ("phone-1", "Redmi 12", "1.4.0")
    assert device.last_seen_at is not None
    assert device.last_seen_at >= before
    session = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    ttl = timedelta(seconds=client.application.config["REFRESH_TOKEN_TTL"])
    assert before + ttl <= session.expires_at <= datetime.now(UTC) + ttl


def test_login_stores_the_refresh_token_only_as_its_hash(client: FlaskClient) -> None:
    user = make_user()
    plaintext = _login(client, user.username).get_json()["refresh_token"]
    stored = db.session.scalars(select(RefreshToken.token_hash)).all()
    assert stored == [hash_refresh_token(plaintext)]


def test_login_again_on_the_same_device_updates_it_instead_of_adding_one(
    client: FlaskClient,
) -> None:
    user = make_user()
    _login(client, user.username, device_name="old name", app_version="1.0")
    _login(client, user.username, device_name="new name", app_version="2.0")
    devices = db.session.scalars(select(Device).where(Device.user_id == user.id)).all()
    assert [(d.name, d.app_version) for d in devices] == [("new name", "2.0")]
    sessions = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).all()
    assert len(sessions) == 2


def test_unknown_user_gets_exactly_the_wrong_password_answer(client: FlaskClient) -> None:
    user = make_user()
    wrong_password = _login(client, user.username, WRONG)
    unknown_user = _login(client, "nobody-by-this-name", WRONG)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.get_json()["code"] == "invalid_credentials"
    assert unknown_user.data == wrong_password.data


def test_unknown_user_still_pays_one_password_verification(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    real: Callable[[str | None, str], bool] = service.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    _login(client, "nobody-by-this-name", WRONG)
    assert calls == [None]


def test_repeated_failures_lock_the_account_even_against_the_right_password(
    client: FlaskClient,
) -> None:
    user = make_user()
    _fail(client, user.username, client.application.config["LOGIN_MAX_FAILURES"])
    locked = _login(client, user.username)
    assert locked.status_code == 401
    assert locked.data == _login(client, user.username, WRONG).data
    assert db.session.get(User, user.id).locked_until > datetime.now(UTC)


def test_one_failure_short_of_the_limit_does_not_lock(client: FlaskClient) -> None:
    user = make_user()
    _fail(client, user.username, client.application.config["LOGIN_MAX_FAILURES"] - 1)
    assert _login(client, user.username).status_code == 200


def test_a_successful_login_resets_the_failure_count(client: FlaskClient) -> None:
    user = make_user()
    almost = client.application.config["LOGIN_MAX_FAILURES"] - 1
    _fail(client, user.username, almost)
    assert _login(client, user.username).status_code == 200
    _fail(client, user.username, almost)
    assert _login(client, user.username).status_code == 200


def test_the_lock_expires_after_the_lockout_period(client: FlaskClient) -> None:
    user = make_user()
    _fail(client, user.username, client.application.config["LOGIN_MAX_FAILURES"])
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()
    assert _login(client, user.username).status_code == 200


def test_disabled_user_gets_the_invalid_credentials_answer(client: FlaskClient) -> None:
    user = make_user(status=UserStatus.DISABLED)
    response = _login(client, user.username)
    assert response.status_code == 401
    assert response.data == _login(client, user.username, WRONG).data


def test_login_without_a_device_id_is_422_per_field(client: FlaskClient) -> None:
    user = make_user()
    response = client.post(LOGIN, json={"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"device_id"}
