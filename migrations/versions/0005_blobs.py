"""blobs: stored photos (content-addressed by SHA-256) and resumable uploads

Also GIN indexes on the photo lists of incidents and visits, so "which records reference this
photo" (read access) is an index lookup rather than a scan.

Revision ID: 0005_blobs
Revises: 0004_track_registry
Create Date: 2026-11-27 01:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005_blobs"
down_revision = "0004_track_registry"
branch_labels = None
depends_on = None

PHOTO_TABLES = ("incidents", "visits")


def upgrade():
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("uploaded_by", sa.UUID(), sa.ForeignKey("users.id"), nullable=True),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="ck_blobs_sha256"),
        sa.CheckConstraint("size >= 0", name="ck_blobs_size"),
    )
    op.create_index("ix_blobs_uploaded_by", "blobs", ["uploaded_by"])
    op.create_table(
        "blob_uploads",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("received", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("started_by", sa.UUID(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("device_id", sa.UUID(), sa.ForeignKey("devices.id"), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="ck_blob_uploads_sha256"),
        sa.CheckConstraint("received >= 0 AND received <= size", name="ck_blob_uploads_received"),
    )
    op.create_index("ix_blob_uploads_started_by", "blob_uploads", ["started_by"])
    op.create_index("ix_blob_uploads_expires_at", "blob_uploads", ["expires_at"])
    for table in PHOTO_TABLES:
        op.create_index(f"ix_{table}_photo_sha256", table, ["photo_sha256"], postgresql_using="gin")


def downgrade():
    for table in PHOTO_TABLES:
        op.drop_index(f"ix_{table}_photo_sha256", table_name=table)
    op.drop_table("blob_uploads")
    op.drop_table("blobs")
