"""A push may only point at records in the writer's scope: an address's parent, a person's house,
a household's head, ... (children follow their anchor, so they would land in another slice)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from tests.factories import (
    IN_A,
    IN_B,
    assign_worker,
    citizen_id,
    create_record,
    make_registry_world,
    point,
)
from tests.test_syncapi_conflicts import patch_op
from tests.test_syncapi_push_pull import address_op, push, stamp

NOT_IN_SCOPE = ["The referenced record is not in your grids."]


@dataclass(frozen=True)
class Anchors:
    """Records of one grid that ops may point at."""

    address: str
    house: str
    person: str
    household: str


def _anchors(client: FlaskClient, headers: dict[str, str], where: tuple[float, float]) -> Anchors:
    return Anchors(
        address=create_record(client, headers, "addresses", where)["id"],
        house=create_record(client, headers, "houses", where)["id"],
        person=create_record(client, headers, "persons", where)["id"],
        household=create_record(client, headers, "households", where)["id"],
    )


def create_op(record_type: str, **fields: Any) -> dict[str, Any]:
    """A create op of `record_type` with these wire fields."""
    return {
        "op_id": str(uuid.uuid4()),
        "record_type": record_type,
        "record_id": str(uuid.uuid4()),
        "kind": "create",
        "stamp": stamp(),
        "fields": fields,
    }


_seq = iter(range(400, 499))


def _person(**fields: Any) -> dict[str, Any]:
    return {
        "id_type": "111",
        "id_number": citizen_id(seq=2 * next(_seq) + 1),
        "name": "李四",
        "sex": "1",
        "population_type": "01",
        **fields,
    }


# (record type, the field under test, its fields given our anchors and the tested field's value)
Case = tuple[str, str, Callable[[Anchors, str], dict[str, Any]]]
CASES: list[Case] = [
    (
        "address",
        "parent_id",
        lambda own, ref: {"kind": "room", "room": "101", "point": point(IN_A), "parent_id": ref},
    ),
    (
        "house",
        "address_id",
        lambda own, ref: {"address_id": ref, "house_use": "01", "occupancy": "01"},
    ),
    ("person", "house_id", lambda own, ref: _person(house_id=ref)),
    ("person", "address_id", lambda own, ref: _person(house_id=own.house, address_id=ref)),
    (
        "person_special_population",
        "person_id",
        lambda own, ref: {"person_id": ref, "category": "drug_user"},
    ),
    ("household", "address_id", lambda own, ref: {"address_id": ref}),
    (
        "household",
        "head_person_id",
        lambda own, ref: {"address_id": own.address, "head_person_id": ref},
    ),
    (
        "household_member",
        "household_id",
        lambda own, ref: {"household_id": ref, "person_id": own.person, "relation_to_head": "02"},
    ),
    (
        "household_member",
        "person_id",
        lambda own, ref: {
            "household_id": own.household,
            "person_id": ref,
            "relation_to_head": "02",
        },
    ),
    (
        "organization",
        "address_id",
        lambda own, ref: {"name": "秦创原", "org_type": "01", "address_id": ref},
    ),
    (
        "incident",
        "address_id",
        lambda own, ref: {
            "kind": "event",
            "category": "0101",
            "title": "暴露垃圾",
            "occurred_at": "2026-11-20T08:30:00+08:00",
            "urgency": "02",
            "point": point(IN_A),
            "address_id": ref,
        },
    ),
    (
        "visit",
        "person_id",
        lambda own, ref: {
            "person_id": ref,
            "visited_at": "2026-11-21T10:00:00+08:00",
            "form": "in_person",
        },
    ),
    ("follow_up_plan", "person_id", lambda own, ref: {"person_id": ref, "cycle": "monthly"}),
]
TARGETS = {
    "parent_id": "address",
    "address_id": "address",
    "house_id": "house",
    "person_id": "person",
    "head_person_id": "person",
    "household_id": "household",
}


def household_patch(record_id: str, **fields: Any) -> dict[str, Any]:
    """A patch of a household edited from version 1."""
    return {**patch_op(record_id, 1, **fields), "record_type": "household"}


def _ids(cases: list[Case]) -> list[str]:
    return [f"{record_type}.{name}" for record_type, name, _ in cases]


@pytest.mark.parametrize(("record_type", "name", "fields"), CASES, ids=_ids(CASES))
def test_a_reference_to_another_grids_record_is_refused_naming_the_field(
    client: FlaskClient, record_type: str, name: str, fields: Callable[[Anchors, str], Any]
) -> None:
    world = make_registry_world()
    own = _anchors(client, world.headers["worker_a"], IN_A)
    other = _anchors(client, world.headers["worker_b"], IN_B)
    op = create_op(record_type, **fields(own, getattr(other, TARGETS[name])))
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "reference_out_of_scope")
    assert result["field_errors"] == {name: NOT_IN_SCOPE}
    kept = db.session.execute(text("SELECT op_id::text, reason, field_errors FROM rejected_ops"))
    assert [tuple(r) for r in kept] == [
        (op["op_id"], "reference_out_of_scope", {name: NOT_IN_SCOPE})
    ]


@pytest.mark.parametrize(("record_type", "name", "fields"), CASES, ids=_ids(CASES))
def test_a_reference_to_a_record_in_scope_is_accepted(
    client: FlaskClient, record_type: str, name: str, fields: Callable[[Anchors, str], Any]
) -> None:
    world = make_registry_world()
    own = _anchors(client, world.headers["worker_a"], IN_A)
    op = create_op(record_type, **fields(own, getattr(own, TARGETS[name])))
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["reason"]) == ("applied", None), result


TABLES = {"address": "addresses", "house": "houses", "person": "persons", "household": "households"}


def _tombstone(kind: str, record_id: str) -> None:
    db.session.execute(
        text(f"UPDATE {TABLES[kind]} SET deleted_at = now() WHERE id = :id"),
        {"id": record_id},
    )
    db.session.commit()


@pytest.mark.parametrize(("record_type", "name", "fields"), CASES, ids=_ids(CASES))
def test_a_reference_to_a_deleted_record_is_refused_as_not_found(
    client: FlaskClient, record_type: str, name: str, fields: Callable[[Anchors, str], Any]
) -> None:
    world = make_registry_world()
    own = _anchors(client, world.headers["worker_a"], IN_A)
    _tombstone(TARGETS[name], getattr(own, TARGETS[name]))
    op = create_op(record_type, **fields(own, getattr(own, TARGETS[name])))
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["reason"]) == ("rejected", "not_found")
    assert result["field_errors"] == {name: ["The referenced record was deleted."]}


def test_a_deleted_record_of_another_grid_stays_out_of_scope(client: FlaskClient) -> None:
    world = make_registry_world()
    other = _anchors(client, world.headers["worker_b"], IN_B)
    _tombstone("house", other.house)
    op = create_op("person", **_person(house_id=other.house))
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["field_errors"]) == (
        "rejected",
        {"house_id": NOT_IN_SCOPE},
    )


def test_an_address_may_hang_under_a_street_of_any_grid(client: FlaskClient) -> None:
    world = make_registry_world()
    street = address_op(IN_B, kind="street", door_number=None)
    push(client, world.headers["worker_b"], street)
    door = address_op(IN_A, parent_id=street["record_id"])
    (result,) = push(client, world.headers["worker_a"], door)
    assert result["status"] == "applied"


def test_a_record_created_earlier_in_the_batch_counts_as_in_scope(client: FlaskClient) -> None:
    world = make_registry_world()
    address = address_op(IN_A)
    house = create_op("house", address_id=address["record_id"], house_use="01", occupancy="01")
    results = push(client, world.headers["worker_a"], address, house)
    assert [r["status"] for r in results] == ["applied", "applied"]
    grid = db.session.scalar(text("SELECT grid_id FROM houses"))
    assert grid == world.grid_a.id


def test_a_record_whose_create_was_refused_in_the_batch_counts_as_out_of_scope(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    elsewhere = address_op(IN_B)
    house = create_op("house", address_id=elsewhere["record_id"], house_use="01", occupancy="01")
    results = push(client, world.headers["worker_a"], elsewhere, house)
    assert [(r["status"], r["reason"]) for r in results] == [
        ("rejected", "out_of_scope"),
        ("rejected", "reference_out_of_scope"),
    ]
    assert results[1]["field_errors"] == {"address_id": NOT_IN_SCOPE}


def test_a_patch_pointing_at_another_grids_record_is_refused_and_changes_nothing(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    own = _anchors(client, world.headers["worker_a"], IN_A)
    other = _anchors(client, world.headers["worker_b"], IN_B)
    household = create_op("household", address_id=own.address)
    push(client, world.headers["worker_a"], household)
    (result,) = push(
        client,
        world.headers["worker_a"],
        household_patch(household["record_id"], head_person_id=other.person),
    )
    assert (result["status"], result["reason"]) == ("rejected", "reference_out_of_scope")
    assert result["field_errors"] == {"head_person_id": NOT_IN_SCOPE}
    head = db.session.scalar(text("SELECT head_person_id FROM households"))
    assert head is None


def test_an_op_taking_the_per_op_path_is_refused_too(client: FlaskClient) -> None:
    world = make_registry_world()
    own = _anchors(client, world.headers["worker_a"], IN_A)
    other = _anchors(client, world.headers["worker_b"], IN_B)
    household = create_op("household", address_id=own.address)
    push(client, world.headers["worker_a"], household)
    # Two ops on one record never take the bulk path.
    outside = household_patch(household["record_id"], head_person_id=other.person)
    inside = household_patch(household["record_id"], household_number="0007")
    results = push(client, world.headers["worker_a"], outside, inside)
    assert [(r["status"], r["reason"]) for r in results] == [
        ("rejected", "reference_out_of_scope"),
        ("applied", None),
    ]


def test_a_reference_held_when_the_edit_was_made_is_applied_and_flagged(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    worker = world.users["worker_a"]
    other = _anchors(client, world.headers["worker_b"], IN_B)
    assign_worker(worker, world.grid_b)
    db.session.execute(
        text(
            "UPDATE grid_assignments SET valid_from = now() - interval '2 days', "
            "valid_to = now() - interval '1 hour' WHERE user_id = :u AND grid_id = :g"
        ),
        {"u": worker.id, "g": world.grid_b.id},
    )
    db.session.commit()
    own = _anchors(client, world.headers["worker_a"], IN_A)
    op = create_op("household", address_id=own.address, head_person_id=other.person)
    op["stamp"] = f"{int((datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000):015d}-00000-p"
    (result,) = push(client, world.headers["worker_a"], op)
    assert (result["status"], result["flags"]) == ("applied", ["out_of_scope_now"])
