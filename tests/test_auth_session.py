"""The caller's profile, logout, and live account state checked on every request."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import update

from server.auth.models import Role, User, UserStatus
from server.extensions import db
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user

ME = "/api/v1/auth/me"
LOGOUT = "/api/v1/auth/logout"


def test_me_describes_the_caller_and_the_device(client: FlaskClient) -> None:
    user = make_user(Role.AUDITOR, display_name="Zhang Wei")
    login = client.post(
        "/api/v1/auth/login",
        json={
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "device_id": "browser-7",
            "device_name": "Office PC",
            "app_version": "web-3.2",
        },
    ).get_json()
    response = client.get(ME, headers={"Authorization": f"Bearer {login['access_token']}"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["username"], body["display_name"], body["role"]) == (
        str(user.id),
        user.username,
        "Zhang Wei",
        "auditor",
    )
    device = body["device"]
    assert (device["device_key"], device["name"], device["app_version"]) == (
        "browser-7",
        "Office PC",
        "web-3.2",
    )
    assert device["revoked_at"] is None


def test_logout_ends_the_session_for_its_access_token(client: FlaskClient) -> None:
    headers = auth_headers(make_user())
    assert client.post(LOGOUT, headers=headers).status_code == 204
    response = client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "session_revoked"


def test_logout_leaves_the_users_other_sessions_alone(client: FlaskClient) -> None:
    user = make_user()
    phone = auth_headers(user, "phone-1")
    tablet = auth_headers(user, "tablet-1")
    client.post(LOGOUT, headers=phone)
    assert client.get(ME, headers=tablet).status_code == 200


def test_a_disabled_users_unexpired_access_token_stops_working_at_once(
    client: FlaskClient,
) -> None:
    user = make_user()
    headers = auth_headers(user)
    assert client.get(ME, headers=headers).status_code == 200
    db.session.execute(update(User).where(User.id == user.id).values(status=UserStatus.DISABLED))
    db.session.commit()
    response = client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "account_disabled"


def test_logout_needs_a_token(client: FlaskClient) -> None:
    assert client.post(LOGOUT).status_code == 401
