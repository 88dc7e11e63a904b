"""Text the database cannot store (NUL, lone surrogates) is a 422 naming the field, not a 500."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.auth.models import Role, User
from server.extensions import db
from server.text_guard import unstorable_paths
from tests.factories import auth_headers, make_user

LOGIN = "/api/v1/auth/login"


def test_a_nul_in_the_login_username_is_422_naming_the_field(client: FlaskClient) -> None:
    body = {"username": "admin\x00", "password": "whatever-it-is", "device_id": "phone-1"}
    response = client.post(LOGIN, json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == ["username"]


def test_an_unpaired_surrogate_in_a_new_users_name_is_422_and_nothing_is_stored(
    client: FlaskClient,
) -> None:
    headers = auth_headers(make_user(Role.ADMIN))
    before = db.session.scalar(select(func.count()).select_from(User))
    response = client.raw.post(
        "/api/v1/users",
        data='{"username": "wang.wu", "display_name": "\\ud800", "password": "long enough pw",'
        ' "role": "worker"}',
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["display_name"]
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_a_nul_in_a_query_parameter_is_422(client: FlaskClient) -> None:
    headers = auth_headers(make_user(Role.AUDITOR))
    response = client.get("/api/v1/audit?action=read%00", headers=headers)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["action"]


def test_a_json_body_nested_beyond_the_parser_is_a_400_problem(client: FlaskClient) -> None:
    response = client.raw.post(LOGIN, data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_malformed_json_is_still_a_400_problem(client: FlaskClient) -> None:
    response = client.post(LOGIN, data="{", content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_unstorable_strings_and_keys_are_found_at_their_paths() -> None:
    body = {"a": ["ok", "bad\x00"], "b": {"c\x00": 1, "d": "\udfff"}, "e": "fine 中文"}
    assert unstorable_paths(body) == ["a.1", "b", "b.d"]
