"""Every important account action leaves an audit row: logins, lockouts, sessions, users,
devices, grids, org units and assignments; refusals that persist keep their row."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask.testing import FlaskClient
from shapely import wkt
from shapely.geometry import mapping
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.auth.models import AuthSession, Device, Role, User
from server.extensions import db
from server.hierarchy.models import Grid
from tests.factories import (
    DEFAULT_PASSWORD,
    auth_headers,
    make_grid,
    make_org_tree,
    make_user,
    square_wkt,
)

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
USERS = "/api/v1/users"
WRONG = "not the password"
NEW_PASSWORD = "a brand new passphrase"


def _entries(action: str, record_type: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.record_type == record_type
    )
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


def _only(action: str, record_type: str) -> AuditEntry:
    entries = _entries(action, record_type)
    assert len(entries) == 1, entries
    return entries[0]


def _login(client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD) -> Any:
    body = {"username": username, "password": password, "device_id": "phone-1"}
    return client.post(LOGIN, json=body)


def _admin() -> tuple[User, dict[str, str]]:
    admin = make_user(Role.ADMIN)
    return admin, auth_headers(admin)


def _all_rows_as_text() -> str:
    return json.dumps(
        [
            [str(e.actor_id), e.action, e.record_type, e.reason, e.detail]
            for e in db.session.scalars(select(AuditEntry))
        ]
    )


def test_login_success_is_audited_with_the_user_and_the_device(client: FlaskClient) -> None:
    user = make_user(Role.WORKER)
    assert _login(client, user.username).status_code == 200
    entry = _only("login", "user")
    device = db.session.scalars(select(Device).where(Device.user_id == user.id)).one()
    session = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    assert (entry.actor_id, entry.actor_role, entry.device_id) == (user.id, "worker", device.id)
    assert entry.record_ids == [user.id]
    assert entry.result == "ok"
    assert entry.detail == {"session_id": str(session.id)}


def test_failed_login_of_a_known_user_is_audited_although_the_answer_is_401(
    client: FlaskClient,
) -> None:
    user = make_user(Role.DISPATCHER)
    assert _login(client, user.username, WRONG).status_code == 401
    entry = _only("login", "user")
    assert (entry.actor_id, entry.actor_role, entry.device_id) == (user.id, "dispatcher", None)
    assert entry.record_ids == [user.id]
    assert entry.result == "refused"
    assert entry.detail == {"reason": "wrong_password"}


def test_failed_login_of_an_unknown_name_names_no_actor_and_nothing_tried(
    client: FlaskClient,
) -> None:
    assert _login(client, "no.such.person", WRONG).status_code == 401
    entry = _only("login", "user")
    assert (entry.actor_id, entry.actor_role, entry.device_id) == (None, None, None)
    assert entry.record_ids == []
    assert entry.result == "refused"
    assert entry.detail == {"reason": "invalid_credentials"}
    assert "no.such.person" not in _all_rows_as_text()
    assert WRONG not in _all_rows_as_text()


def test_lockout_is_audited_once_when_the_account_locks(client: FlaskClient) -> None:
    user = make_user(Role.WORKER)
    for _ in range(int(client.application.config["LOGIN_MAX_FAILURES"])):
        assert _login(client, user.username, WRONG).status_code == 401
    entry = _only("lockout", "user")
    assert entry.actor_id == user.id
    assert entry.record_ids == [user.id]
    assert entry.result == "ok"
    assert entry.detail is not None
    assert set(entry.detail) == {"until"}


def test_refresh_reuse_revocation_is_audited_with_the_revoked_session(
    client: FlaskClient,
) -> None:
    user = make_user(Role.WORKER)
    first = _login(client, user.username).get_json()
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).get_json()
    assert client.post(REFRESH, json={"refresh_token": second["refresh_token"]}).status_code == 200
    reused = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    session = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    entry = _only("revoke_session", "auth_session")
    assert (entry.actor_id, entry.device_id) == (user.id, session.device_id)
    assert entry.record_ids == [session.id]
    assert entry.reason == "refresh_reuse"
    assert entry.result == "ok"


def test_logout_is_audited_with_the_ended_session(client: FlaskClient) -> None:
    user = make_user(Role.WORKER)
    pair = _login(client, user.username).get_json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    session = db.session.scalars(select(AuthSession).where(AuthSession.user_id == user.id)).one()
    entry = _only("logout", "auth_session")
    assert entry.actor_id == user.id
    assert entry.record_ids == [session.id]
    assert entry.result == "ok"


def test_no_audit_row_holds_a_password_or_a_token(client: FlaskClient) -> None:
    user = make_user(Role.WORKER)
    _login(client, user.username, WRONG)
    pair = _login(client, user.username).get_json()
    client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {pair['access_token']}"})
    _, headers = _admin()
    created = client.post(
        USERS,
        json={
            "username": "wang.fang",
            "display_name": "Wang Fang",
            "password": NEW_PASSWORD,
            "role": "worker",
        },
        headers=headers,
    )
    assert created.status_code == 201
    text = _all_rows_as_text()
    actions = {e.action for e in db.session.scalars(select(AuditEntry))}
    assert actions == {"login", "logout", "create"}
    for secret in (DEFAULT_PASSWORD, WRONG, NEW_PASSWORD, pair["access_token"]):
        assert secret not in text
    assert pair["refresh_token"] not in text
    assert pair["refresh_token"][3:] not in text


def test_user_creation_is_audited_by_the_admin(client: FlaskClient) -> None:
    admin, headers = _admin()
    response = client.post(
        USERS,
        json={
            "username": "wang.fang",
            "display_name": "Wang Fang",
            "password": NEW_PASSWORD,
            "role": "worker",
        },
        headers=headers,
    )
    assert response.status_code == 201
    entry = _only("create", "user")
    assert (entry.actor_id, entry.actor_role) == (admin.id, "admin")
    assert entry.record_ids == [uuid.UUID(response.get_json()["id"])]
    assert entry.detail == {"role": "worker"}
    assert "wang.fang" not in _all_rows_as_text()


def test_user_update_is_audited_with_the_changed_fields(client: FlaskClient) -> None:
    admin, headers = _admin()
    user = make_user(Role.WORKER)
    response = client.patch(
        f"{USERS}/{user.id}", json={"display_name": "Liu Yang"}, headers=headers
    )
    assert response.status_code == 200
    entry = _only("update", "user")
    assert entry.actor_id == admin.id
    assert entry.record_ids == [user.id]
    assert entry.detail == {"fields": ["display_name"]}


def test_disabling_a_user_is_audited_as_a_disable(client: FlaskClient) -> None:
    admin, headers = _admin()
    user = make_user(Role.WORKER)
    response = client.patch(f"{USERS}/{user.id}", json={"status": "disabled"}, headers=headers)
    assert response.status_code == 200
    entry = _only("disable", "user")
    assert (entry.actor_id, entry.record_ids, entry.result) == (admin.id, [user.id], "ok")
    assert _entries("update", "user") == []


def test_password_reset_is_audited_without_the_password(client: FlaskClient) -> None:
    admin, headers = _admin()
    user = make_user(Role.WORKER)
    response = client.patch(f"{USERS}/{user.id}", json={"password": NEW_PASSWORD}, headers=headers)
    assert response.status_code == 200
    entry = _only("password_reset", "user")
    assert (entry.actor_id, entry.record_ids, entry.result) == (admin.id, [user.id], "ok")
    assert NEW_PASSWORD not in _all_rows_as_text()


def test_device_revocation_is_audited_with_the_device(client: FlaskClient) -> None:
    admin, headers = _admin()
    user = make_user(Role.WORKER)
    _login(client, user.username)
    device = db.session.scalars(select(Device).where(Device.user_id == user.id)).one()
    response = client.post(f"{USERS}/{user.id}/devices/{device.id}/revoke", headers=headers)
    assert response.status_code == 200
    entry = _only("revoke", "device")
    assert entry.actor_id == admin.id
    assert entry.record_ids == [device.id]
    assert entry.detail == {"user_id": str(user.id)}


def test_a_refused_write_leaves_no_audit_row(client: FlaskClient) -> None:
    _, headers = _admin()
    response = client.patch(f"{USERS}/{uuid.uuid4()}", json={"display_name": "X"}, headers=headers)
    assert response.status_code == 404
    assert _entries("update", "user") == []


def _geojson(text: str) -> dict[str, Any]:
    return dict(mapping(wkt.loads(text)))


def test_grid_creation_is_audited(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin, headers = _admin()
    response = client.post(
        "/api/v1/grids",
        json={
            "name": "East lane",
            "kind": "comprehensive",
            "community_id": str(tree.community.id),
            "geometry": _geojson(square_wkt(108.70, 34.30)),
        },
        headers=headers,
    )
    assert response.status_code == 201
    grid = db.session.scalars(select(Grid)).one()
    entry = _only("create", "grid")
    assert (entry.actor_id, entry.record_ids, entry.result) == (admin.id, [grid.id], "ok")


def test_grid_redraw_is_audited_with_the_new_version(client: FlaskClient) -> None:
    grid = make_grid(make_org_tree().community, square_wkt(108.70, 34.30))
    admin, headers = _admin()
    response = client.patch(
        f"/api/v1/grids/{grid.id}",
        json={"geometry": _geojson(square_wkt(108.70, 34.30, 0.02)), "expected_version": 1},
        headers=headers,
    )
    assert response.status_code == 200
    entry = _only("update", "grid")
    assert (entry.actor_id, entry.record_ids) == (admin.id, [grid.id])
    assert entry.detail == {"fields": ["geometry"], "version": 2, "moved": 0}


def test_org_unit_creation_is_audited(client: FlaskClient) -> None:
    admin, headers = _admin()
    response = client.post(
        "/api/v1/org-units", json={"level": "new_area", "name": "Xixian"}, headers=headers
    )
    assert response.status_code == 201
    entry = _only("create", "org_unit")
    assert entry.actor_id == admin.id
    assert entry.record_ids == [uuid.UUID(response.get_json()["id"])]
    assert entry.detail == {"level": "new_area"}


def test_grid_assignment_start_and_end_are_audited(client: FlaskClient) -> None:
    grid = make_grid(make_org_tree().community, square_wkt(108.70, 34.30))
    admin, headers = _admin()
    worker = make_user(Role.WORKER)
    opened = client.post(
        "/api/v1/grid-assignments",
        json={"user_id": str(worker.id), "grid_id": str(grid.id)},
        headers=headers,
    )
    assert opened.status_code == 201
    assignment_id = uuid.UUID(opened.get_json()["id"])
    ended = client.post(f"/api/v1/grid-assignments/{assignment_id}/end", headers=headers)
    assert ended.status_code == 200
    start = _only("start", "grid_assignment")
    assert (start.actor_id, start.record_ids) == (admin.id, [assignment_id])
    assert start.detail == {"user_id": str(worker.id), "grid_id": str(grid.id)}
    end = _only("end", "grid_assignment")
    assert (end.actor_id, end.record_ids, end.result) == (admin.id, [assignment_id], "ok")


def test_org_assignment_start_and_end_are_audited(client: FlaskClient) -> None:
    tree = make_org_tree()
    admin, headers = _admin()
    dispatcher = make_user(Role.DISPATCHER)
    opened = client.post(
        "/api/v1/org-assignments",
        json={"user_id": str(dispatcher.id), "org_unit_id": str(tree.town.id)},
        headers=headers,
    )
    assert opened.status_code == 201
    assignment_id = uuid.UUID(opened.get_json()["id"])
    ended = client.post(f"/api/v1/org-assignments/{assignment_id}/end", headers=headers)
    assert ended.status_code == 200
    start = _only("start", "org_assignment")
    assert (start.actor_id, start.record_ids) == (admin.id, [assignment_id])
    assert start.detail == {"user_id": str(dispatcher.id), "org_unit_id": str(tree.town.id)}
    assert _only("end", "org_assignment").record_ids == [assignment_id]
