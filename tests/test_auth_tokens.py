"""The guard refuses every access token that is not exactly what we issue.

Each forged token names a real, live session, so the only thing wrong with it is the one
property under test; the first test proves that an honestly re-signed copy is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient

from server.auth.models import User
from server.auth.tokens import REQUIRED_CLAIMS, rotation_token_id, successor_refresh_token
from tests.factories import DEFAULT_PASSWORD, auth_headers, make_user

ME = "/api/v1/auth/me"


def _live_claims(user: User) -> dict[str, Any]:
    """The claims of a freshly issued token for a live session of `user`."""
    token = auth_headers(user)["Authorization"].removeprefix("Bearer ")
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWS built by hand, so algorithms the library would refuse to sign can be forged."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    digest = hmac.new(key, signing_input.encode(), hashlib.sha512).digest()
    return f"{signing_input}.{_b64(digest)}"


def _sign(client: FlaskClient, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, client.application.config["JWT_SIGNING_KEY"], algorithm="HS256")


def _me(client: FlaskClient, token: str) -> Any:
    return client.get(ME, headers={"Authorization": f"Bearer {token}"})


def _assert_refused(response: Any) -> None:
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_token"


def test_an_honestly_resigned_token_is_accepted(client: FlaskClient) -> None:
    claims = _live_claims(make_user())
    assert _me(client, _sign(client, claims)).status_code == 200


def test_alg_none_is_refused(client: FlaskClient) -> None:
    claims = _live_claims(make_user())
    _assert_refused(_me(client, _compact({"alg": "none", "typ": "JWT"}, claims, None)))


def test_another_algorithm_signed_with_the_right_key_is_refused(client: FlaskClient) -> None:
    claims = _live_claims(make_user())
    key = client.application.config["JWT_SIGNING_KEY"]
    _assert_refused(_me(client, _compact({"alg": "HS512", "typ": "JWT"}, claims, key)))


def test_a_token_signed_with_another_key_is_refused(client: FlaskClient) -> None:
    claims = _live_claims(make_user())
    forged = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    _assert_refused(_me(client, forged))


def test_a_wrong_audience_is_refused(client: FlaskClient) -> None:
    claims = _live_claims(make_user()) | {"aud": "someone-else"}
    _assert_refused(_me(client, _sign(client, claims)))


def test_a_wrong_issuer_is_refused(client: FlaskClient) -> None:
    claims = _live_claims(make_user()) | {"iss": "someone-else"}
    _assert_refused(_me(client, _sign(client, claims)))


def test_an_expired_token_is_refused(client: FlaskClient) -> None:
    now = int(time.time())
    claims = _live_claims(make_user()) | {"iat": now - 120, "exp": now - 60}
    _assert_refused(_me(client, _sign(client, claims)))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_token_missing_a_required_claim_is_refused(client: FlaskClient, claim: str) -> None:
    claims = _live_claims(make_user())
    del claims[claim]
    _assert_refused(_me(client, _sign(client, claims)))


def test_a_token_of_another_type_is_refused(client: FlaskClient) -> None:
    claims = _live_claims(make_user()) | {"typ": "refresh"}
    _assert_refused(_me(client, _sign(client, claims)))


def test_a_refresh_token_used_as_an_access_token_is_refused(client: FlaskClient) -> None:
    user = make_user()
    login = client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": DEFAULT_PASSWORD, "device_id": "phone-1"},
    )
    _assert_refused(_me(client, login.get_json()["refresh_token"]))


def test_a_request_without_a_bearer_token_is_401(client: FlaskClient) -> None:
    response = client.get(ME)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthenticated"


def test_the_successor_of_a_refresh_token_is_fixed_by_the_token_and_the_key() -> None:
    key = b"k" * 32
    assert successor_refresh_token(key, "rt_a") == successor_refresh_token(key, "rt_a")
    assert successor_refresh_token(key, "rt_a") != successor_refresh_token(key, "rt_b")
    assert successor_refresh_token(key, "rt_a") != successor_refresh_token(b"j" * 32, "rt_a")


def test_the_rotation_token_id_reveals_nothing_of_the_successor() -> None:
    key = b"k" * 32
    successor = successor_refresh_token(key, "rt_a")
    jti = rotation_token_id(key, "rt_a")
    digest = base64.urlsafe_b64decode(successor.removeprefix("rt_") + "=")
    assert jti not in digest.hex()
