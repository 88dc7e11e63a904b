"""Refresh-token rotation: one use each, a short grace for lost responses, reuse ends the family."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine

from server.auth.models import AuthSession, RefreshToken, User, UserStatus
from server.auth.tokens import hash_refresh_token
from server.extensions import db
from tests.factories import DEFAULT_PASSWORD, make_user

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


def _login(client: FlaskClient, user: User, device: str = "phone-1") -> dict[str, Any]:
    body = {"username": user.username, "password": DEFAULT_PASSWORD, "device_id": device}
    response = client.post(LOGIN, json=body)
    assert response.status_code == 200
    pair: dict[str, Any] = response.get_json()
    return pair


def _refresh(client: FlaskClient, refresh_token: str) -> Any:
    return client.post(REFRESH, json={"refresh_token": refresh_token})


def _me(client: FlaskClient, access_token: str) -> Any:
    return client.get(ME, headers={"Authorization": f"Bearer {access_token}"})


def _age_rotation(refresh_token: str, seconds: int) -> None:
    """Pretend the token was rotated `seconds` ago."""
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
        .values(rotated_at=datetime.now(UTC) - timedelta(seconds=seconds))
    )
    db.session.commit()


def _past_grace(client: FlaskClient) -> int:
    return int(client.application.config["REFRESH_REUSE_GRACE"]) + 1


def test_refresh_returns_a_new_working_pair(client: FlaskClient) -> None:
    first = _login(client, make_user())
    response = _refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["token_type"] == "Bearer"
    assert _me(client, second["access_token"]).status_code == 200


def test_refresh_marks_the_old_token_rotated_and_links_its_successor(client: FlaskClient) -> None:
    first = _login(client, make_user())
    second = _refresh(client, first["refresh_token"]).get_json()
    old = db.session.scalars(
        select(RefreshToken).where(
            RefreshToken.token_hash == hash_refresh_token(first["refresh_token"])
        )
    ).one()
    new = db.session.scalars(
        select(RefreshToken).where(
            RefreshToken.token_hash == hash_refresh_token(second["refresh_token"])
        )
    ).one()
    assert old.rotated_at is not None
    assert old.replaced_by_id == new.id
    assert new.rotated_at is None
    assert new.session_id == old.session_id


def test_a_retry_within_the_grace_window_gets_the_identical_pair(client: FlaskClient) -> None:
    first = _login(client, make_user())
    original = _refresh(client, first["refresh_token"]).get_json()
    retried = _refresh(client, first["refresh_token"])
    assert retried.status_code == 200
    again = retried.get_json()
    assert again["access_token"] == original["access_token"]
    assert again["refresh_token"] == original["refresh_token"]
    assert _refresh(client, again["refresh_token"]).status_code == 200


def test_reuse_after_the_grace_window_revokes_the_whole_family(client: FlaskClient) -> None:
    first = _login(client, make_user())
    second = _refresh(client, first["refresh_token"]).get_json()
    _age_rotation(first["refresh_token"], _past_grace(client))
    reused = _refresh(client, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.get_json()["code"] == "session_revoked"
    assert _refresh(client, second["refresh_token"]).get_json()["code"] == "session_revoked"
    assert _me(client, second["access_token"]).get_json()["code"] == "session_revoked"
    session = db.session.scalars(select(AuthSession)).one()
    assert session.revoked_reason == "refresh_reuse"


def test_reuse_is_logged_as_a_warning_without_the_token(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    first = _login(client, make_user())
    _refresh(client, first["refresh_token"])
    _age_rotation(first["refresh_token"], _past_grace(client))
    with caplog.at_level(logging.INFO):
        _refresh(client, first["refresh_token"])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert first["refresh_token"] not in repr(vars(warnings[0]))


def test_reuse_within_grace_after_the_successor_was_used_revokes_the_family(
    client: FlaskClient,
) -> None:
    first = _login(client, make_user())
    second = _refresh(client, first["refresh_token"]).get_json()
    third = _refresh(client, second["refresh_token"]).get_json()
    reused = _refresh(client, first["refresh_token"])
    assert reused.get_json()["code"] == "session_revoked"
    assert _me(client, third["access_token"]).status_code == 401


def test_reuse_revokes_only_that_session(client: FlaskClient) -> None:
    user = make_user()
    phone = _login(client, user, "phone-1")
    tablet = _login(client, user, "tablet-1")
    _refresh(client, phone["refresh_token"])
    _age_rotation(phone["refresh_token"], _past_grace(client))
    _refresh(client, phone["refresh_token"])
    assert _refresh(client, tablet["refresh_token"]).status_code == 200


def test_an_unknown_refresh_token_is_invalid_token(client: FlaskClient) -> None:
    response = _refresh(client, "rt_never-issued")
    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"


def test_refresh_for_a_disabled_user_is_account_disabled(client: FlaskClient) -> None:
    user = make_user()
    pair = _login(client, user)
    db.session.execute(update(User).values(status=UserStatus.DISABLED))
    db.session.commit()
    response = _refresh(client, pair["refresh_token"])
    assert response.status_code == 401
    assert response.get_json()["code"] == "account_disabled"


def test_refresh_of_an_expired_session_is_session_revoked(client: FlaskClient) -> None:
    pair = _login(client, make_user())
    db.session.execute(
        update(AuthSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    db.session.commit()
    assert _refresh(client, pair["refresh_token"]).get_json()["code"] == "session_revoked"


def test_refresh_after_logout_is_session_revoked(client: FlaskClient) -> None:
    pair = _login(client, make_user())
    logout = client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert logout.status_code == 204
    assert _refresh(client, pair["refresh_token"]).get_json()["code"] == "session_revoked"


def test_two_concurrent_refreshes_of_one_token_get_the_same_pair_and_keep_the_session(
    client: FlaskClient, owner_engine: Engine
) -> None:
    first = _login(client, make_user())
    results: list[Any] = []

    def refresh() -> None:
        # A client per thread: the two requests must not share one request stack.
        results.append(_refresh(client.application.test_client(), first["refresh_token"]))

    with owner_engine.connect() as other:
        # Hold the token so both requests are in flight before either may rotate it.
        other.execute(
            text("SELECT id FROM refresh_tokens WHERE token_hash = :hash FOR UPDATE"),
            {"hash": hash_refresh_token(first["refresh_token"])},
        )
        threads = [threading.Thread(target=refresh) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=1.0)
        assert all(t.is_alive() for t in threads), "a refresh did not wait for the token lock"
        other.rollback()
    for thread in threads:
        thread.join(timeout=30)
    assert [r.status_code for r in results] == [200, 200]
    one, two = (r.get_json() for r in results)
    assert one == two
    assert _me(client, one["access_token"]).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(RefreshToken)) == 2
