"""Stored photos, and resumable uploads still in progress."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class Blob(db.Model):  # type: ignore[name-defined,misc]
    """A photo whose bytes are stored, named by their SHA-256 (records reference this name)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The first uploader (every uploader is a BlobHolder; that table decides who may read).
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)

    __table_args__ = (
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="ck_blobs_sha256"),
        CheckConstraint("size >= 0", name="ck_blobs_size"),
    )


class BlobHolder(db.Model):  # type: ignore[name-defined,misc]
    """A user who proved they hold a photo's bytes by uploading them (first or again)."""

    __tablename__ = "blob_holders"

    sha256: Mapped[str] = mapped_column(
        ForeignKey("blobs.sha256", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PhotoLink(db.Model):  # type: ignore[name-defined,misc]
    """Who put a hash into a record's `photo_sha256` (written by a trigger on every path).

    A reference lets the record's readers see the photo only when its writer holds the bytes.
    """

    __tablename__ = "photo_links"

    record_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    linked_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_photo_links_sha256_linked_by", "sha256", "linked_by"),)


class BlobUpload(db.Model):  # type: ignore[name-defined,misc]
    """A chunked upload of one photo: `received` bytes are durable in the store's part."""

    __tablename__ = "blob_uploads"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    received: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    started_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="ck_blob_uploads_sha256"),
        CheckConstraint("received >= 0 AND received <= size", name="ck_blob_uploads_received"),
    )
