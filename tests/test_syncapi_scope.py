"""Authorisation by assignment history, and scope changes as a diff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import IN_A, IN_B, assign_worker, make_registry_world
from tests.test_syncapi_conflicts import patch_op
from tests.test_syncapi_push_pull import address_op, pull, push


def _backdate_assignments(user_id: object) -> None:
    db.session.execute(
        text(
            "UPDATE grid_assignments SET valid_from = now() - interval '2 days' WHERE user_id = :u"
        ),
        {"u": user_id},
    )
    db.session.commit()


def _end_assignments(user_id: object, ago: timedelta) -> None:
    db.session.execute(
        text("UPDATE grid_assignments SET valid_to = :at WHERE user_id = :u AND valid_to IS NULL"),
        {"u": user_id, "at": datetime.now(UTC) - ago},
    )
    db.session.commit()


def _stamp_at(at: datetime) -> str:
    return f"{int(at.timestamp() * 1000):015d}-00000-phone"


def test_edit_made_while_assigned_is_applied_and_flagged(client: FlaskClient) -> None:
    world = make_registry_world()
    worker = world.users["worker_a"]
    _backdate_assignments(worker.id)
    op = address_op()
    push(client, world.headers["worker_a"], op)
    _end_assignments(worker.id, timedelta(hours=1))
    late = patch_op(op["record_id"], 1, courtyard="东院")
    late["stamp"] = _stamp_at(datetime.now(UTC) - timedelta(hours=2))
    (result,) = push(client, world.headers["worker_a"], late)
    assert result["status"] == "applied"
    assert result["flags"] == ["out_of_scope_now"]


def test_edit_made_after_the_assignment_ended_is_rejected(client: FlaskClient) -> None:
    world = make_registry_world()
    worker = world.users["worker_a"]
    _backdate_assignments(worker.id)
    op = address_op()
    push(client, world.headers["worker_a"], op)
    _end_assignments(worker.id, timedelta(hours=1))
    (result,) = push(client, world.headers["worker_a"], patch_op(op["record_id"], 1, room="1"))
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")


def test_record_never_in_scope_is_rejected_and_kept(client: FlaskClient) -> None:
    world = make_registry_world()
    op = address_op(IN_A)
    push(client, world.headers["worker_a"], op)
    intruder = patch_op(op["record_id"], 1, courtyard="东院")
    (result,) = push(client, world.headers["worker_b"], intruder)
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope")
    kept = db.session.execute(text("SELECT op_id::text, reason FROM rejected_ops")).all()
    assert [tuple(r) for r in kept] == [(intruder["op_id"], "out_of_scope")]
    version = db.session.scalar(text("SELECT version FROM addresses"))
    assert version == 1


def test_reassignment_reports_removed_grid_and_snapshots_only_the_added_one(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    in_a, in_b = address_op(IN_A), address_op(IN_B)
    push(client, world.headers["worker_a"], in_a)
    push(client, world.headers["worker_b"], in_b)
    headers = world.headers["worker_a"]
    first = pull(client, headers)
    assert first["added_grids"] == [str(world.grid_a.id)]
    _end_assignments(world.users["worker_a"].id, timedelta(0))
    assign_worker(world.users["worker_a"], world.grid_b)
    page = pull(client, headers, first["cursor"])
    assert page["removed_grids"] == [str(world.grid_a.id)]
    assert page["added_grids"] == [str(world.grid_b.id)]
    snap = client.get(f"/api/v1/sync/snapshot?grid_id={world.grid_b.id}", headers=headers)
    body = snap.get_json()
    assert [r["record_id"] for r in body["records"]] == [in_b["record_id"]]
    assert body["after"] is None
    assert body["summary"]["count"] == 1
    old = client.get(f"/api/v1/sync/snapshot?grid_id={world.grid_a.id}", headers=headers)
    assert old.status_code == 403


def test_patch_moving_a_record_out_of_the_workers_grids_is_rejected(client: FlaskClient) -> None:
    world = make_registry_world()
    op = address_op(IN_A)
    push(client, world.headers["worker_a"], op)
    move = patch_op(op["record_id"], 1, point={"type": "Point", "coordinates": list(IN_B)})
    (result,) = push(client, world.headers["worker_a"], move)
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    assert result["field_errors"] == {"point": ["This location is outside your grids."]}


def test_patch_moving_a_record_between_grids_leaves_one_feed_for_the_other(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    op = address_op(IN_A)
    push(client, world.headers["admin"], op)
    cursor_a = pull(client, world.headers["worker_a"])["cursor"]
    cursor_b = pull(client, world.headers["worker_b"])["cursor"]
    move = patch_op(op["record_id"], 1, point={"type": "Point", "coordinates": list(IN_B)})
    assert push(client, world.headers["admin"], move)[0]["status"] == "applied"
    left = pull(client, world.headers["worker_a"], cursor_a)["changes"]
    assert [(c["kind"], c["record_id"]) for c in left] == [("leave", op["record_id"])]
    arrived = pull(client, world.headers["worker_b"], cursor_b)["changes"]
    assert [(c["kind"], c["grid_id"]) for c in arrived] == [("upsert", str(world.grid_b.id))]


def _grid_of(table: str, record_id: str) -> object:
    db.session.rollback()
    return db.session.scalar(text(f"SELECT grid_id FROM {table} WHERE id = :i"), {"i": record_id})


def test_a_create_of_an_existing_record_cannot_move_it_out_of_the_writers_grids(
    client: FlaskClient,
) -> None:
    # A create of an id that exists merges into it like a patch; its point must not carry the
    # record into a grid the writer holds not.
    world = make_registry_world()
    headers = world.headers["worker_a"]
    op = address_op(IN_A)
    assert push(client, headers, op)[0]["status"] == "applied"
    (result,) = push(client, headers, {**address_op(IN_B), "record_id": op["record_id"]})
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope"), result
    assert _grid_of("addresses", op["record_id"]) == world.grid_a.id


def test_a_create_of_an_existing_record_may_move_it_within_the_writers_grids(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    assign_worker(world.users["worker_a"], world.grid_b)
    headers = world.headers["worker_a"]
    op = address_op(IN_A)
    push(client, headers, op)
    (result,) = push(client, headers, {**address_op(IN_B), "record_id": op["record_id"]})
    assert result["status"] in ("applied", "merged"), result
    assert _grid_of("addresses", op["record_id"]) == world.grid_b.id


def test_a_create_over_a_web_made_incident_cannot_move_it_to_another_grid(
    client: FlaskClient,
) -> None:
    from tests.factories import create_record, point

    world = make_registry_world()
    address = create_record(client, world.headers["worker_a"], "addresses", IN_A)
    body = {
        "kind": "event",
        "category": "0101",
        "title": "暴露垃圾",
        "occurred_at": "2026-11-20T08:30:00+08:00",
        "urgency": "02",
        "address_id": address["id"],
    }
    made = client.post("/api/v1/incidents", json=body, headers=world.headers["dispatcher_a"])
    assert made.status_code == 201, made.get_json()
    incident = made.get_json()["id"]
    op = {**address_op(), "record_type": "incident", "record_id": incident}
    op["fields"] = {**body, "point": point(IN_B)}
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "out_of_scope"), result
    assert _grid_of("incidents", incident) == world.grid_a.id


def test_an_edit_accepted_by_edit_time_scope_does_not_show_the_record_as_it_is_now(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    worker = world.users["worker_a"]
    _backdate_assignments(worker.id)
    op = address_op(IN_A)
    push(client, world.headers["worker_a"], op)
    _end_assignments(worker.id, timedelta(hours=1))
    edited = client.patch(
        f"/api/v1/addresses/{op['record_id']}",
        json={"expected_version": 1, "courtyard": "离任后录入的信息"},
        headers=world.headers["dispatcher_a"],
    )
    assert edited.status_code == 200, edited.get_json()
    late = patch_op(op["record_id"], 1, room="1")
    late["stamp"] = _stamp_at(datetime.now(UTC) - timedelta(hours=2))
    (result,) = push(client, world.headers["worker_a"], late)
    assert (result["status"], result["flags"]) == ("merged", ["out_of_scope_now"]), result
    assert result["current"] is None
    assert "离任后录入的信息" not in str(result)
