"""Values of the right type that cannot be true, from the fuzzing pass: a special population that
ends before it starts, a birth date in the future or before 1900, required text that is only
whitespace. Each is a 422 on the web and an `invalid_fields` rejection over sync, with the same
message on the same field."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from server.extensions import db
from server.registry.schemas.organization import OrganizationIn
from server.registry.schemas.person import CHINA_STANDARD_TIME, END_BEFORE_START
from server.syncapi.field_checks import FieldChecks
from tests.factories import (
    IN_A,
    RegistryWorld,
    auth_headers,
    create_record,
    make_registry_world,
)
from tests.test_syncapi_privacy import person_op
from tests.test_syncapi_push_pull import address_op, incident_op, push, sync_op

BLANK = "Must not be empty or only whitespace."
FUTURE = "Must not be in the future."
TOO_EARLY = "Must not be before 1900-01-01."
REQUIRED = "Missing data for required field."
PASSPORT = "414"
# Spaces, a full-width space (as a Chinese input method types it), a tab and a newline.
BLANKS = ["   ", "\u3000", " \t\n"]


@pytest.fixture
def world(app: Flask) -> RegistryWorld:
    return make_registry_world()


def _today_in_china() -> datetime:
    return datetime.now(CHINA_STANDARD_TIME)


def _passport_holder(address_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id_type": PASSPORT,
        "id_number": "E12345678",
        "name": "约翰",
        "sex": "1",
        "population_type": "03",
        "address_id": address_id,
        **fields,
    }


def _count(table: str) -> int:
    return int(db.session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def _rejected_on(result: dict[str, Any]) -> dict[str, Any]:
    assert (result["status"], result["reason"]) == ("rejected", "invalid_fields")
    errors: dict[str, Any] = result["field_errors"]
    return errors


# --- a special population's dates ---------------------------------------------------------------


def test_a_special_population_ending_before_it_starts_is_422_on_its_end_date(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    person = create_record(client, worker, "persons", IN_A)
    special = {"category": "drug_user", "start_date": "2024-06-01", "end_date": "2024-05-31"}
    response = client.raw.patch(
        f"/api/v1/persons/{person['id']}",
        json={"expected_version": person["version"], "special_populations": [special]},
        headers=worker,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "special_populations": {"0": {"end_date": [END_BEFORE_START]}}
    }
    assert _count("person_special_populations") == 0


def test_a_special_population_may_end_on_the_day_it_starts(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    person = create_record(client, worker, "persons", IN_A)
    special = {"category": "drug_user", "start_date": "2024-06-01", "end_date": "2024-06-01"}
    response = client.patch(
        f"/api/v1/persons/{person['id']}",
        json={"expected_version": person["version"], "special_populations": [special]},
        headers=worker,
    )
    assert response.status_code == 200


def _special_population_from(**dates: str) -> tuple[str, list[dict[str, Any]]]:
    """The ops creating a door, a passport holder behind it and a special population of theirs
    with `dates`; the special population's id."""
    address = address_op()
    person = person_op(address["record_id"], "E12345678", id_type=PASSPORT)
    special_id = str(uuid.uuid4())
    created = sync_op(
        "person_special_population",
        special_id,
        "create",
        None,
        person_id=person["record_id"],
        category="drug_user",
        **dates,
    )
    return special_id, [address, person, created]


