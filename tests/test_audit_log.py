"""The audit log: rows ride the caller's transaction, and the database keeps them append-only."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask, g
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from server.audit.models import AuditEntry
from server.audit.service import record_access
from server.auth.models import Role
from server.auth.principal import Principal
from server.extensions import db


def _principal() -> Principal:
    return Principal(
        user_id=uuid.uuid4(),
        username="dispatcher1",
        role=Role.DISPATCHER,
        session_id=uuid.uuid4(),
        device_id=uuid.uuid4(),
    )


def _one_committed_entry() -> int:
    record_access("read", "person", [uuid.uuid4()], actor=_principal())
    db.session.commit()
    entry_id = db.session.scalar(select(AuditEntry.id))
    assert entry_id is not None
    db.session.rollback()  # hold no lock on audit_log while another connection tries its luck
    return entry_id


def test_record_access_uses_the_caller_and_request_of_the_context(app: Flask) -> None:
    who, record_id = _principal(), uuid.uuid4()
    g.principal = who
    g.request_id = "req-12345678"
    record_access("read", "person", [record_id], detail={"fields": ["name"]})
    db.session.commit()
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.actor_id, entry.actor_role, entry.device_id) == (
        who.user_id,
        "dispatcher",
        who.device_id,
    )
    assert entry.request_id == "req-12345678"
    assert entry.record_ids == [record_id]
    assert entry.result == "ok"
    assert entry.at is not None


def test_record_access_never_commits_itself(app: Flask) -> None:
    record_access("export", "person", [uuid.uuid4()], actor=_principal())
    db.session.rollback()
    assert db.session.scalars(select(AuditEntry)).all() == []


def test_without_a_caller_the_actor_is_left_empty(app: Flask) -> None:
    record_access("update", "code_table", [])
    db.session.commit()
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.actor_id is None
    assert entry.actor_role is None


def test_detail_quoting_an_id_number_or_phone_is_stored_masked(app: Flask) -> None:
    record_access(
        "search",
        "person",
        [],
        detail={"q": "11010519491231002X", "more": ["13812345678"]},
        actor=_principal(),
    )
    db.session.commit()
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.detail == {"q": "110105********002X", "more": ["138****5678"]}


def test_the_app_role_cannot_update_an_audit_row(app: Flask) -> None:
    entry_id = _one_committed_entry()
    with pytest.raises(DBAPIError, match="permission denied"):
        db.session.execute(text("UPDATE audit_log SET reason = 'rewritten'"))
    db.session.rollback()
    assert db.session.get(AuditEntry, entry_id).reason is None


def test_the_app_role_cannot_delete_an_audit_row(app: Flask) -> None:
    entry_id = _one_committed_entry()
    with pytest.raises(DBAPIError, match="permission denied"):
        db.session.execute(text("DELETE FROM audit_log"))
    db.session.rollback()
    assert db.session.get(AuditEntry, entry_id) is not None


def test_the_app_role_cannot_truncate_the_audit_log(app: Flask) -> None:
    _one_committed_entry()
    with pytest.raises(DBAPIError, match="permission denied"):
        db.session.execute(text("TRUNCATE audit_log"))
    db.session.rollback()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET reason = 'rewritten'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
def test_even_the_owner_is_stopped_by_the_trigger(
    app: Flask, owner_engine: Engine, statement: str
) -> None:
    entry_id = _one_committed_entry()
    with pytest.raises(DBAPIError, match="append-only"), owner_engine.begin() as conn:
        conn.execute(text(statement))
    entry = db.session.get(AuditEntry, entry_id)
    assert entry is not None
    assert entry.reason is None


def test_the_owner_may_purge_only_when_asking_for_it(app: Flask, owner_engine: Engine) -> None:
    _one_committed_entry()
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL gridwork.audit_purge = 'on'"))
        conn.execute(text("DELETE FROM audit_log"))
    assert db.session.scalars(select(AuditEntry)).all() == []


def test_the_owner_may_never_update_even_when_purging(app: Flask, owner_engine: Engine) -> None:
    _one_committed_entry()
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL gridwork.audit_purge = 'on'"))
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text("UPDATE audit_log SET reason = 'rewritten'"))
