"""Refused attempts (reveals, probes outside scope) are audited in a transaction of their own."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.audit.service import record_refusal
from server.auth.models import Role, User
from server.auth.principal import Principal
from server.errors import InvalidInput, NotFound
from server.extensions import db
from server.privacy.reveal import reveal
from server.transaction import transaction
from tests.factories import (
    IN_A,
    IN_B,
    RegistryWorld,
    citizen_id,
    create_record,
    make_registry_world,
)

PHONE = "13812345678"


@pytest.fixture
def world(app: Flask) -> RegistryWorld:
    return make_registry_world()


def _person(client: FlaskClient, world: RegistryWorld, who: str = "worker_a") -> dict[str, Any]:
    where = IN_A if who.endswith("_a") else IN_B
    return create_record(client, world.headers[who], "persons", where)


def _refused() -> list[AuditEntry]:
    db.session.rollback()  # read what other connections committed, not a stale snapshot
    query = select(AuditEntry).where(AuditEntry.result == "refused").order_by(AuditEntry.id)
    return list(db.session.scalars(query))


def _reveal(
    client: FlaskClient, world: RegistryWorld, person_id: str, who: str, **body: Any
) -> Any:
    return client.post(
        f"/api/v1/persons/{person_id}/reveal",
        json={"field": "phone", **body},
        headers=world.headers[who],
    )


def _without_request_id(response: Any) -> dict[str, Any]:
    body = dict(response.get_json())
    body.pop("request_id", None)
    return body


def _user(username: str) -> User:
    return User(
        id=uuid.uuid4(),
        username=username,
        display_name="Half Done",
        password_hash="x",
        role=Role.WORKER,
    )


# --- the mechanism --------------------------------------------------------------------------


def _half_done_use_case(record_id: uuid.UUID) -> None:
    """Writes, is refused, audits the refusal and raises, as a service would."""
    with transaction():
        db.session.add(_user("half-done"))
        db.session.flush()
        record_refusal("read", "person", [record_id], why="out_of_scope")
        raise NotFound()


def test_a_refusal_row_survives_the_rollback_that_undoes_the_requests_writes(app: Flask) -> None:
    record_id = uuid.uuid4()
    with pytest.raises(NotFound):
        _half_done_use_case(record_id)
    assert db.session.scalar(select(User).where(User.username == "half-done")) is None
    [entry] = _refused()
    assert (entry.action, entry.record_type, entry.record_ids) == ("read", "person", [record_id])
    assert entry.detail == {"reason": "out_of_scope"}


def test_a_refusal_is_visible_to_others_before_the_request_ends(
    app: Flask, owner_engine: Any
) -> None:
    db.session.add(_user("pending"))
    db.session.flush()
    record_refusal("reveal", "person", [uuid.uuid4()], why="over_quota")
    with owner_engine.connect() as other:
        refused = other.scalar(select(AuditEntry.id).where(AuditEntry.result == "refused"))
        pending = other.scalar(select(User.id).where(User.username == "pending"))
    db.session.rollback()
    assert refused is not None
    assert pending is None


def test_a_refusal_that_cannot_be_written_is_logged_and_never_raised(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="server.audit.service"):
        # Longer than the action column: the database itself refuses the row.
        record_refusal("x" * 40, "person", [uuid.uuid4()], why="not_found")
    assert _refused() == []
    [logged] = [r for r in caplog.records if r.getMessage() == "refused attempt not audited"]
    assert logged.levelno == logging.ERROR
    assert logged.__dict__["refusal"] == "not_found"
    assert logged.__dict__["sqlstate"] == "22001"


# --- refused reveals -------------------------------------------------------------------------


def test_a_reveal_without_a_reason_leaves_one_refused_row(
    client: FlaskClient, world: RegistryWorld
) -> None:
    person = _person(client, world)
    response = _reveal(client, world, person["id"], "worker_a")
    assert response.status_code == 422
    [entry] = _refused()
    assert entry.action == "reveal"
    assert entry.actor_id == world.users["worker_a"].id
    assert entry.actor_role == "worker"
    assert entry.record_ids == [uuid.UUID(person["id"])]
    assert entry.detail == {"field": "phone", "reason": "no_reason"}
    assert entry.reason is None


def test_a_reveal_past_the_quota_leaves_one_refused_row_and_uses_no_quota(
    app: Flask, client: FlaskClient, world: RegistryWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REVEAL_DAILY_QUOTA", 1)
    person = _person(client, world)
    assert _reveal(client, world, person["id"], "worker_a", reason="回访").status_code == 200
    refused = _reveal(client, world, person["id"], "worker_a", reason="再次回访")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"]
    [entry] = _refused()
    assert (entry.action, entry.actor_id) == ("reveal", world.users["worker_a"].id)
    assert entry.detail == {"field": "phone", "reason": "over_quota"}
    assert entry.reason == "再次回访"
    ok = select(AuditEntry).where(AuditEntry.action == "reveal", AuditEntry.result == "ok")
    assert len(db.session.scalars(ok).all()) == 1


def test_a_reveal_by_a_role_without_the_right_leaves_one_refused_row(
    client: FlaskClient, world: RegistryWorld
) -> None:
    person = _person(client, world)
    response = _reveal(
        client, world, person["id"], "worker_a", field="id_number", reason="核对身份"
    )
    assert response.status_code == 403
    [entry] = _refused()
    assert entry.detail == {"field": "id_number", "reason": "role"}


def test_a_reveal_out_of_scope_leaves_one_refused_row_and_stays_404(
    client: FlaskClient, world: RegistryWorld
) -> None:
    person = _person(client, world, "worker_b")
    theirs = _reveal(client, world, person["id"], "worker_a", reason="回访")
    nobodys = _reveal(client, world, str(uuid.uuid4()), "worker_a", reason="回访")
    assert theirs.status_code == nobodys.status_code == 404
    assert _without_request_id(theirs) == _without_request_id(nobodys)
    first, second = _refused()
    assert (first.action, first.actor_id) == ("reveal", world.users["worker_a"].id)
    assert first.record_ids == [uuid.UUID(person["id"])]
    assert first.detail == {"reason": "out_of_scope"}
    assert second.detail == {"reason": "not_found"}


def test_a_refused_row_never_holds_an_id_number_or_phone(
    app: Flask, client: FlaskClient, world: RegistryWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REVEAL_DAILY_QUOTA", 0)
    person = _person(client, world)
    number = citizen_id("19900307", 123)
    reason = f"核对 {number} 与 {PHONE}"
    assert _reveal(client, world, person["id"], "worker_a", reason=reason).status_code == 429
    [entry] = _refused()
    stored = f"{entry.reason} {entry.detail}"
    assert number not in stored
    assert PHONE not in stored


# --- probes of records outside the caller's scope --------------------------------------------


@pytest.mark.parametrize(
    ("method", "action"), [("get", "read"), ("patch", "update"), ("delete", "delete")]
)
def test_a_probe_outside_scope_is_audited_and_answered_like_a_missing_record(
    client: FlaskClient, world: RegistryWorld, method: str, action: str
) -> None:
    record = create_record(client, world.headers["worker_b"], "addresses", IN_B)
    headers = world.headers["worker_a"]

    def probe(record_id: str) -> Any:
        path = f"/api/v1/addresses/{record_id}"
        if method == "patch":
            return client.patch(path, json={"expected_version": 1}, headers=headers)
        if method == "delete":
            return client.delete(f"{path}?expected_version=1", headers=headers)
        return client.get(path, headers=headers)

    theirs, nobodys = probe(record["id"]), probe(str(uuid.uuid4()))
    assert theirs.status_code == nobodys.status_code == 404
    assert _without_request_id(theirs) == _without_request_id(nobodys)
    assert theirs.headers["Content-Type"] == nobodys.headers["Content-Type"]
    assert set(theirs.headers.keys()) == set(nobodys.headers.keys())
    probe_row, missing_row = _refused()
    assert (probe_row.action, probe_row.record_type) == (action, "address")
    assert probe_row.actor_id == world.users["worker_a"].id
    assert probe_row.record_ids == [uuid.UUID(record["id"])]
    assert probe_row.detail == {"reason": "out_of_scope"}
    assert missing_row.detail == {"reason": "not_found"}


def test_a_refused_update_outside_scope_changes_nothing(
    client: FlaskClient, world: RegistryWorld
) -> None:
    record = create_record(client, world.headers["worker_b"], "addresses", IN_B)
    response = client.patch(
        f"/api/v1/addresses/{record['id']}",
        json={"expected_version": 1, "door_number": "99号"},
        headers=world.headers["worker_a"],
    )
    assert response.status_code == 404
    mine = client.get(f"/api/v1/addresses/{record['id']}", headers=world.headers["worker_b"])
    assert mine.get_json()["version"] == 1
    assert mine.get_json()["door_number"] == record["door_number"]
    assert len(_refused()) == 1


def test_a_read_in_scope_leaves_no_refused_row(client: FlaskClient, world: RegistryWorld) -> None:
    person = _person(client, world)
    response = client.get(f"/api/v1/persons/{person['id']}", headers=world.headers["worker_a"])
    assert response.status_code == 200
    assert _refused() == []


@pytest.mark.parametrize(
    ("overrides", "why"),
    [({"reason": "x" * 501}, "reason_too_long"), ({"field": "address"}, "unknown_field")],
)
def test_other_refused_reveals_leave_one_refused_row_each(
    app: Flask, overrides: dict[str, str], why: str
) -> None:
    who = Principal(uuid.uuid4(), "admin1", Role.ADMIN, uuid.uuid4(), uuid.uuid4())
    arguments: dict[str, Any] = {
        "record_type": "person",
        "record_id": uuid.uuid4(),
        "field": "id_number",
        "reason": "核对身份",
        "fetch": lambda: "",
        **overrides,
    }
    with pytest.raises(InvalidInput):
        reveal(who, **arguments)
    db.session.rollback()
    [entry] = _refused()
    assert (entry.action, entry.actor_id, entry.actor_role) == ("reveal", who.user_id, "admin")
    assert entry.detail is not None
    assert entry.detail["reason"] == why
