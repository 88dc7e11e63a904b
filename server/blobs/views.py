"""Photo endpoints: content-addressed upload and download, resumable uploads, missing photos."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from server.auth.guard import require
from server.auth.principal import current_principal
from server.blobs import service
from server.blobs.schemas import (
    BlobSchema,
    ChunkResultSchema,
    MissingPageSchema,
    MissingQuerySchema,
    UploadSchema,
    UploadStartSchema,
    load_sha256,
    parse_content_range,
)

bp = Blueprint("blobs", __name__, url_prefix="/api/v1")

# A photo never changes under its name, but who may read it can, so caches stay private.
CACHE_SECONDS = 7 * 24 * 3600


@bp.before_request
def _photo_body_limit() -> None:
    """Photo bodies are bounded by the blob limits (checked in the service), not the JSON one."""
    config = current_app.config
    request.max_content_length = max(config["BLOB_MAX_BYTES"], config["BLOB_CHUNK_MAX_BYTES"])


@bp.get("/blobs/missing")
@require()
def missing() -> dict[str, Any]:
    """Photos referenced by records in the caller's scope whose bytes have not arrived."""
    query = MissingQuerySchema().load(request.args)
    page = service.missing_photos(current_principal(), **query)
    result: dict[str, Any] = MissingPageSchema().dump(page)
    return result


@bp.put("/blobs/<sha256>")
@require()
def put_blob(sha256: str) -> tuple[dict[str, Any], int]:
    """Upload a whole photo as the raw body; 201 when new, 200 when already stored."""
    stored = service.upload_blob(
        current_principal(),
        load_sha256(sha256),
        request.mimetype,
        request.stream,
        request.content_length,
    )
    return BlobSchema().dump(stored.blob), 201 if stored.created else 200


@bp.get("/blobs/<sha256>")
@require()
def get_blob(sha256: str) -> Response:
    """The photo's bytes (HEAD: whether it is stored and visible), if the caller may see it."""
    blob = service.visible_blob(current_principal(), load_sha256(sha256))
    if request.method == "HEAD":
        response = current_app.response_class(status=200, mimetype=blob["content_type"])
        response.content_length = blob["size"]
        response.accept_ranges = "bytes"
        response.set_etag(blob["sha256"])
    else:
        response = send_file(
            service.open_blob(blob["sha256"]),
            mimetype=blob["content_type"],
            etag=blob["sha256"],
            conditional=False,
            max_age=CACHE_SECONDS,
        )
        # send_file cannot tell a stream's length, and without it Range is ignored (200, whole).
        response.content_length = blob["size"]
        try:
            response.make_conditional(request, accept_ranges=True, complete_length=blob["size"])
        except RequestedRangeNotSatisfiable:
            response.close()
            raise
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.immutable = True
    return response


@bp.post("/blobs/<sha256>/uploads")
@require()
def start_upload(sha256: str) -> tuple[dict[str, Any], int]:
    """Open a resumable upload of a large photo."""
    sha = load_sha256(sha256)
    data = UploadStartSchema().load(request.get_json(silent=True) or {})
    upload = service.start_upload(current_principal(), sha, data["size"], data["content_type"])
    return UploadSchema().dump(upload), 201


@bp.put("/blob-uploads/<uuid:upload_id>")
@require()
def put_chunk(upload_id: uuid.UUID) -> tuple[Response, int]:
    """Send one chunk (`Content-Range: bytes start-end/total`); the last one stores the photo."""
    result = service.put_chunk(
        current_principal(),
        upload_id,
        parse_content_range(request.headers.get("Content-Range")),
        request.stream,
        request.content_length,
    )
    response = jsonify(ChunkResultSchema().dump(result))
    response.headers["Upload-Offset"] = str(result.received)
    return response, 201 if result.created else 200


@bp.get("/blob-uploads/<uuid:upload_id>")
@require()
def upload_status(upload_id: uuid.UUID) -> Response:
    """Where an upload stands (also as the `Upload-Offset` header, for HEAD)."""
    upload = service.upload_status(current_principal(), upload_id)
    response = jsonify(UploadSchema().dump(upload))
    response.headers["Upload-Offset"] = str(upload["received"])
    response.cache_control.no_store = True
    return response
