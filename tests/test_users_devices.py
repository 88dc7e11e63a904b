"""Admins see a user's devices and revoke a lost one without touching the others."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server.auth.models import AuthSession, Device, Role, User
from server.extensions import db
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user

USERS = "/api/v1/users"
ME = "/api/v1/auth/me"


@pytest.fixture
def admin(client: FlaskClient) -> dict[str, str]:
    """Bearer headers of an admin."""
    return auth_headers(make_user(Role.ADMIN))


def _login(client: FlaskClient, user: User, device: str) -> Any:
    body = {
        "username": user.username,
        "password": DEFAULT_PASSWORD,
        "device_id": device,
        "app_version": "2.1.0",
    }
    return client.post("/api/v1/auth/login", json=body)


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _device(user: User, key: str) -> Device:
    return db.session.scalars(
        select(Device).where(Device.user_id == user.id, Device.device_key == key)
    ).one()


def _revoke(client: FlaskClient, admin: dict[str, str], user: User, key: str) -> Any:
    device = _device(user, key)
    return client.post(f"{USERS}/{user.id}/devices/{device.id}/revoke", headers=admin)


def test_the_device_list_shows_version_last_seen_and_revocation(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user()
    _login(client, user, "phone-1")
    response = client.get(f"{USERS}/{user.id}/devices", headers=admin)
    assert response.status_code == 200
    [device] = response.get_json()["items"]
    assert device["device_key"] == "phone-1"
    assert device["app_version"] == "2.1.0"
    assert device["last_seen_at"] is not None
    assert device["revoked_at"] is None


def test_only_admins_may_list_devices(client: FlaskClient) -> None:
    worker = make_user()
    response = client.get(f"{USERS}/{worker.id}/devices", headers=auth_headers(worker))
    assert response.status_code == 403


def test_revoking_a_device_marks_it_and_ends_its_sessions(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user()
    _login(client, user, "phone-1")
    response = _revoke(client, admin, user, "phone-1")
    assert response.status_code == 200
    assert response.get_json()["revoked_at"] is not None
    session = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    assert session.revoked_reason == "device_revoked"


def test_a_revoked_device_is_refused_everywhere_while_the_other_device_works(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user()
    lost = _login(client, user, "phone-lost").get_json()
    kept = _login(client, user, "phone-kept").get_json()
    _revoke(client, admin, user, "phone-lost")

    request = client.get(ME, headers=_bearer(lost))
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": lost["refresh_token"]})
    login = _login(client, user, "phone-lost")
    for response in (request, refresh, login):
        assert response.status_code == 401
        assert response.get_json()["code"] == "device_revoked"

    assert client.get(ME, headers=_bearer(kept)).status_code == 200
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": kept["refresh_token"]})
    assert refreshed.status_code == 200


def test_revoking_twice_is_harmless(client: FlaskClient, admin: dict[str, str]) -> None:
    user = make_user()
    _login(client, user, "phone-1")
    first = _revoke(client, admin, user, "phone-1").get_json()
    second = _revoke(client, admin, user, "phone-1")
    assert second.status_code == 200
    assert second.get_json()["revoked_at"] == first["revoked_at"]


def test_another_users_device_is_404(client: FlaskClient, admin: dict[str, str]) -> None:
    owner, other = make_user(), make_user()
    _login(client, owner, "phone-1")
    device = _device(owner, "phone-1")
    response = client.post(f"{USERS}/{other.id}/devices/{device.id}/revoke", headers=admin)
    assert response.status_code == 404
    assert _device(owner, "phone-1").revoked_at is None


def test_devices_of_an_unknown_user_is_404(client: FlaskClient, admin: dict[str, str]) -> None:
    assert client.get(f"{USERS}/{uuid.uuid4()}/devices", headers=admin).status_code == 404
