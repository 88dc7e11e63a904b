"""Who may read a photo, and which photos the server still expects from a caller's scope."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.factories import (
    IN_A,
    IN_B,
    RegistryWorld,
    create_record,
    jpeg_bytes,
    make_registry_world,
    point,
    sha256_hex,
)


@pytest.fixture
def world(app: Any) -> RegistryWorld:
    return make_registry_world()


def _incident(
    client: FlaskClient, headers: dict[str, str], where: tuple[float, float], photos: list[str]
) -> dict[str, Any]:
    body = {
        "kind": "event",
        "category": "0101",
        "title": "暴露垃圾",
        "occurred_at": "2026-11-20T08:30:00+08:00",
        "urgency": "02",
        "point": point(where),
        "photo_sha256": photos,
    }
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def _upload(client: FlaskClient, headers: dict[str, str], content: bytes) -> None:
    response = client.put(
        f"/api/v1/blobs/{sha256_hex(content)}",
        data=content,
        content_type="image/jpeg",
        headers=headers,
    )
    assert response.status_code == 201


def _head(client: FlaskClient, headers: dict[str, str], name: str) -> int:
    return client.head(f"/api/v1/blobs/{name}", headers=headers).status_code


def _missing(client: FlaskClient, headers: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    response = client.get("/api/v1/blobs/missing", headers=headers)
    assert response.status_code == 200
    return {item["sha256"]: item["records"] for item in response.get_json()["items"]}


def test_a_photo_referenced_before_it_arrives_is_missing_until_uploaded(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    content = jpeg_bytes()
    incident = _incident(client, worker, IN_A, [sha256_hex(content)])
    assert _missing(client, worker) == {
        sha256_hex(content): [{"record_type": "incident", "record_id": incident["id"]}]
    }
    _upload(client, worker, content)
    assert _missing(client, worker) == {}


def test_a_photo_uploaded_before_its_record_is_never_missing(
    client: FlaskClient, world: RegistryWorld
) -> None:
    worker = world.headers["worker_a"]
    content = jpeg_bytes()
    _upload(client, worker, content)
    _incident(client, worker, IN_A, [sha256_hex(content)])
    assert _missing(client, worker) == {}


def test_a_visit_photo_is_expected_too(client: FlaskClient, world: RegistryWorld) -> None:
    worker = world.headers["worker_a"]
    person = create_record(client, worker, "persons", IN_A)
    name = sha256_hex(jpeg_bytes())
    visit = client.post(
        "/api/v1/visits",
        json={
            "person_id": person["id"],
            "visited_at": "2026-11-21T10:00:00+08:00",
            "form": "in_person",
            "photo_sha256": [name],
        },
        headers=worker,
    ).get_json()
    assert _missing(client, worker) == {name: [{"record_type": "visit", "record_id": visit["id"]}]}


def test_missing_photos_of_another_grid_are_not_listed(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _incident(client, world.headers["worker_b"], IN_B, [sha256_hex(jpeg_bytes())])
    assert _missing(client, world.headers["worker_a"]) == {}


def test_missing_photos_page_by_hash(client: FlaskClient, world: RegistryWorld) -> None:
    worker = world.headers["worker_a"]
    names = sorted(sha256_hex(jpeg_bytes()) for _ in range(3))
    _incident(client, worker, IN_A, names)
    first = client.get("/api/v1/blobs/missing?limit=2", headers=worker).get_json()
    assert [item["sha256"] for item in first["items"]] == names[:2]
    rest = client.get(
        f"/api/v1/blobs/missing?limit=2&after={first['next']}", headers=worker
    ).get_json()
    assert [item["sha256"] for item in rest["items"]] == names[2:]
    assert rest["next"] is None


def test_a_photo_referenced_only_outside_a_workers_grids_is_404_like_a_missing_one(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes()
    _upload(client, world.headers["worker_a"], content)
    _incident(client, world.headers["worker_a"], IN_A, [sha256_hex(content)])
    outsider = world.headers["worker_b"]
    hidden = client.get(f"/api/v1/blobs/{sha256_hex(content)}", headers=outsider, buffered=True)
    absent = client.get(f"/api/v1/blobs/{sha256_hex(jpeg_bytes())}", headers=outsider)
    assert hidden.status_code == absent.status_code == 404
    assert {k: v for k, v in hidden.get_json().items() if k != "request_id"} == {
        k: v for k, v in absent.get_json().items() if k != "request_id"
    }
    assert _head(client, outsider, sha256_hex(content)) == 404


def test_a_dispatcher_over_the_grid_reads_a_photo_its_records_reference(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes()
    _upload(client, world.headers["worker_a"], content)
    _incident(client, world.headers["worker_a"], IN_A, [sha256_hex(content)])
    response = client.get(
        f"/api/v1/blobs/{sha256_hex(content)}",
        headers=world.headers["dispatcher_a"],
        buffered=True,
    )
    assert response.status_code == 200
    assert response.get_data() == content
    assert response.mimetype == "image/jpeg"
    assert response.headers["ETag"] == f'"{sha256_hex(content)}"'


def test_the_uploader_sees_a_photo_no_record_references_yet(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes()
    _upload(client, world.headers["worker_a"], content)
    name = sha256_hex(content)
    assert _head(client, world.headers["worker_a"], name) == 200
    assert _head(client, world.headers["worker_b"], name) == 404


def test_a_photo_not_uploaded_yet_is_404_on_head(client: FlaskClient, world: RegistryWorld) -> None:
    name = sha256_hex(jpeg_bytes())
    _incident(client, world.headers["worker_a"], IN_A, [name])
    assert _head(client, world.headers["worker_a"], name) == 404


def test_a_photo_the_phone_already_holds_answers_304(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes()
    _upload(client, world.headers["worker_a"], content)
    name = sha256_hex(content)
    response = client.get(
        f"/api/v1/blobs/{name}",
        headers={**world.headers["worker_a"], "If-None-Match": f'"{name}"'},
        buffered=True,
    )
    assert response.status_code == 304
