"""Whole-photo uploads: content-addressed, idempotent, hash verified, typed and size-limited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.auth.models import Role
from server.blobs.models import Blob
from server.blobs.storage import FilesystemStore
from server.extensions import db
from tests.factories import auth_headers, jpeg_bytes, make_user, png_bytes, sha256_hex


@pytest.fixture
def headers(app: Flask) -> dict[str, str]:
    return auth_headers(make_user(Role.WORKER))


def _put(client: FlaskClient, headers: dict[str, str], content: bytes, **kwargs: Any) -> Any:
    name = kwargs.pop("name", sha256_hex(content))
    content_type = kwargs.pop("content_type", "image/jpeg")
    return client.put(
        f"/api/v1/blobs/{name}", data=content, content_type=content_type, headers=headers
    )


def _store(app: Flask) -> FilesystemStore:
    return FilesystemStore(app.config["BLOB_DIR"])


def test_a_new_photo_is_stored_under_its_hash(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes()
    response = _put(client, headers, content)
    assert response.status_code == 201
    assert response.get_json()["sha256"] == sha256_hex(content)
    assert response.get_json()["size"] == len(content)
    assert _store(app).path(sha256_hex(content)).read_bytes() == content


def test_uploading_the_same_photo_again_answers_200_and_rewrites_nothing(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes()
    _put(client, headers, content)
    before = _store(app).path(sha256_hex(content)).stat()
    response = _put(client, headers, content)
    assert response.status_code == 200
    after = _store(app).path(sha256_hex(content)).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert db.session.scalar(select(func.count()).select_from(Blob)) == 1


def test_bytes_that_do_not_match_the_hash_are_refused_and_nothing_is_kept(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    claimed = sha256_hex(b"another photo")
    response = _put(client, headers, jpeg_bytes(), name=claimed)
    assert response.status_code == 422
    assert response.get_json()["code"] == "hash_mismatch"
    assert not _store(app).path(claimed).exists()
    assert list((Path(app.config["BLOB_DIR"]) / "tmp").iterdir()) == []
    assert db.session.get(Blob, claimed) is None


def test_resending_garbage_under_a_stored_hash_is_still_a_mismatch(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes()
    _put(client, headers, content)
    response = _put(client, headers, jpeg_bytes(), name=sha256_hex(content))
    assert response.status_code == 422
    assert response.get_json()["code"] == "hash_mismatch"


def test_a_type_outside_the_allowed_list_is_415(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    content = b"%PDF-1.7\n" + bytes(100)
    response = _put(client, headers, content, content_type="application/pdf")
    assert response.status_code == 415
    assert db.session.get(Blob, sha256_hex(content)) is None


def test_bytes_that_are_not_the_declared_image_type_are_415(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    content = jpeg_bytes()
    response = _put(client, headers, content, content_type="image/png")
    assert response.status_code == 415
    assert not _store(app).has(sha256_hex(content))
    assert db.session.get(Blob, sha256_hex(content)) is None


def test_a_png_declared_as_png_is_accepted(client: FlaskClient, headers: dict[str, str]) -> None:
    response = _put(client, headers, png_bytes(), content_type="image/png")
    assert response.status_code == 201
    assert response.get_json()["content_type"] == "image/png"


def test_a_photo_over_the_size_limit_is_413(
    app: Flask,
    client: FlaskClient,
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "BLOB_MAX_BYTES", 1024)
    content = jpeg_bytes(1025)
    response = _put(client, headers, content)
    assert response.status_code == 413
    assert db.session.get(Blob, sha256_hex(content)) is None
    assert _put(client, headers, jpeg_bytes(1024)).status_code == 201


def test_a_photo_over_the_json_body_limit_but_under_the_photo_limit_is_accepted(
    app: Flask, client: FlaskClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    assert _put(client, headers, jpeg_bytes(4096)).status_code == 201


def test_a_malformed_hash_is_422(client: FlaskClient, headers: dict[str, str]) -> None:
    content = jpeg_bytes()
    response = _put(client, headers, content, name=sha256_hex(content).upper())
    assert response.status_code == 422
    assert "sha256" in response.get_json()["errors"]


def test_uploading_needs_a_signed_in_user(client: FlaskClient) -> None:
    content = jpeg_bytes()
    assert _put(client, {}, content).status_code == 401
