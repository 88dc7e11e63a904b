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
from tests.test_syncapi_push_pull import incident_op, push, resolve


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


def _visit(
    client: FlaskClient, headers: dict[str, str], person_id: str, photos: list[str]
) -> dict[str, Any]:
    body = {
        "person_id": person_id,
        "visited_at": "2026-11-21T10:00:00+08:00",
        "form": "in_person",
        "photo_sha256": photos,
    }
    response = client.post("/api/v1/visits", json=body, headers=headers)
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
    visit = _visit(client, worker, person["id"], [name])
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


# --- a hash alone opens nothing -----------------------------------------------------------------


def _grid_a_photo(client: FlaskClient, world: RegistryWorld) -> tuple[bytes, str]:
    """A photo worker A uploaded and referenced from an incident of grid A."""
    content = jpeg_bytes()
    _upload(client, world.headers["worker_a"], content)
    _incident(client, world.headers["worker_a"], IN_A, [sha256_hex(content)])
    return content, sha256_hex(content)


def _answers_as_absent(client: FlaskClient, headers: dict[str, str], name: str) -> bool:
    """GET and HEAD of `name` answer exactly as for a photo that was never stored."""
    hidden = client.get(f"/api/v1/blobs/{name}", headers=headers, buffered=True)
    absent = client.get(f"/api/v1/blobs/{sha256_hex(jpeg_bytes())}", headers=headers)
    same_body = {k: v for k, v in hidden.get_json().items() if k != "request_id"} == {
        k: v for k, v in absent.get_json().items() if k != "request_id"
    }
    return (
        hidden.status_code == absent.status_code == 404
        and same_body
        and (_head(client, headers, name) == 404)
    )


