"""Persons: identity rules, duplicates, masking per role, reveal, and no plaintext ID at rest."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from server.audit.models import AuditEntry
from server.extensions import db
from tests.factories import IN_A, RegistryWorld, citizen_id, create_record, make_registry_world


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


@pytest.fixture
def address_a(client: FlaskClient, world: RegistryWorld) -> dict[str, Any]:
    return create_record(client, world.headers["worker_a"], "addresses", IN_A)


def _person(address: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "id_type": "111",
        "id_number": citizen_id("19900307", 123),
        "name": "张三",
        "sex": "1",
        "population_type": "01",
        "address_id": address["id"],
        "phone": "13812345678",
    }
    body.update(fields)
    return body


def _post(
    client: FlaskClient, world: RegistryWorld, body: dict[str, Any], who: str = "worker_a"
) -> Any:
    return client.post("/api/v1/persons", json=body, headers=world.headers[who])


def test_a_person_takes_the_grid_of_their_address_and_the_birth_date_of_their_id(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    response = _post(client, world, _person(address_a))
    assert response.status_code == 201
    body = response.get_json()
    assert body["grid_id"] == str(world.grid_a.id)
    # Taken from the ID (stored in full), shown as its year: the date is what the ID's mask hides.
    assert (body["birth_date"], body["birth_year"]) == (None, 1990)
    stored = db.session.scalar(
        text("SELECT birth_date FROM persons WHERE id = :id"), {"id": body["id"]}
    )
    assert stored.isoformat() == "1990-03-07"
    assert body["version"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"id_number": "110101199003071234"}, "id_number"),
        ({"id_number": citizen_id("19900307", 124)}, "id_number"),
        ({"birth_date": "1990-03-08"}, "birth_date"),
        ({"phone": "12812345678"}, "phone"),
        ({"sex": "7"}, "sex"),
        ({"ethnicity": "99"}, "ethnicity"),
        ({"grid_id": "6f1c1b4e-0000-4000-8000-000000000000"}, "grid_id"),
        ({"version": 3}, "version"),
        ({"created_by": None}, "created_by"),
    ],
)
def test_invalid_person_fields_are_422_naming_the_field_and_store_nothing(
    client: FlaskClient,
    world: RegistryWorld,
    address_a: dict[str, Any],
    fields: dict[str, Any],
    field: str,
) -> None:
    response = _post(client, world, _person(address_a, **fields))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert client.get("/api/v1/persons", headers=world.headers["admin"]).get_json()["total"] == 0


def test_lower_case_x_is_accepted_and_stored_upper_case(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    number = "11010519491231002X"
    response = _post(client, world, _person(address_a, id_number=number.lower(), sex="2"))
    assert response.status_code == 201
    found = client.get(f"/api/v1/persons?id_number={number}", headers=world.headers["worker_a"])
    assert found.get_json()["total"] == 1


def test_the_same_id_number_twice_is_409_naming_the_visible_record(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    first = _post(client, world, _person(address_a)).get_json()
    again = _post(client, world, _person(address_a, name="李四"))
    assert again.status_code == 409
    assert again.get_json()["code"] == "duplicate"
    assert again.get_json()["existing_id"] == first["id"]


def test_a_duplicate_outside_the_callers_scope_only_says_it_exists(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    first = _post(client, world, _person(address_a)).get_json()
    address_b = create_record(client, world.headers["worker_b"], "addresses", (108.925, 34.205))
    again = _post(client, world, _person(address_b), who="worker_b")
    assert again.status_code == 409
    assert "existing_id" not in again.get_json()
    assert first["id"] not in again.get_data(as_text=True)


def test_a_deleted_persons_id_number_can_be_registered_again(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    first = _post(client, world, _person(address_a)).get_json()
    gone = client.delete(
        f"/api/v1/persons/{first['id']}?expected_version=1", headers=world.headers["worker_a"]
    )
    assert gone.status_code == 200
    assert gone.get_json()["version"] == 2
    assert (
        client.get(f"/api/v1/persons/{first['id']}", headers=world.headers["worker_a"]).status_code
        == 404
    )
    assert _post(client, world, _person(address_a)).status_code == 201


@pytest.mark.parametrize(
    ("role", "name", "id_number", "phone"),
    [
        ("worker_a", "张三", "610116********1233", "138****5678"),
        ("dispatcher_a", "张三", "610116********1233", "138****5678"),
        ("admin", "张*", "610116********1233", "138****5678"),
        ("auditor", None, None, None),
    ],
)
def test_personal_fields_are_masked_per_role(
    client: FlaskClient,
    world: RegistryWorld,
    address_a: dict[str, Any],
    role: str,
    name: str | None,
    id_number: str | None,
    phone: str | None,
) -> None:
    number = citizen_id("19900307", 123)
    person = _post(client, world, _person(address_a, id_number=number)).get_json()
    body = client.get(f"/api/v1/persons/{person['id']}", headers=world.headers[role]).get_json()
    assert body["name"] == name
    expected_id = None if id_number is None else number[:6] + "********" + number[-4:]
    assert body["id_number"] == expected_id
    assert body["phone"] == phone


def test_special_populations_are_shown_to_workers_and_hidden_from_admins(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    special = [
        {"category": "severe_mental_illness", "risk_level": "3", "supervising_unit": "卫生院"}
    ]
    person = _post(client, world, _person(address_a, special_populations=special)).get_json()
    assert [s["category"] for s in person["special_populations"]] == ["severe_mental_illness"]
    as_admin = client.get(f"/api/v1/persons/{person['id']}", headers=world.headers["admin"])
    assert "special_populations" not in as_admin.get_json()
    assert "卫生院" not in as_admin.get_data(as_text=True)


def test_risk_level_is_required_for_severe_mental_illness(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    special = [{"category": "severe_mental_illness"}]
    response = _post(client, world, _person(address_a, special_populations=special))
    assert response.status_code == 422
    assert "risk_level" in response.get_json()["errors"]["special_populations"]["0"]


def test_patching_special_populations_replaces_the_set(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    first = [{"category": "drug_user"}, {"category": "key_youth"}]
    person = _post(client, world, _person(address_a, special_populations=first)).get_json()
    changed = client.patch(
        f"/api/v1/persons/{person['id']}",
        json={
            "expected_version": 1,
            "special_populations": [{"category": "key_youth", "notes": "在校"}],
        },
        headers=world.headers["worker_a"],
    )
    assert changed.status_code == 200
    rows = changed.get_json()["special_populations"]
    assert [(r["category"], r["notes"]) for r in rows] == [("key_youth", "在校")]


def test_reveal_returns_the_full_number_and_writes_an_audit_row(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    number = citizen_id("19900307", 123)
    person = _post(client, world, _person(address_a, id_number=number)).get_json()
    response = client.post(
        f"/api/v1/persons/{person['id']}/reveal",
        json={"field": "id_number", "reason": "核对身份证"},
        headers=world.headers["dispatcher_a"],
    )
    assert response.status_code == 200
    assert response.get_json() == {"value": number}
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal")).one()
    assert entry.record_ids == [uuid.UUID(person["id"])]
    assert entry.actor_id == world.users["dispatcher_a"].id


def test_reveal_without_a_reason_is_422(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    person = _post(client, world, _person(address_a)).get_json()
    response = client.post(
        f"/api/v1/persons/{person['id']}/reveal",
        json={"field": "phone"},
        headers=world.headers["worker_a"],
    )
    assert response.status_code == 422
    assert "reason" in response.get_json()["errors"]


def test_reveal_of_a_person_out_of_scope_is_404(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    person = _post(client, world, _person(address_a)).get_json()
    response = client.post(
        f"/api/v1/persons/{person['id']}/reveal",
        json={"field": "phone", "reason": "回访"},
        headers=world.headers["dispatcher_b"],
    )
    assert response.status_code == 404


def test_detail_and_list_reads_of_persons_are_audited(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    person = _post(client, world, _person(address_a)).get_json()
    client.get(f"/api/v1/persons/{person['id']}", headers=world.headers["worker_a"])
    client.get("/api/v1/persons?q=张", headers=world.headers["worker_a"])
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.record_type == "person").order_by(AuditEntry.id)
    ).all()
    assert actions == ["create", "read", "list"]


def test_no_table_holds_a_test_id_number_or_phone_in_plaintext(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    number = citizen_id("19900307", 123)
    owner = citizen_id("19650101", 15)
    person = _post(client, world, _person(address_a, id_number=number)).get_json()
    house = client.post(
        "/api/v1/houses",
        json={
            "address_id": address_a["id"],
            "house_use": "01",
            "occupancy": "02",
            "owner_name": "王五",
            "owner_id_number": owner,
            "owner_phone": "13912345678",
        },
        headers=world.headers["worker_a"],
    )
    assert house.status_code == 201
    client.get(f"/api/v1/persons?id_number={number}", headers=world.headers["worker_a"])
    client.post(
        f"/api/v1/persons/{person['id']}/reveal",
        json={"field": "id_number", "reason": f"核对 {number}"},
        headers=world.headers["dispatcher_a"],
    )
    columns = db.session.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')"
        )
    ).all()
    secrets = (number, owner, "13812345678", "13912345678")
    for table, column in columns:
        for secret in secrets:
            hits = db.session.scalar(
                text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE :needle'),
                {"needle": f"%{secret}%"},
            )
            assert hits == 0, f"{secret} found in {table}.{column}"


def test_a_stale_expected_version_is_409_with_the_current_version(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    person = _post(client, world, _person(address_a)).get_json()
    path = f"/api/v1/persons/{person['id']}"
    first = client.patch(
        path, json={"expected_version": 1, "name": "张三丰"}, headers=world.headers["worker_a"]
    )
    assert first.get_json()["version"] == 2
    stale = client.patch(
        path, json={"expected_version": 1, "name": "张四"}, headers=world.headers["worker_a"]
    )
    assert stale.status_code == 409
    assert stale.get_json()["code"] == "stale_version"
    assert stale.get_json()["current_version"] == 2


def test_patch_without_expected_version_is_422(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    person = _post(client, world, _person(address_a)).get_json()
    response = client.patch(
        f"/api/v1/persons/{person['id']}", json={"name": "张四"}, headers=world.headers["worker_a"]
    )
    assert response.status_code == 422
    assert "expected_version" in response.get_json()["errors"]


def test_changing_sex_against_the_stored_id_number_is_422(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    person = _post(client, world, _person(address_a)).get_json()
    response = client.patch(
        f"/api/v1/persons/{person['id']}",
        json={"expected_version": 1, "sex": "2"},
        headers=world.headers["worker_a"],
    )
    assert response.status_code == 422
    assert "id_number" in response.get_json()["errors"]


def test_keyset_pages_cover_every_record_once(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    created = {
        _post(
            client, world, _person(address_a, id_number=citizen_id("19800101", 2 * i + 1))
        ).get_json()["id"]
        for i in range(5)
    }
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(
            f"/api/v1/persons?limit=2{cursor}", headers=world.headers["worker_a"]
        ).get_json()
        assert page["total"] == 5
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted(created)


def test_a_role_searches_only_by_what_it_sees(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    number = citizen_id("19900307", 123)
    person = _post(client, world, _person(address_a, id_number=number)).get_json()
    # A masked name rebuilt one prefix at a time; a hidden number confirmed by a search.
    by_name = client.get("/api/v1/persons?q=张", headers=world.headers["admin"])
    assert by_name.status_code == 403
    for entity in ("persons", "houses"):
        by_number = client.get(
            f"/api/v1/{entity}?id_number={number}", headers=world.headers["auditor"]
        )
        assert by_number.status_code == 403
    # A worker sees names in full and numbers masked: both searches stay theirs.
    found = client.get("/api/v1/persons?q=张", headers=world.headers["worker_a"]).get_json()
    assert [item["id"] for item in found["items"]] == [person["id"]]
    numbered = client.get(f"/api/v1/persons?id_number={number}", headers=world.headers["admin"])
    assert [item["id"] for item in numbered.get_json()["items"]] == [person["id"]]


def _stored_extension(person_id: str, name: str) -> dict[str, Any]:
    value: dict[str, Any] = db.session.scalar(
        text(f"SELECT {name} FROM persons WHERE id = :id"), {"id": person_id}
    )
    return value


def test_a_passport_number_is_masked_as_an_id_number_and_survives_being_sent_back(
    client: FlaskClient, world: RegistryWorld, address_a: dict[str, Any]
) -> None:
    passport = "E98765432"
    overseas = {"nationality": "GBR", "passport_number": passport}
    body = _person(
        address_a,
        id_type="414",
        id_number=passport,
        name="John Smith",
        population_type="03",
        overseas=overseas,
    )
    person = _post(client, world, body).get_json()
    for who in ("worker_a", "dispatcher_a", "admin"):
        shown = client.get(f"/api/v1/persons/{person['id']}", headers=world.headers[who])
        assert shown.get_json()["overseas"] == {
            "nationality": "GBR",
            "passport_number": "*****5432",
        }
    audited = client.get(f"/api/v1/persons/{person['id']}", headers=world.headers["auditor"])
    assert audited.get_json()["overseas"]["passport_number"] is None
    # An editor sends the object back as shown, with another key changed: the number stays.
    edited = {**person["overseas"], "nationality": "IRL"}
    patched = client.patch(
        f"/api/v1/persons/{person['id']}",
        json={"expected_version": person["version"], "overseas": edited},
        headers=world.headers["worker_a"],
    )
    assert patched.status_code == 200
    assert _stored_extension(person["id"], "overseas") == {
        "nationality": "IRL",
        "passport_number": passport,
    }
    # A new number is a new number.
    renewed = client.patch(
        f"/api/v1/persons/{person['id']}",
        json={
            "expected_version": patched.get_json()["version"],
            "overseas": {**edited, "passport_number": "E11112222"},
        },
        headers=world.headers["worker_a"],
    )
    assert renewed.status_code == 200
    assert _stored_extension(person["id"], "overseas")["passport_number"] == "E11112222"