def test_a_pushed_special_population_ending_before_it_starts_is_rejected_on_its_end_date(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    special_id, creates = _special_population_from(start_date="2024-06-01")
    backwards = sync_op(
        "person_special_population",
        special_id,
        "patch",
        1,
        start_date="2024-06-01",
        end_date="2024-05-31",
    )
    results = push(client, worker, *creates, backwards)
    assert [r["status"] for r in results[:3]] == ["applied"] * 3
    assert _rejected_on(results[3]) == {"end_date": [END_BEFORE_START]}
    stored = db.session.scalar(
        text("SELECT end_date FROM person_special_populations WHERE id = :id"), {"id": special_id}
    )
    assert stored is None


def test_a_resolution_may_not_put_a_special_populations_end_before_its_stored_start(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    special_id, creates = _special_population_from(start_date="2024-06-01")
    push(client, worker, *creates)
    # Stamped first, pushed last: the second phone's end date loses, and a take would write it.
    backwards = sync_op("person_special_population", special_id, "patch", 1, end_date="2024-05-01")
    later = sync_op("person_special_population", special_id, "patch", 1, end_date="2024-07-01")
    push(client, worker, later)
    (lost,) = push(client, auth_headers(world.users["worker_a"], "phone-2"), backwards)
    url = f"/api/v1/conflicts/{lost['conflict_ids'][0]}/resolve"
    dispatcher = world.headers["dispatcher_a"]
    for body in ({"action": "take"}, {"action": "edit", "value": "2024-05-15"}):
        response = client.raw.post(url, json=body, headers=dispatcher)
        assert response.status_code == 422
        assert response.get_json()["errors"] == {"end_date": [END_BEFORE_START]}
    edited = client.post(url, json={"action": "edit", "value": "2024-06-30"}, headers=dispatcher)
    assert edited.status_code == 200


# --- birth dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "message"),
    [
        ("9999-12-31", FUTURE),
        ((_today_in_china() + timedelta(days=2)).date().isoformat(), FUTURE),
        ("1899-12-31", TOO_EARLY),
        ("0001-01-01", TOO_EARLY),
    ],
)
def test_a_birth_date_in_the_future_or_before_1900_is_422_for_a_passport_holder(
    client: FlaskClient, world: RegistryWorld, born: str, message: str
) -> None:
    worker = world.headers["worker_a"]
    address = create_record(client, worker, "addresses", IN_A)
    body = _passport_holder(address["id"], birth_date=born)
    response = client.raw.post("/api/v1/persons", json=body, headers=worker)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"birth_date": [message]}
    assert _count("persons") == 0