def test_a_web_incident_of_another_grid_naming_a_photos_hash_does_not_open_it(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _, name = _grid_a_photo(client, world)
    outsider = world.headers["worker_b"]
    _incident(client, outsider, IN_B, [name])
    assert _answers_as_absent(client, outsider, name)
    assert _answers_as_absent(client, world.headers["dispatcher_b"], name)


def test_a_pushed_incident_of_another_grid_naming_a_photos_hash_does_not_open_it(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _, name = _grid_a_photo(client, world)
    outsider = world.headers["worker_b"]
    (result,) = push(client, outsider, incident_op(IN_B, photo_sha256=[name]))
    assert result["status"] == "applied", result
    assert _answers_as_absent(client, outsider, name)


def test_a_visit_of_another_grid_naming_a_photos_hash_does_not_open_it(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _, name = _grid_a_photo(client, world)
    outsider = world.headers["worker_b"]
    person = create_record(client, outsider, "persons", IN_B)
    _visit(client, outsider, person["id"], [name])
    assert _answers_as_absent(client, outsider, name)


def test_naming_a_hash_before_its_photo_arrives_does_not_open_it_later(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes()
    name = sha256_hex(content)
    outsider = world.headers["worker_b"]
    _incident(client, outsider, IN_B, [name])
    _upload(client, world.headers["worker_a"], content)
    _incident(client, world.headers["worker_a"], IN_A, [name])
    assert _answers_as_absent(client, outsider, name)


def test_a_photo_named_by_hash_from_another_grid_stays_missing_there(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _, name = _grid_a_photo(client, world)
    outsider = world.headers["worker_b"]
    incident = _incident(client, outsider, IN_B, [name])
    # Listed exactly as a photo that never arrived: the list says nothing about what is stored.
    assert _missing(client, outsider) == {
        name: [{"record_type": "incident", "record_id": incident["id"]}]
    }
    assert _missing(client, world.headers["worker_a"]) == {}


def test_whoever_uploads_the_bytes_themselves_may_read_the_photo(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content, name = _grid_a_photo(client, world)
    outsider = world.headers["worker_b"]
    incident = _incident(client, outsider, IN_B, [name])
    assert _missing(client, outsider) == {
        name: [{"record_type": "incident", "record_id": incident["id"]}]
    }
    # Holding the bytes is the proof; the answer does not say someone else stored them first.
    response = client.put(
        f"/api/v1/blobs/{name}", data=content, content_type="image/jpeg", headers=outsider
    )
    assert response.status_code == 201
    assert _head(client, outsider, name) == 200
    assert _head(client, world.headers["dispatcher_b"], name) == 200
    assert _missing(client, outsider) == {}


def test_uploading_a_photo_one_uploaded_before_answers_200(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content, name = _grid_a_photo(client, world)
    response = client.put(
        f"/api/v1/blobs/{name}",
        data=content,
        content_type="image/jpeg",
        headers=world.headers["worker_a"],
    )
    assert response.status_code == 200


# --- who may read through their scope -----------------------------------------------------------


def test_the_uploader_may_reference_a_photo_before_it_arrives(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes()
    name = sha256_hex(content)
    worker = world.headers["worker_a"]
    (result,) = push(client, worker, incident_op(IN_A, photo_sha256=[name]))
    assert result["status"] == "applied", result
    assert _head(client, world.headers["dispatcher_a"], name) == 404
    _upload(client, worker, content)
    response = client.get(
        f"/api/v1/blobs/{name}", headers=world.headers["dispatcher_a"], buffered=True
    )
    assert (response.status_code, response.get_data()) == (200, content)
    assert _missing(client, world.headers["dispatcher_a"]) == {}


def test_an_admin_reads_a_photo_a_record_references(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content, name = _grid_a_photo(client, world)
    response = client.get(f"/api/v1/blobs/{name}", headers=world.headers["admin"], buffered=True)
    assert (response.status_code, response.get_data()) == (200, content)


def test_a_dispatcher_over_another_town_cannot_read_a_grid_a_photo(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _, name = _grid_a_photo(client, world)
    assert _answers_as_absent(client, world.headers["dispatcher_b"], name)


def test_a_colleague_editing_the_record_keeps_its_photo_readable(
    client: FlaskClient, world: RegistryWorld
) -> None:
    _, name = _grid_a_photo(client, world)
    incident = _incident(client, world.headers["worker_a"], IN_A, [])
    edited = client.patch(
        f"/api/v1/incidents/{incident['id']}",
        json={"expected_version": 1, "title": "已处理", "photo_sha256": [name]},
        headers=world.headers["dispatcher_a"],
    )
    assert edited.status_code == 200, edited.get_json()
    # The dispatcher copied a hash they could read; the first record still vouches for it.
    assert _head(client, world.headers["dispatcher_a"], name) == 200
    assert _missing(client, world.headers["dispatcher_a"]) == {}


# --- byte ranges ---------------------------------------------------------------------------------


def test_a_range_request_gets_206_with_only_those_bytes(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes(5000)
    name = sha256_hex(content)
    worker = world.headers["worker_a"]
    _upload(client, worker, content)
    response = client.get(
        f"/api/v1/blobs/{name}", headers={**worker, "Range": "bytes=0-9"}, buffered=True
    )
    assert response.status_code == 206
    assert response.get_data() == content[:10]
    assert response.headers["Content-Range"] == f"bytes 0-9/{len(content)}"


def test_a_download_resumes_from_an_offset_to_the_end(
    client: FlaskClient, world: RegistryWorld
) -> None:
    content = jpeg_bytes(5000)
    name = sha256_hex(content)
    worker = world.headers["worker_a"]
    _upload(client, worker, content)
    response = client.get(
        f"/api/v1/blobs/{name}", headers={**worker, "Range": "bytes=4000-"}, buffered=True
    )
    assert (response.status_code, response.get_data()) == (206, content[4000:])


def test_a_range_past_the_end_is_416(client: FlaskClient, world: RegistryWorld) -> None:
    content = jpeg_bytes(5000)
    name = sha256_hex(content)
    worker = world.headers["worker_a"]
    _upload(client, worker, content)
    response = client.get(
        f"/api/v1/blobs/{name}", headers={**worker, "Range": "bytes=9000-9999"}, buffered=True
    )
    assert response.status_code == 416
    # The photo's length, so a resuming phone knows where it ends (RFC 9110 §15.5.17).
    assert response.headers["Content-Range"] == "bytes */5000"
    assert response.mimetype == "application/problem+json"


def test_a_whole_download_advertises_ranges(client: FlaskClient, world: RegistryWorld) -> None:
    content = jpeg_bytes()
    worker = world.headers["worker_a"]
    _upload(client, worker, content)
    response = client.get(f"/api/v1/blobs/{sha256_hex(content)}", headers=worker, buffered=True)
    assert response.status_code == 200
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(content))


def test_a_losing_photo_list_taken_by_the_dispatcher_stays_readable(
    client: FlaskClient, world: RegistryWorld
) -> None:
    # The resolution is the dispatcher's write, but the photo references in the phone's losing
    # list are the phone user's: the photo they uploaded opens for the record's readers.
    from tests.factories import auth_headers
    from tests.test_syncapi_conflicts import record_op

    worker = world.headers["worker_a"]
    incident = incident_op(IN_A, photo_sha256=[])
    assert push(client, worker, incident)[0]["status"] == "applied"
    first, second = jpeg_bytes(), jpeg_bytes()
    _upload(client, worker, second)
    early = record_op("incident", incident["record_id"], 1, photo_sha256=[sha256_hex(second)])
    late = record_op("incident", incident["record_id"], 1, photo_sha256=[sha256_hex(first)])
    assert push(client, worker, late)[0]["status"] == "applied"
    early["stamp"] = "000000000000001-00000-phone"  # edited offline long before
    (lost,) = push(client, auth_headers(world.users["worker_a"], "phone-2"), early)
    assert lost["status"] == "conflict", lost
    resolved = resolve(
        client, world.headers["dispatcher_a"], lost["conflict_ids"][0], {"action": "take"}
    )
    assert resolved.status_code == 200, resolved.get_json()
    assert _head(client, world.headers["dispatcher_a"], sha256_hex(second)) == 200
    assert sha256_hex(second) not in _missing(client, world.headers["dispatcher_a"])
