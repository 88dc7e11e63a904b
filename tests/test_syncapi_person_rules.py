"""Persons over sync follow the web API's rules: a delete takes the person's extension rows with
it, and an ID number already registered is a documented refusal, not a database error."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from server.syncapi.hooks import UNIQUE_REFUSALS
from tests.factories import IN_B, auth_headers, citizen_id, make_registry_world
from tests.test_syncapi_privacy import person_op
from tests.test_syncapi_push_pull import address_op, pull, push, sync_op

DUPLICATE_MESSAGE = "A person with this ID number already exists."


def _special(person_id: str, category: str = "drug_user") -> Any:
    return sync_op(
        "person_special_population",
        str(uuid.uuid4()),
        "create",
        None,
        **{
            "person_id": person_id,
            "category": category,
        },
    )


def _version(table: str, record_id: str) -> int:
    found = db.session.scalar(text(f"SELECT version FROM {table} WHERE id = :i"), {"i": record_id})
    assert found is not None
    return int(found)


def _person_with_specials(client: FlaskClient) -> tuple[Any, Any, Any, list[Any]]:
    world = make_registry_world()
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=41))
    specials = [
        _special(person["record_id"]),
        _special(person["record_id"], "community_correction"),
    ]
    results = push(client, world.headers["worker_a"], address, person, *specials)
    assert [r["status"] for r in results] == ["applied"] * 4
    return world, address, person, specials


def test_deleting_a_person_over_sync_tombstones_their_special_population_rows(
    client: FlaskClient,
) -> None:
    world, _, person, specials = _person_with_specials(client)
    worker = world.users["worker_a"]
    before = {
        s["record_id"]: _version("person_special_populations", s["record_id"]) for s in specials
    }
    base = _version("persons", person["record_id"])
    delete = sync_op("person", person["record_id"], "delete", base)
    (result,) = push(client, world.headers["worker_a"], delete)
    assert result["status"] == "applied"
    rows = db.session.execute(
        text("SELECT id::text, version, deleted_at, deleted_by FROM person_special_populations")
    ).all()
    assert {r.id: r.version for r in rows} == {k: v + 1 for k, v in before.items()}
    assert all(r.deleted_at is not None and r.deleted_by == worker.id for r in rows)


def test_phones_of_the_grid_pull_the_special_population_tombstones(client: FlaskClient) -> None:
    world, _, person, specials = _person_with_specials(client)
    other_phone = auth_headers(world.users["worker_a"], "phone-2")
    cursor = pull(client, other_phone)["cursor"]
    base = _version("persons", person["record_id"])
    push(client, world.headers["worker_a"], sync_op("person", person["record_id"], "delete", base))
    changes = pull(client, other_phone, cursor)["changes"]
    deleted = {(c["record_type"], c["record_id"]) for c in changes if c["kind"] == "delete"}
    assert deleted == {("person", person["record_id"])} | {
        ("person_special_population", s["record_id"]) for s in specials
    }


def test_a_delete_that_conflicts_keeps_the_special_population_rows(client: FlaskClient) -> None:
    world, _, person, _ = _person_with_specials(client)
    base = _version("persons", person["record_id"])
    other_phone = auth_headers(world.users["worker_a"], "phone-2")
    edit = sync_op("person", person["record_id"], "patch", base, ethnicity="02")
    assert push(client, other_phone, edit)[0]["status"] == "applied"
    (result,) = push(
        client, world.headers["worker_a"], sync_op("person", person["record_id"], "delete", base)
    )
    assert (result["status"], result["reason"]) == ("conflict", "delete_vs_update")
    live = db.session.scalar(
        text("SELECT count(*) FROM person_special_populations WHERE deleted_at IS NULL")
    )
    assert live == 2


def test_a_replayed_person_delete_leaves_rows_added_since_alone(client: FlaskClient) -> None:
    world, _, person, _ = _person_with_specials(client)
    headers = world.headers["worker_a"]
    base = _version("persons", person["record_id"])
    delete = sync_op("person", person["record_id"], "delete", base)
    push(client, headers, delete)
    db.session.execute(
        text(
            "INSERT INTO person_special_populations (id, person_id, category, version, "
            "grid_id, created_at, updated_at) SELECT gen_random_uuid(), id, 'petitioner', 1, "
            "grid_id, now(), now() FROM persons"
        )
    )
    db.session.commit()
    assert push(client, headers, delete)[0]["status"] == "applied"
    live = db.session.scalar(
        text("SELECT count(*) FROM person_special_populations WHERE deleted_at IS NULL")
    )
    assert live == 1


def test_deleting_a_household_over_sync_tombstones_its_memberships(client: FlaskClient) -> None:
    world = make_registry_world()
    headers = world.headers["worker_a"]
    address = address_op()
    person = person_op(address["record_id"], citizen_id(seq=43))
    household = sync_op(
        "household",
        str(uuid.uuid4()),
        "create",
        None,
        **{
            "household_number": "H-1",
            "address_id": address["record_id"],
        },
    )
    member = sync_op(
        "household_member",
        str(uuid.uuid4()),
        "create",
        None,
        **{
            "household_id": household["record_id"],
            "person_id": person["record_id"],
            "relation_to_head": "02",
        },
    )
    results = push(client, headers, address, person, household, member)
    assert [r["status"] for r in results] == ["applied"] * 4, results
    base = _version("households", household["record_id"])
    push(client, headers, sync_op("household", household["record_id"], "delete", base))
    gone = db.session.scalar(text("SELECT deleted_at IS NOT NULL FROM household_members"))
    assert gone is True


def test_an_id_number_registered_in_scope_is_refused_naming_the_record(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    address = address_op()
    number = citizen_id(seq=45)
    first = person_op(address["record_id"], number)
    push(client, world.headers["worker_a"], address, first)
    again = person_op(address["record_id"], number, name="李四")
    other_phone = auth_headers(world.users["worker_a"], "phone-2")
    (result,) = push(client, other_phone, again)
    assert (result["status"], result["reason"]) == ("rejected", "duplicate_id_number")
    assert result["field_errors"] == {"id_number": [DUPLICATE_MESSAGE]}
    assert result["existing_id"] == first["record_id"]
    kept = db.session.execute(text("SELECT op_id::text, reason FROM rejected_ops")).all()
    assert [tuple(r) for r in kept] == [(again["op_id"], "duplicate_id_number")]
    assert db.session.scalar(text("SELECT count(*) FROM persons")) == 1


def test_an_id_number_registered_out_of_scope_only_says_it_is_registered(
    client: FlaskClient,
) -> None:
    world = make_registry_world()
    address_a, address_b = address_op(), address_op(IN_B)
    number = citizen_id(seq=47)
    first = person_op(address_a["record_id"], number)
    push(client, world.headers["worker_a"], address_a, first)
    push(client, world.headers["worker_b"], address_b)
    again = person_op(address_b["record_id"], number)
    response = client.post(
        "/api/v1/sync/push", json={"ops": [again]}, headers=world.headers["worker_b"]
    )
    (result,) = response.get_json()["results"]
    assert (result["status"], result["reason"]) == ("rejected", "duplicate_id_number")
    assert result["field_errors"] == {"id_number": [DUPLICATE_MESSAGE]}
    assert "existing_id" not in result
    assert first["record_id"] not in response.get_data(as_text=True)


def test_a_patch_taking_another_persons_id_number_is_refused(client: FlaskClient) -> None:
    world = make_registry_world()
    address = address_op()
    taken = citizen_id(seq=49)
    first = person_op(address["record_id"], taken)
    second = person_op(address["record_id"], citizen_id(seq=51))
    push(client, world.headers["worker_a"], address, first, second)
    base = _version("persons", second["record_id"])
    patch = sync_op("person", second["record_id"], "patch", base, id_number=taken)
    (result,) = push(client, world.headers["worker_a"], patch)
    assert (result["reason"], result["existing_id"]) == ("duplicate_id_number", first["record_id"])


def test_the_same_id_number_twice_in_one_batch_refuses_the_second(client: FlaskClient) -> None:
    world = make_registry_world()
    address = address_op()
    number = citizen_id(seq=53)
    first = person_op(address["record_id"], number)
    again = person_op(address["record_id"], number)
    results = push(client, world.headers["worker_a"], address, first, again)
    assert [r["status"] for r in results] == ["applied", "applied", "rejected"]
    assert (results[2]["reason"], results[2]["existing_id"]) == (
        "duplicate_id_number",
        first["record_id"],
    )


def test_a_refused_duplicate_replays_the_same_answer(client: FlaskClient) -> None:
    world = make_registry_world()
    address = address_op()
    number = citizen_id(seq=55)
    push(client, world.headers["worker_a"], address, person_op(address["record_id"], number))
    again = person_op(address["record_id"], number)
    first = push(client, world.headers["worker_a"], again)
    assert push(client, world.headers["worker_a"], again) == first


def test_every_unique_refusal_names_an_index_the_database_has(client: FlaskClient) -> None:
    names = {name for refusals in UNIQUE_REFUSALS.values() for name in refusals}
    found = set(
        db.session.scalars(
            text("SELECT indexname FROM pg_indexes WHERE indexname = ANY(:names)"),
            {"names": sorted(names)},
        )
    )
    assert names == {"uq_persons_id_number_hash"}
    assert found == names


def test_a_refused_create_does_not_take_its_id_number_from_a_good_one(client: FlaskClient) -> None:
    world = make_registry_world()
    address = address_op()
    number = citizen_id(seq=779)
    bad = person_op(address["record_id"], number, population_type="nonsense")
    good = person_op(address["record_id"], number)
    results = push(client, world.headers["worker_a"], address, bad, good)
    assert [(r["status"], r["reason"]) for r in results] == [
        ("applied", None),
        ("rejected", "invalid_fields"),
        ("applied", None),
    ]