def test_a_birth_date_from_1900_01_01_to_today_is_accepted_for_a_passport_holder(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    address = create_record(client, worker, "addresses", IN_A)
    today = _today_in_china().date().isoformat()
    for number, born in (("E1", "1900-01-01"), ("E2", today)):
        body = _passport_holder(address["id"], id_number=number, birth_date=born)
        assert client.post("/api/v1/persons", json=body, headers=worker).status_code == 201


def test_a_patched_birth_date_in_the_future_is_422(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    address = create_record(client, worker, "addresses", IN_A)
    person = client.post(
        "/api/v1/persons", json=_passport_holder(address["id"]), headers=worker
    ).get_json()
    response = client.raw.patch(
        f"/api/v1/persons/{person['id']}",
        json={"expected_version": person["version"], "birth_date": "9999-12-31"},
        headers=worker,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"birth_date": [FUTURE]}


def test_a_pushed_birth_date_in_the_future_or_before_1900_is_rejected(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    address = address_op()
    person = person_op(address["record_id"], "E12345678", id_type=PASSPORT)
    future = sync_op("person", person["record_id"], "patch", 1, birth_date="9999-12-31")
    early = person_op(address["record_id"], "E87654321", id_type=PASSPORT, birth_date="1899-12-31")
    results = push(client, worker, address, person, future, early)
    assert [r["status"] for r in results[:2]] == ["applied"] * 2
    assert _rejected_on(results[2]) == {"birth_date": [FUTURE]}
    assert _rejected_on(results[3]) == {"birth_date": [TOO_EARLY]}
    assert db.session.scalar(text("SELECT birth_date FROM persons")) is None


# --- required text that is only whitespace ----------------------------------------------------


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize(
    ("entity", "field", "who"),
    [
        ("persons", "name", "worker_a"),
        ("organizations", "name", "worker_a"),
        ("incidents", "title", "worker_a"),
        ("tasks", "title", "dispatcher_a"),
    ],
)
def test_required_text_that_is_only_whitespace_is_422_on_its_field(
    client: FlaskClient, world: RegistryWorld, entity: str, field: str, who: str, blank: str
) -> None:
    headers = world.headers[who]
    record = create_record(
        client, headers, entity, IN_A, assignee=world.users["worker_a"], grid=world.grid_a
    )
    response = client.raw.patch(
        f"/api/v1/{entity}/{record['id']}",
        json={"expected_version": record["version"], field: blank},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {field: [BLANK]}


@pytest.mark.parametrize(
    ("party", "message"), [({"name": "\u3000"}, BLANK), ({"role": "申请人"}, REQUIRED)]
)
def test_an_incident_party_patched_in_blank_or_without_a_name_is_422(
    client: FlaskClient, world: RegistryWorld, party: dict[str, str], message: str
) -> None:
    worker = world.headers["worker_a"]
    incident = create_record(client, worker, "incidents", IN_A)
    response = client.raw.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"expected_version": incident["version"], "parties": [party]},
        headers=worker,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"parties": {"0": {"name": [message]}}}


def test_a_pushed_incident_party_named_only_by_whitespace_is_rejected_naming_its_place(
    client: FlaskClient, world: RegistryWorld
) -> None:
    (result,) = push(client, world.headers["worker_a"], incident_op(parties=[{"name": " "}]))
    assert _rejected_on(result) == {"parties": [f"0.name: {BLANK}"]}


@pytest.mark.parametrize(
    ("entity", "field", "item", "missing"),
    [
        ("persons", "special_populations", {"notes": "在校"}, "category"),
        ("households", "members", {"relation_to_head": "02"}, "person_id"),
    ],
)
def test_a_row_of_a_set_patched_without_its_key_is_422_not_a_server_error(
    client: FlaskClient,
    world: RegistryWorld,
    entity: str,
    field: str,
    item: dict[str, Any],
    missing: str,
) -> None:
    worker = world.headers["worker_a"]
    record = create_record(client, worker, entity, IN_A)
    response = client.raw.patch(
        f"/api/v1/{entity}/{record['id']}",
        json={"expected_version": record["version"], field: [item]},
        headers=worker,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {field: {"0": {missing: [REQUIRED]}}}


def test_a_passport_number_that_is_only_whitespace_is_422(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    address = create_record(client, worker, "addresses", IN_A)
    body = _passport_holder(address["id"], id_number="   ")
    response = client.raw.post("/api/v1/persons", json=body, headers=worker)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"id_number": [BLANK]}


def test_a_name_with_spaces_around_it_is_kept_as_sent(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    organization = create_record(client, worker, "organizations", IN_A)
    response = client.patch(
        f"/api/v1/organizations/{organization['id']}",
        json={"expected_version": organization["version"], "name": " 秦创原公司 "},
        headers=worker,
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == " 秦创原公司 "


@pytest.mark.parametrize("blank", BLANKS)
def test_pushed_required_text_that_is_only_whitespace_is_rejected_on_its_field(
    client: FlaskClient, world: RegistryWorld, blank: str
) -> None:
    worker = world.headers["worker_a"]
    address = address_op()
    person = person_op(address["record_id"], "E12345678", id_type=PASSPORT, name=blank)
    organization = sync_op(
        "organization",
        str(uuid.uuid4()),
        "create",
        None,
        name=blank,
        org_type="01",
        address_id=address["record_id"],
    )
    incident = incident_op(title=blank)
    passport = person_op(address["record_id"], blank, id_type=PASSPORT)
    results = push(client, worker, address, person, organization, incident, passport)
    assert results[0]["status"] == "applied"
    assert _rejected_on(results[1]) == {"name": [BLANK]}
    assert _rejected_on(results[2]) == {"name": [BLANK]}
    assert _rejected_on(results[3]) == {"title": [BLANK]}
    assert _rejected_on(results[4]) == {"id_number": [BLANK]}
    assert _count("persons") + _count("organizations") + _count("incidents") == 0


def test_an_organization_name_is_still_vouched_for_without_marshmallow(app: Flask) -> None:
    checks = FieldChecks(OrganizationIn())
    assert checks.certainly_valid({"name": "秦创原公司", "org_type": "01"})
    assert not checks.certainly_valid({"name": "\u3000", "org_type": "01"})
