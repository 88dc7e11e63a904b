"""Photo use cases: whole and chunked uploads, scoped reads, and the photos still expected.

A photo is readable by a caller who holds it (uploaded its bytes themselves), or when a live
record in their scope references it and the user who put that hash into the record holds it too.
A hash alone therefore opens nothing: a reference written by someone who never uploaded the bytes
grants no one anything (`photo_links`, filled by a trigger on every write path, says who wrote
each reference). Anything unreadable answers exactly as a missing photo does, on GET, HEAD and
`missing` alike (no existence oracle). Every upload hashes the bytes it receives, even for a
photo already stored, and its status says whether *this caller* had uploaded it before, for the
same reason.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, BinaryIO

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    any_,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert

from server.auth.principal import Principal
from server.blobs import media
from server.blobs.errors import HashMismatch, UploadOffsetMismatch
from server.blobs.models import Blob, BlobHolder, BlobUpload, PhotoLink
from server.blobs.storage import BlobStore, ContentMismatch, FilesystemStore
from server.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from server.extensions import db
from server.registry.models import Incident, Visit
from server.registry.services.records import Caller, caller_for, visible
from server.transaction import transaction

READ_SIZE = 64 * 1024
NOT_FOUND_DETAIL = "No such photo."
UPLOAD_NOT_FOUND_DETAIL = "No such upload (finished, expired, or not yours)."
# The record types whose rows carry a `photo_sha256` list, as phones name them.
PHOTO_TABLES: dict[str, Table] = {
    "incident": Incident.__table__,
    "visit": Visit.__table__,
}


@dataclass(frozen=True)
class Stored:
    """An upload's outcome: the stored photo and whether this request stored it."""

    blob: dict[str, Any]
    created: bool


@dataclass(frozen=True)
class ChunkResult:
    """Where an upload stands after a chunk; `blob` is set once the last chunk stored it."""

    upload_id: uuid.UUID
    size: int
    received: int
    blob: dict[str, Any] | None = None
    created: bool = False

    @property
    def complete(self) -> bool:
        """True once every byte has arrived and the photo is stored."""
        return self.blob is not None


def blob_store() -> BlobStore:
    """The configured store: `app.extensions["blob_store"]` if set, else the filesystem."""
    plugged: BlobStore | None = current_app.extensions.get("blob_store")
    return plugged or FilesystemStore(current_app.config["BLOB_DIR"])


def _blob_view(blob: Blob) -> dict[str, Any]:
    return {
        "sha256": blob.sha256,
        "size": blob.size,
        "content_type": blob.content_type,
        "created_at": blob.created_at,
    }


def _upload_view(upload: BlobUpload) -> dict[str, Any]:
    return {
        "upload_id": upload.id,
        "sha256": upload.sha256,
        "size": upload.size,
        "content_type": upload.content_type,
        "received": upload.received,
        "chunk_max": chunk_limit(),
        "expires_at": upload.expires_at,
    }


def _check_declared(content_type: str) -> None:
    allowed = current_app.config["BLOB_ALLOWED_TYPES"]
    if content_type not in allowed:
        raise UnsupportedMediaType(f"Photos must be one of: {', '.join(allowed)}.")


def _check_size(size: int | None, limit: int, what: str) -> None:
    if size is not None and size > limit:
        raise PayloadTooLarge(f"{what} may be at most {limit} bytes.", limit=limit)


