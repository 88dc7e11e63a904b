"""Revealing a masked field: reason, role, daily quota, and an audit row in the same transaction."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.auth.models import Role
from server.auth.principal import Principal
from server.errors import Forbidden, InvalidInput, TooMany
from server.extensions import db
from server.privacy.masking import FIELD_POLICY, Exposure, FieldClass
from server.privacy.reveal import REVEAL_ROLES, reveal

ID_NUMBER = "11010519491231002X"


def principal(role: Role) -> Principal:
    """A caller; reveal trusts the guard for identity, so no rows are needed."""
    return Principal(
        user_id=uuid.uuid4(),
        username=role.value,
        role=role,
        session_id=uuid.uuid4(),
        device_id=uuid.uuid4(),
    )


class Fetch:
    """Stands in for the caller's scoped read; records whether it ran."""

    def __init__(self, value: str = ID_NUMBER) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


def reveal_id(who: Principal, record_id: uuid.UUID | None = None, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "record_type": "person",
        "record_id": record_id or uuid.uuid4(),
        "field": "id_number",
        "reason": "Checking identity before closing the case",
        "fetch": Fetch(),
    }
    arguments.update(overrides)
    return reveal(who, **arguments)  # type: ignore[arg-type]


def entries() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_reveal_returns_the_value_and_audits_it_when_the_caller_commits(app: Flask) -> None:
    who, record_id = principal(Role.DISPATCHER), uuid.uuid4()
    assert reveal_id(who, record_id) == ID_NUMBER
    db.session.commit()
    [entry] = entries()
    assert entry.action == "reveal"
    assert entry.record_type == "person"
    assert entry.record_ids == [record_id]
    assert entry.actor_id == who.user_id
    assert entry.actor_role == "dispatcher"
    assert entry.device_id == who.device_id
    assert entry.reason == "Checking identity before closing the case"
    assert entry.detail == {"field": "id_number"}


def test_a_rolled_back_reveal_leaves_no_audit_row(app: Flask) -> None:
    reveal_id(principal(Role.ADMIN))
    db.session.rollback()
    assert entries() == []


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reveal_without_a_reason_is_refused_before_reading(app: Flask, reason: str | None) -> None:
    fetch = Fetch()
    with pytest.raises(InvalidInput) as caught:
        reveal_id(principal(Role.DISPATCHER), reason=reason, fetch=fetch)
    assert "reason" in caught.value.errors
    assert fetch.calls == 0


def test_an_unknown_field_cannot_be_revealed(app: Flask) -> None:
    with pytest.raises(InvalidInput) as caught:
        reveal_id(principal(Role.ADMIN), field="address")
    assert "field" in caught.value.errors


def test_worker_may_not_reveal_an_id_number(app: Flask) -> None:
    fetch = Fetch()
    with pytest.raises(Forbidden):
        reveal_id(principal(Role.WORKER), fetch=fetch)
    assert fetch.calls == 0


def test_worker_may_reveal_a_phone(app: Flask) -> None:
    value = reveal_id(principal(Role.WORKER), field="phone", fetch=Fetch("13812345678"))
    assert value == "13812345678"


@pytest.mark.parametrize("field", ["id_number", "phone", "name", "owner_phone"])
def test_auditor_may_reveal_nothing(app: Flask, field: str) -> None:
    with pytest.raises(Forbidden):
        reveal_id(principal(Role.AUDITOR), field=field)


@pytest.mark.parametrize("role", list(Role))
def test_nobody_may_reveal_special_population_data(app: Flask, role: Role) -> None:
    with pytest.raises(Forbidden):
        reveal_id(principal(role), field="special_population")


def test_reveal_is_offered_only_for_fields_a_role_sees_masked() -> None:
    for field, roles in REVEAL_ROLES.items():
        assert all(FIELD_POLICY[field][role] is Exposure.MASKED for role in roles), field
    assert set(REVEAL_ROLES) == set(FieldClass)


def test_past_the_daily_quota_reveal_is_too_many(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REVEAL_DAILY_QUOTA", 2)
    who = principal(Role.DISPATCHER)
    for _ in range(2):
        reveal_id(who)
        db.session.commit()
    fetch = Fetch()
    with pytest.raises(TooMany) as caught:
        reveal_id(who, fetch=fetch)
    assert fetch.calls == 0
    assert int(caught.value.extra["headers"]["Retry-After"]) > 0


def test_reveals_by_others_do_not_use_up_a_users_quota(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "REVEAL_DAILY_QUOTA", 1)
    reveal_id(principal(Role.DISPATCHER))
    db.session.commit()
    assert reveal_id(principal(Role.DISPATCHER)) == ID_NUMBER


def test_a_reason_quoting_an_id_number_or_phone_is_stored_masked(app: Flask) -> None:
    reason = f"Caller gave {ID_NUMBER} and 13812345678"
    reveal_id(principal(Role.ADMIN), reason=reason)
    db.session.commit()
    [entry] = entries()
    assert entry.reason == "Caller gave 110105********002X and 138****5678"
