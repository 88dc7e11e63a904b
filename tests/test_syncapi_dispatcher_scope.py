"""Dispatchers' offline edits are authorised by org-assignment history, like workers' by grid
assignment history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import RegistryWorld, assign_dispatcher, make_registry_world
from tests.test_syncapi_conflicts import patch_op
from tests.test_syncapi_push_pull import address_op, push


def _backdate_org_assignments(user_id: object) -> None:
    db.session.execute(
        text(
            "UPDATE org_assignments SET valid_from = now() - interval '2 days' WHERE user_id = :u"
        ),
        {"u": user_id},
    )
    db.session.commit()


def _end_org_assignments(user_id: object, ago: timedelta) -> None:
    db.session.execute(
        text("UPDATE org_assignments SET valid_to = :at WHERE user_id = :u AND valid_to IS NULL"),
        {"u": user_id, "at": datetime.now(UTC) - ago},
    )
    db.session.commit()


def _stamp_at(at: datetime) -> str:
    return f"{int(at.timestamp() * 1000):015d}-00000-phone"


def _record_of_grid_a(client: FlaskClient) -> tuple[RegistryWorld, str]:
    world = make_registry_world()
    dispatcher = world.users["dispatcher_a"]
    _backdate_org_assignments(dispatcher.id)
    op = address_op()
    assert push(client, world.headers["dispatcher_a"], op)[0]["status"] == "applied"
    # Moved to the other town an hour ago.
    _end_org_assignments(dispatcher.id, timedelta(hours=1))
    assign_dispatcher(dispatcher, world.town_b)
    return world, op["record_id"]


def test_dispatcher_edit_made_before_a_move_is_applied_and_flagged(client: FlaskClient) -> None:
    world, record_id = _record_of_grid_a(client)
    late = patch_op(record_id, 1, courtyard="东院")
    late["stamp"] = _stamp_at(datetime.now(UTC) - timedelta(hours=2))
    (result,) = push(client, world.headers["dispatcher_a"], late)
    assert result["status"] == "applied"
    assert result["flags"] == ["out_of_scope_now"]


def test_dispatcher_edit_made_after_the_move_is_rejected(client: FlaskClient) -> None:
    world, record_id = _record_of_grid_a(client)
    (result,) = push(client, world.headers["dispatcher_a"], patch_op(record_id, 1, room="1"))
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")


def test_dispatcher_never_assigned_there_is_refused_and_kept(client: FlaskClient) -> None:
    world, record_id = _record_of_grid_a(client)
    _backdate_org_assignments(world.users["dispatcher_b"].id)
    intruder = patch_op(record_id, 1, courtyard="东院")
    intruder["stamp"] = _stamp_at(datetime.now(UTC) - timedelta(hours=2))
    (result,) = push(client, world.headers["dispatcher_b"], intruder)
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")
    kept = db.session.scalar(
        text("SELECT reason FROM rejected_ops WHERE op_id = :o"), {"o": intruder["op_id"]}
    )
    assert kept == "out_of_scope"