def _wrong_magic(content_type: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(f"The content is not a {content_type} image.")


def _body(stream: IO[bytes], limit: int, content_type: str | None) -> Iterator[bytes]:
    """Yield the request body, refusing it past `limit` bytes or (when `content_type` is
    given) when its first bytes are not that type."""
    head = b""
    length = 0
    while chunk := stream.read(READ_SIZE):
        length += len(chunk)
        if length > limit:
            raise PayloadTooLarge(f"The body may be at most {limit} bytes.", limit=limit)
        if content_type is not None and len(head) < media.HEAD_BYTES:
            head += chunk[: media.HEAD_BYTES - len(head)]
            if len(head) == media.HEAD_BYTES and not media.matches(content_type, head):
                raise _wrong_magic(content_type)
        yield chunk
    short = len(head) < media.HEAD_BYTES
    if content_type is not None and short and not media.matches(content_type, head):
        raise _wrong_magic(content_type)


def _hold(sha256: str, user_id: uuid.UUID) -> bool:
    """Record that the user uploaded the photo's bytes; True unless they had before."""
    inserted = db.session.scalar(
        insert(BlobHolder)
        .values(sha256=sha256, user_id=user_id)
        .on_conflict_do_nothing(index_elements=["sha256", "user_id"])
        .returning(BlobHolder.user_id)
    )
    return inserted is not None


def _insert_blob(sha256: str, size: int, content_type: str, user_id: uuid.UUID) -> Stored:
    """Record a stored photo and its uploader as a holder; a concurrent upload of the same bytes
    may have won the insert. `created` is from the caller's side: they had not uploaded it."""
    db.session.execute(
        insert(Blob)
        .values(sha256=sha256, size=size, content_type=content_type, uploaded_by=user_id)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    blob = db.session.get(Blob, sha256, populate_existing=True)
    assert blob is not None
    return Stored(_blob_view(blob), created=_hold(sha256, user_id))


def upload_blob(
    principal: Principal,
    sha256: str,
    content_type: str,
    stream: IO[bytes],
    content_length: int | None,
) -> Stored:
    """Store a whole photo sent in one body; the same bytes again change nothing."""
    _check_declared(content_type)
    limit = current_app.config["BLOB_MAX_BYTES"]
    _check_size(content_length, limit, "A photo")
    store = blob_store()
    body = _body(stream, limit, content_type)
    # The body streams outside any transaction: a slow phone must not hold a connection.
    with transaction():
        row = db.session.get(Blob, sha256)
        existing = _blob_view(row) if row is not None and store.has(sha256) else None
    if existing is not None:
        digest = hashlib.sha256()
        for chunk in body:
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise HashMismatch()
        # The bytes are proven: the caller holds the photo now, like its first uploader.
        with transaction():
            return Stored(existing, created=_hold(sha256, principal.user_id))
    try:
        size = store.write(sha256, body)
    except ContentMismatch as exc:
        raise HashMismatch() from exc
    with transaction():
        return _insert_blob(sha256, size, content_type, principal.user_id)


def credit_reference(
    record_type: str, record_id: uuid.UUID, hashes: Iterable[str], writer: uuid.UUID
) -> None:
    """Record that `writer` put these hashes into the record, in the caller's transaction.

    The trigger credits a write's `updated_by`; a conflict resolution that writes a phone's
    losing photo list is the resolver's write, but the references are the phone user's.
    """
    rows = [
        {"record_type": record_type, "record_id": record_id, "sha256": h, "linked_by": writer}
        for h in sorted(set(hashes))
    ]
    if rows:
        db.session.execute(insert(PhotoLink).values(rows).on_conflict_do_nothing())


def _held_by(user_id: uuid.UUID) -> Select[tuple[str]]:
    """Hashes of the photos the user uploaded."""
    return select(BlobHolder.sha256).where(BlobHolder.user_id == user_id)


def _vouched_references(caller: Caller, record_type: str, table: Table) -> Select[tuple[str]]:
    """Hashes that live records of one type in the caller's scope reference, where the user who
    put the hash into the record holds the photo."""
    return (
        select(PhotoLink.sha256)
        .join(table, PhotoLink.record_id == table.c.id)
        .join(
            BlobHolder,
            (BlobHolder.sha256 == PhotoLink.sha256) & (BlobHolder.user_id == PhotoLink.linked_by),
        )
        .where(
            PhotoLink.record_type == record_type,
            PhotoLink.sha256 == any_(table.c.photo_sha256),
            visible(table, caller),
        )
    )


def _readable(principal: Principal, sha256: str) -> ColumnElement[bool]:
    """The caller holds the photo, or a vouched reference in their scope names it."""
    caller = caller_for(principal)
    wanted = cast([sha256], ARRAY(String(64)))
    return or_(
        exists(_held_by(principal.user_id).where(BlobHolder.sha256 == sha256)),
        *(
            exists(
                _vouched_references(caller, record_type, table).where(
                    PhotoLink.sha256 == sha256, table.c.photo_sha256.contains(wanted)
                )
            )
            for record_type, table in PHOTO_TABLES.items()
        ),
    )


def visible_blob(principal: Principal, sha256: str) -> dict[str, Any]:
    """The stored photo if the caller may read it (see the module's rule); NotFound otherwise,
    exactly as for a photo that does not exist."""
    blob = db.session.scalar(
        select(Blob).where(Blob.sha256 == sha256, _readable(principal, sha256))
    )
    found = None if blob is None else _blob_view(blob)
    db.session.commit()  # end the read-only transaction before the bytes are streamed
    if found is None or not blob_store().has(sha256):
        raise NotFound(NOT_FOUND_DETAIL)
    return found


def open_blob(sha256: str) -> BinaryIO:
    """A reader over a stored photo's bytes (the caller closes it)."""
    return blob_store().open(sha256)


def missing_photos(
    principal: Principal, *, after: str | None = None, limit: int = 500
) -> dict[str, Any]:
    """Photos referenced by live records in the caller's scope that the caller cannot read yet
    (not stored, or only referenced by users who never uploaded them: the same 404 either way),
    each with the records referencing it; one keyset page by hash."""
    caller = caller_for(principal)
    readable = union(
        _held_by(principal.user_id),
        *(_vouched_references(caller, rt, table) for rt, table in PHOTO_TABLES.items()),
    ).subquery("readable")
    references = union_all(
        *(
            select(
                func.unnest(table.c.photo_sha256).label("sha256"),
                literal(record_type).label("record_type"),
                table.c.id.label("record_id"),
            ).where(visible(table, caller))
            for record_type, table in PHOTO_TABLES.items()
        )
    ).subquery("refs")
    query = (
        select(
            references.c.sha256,
            func.array_agg(
                func.jsonb_build_object(
                    "record_type", references.c.record_type, "record_id", references.c.record_id
                )
            ).label("records"),
        )
        .select_from(references.outerjoin(readable, readable.c.sha256 == references.c.sha256))
        .where(readable.c.sha256.is_(None))
        .group_by(references.c.sha256)
        .order_by(references.c.sha256)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(references.c.sha256 > after)
    rows = db.session.execute(query).all()
    db.session.commit()
    more = len(rows) > limit
    items = [
        {"sha256": row.sha256, "records": sorted(row.records, key=_record_order)}
        for row in rows[:limit]
    ]
    return {"items": items, "next": items[-1]["sha256"] if more else None}


def _record_order(ref: dict[str, str]) -> tuple[str, str]:
    return ref["record_type"], ref["record_id"]


# --- resumable uploads --------------------------------------------------------------------------


def _purge_expired_uploads(store: BlobStore) -> None:
    expired = db.session.scalars(
        delete(BlobUpload).where(BlobUpload.expires_at <= func.now()).returning(BlobUpload.id)
    ).all()
    for upload_id in expired:
        store.discard_part(upload_id)


def start_upload(principal: Principal, sha256: str, size: int, content_type: str) -> dict[str, Any]:
    """Open a resumable upload of one photo of `size` bytes; expired uploads are swept."""
    _check_declared(content_type)
    _check_size(size, current_app.config["BLOB_MAX_BYTES"], "A photo")
    store = blob_store()
    with transaction():
        _purge_expired_uploads(store)
        upload = BlobUpload(
            id=uuid.uuid4(),
            sha256=sha256,
            size=size,
            content_type=content_type,
            received=0,
            started_by=principal.user_id,
            device_id=principal.device_id,
            expires_at=datetime.now(UTC) + timedelta(seconds=current_app.config["BLOB_UPLOAD_TTL"]),
        )
        db.session.add(upload)
        db.session.flush()
        return _upload_view(upload)


def _own_upload(principal: Principal, upload_id: uuid.UUID, *, lock: bool) -> BlobUpload:
    query = select(BlobUpload).where(
        BlobUpload.id == upload_id,
        BlobUpload.started_by == principal.user_id,
        BlobUpload.expires_at > func.now(),
    )
    upload = db.session.scalar(query.with_for_update() if lock else query)
    if upload is None:
        raise NotFound(UPLOAD_NOT_FOUND_DETAIL)
    return upload


def upload_status(principal: Principal, upload_id: uuid.UUID) -> dict[str, Any]:
    """The caller's upload and how many bytes of it are durable (where to resume)."""
    with transaction():
        return _upload_view(_own_upload(principal, upload_id, lock=False))


def chunk_limit() -> int:
    """The largest chunk a resumable upload accepts."""
    limit: int = current_app.config["BLOB_CHUNK_MAX_BYTES"]
    return limit


def _check_range(upload: BlobUpload, start: int, end: int, total: int) -> None:
    if total != upload.size:
        raise InvalidInput(
            {"Content-Range": [f"The total must be the upload's size, {upload.size}."]}
        )
    if end >= upload.size:
        raise InvalidInput({"Content-Range": ["The chunk ends past the upload's size."]})
    _check_size(end - start + 1, chunk_limit(), "A chunk")


def put_chunk(
    principal: Principal,
    upload_id: uuid.UUID,
    byte_range: tuple[int, int, int],
    stream: IO[bytes],
    content_length: int | None,
) -> ChunkResult:
    """Append bytes `start..end` (inclusive) of the upload; a chunk already received is
    accepted again and changes nothing; the last chunk verifies the hash and stores the photo."""
    start, end, total = byte_range
    store = blob_store()
    failure: Exception | None = None
    stored: Stored | None = None
    with transaction():
        upload = _own_upload(principal, upload_id, lock=True)
        _check_range(upload, start, end, total)
        if end < upload.received:
            return ChunkResult(upload.id, upload.size, upload.received)
        if start != upload.received:
            raise UploadOffsetMismatch(
                f"Send the bytes from offset {upload.received}.",
                offset=upload.received,
                headers={"Upload-Offset": str(upload.received)},
            )
        length = end - start + 1
        if content_length is not None and content_length != length:
            raise InvalidInput(
                {"Content-Range": [f"The range names {length} bytes; the body has another size."]}
            )
        received = store.append_part(upload.id, start, _body(stream, length, None))
        if received != end + 1:
            # The tail past `received` is cut off by the next append.
            raise InvalidInput(
                {"Content-Range": [f"The range names {length} bytes; the body has another size."]}
            )
        upload.received = received
        if received < upload.size:
            return ChunkResult(upload.id, upload.size, received)
        failure = _finish(store, upload)
        if failure is None:
            stored = _insert_blob(
                upload.sha256, upload.size, upload.content_type, principal.user_id
            )
        db.session.delete(upload)
    if failure is not None:
        raise failure
    assert stored is not None
    size = stored.blob["size"]
    return ChunkResult(upload_id, size, size, stored.blob, stored.created)


def _finish(store: BlobStore, upload: BlobUpload) -> Exception | None:
    """Verify the assembled part and move it into place; on failure it is discarded and the
    error to answer is returned (the upload row is deleted either way)."""
    head = store.part_head(upload.id, media.HEAD_BYTES)
    if not media.matches(upload.content_type, head):
        store.discard_part(upload.id)
        return _wrong_magic(upload.content_type)
    try:
        store.commit_part(upload.id, upload.sha256)
    except ContentMismatch:
        return HashMismatch("The assembled upload does not match its SHA-256; start again.")
    return None
