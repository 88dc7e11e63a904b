"""What photo requests carry (hash, upload start, chunk range, paging) and what they answer."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, fields, validate

from server.errors import InvalidInput

SHA256_PATTERN = r"^[0-9a-f]{64}\Z"
SHA256 = validate.Regexp(SHA256_PATTERN, error="A photo is its lower-case hex SHA-256.")
MISSING_LIMIT_MAX = 1000
_CONTENT_RANGE = re.compile(r"^bytes ([0-9]{1,15})-([0-9]{1,15})/([0-9]{1,15})\Z")


class Sha256Schema(Schema):
    """The photo's name in the path: 64 lower-case hex characters."""

    sha256 = fields.String(required=True, validate=SHA256)


def load_sha256(value: str) -> str:
    """The path's SHA-256, or a 422 naming `sha256`."""
    loaded: dict[str, Any] = Sha256Schema().load({"sha256": value})
    sha256: str = loaded["sha256"]
    return sha256


class UploadStartSchema(Schema):
    """POST /blobs/{sha256}/uploads: the whole photo's size and media type."""

    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    content_type = fields.String(required=True, validate=validate.Length(min=1, max=100))


class MissingQuerySchema(Schema):
    """GET /blobs/missing: keyset paging by hash."""

    after = fields.String(validate=SHA256)
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=MISSING_LIMIT_MAX))


def parse_content_range(value: str | None) -> tuple[int, int, int]:
    """`bytes start-end/total` (end inclusive) as (start, end, total), or a 422."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        raise InvalidInput({"Content-Range": ["Send `Content-Range: bytes start-end/total`."]})
    start, end, total = (int(group) for group in match.groups())
    if start > end:
        raise InvalidInput({"Content-Range": ["The range's start is after its end."]})
    return start, end, total


class BlobSchema(Schema):
    """A stored photo."""

    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    created_at = fields.AwareDateTime()


class UploadSchema(Schema):
    """A resumable upload: `received` bytes are stored; resume from there."""

    upload_id = fields.UUID()
    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    received = fields.Integer()
    chunk_max = fields.Integer()
    expires_at = fields.AwareDateTime()


class ChunkResultSchema(Schema):
    """Where an upload stands after a chunk; `blob` once the last chunk stored the photo."""

    upload_id = fields.UUID()
    size = fields.Integer()
    received = fields.Integer()
    complete = fields.Boolean()
    blob = fields.Nested(BlobSchema, allow_none=True)


class RecordRefSchema(Schema):
    """A record that references a photo."""

    record_type = fields.String()
    record_id = fields.String()


class MissingPhotoSchema(Schema):
    """A photo referenced in the caller's scope whose bytes have not arrived."""

    sha256 = fields.String()
    records = fields.List(fields.Nested(RecordRefSchema))


class MissingPageSchema(Schema):
    """One page of missing photos; `next` is the `after` of the next page."""

    items = fields.List(fields.Nested(MissingPhotoSchema))
    next = fields.String(allow_none=True)
