"""Two workers registering the same door offline: the later push is warned, never refused."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import (
    IN_A,
    assign_worker,
    auth_headers,
    make_grid,
    make_registry_world,
    make_user,
    point,
    square_wkt,
)
from tests.test_syncapi_push_pull import address_op, push, stamp, sync_op

NEAR_A = (IN_A[0] + 0.00003, IN_A[1])  # ~3 m east of IN_A
FAR_A = (IN_A[0] + 0.0003, IN_A[1])  # ~28 m east of IN_A


def test_same_door_from_two_phones_of_a_grid_flags_the_second_with_the_first(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    colleague = make_user()
    assign_worker(colleague, world.grid_a)
    first = address_op()
    second = address_op(NEAR_A, door_number="12 号")  # same text once normalized
    (r1,) = push(client, world.headers["worker_a"], first)
    (r2,) = push(client, auth_headers(colleague, "phone-2"), second)
    assert r1["status"] == "applied"
    assert "possible_duplicate" not in r1["flags"]
    assert r2["status"] == "applied"
    assert r2["flags"] == ["possible_duplicate"]
    assert r2["candidate_ids"] == [first["record_id"]]


def test_same_door_twice_in_one_batch_flags_only_the_later_op(client: FlaskClient) -> None:
    world = make_registry_world()
    first, second = address_op(), address_op(NEAR_A)
    r1, r2 = push(client, world.headers["worker_a"], first, second)
    assert r1["flags"] == []
    assert "candidate_ids" not in r1
    assert r2["flags"] == ["possible_duplicate"]
    assert r2["candidate_ids"] == [first["record_id"]]


def _retext(create: dict[str, Any], full_text: str) -> dict[str, Any]:
    """A patch of the record `create` makes, edited after it, giving it another full text."""
    patch = sync_op("address", create["record_id"], "patch", 1, full_text=full_text)
    patch["stamp"] = stamp(1)
    return patch


def test_a_door_retexted_later_in_the_batch_is_matched_by_its_stored_text(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    stored = address_op(door_number="14号")
    push(client, world.headers["worker_a"], stored)
    create = address_op(NEAR_A)  # 长安路12号 as created, 长安路14号 once the patch lands
    created, patched = push(
        client, world.headers["worker_a"], create, _retext(create, "长安路14号")
    )
    assert created["status"] == patched["status"] == "applied"
    assert created["flags"] == patched["flags"] == ["possible_duplicate"]
    assert created["candidate_ids"] == patched["candidate_ids"] == [stored["record_id"]]


def test_a_door_retexted_later_in_the_batch_is_not_named_on_an_earlier_op(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    first = address_op(door_number="14号")
    later = address_op(NEAR_A)
    r_first, r_later, r_patch = push(
        client, world.headers["worker_a"], first, later, _retext(later, "长安路14号")
    )
    assert r_first["flags"] == []
    assert r_later["candidate_ids"] == r_patch["candidate_ids"] == [first["record_id"]]


def test_door_in_a_grid_outside_the_callers_scope_is_not_named(client: FlaskClient) -> None:
    world = make_registry_world()
    # A grid sharing grid A's east edge, worked by someone else.
    neighbour = make_grid(world.tree.community, square_wkt(108.91, 34.20))
    other = make_user()
    assign_worker(other, neighbour)
    east, west = (108.91002, 34.205), (108.90999, 34.205)  # ~3 m apart, across the edge
    theirs = address_op(east)
    push(client, auth_headers(other), theirs)
    (mine,) = push(client, world.headers["worker_a"], address_op(west))
    assert mine["status"] == "applied"
    assert mine["flags"] == []
    assert theirs["record_id"] not in str(mine)


def test_different_text_or_beyond_the_radius_is_not_flagged(client: FlaskClient) -> None:
    world = make_registry_world()
    push(client, world.headers["worker_a"], address_op())
    other_text, far = push(
        client,
        world.headers["worker_a"],
        address_op(NEAR_A, door_number="14号"),
        address_op(FAR_A),
    )
    assert other_text["flags"] == []
    assert far["flags"] == []


def test_patch_moving_a_door_onto_another_is_flagged(client: FlaskClient) -> None:
    world = make_registry_world()
    first, second = address_op(), address_op(FAR_A)
    push(client, world.headers["worker_a"], first, second)
    move = {
        "op_id": str(uuid.uuid4()),
        "record_type": "address",
        "record_id": second["record_id"],
        "kind": "patch",
        "stamp": stamp(1),
        "base_version": 1,
        "fields": {"point": point(NEAR_A)},
    }
    (result,) = push(client, world.headers["worker_a"], move)
    assert result["status"] == "applied"
    assert result["candidate_ids"] == [first["record_id"]]


def test_replay_returns_the_stored_flagged_result(client: FlaskClient) -> None:
    world = make_registry_world()
    first, second = address_op(), address_op(NEAR_A)
    push(client, world.headers["worker_a"], first)
    (answer,) = push(client, world.headers["worker_a"], second)
    # The first door is gone by the time the phone retries: the stored answer still stands.
    db.session.execute(
        text("UPDATE addresses SET deleted_at = now() WHERE id = :id"),
        {"id": first["record_id"]},
    )
    db.session.commit()
    (replayed,) = push(client, world.headers["worker_a"], second)
    assert answer["flags"] == ["possible_duplicate"]
    assert replayed == answer
    flags = db.session.scalar(
        text("SELECT flags FROM op_receipts WHERE op_id = :id"), {"id": second["op_id"]}
    )
    assert flags == ["possible_duplicate"]
