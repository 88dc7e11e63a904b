"""GET /api/v1/audit: who looked at this record, for auditors and admins."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.audit.service import record_access
from server.auth.models import Role
from server.auth.principal import Principal
from server.extensions import db
from tests.factories import auth_headers, make_user

URL = "/api/v1/audit"


def _actor(role: Role = Role.WORKER) -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        username=role.value,
        role=role,
        session_id=uuid.uuid4(),
        device_id=uuid.uuid4(),
    )


def _log(action: str, record_id: uuid.UUID, actor: Principal) -> None:
    record_access(action, "person", [record_id], actor=actor)
    db.session.commit()


def test_audit_search_needs_a_login(client: FlaskClient) -> None:
    assert client.get(URL).status_code == 401


@pytest.mark.parametrize("role", [Role.WORKER, Role.DISPATCHER])
def test_only_auditors_and_admins_may_search(client: FlaskClient, role: Role) -> None:
    assert client.get(URL, headers=auth_headers(make_user(role))).status_code == 403


def test_auditor_finds_everyone_who_looked_at_a_person(client: FlaskClient) -> None:
    person, other = uuid.uuid4(), uuid.uuid4()
    worker, dispatcher = _actor(Role.WORKER), _actor(Role.DISPATCHER)
    _log("read", person, worker)
    _log("read", other, worker)
    _log("reveal", person, dispatcher)
    response = client.get(URL, query_string={"record_id": str(person)}, headers=_auditor())
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [(i["action"], i["actor_id"]) for i in items] == [
        ("reveal", str(dispatcher.user_id)),
        ("read", str(worker.user_id)),
    ]
    assert response.get_json()["next"] is None


def test_admin_may_search_by_actor_and_action(client: FlaskClient) -> None:
    worker = _actor()
    _log("read", uuid.uuid4(), worker)
    _log("export", uuid.uuid4(), worker)
    _log("export", uuid.uuid4(), _actor())
    query = {"actor_id": str(worker.user_id), "action": "export"}
    response = client.get(URL, query_string=query, headers=auth_headers(make_user(Role.ADMIN)))
    assert response.status_code == 200
    assert [i["action"] for i in response.get_json()["items"]] == ["export"]


def test_results_page_by_cursor(client: FlaskClient) -> None:
    person, worker = uuid.uuid4(), _actor()
    for _ in range(3):
        _log("read", person, worker)
    headers = _auditor()
    first = client.get(URL, query_string={"record_id": str(person), "limit": 2}, headers=headers)
    body = first.get_json()
    assert len(body["items"]) == 2
    assert body["next"] is not None
    query = {"record_id": str(person), "limit": 2, "cursor": body["next"]}
    second = client.get(URL, query_string=query, headers=headers).get_json()
    assert len(second["items"]) == 1
    assert second["next"] is None
    ids = [i["id"] for i in body["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True)


def test_time_window_filters_entries(client: FlaskClient) -> None:
    person = uuid.uuid4()
    _log("read", person, _actor())
    query = {"record_id": str(person), "since": "2000-01-01T00:00:00+08:00"}
    assert len(client.get(URL, query_string=query, headers=_auditor()).get_json()["items"]) == 1
    query = {"record_id": str(person), "until": "2000-01-01T00:00:00+08:00"}
    assert client.get(URL, query_string=query, headers=_auditor()).get_json()["items"] == []


def test_the_search_itself_is_audited(client: FlaskClient) -> None:
    auditor = make_user(Role.AUDITOR)
    client.get(URL, headers=auth_headers(auditor))
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.record_type, entry.actor_id) == ("search", "audit_log", auditor.id)


@pytest.mark.parametrize(
    "query",
    [{"record_id": "not-a-uuid"}, {"cursor": "abc"}, {"limit": 0}, {"colour": "red"}],
)
def test_bad_queries_are_422(client: FlaskClient, query: dict[str, object]) -> None:
    response = client.get(URL, query_string=query, headers=_auditor())
    assert response.status_code == 422


def _auditor() -> dict[str, str]:
    return auth_headers(make_user(Role.AUDITOR))
