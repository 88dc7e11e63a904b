"""Admins manage accounts; nobody else may."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from server.auth.models import Role, User
from server.extensions import db
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user

USERS = "/api/v1/users"
ME = "/api/v1/auth/me"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def admin(client: FlaskClient) -> dict[str, str]:
    """Bearer headers of an admin."""
    return auth_headers(make_user(Role.ADMIN))


def _login(client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD) -> TestResponse:
    body = {"username": username, "password": password, "device_id": "phone-1"}
    return client.post("/api/v1/auth/login", json=body)


def _new_user(**overrides: Any) -> dict[str, Any]:
    return {
        "username": "wang.fang",
        "display_name": "Wang Fang",
        "password": NEW_PASSWORD,
        "role": "worker",
    } | overrides


@pytest.mark.parametrize("role", [Role.WORKER, Role.DISPATCHER, Role.AUDITOR])
def test_only_admins_may_list_users(client: FlaskClient, role: Role) -> None:
    response = client.get(USERS, headers=auth_headers(make_user(role)))
    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"


@pytest.mark.parametrize("role", [Role.WORKER, Role.DISPATCHER, Role.AUDITOR])
def test_only_admins_may_create_users(client: FlaskClient, role: Role) -> None:
    response = client.post(USERS, json=_new_user(), headers=auth_headers(make_user(role)))
    assert response.status_code == 403


def test_listing_users_needs_a_token(client: FlaskClient) -> None:
    assert client.get(USERS).status_code == 401


def test_the_list_filters_by_role(client: FlaskClient, admin: dict[str, str]) -> None:
    worker = make_user(Role.WORKER)
    make_user(Role.DISPATCHER)
    response = client.get(USERS, query_string={"role": "worker"}, headers=admin)
    assert response.status_code == 200
    assert [u["id"] for u in response.get_json()["items"]] == [str(worker.id)]


def test_a_display_name_of_only_whitespace_is_422_on_create_and_on_update(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.post(USERS, json=_new_user(display_name="  "), headers=admin)
    assert response.status_code == 422
    assert "display_name" in response.get_json()["errors"]
    user = make_user(display_name="Chen Jie")
    response = client.patch(f"{USERS}/{user.id}", json={"display_name": "\u3000"}, headers=admin)
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.display_name == "Chen Jie"


def test_an_unknown_role_filter_is_422(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.get(USERS, query_string={"role": "mayor"}, headers=admin)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"role"}


def test_a_created_user_can_sign_in(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.post(USERS, json=_new_user(), headers=admin)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["username"], body["role"], body["status"]) == ("wang.fang", "worker", "active")
    assert "password" not in body
    assert _login(client, "wang.fang", NEW_PASSWORD).status_code == 200


def test_a_taken_username_is_a_409_duplicate(client: FlaskClient, admin: dict[str, str]) -> None:
    make_user(username="wang.fang")
    response = client.post(USERS, json=_new_user(), headers=admin)
    assert response.status_code == 409
    assert response.get_json()["code"] == "duplicate"


def test_a_password_shorter_than_ten_characters_is_422(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.post(USERS, json=_new_user(password="123456789"), headers=admin)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"password"}


@pytest.mark.parametrize(
    "password", ["WANG.FANG-2024!", "aaaaaaaaaaaaaa", "ababababababab"], ids=str
)
def test_a_password_containing_the_username_or_too_few_characters_is_422(
    client: FlaskClient, admin: dict[str, str], password: str
) -> None:
    response = client.post(USERS, json=_new_user(password=password), headers=admin)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"password"}
    assert _login(client, "wang.fang", password).status_code == 401


def test_a_reset_password_may_not_contain_the_username(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user(Role.WORKER, username="li.si")
    response = client.patch(f"{USERS}/{user.id}", json={"password": "Li.Si-forever"}, headers=admin)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"password"}
    assert _login(client, "li.si").status_code == 200


def test_an_offset_beyond_any_page_is_422_not_a_crash(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    response = client.get(USERS, query_string={"offset": str(10**23)}, headers=admin)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"offset"}


def test_get_returns_one_user(client: FlaskClient, admin: dict[str, str]) -> None:
    user = make_user(display_name="Chen Jie")
    response = client.get(f"{USERS}/{user.id}", headers=admin)
    assert response.status_code == 200
    assert response.get_json()["display_name"] == "Chen Jie"


def test_get_of_an_unknown_user_is_404(client: FlaskClient, admin: dict[str, str]) -> None:
    assert client.get(f"{USERS}/{uuid.uuid4()}", headers=admin).status_code == 404


def test_patch_renames_a_user(client: FlaskClient, admin: dict[str, str]) -> None:
    user = make_user()
    response = client.patch(f"{USERS}/{user.id}", json={"display_name": "Liu Yang"}, headers=admin)
    assert response.status_code == 200
    assert db.session.get(User, user.id).display_name == "Liu Yang"


def test_disabling_a_user_stops_their_token_and_their_login(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user()
    headers = auth_headers(user)
    response = client.patch(f"{USERS}/{user.id}", json={"status": "disabled"}, headers=admin)
    assert response.get_json()["status"] == "disabled"
    assert client.get(ME, headers=headers).get_json()["code"] == "account_disabled"
    assert _login(client, user.username).get_json()["code"] == "invalid_credentials"


def test_reenabling_a_user_restores_their_session(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user()
    headers = auth_headers(user)
    client.patch(f"{USERS}/{user.id}", json={"status": "disabled"}, headers=admin)
    client.patch(f"{USERS}/{user.id}", json={"status": "active"}, headers=admin)
    assert client.get(ME, headers=headers).status_code == 200


def test_an_admin_cannot_disable_their_own_account(client: FlaskClient) -> None:
    me = make_user(Role.ADMIN)
    headers = auth_headers(me)
    response = client.patch(f"{USERS}/{me.id}", json={"status": "disabled"}, headers=headers)
    assert response.status_code == 409
    assert client.get(ME, headers=headers).status_code == 200


def test_a_password_reset_ends_the_old_sessions_and_sets_the_new_password(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user()
    headers = auth_headers(user)
    response = client.patch(f"{USERS}/{user.id}", json={"password": NEW_PASSWORD}, headers=admin)
    assert response.status_code == 200
    assert client.get(ME, headers=headers).get_json()["code"] == "session_revoked"
    assert _login(client, user.username).status_code == 401
    assert _login(client, user.username, NEW_PASSWORD).status_code == 200


def test_a_reset_password_must_be_ten_characters(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    user = make_user()
    response = client.patch(f"{USERS}/{user.id}", json={"password": "short"}, headers=admin)
    assert response.status_code == 422


def test_unlock_lets_a_locked_user_sign_in(client: FlaskClient, admin: dict[str, str]) -> None:
    user = make_user()
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(locked_until=datetime.now(UTC) + timedelta(hours=1), failed_logins=0)
    )
    db.session.commit()
    assert _login(client, user.username).status_code == 401
    response = client.patch(f"{USERS}/{user.id}", json={"unlock": True}, headers=admin)
    assert response.get_json()["locked_until"] is None
    assert _login(client, user.username).status_code == 200


def test_patch_of_an_unknown_user_is_404(client: FlaskClient, admin: dict[str, str]) -> None:
    response = client.patch(f"{USERS}/{uuid.uuid4()}", json={"unlock": True}, headers=admin)
    assert response.status_code == 404


def test_patch_refuses_unknown_fields(client: FlaskClient, admin: dict[str, str]) -> None:
    user = make_user()
    response = client.patch(f"{USERS}/{user.id}", json={"role": "admin"}, headers=admin)
    assert response.status_code == 422
    assert db.session.get(User, user.id).role == Role.WORKER
