"""Resumable uploads: chunks from the current offset, resume after a drop, hash verified last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.auth.models import Role
from server.blobs.models import Blob
from server.extensions import db
from tests.factories import auth_headers, jpeg_bytes, make_user, sha256_hex


@pytest.fixture
def headers(app: Flask) -> dict[str, str]:
    return auth_headers(make_user(Role.WORKER))


def _start(
    client: FlaskClient, headers: dict[str, str], name: str, size: int, kind: str = "image/jpeg"
) -> Any:
    return client.post(
        f"/api/v1/blobs/{name}/uploads",
        json={"size": size, "content_type": kind},
        headers=headers,
    )


def _chunk(
    client: FlaskClient,
    headers: dict[str, str],
    upload_id: str,
    content: bytes,
    start: int,
    end: int,
) -> Any:
    return client.put(
        f"/api/v1/blob-uploads/{upload_id}",
        data=content[start : end + 1],
        content_type="application/octet-stream",
        headers={**headers, "Content-Range": f"bytes {start}-{end}/{len(content)}"},
    )


def test_an_upload_starts_at_offset_zero_with_the_chunk_limit(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes(3000)
    response = _start(client, headers, sha256_hex(content), len(content))
    assert response.status_code == 201
    assert response.get_json()["received"] == 0
    assert response.get_json()["chunk_max"] == app.config["BLOB_CHUNK_MAX_BYTES"]


def test_an_upload_resumes_after_a_drop_from_the_offset_the_server_reports(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes(3000)
    upload_id = _start(client, headers, sha256_hex(content), 3000).get_json()["upload_id"]
    assert _chunk(client, headers, upload_id, content, 0, 999).get_json()["received"] == 1000
    assert _chunk(client, headers, upload_id, content, 1000, 1999).status_code == 200
    # The connection drops; the phone asks where to resume.
    head = client.head(f"/api/v1/blob-uploads/{upload_id}", headers=headers)
    assert head.headers["Upload-Offset"] == "2000"
    assert (
        client.get(f"/api/v1/blob-uploads/{upload_id}", headers=headers).get_json()["received"]
        == 2000
    )
    last = _chunk(client, headers, upload_id, content, 2000, 2999)
    assert last.status_code == 201
    assert last.get_json()["complete"] is True
    assert last.get_json()["blob"]["sha256"] == sha256_hex(content)
    photo = client.get(f"/api/v1/blobs/{sha256_hex(content)}", headers=headers, buffered=True)
    assert photo.get_data() == content


def test_a_chunk_received_already_is_accepted_again_and_changes_nothing(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes(3000)
    upload_id = _start(client, headers, sha256_hex(content), 3000).get_json()["upload_id"]
    _chunk(client, headers, upload_id, content, 0, 999)
    _chunk(client, headers, upload_id, content, 1000, 1999)
    again = _chunk(client, headers, upload_id, content, 0, 999)
    assert again.status_code == 200
    assert again.get_json()["received"] == 2000


def test_a_chunk_past_the_offset_is_409_with_the_offset(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes(3000)
    upload_id = _start(client, headers, sha256_hex(content), 3000).get_json()["upload_id"]
    _chunk(client, headers, upload_id, content, 0, 999)
    gap = _chunk(client, headers, upload_id, content, 2000, 2999)
    assert gap.status_code == 409
    assert gap.get_json()["code"] == "upload_offset_mismatch"
    assert gap.get_json()["offset"] == 1000
    assert gap.headers["Upload-Offset"] == "1000"


def test_assembled_bytes_that_do_not_match_are_discarded_with_the_upload(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes(2000)
    claimed = sha256_hex(jpeg_bytes(2000))
    upload_id = _start(client, headers, claimed, 2000).get_json()["upload_id"]
    _chunk(client, headers, upload_id, content, 0, 999)
    last = _chunk(client, headers, upload_id, content, 1000, 1999)
    assert last.status_code == 422
    assert last.get_json()["code"] == "hash_mismatch"
    assert client.get(f"/api/v1/blob-uploads/{upload_id}", headers=headers).status_code == 404
    assert db.session.get(Blob, claimed) is None
    assert not (Path(app.config["BLOB_DIR"]) / "parts" / f"{upload_id}.part").exists()


def test_a_body_shorter_than_its_range_is_422_and_the_offset_stays(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes(3000)
    upload_id = _start(client, headers, sha256_hex(content), 3000).get_json()["upload_id"]
    response = client.put(
        f"/api/v1/blob-uploads/{upload_id}",
        data=content[:500],
        content_type="application/octet-stream",
        headers={**headers, "Content-Range": "bytes 0-999/3000"},
    )
    assert response.status_code == 422
    status = client.get(f"/api/v1/blob-uploads/{upload_id}", headers=headers)
    assert status.get_json()["received"] == 0


def test_a_chunk_over_the_chunk_limit_is_413(
    app: Flask, client: FlaskClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "BLOB_CHUNK_MAX_BYTES", 1000)
    content = jpeg_bytes(3000)
    upload_id = _start(client, headers, sha256_hex(content), 3000).get_json()["upload_id"]
    assert _chunk(client, headers, upload_id, content, 0, 1000).status_code == 413


def test_an_upload_larger_than_the_photo_limit_is_refused_at_the_start(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    size = app.config["BLOB_MAX_BYTES"] + 1
    assert _start(client, headers, sha256_hex(b"x"), size).status_code == 413


def test_another_users_upload_is_not_found(client: FlaskClient, headers: dict[str, str]) -> None:
    content = jpeg_bytes(3000)
    upload_id = _start(client, headers, sha256_hex(content), 3000).get_json()["upload_id"]
    stranger = auth_headers(make_user(Role.WORKER))
    assert client.get(f"/api/v1/blob-uploads/{upload_id}", headers=stranger).status_code == 404
    assert _chunk(client, stranger, upload_id, content, 0, 999).status_code == 404
