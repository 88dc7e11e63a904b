"""photo access: who holds a photo's bytes, and who put each hash into a record

A hash alone must never open another grid's photo. `blob_holders` lists every user who uploaded
a photo's bytes (the proof of holding them); `photo_links` records, for every hash that enters an
incident's or a visit's `photo_sha256`, the user who wrote it (`updated_by` of that write). A
trigger fills `photo_links` so every write path (web, sync push, conflict resolution, demo data)
is covered. A reference lets the record's readers see the photo only when its writer is a holder.

Existing data: each stored photo's first uploader becomes a holder; each existing reference is
linked to the record's creator and its last writer (who put it there is not known any more).

Revision ID: 0010_photo_access
Revises: 0009_settle_history
Create Date: 2026-11-27 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_photo_access"
down_revision = "0009_settle_history"
branch_labels = None
depends_on = None

PHOTO_TABLES = {"incidents": "incident", "visits": "visit"}

LINK_FUNCTION = r"""
CREATE FUNCTION photo_links_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A write by no known user links nothing, so it can never grant a read.
  IF NEW.updated_by IS NULL THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO photo_links (record_type, record_id, sha256, linked_by)
    SELECT DISTINCT TG_ARGV[0], NEW.id, s, NEW.updated_by
    FROM unnest(NEW.photo_sha256) AS s
    WHERE s IS NOT NULL
    ON CONFLICT DO NOTHING;
  ELSE
    INSERT INTO photo_links (record_type, record_id, sha256, linked_by)
    SELECT DISTINCT TG_ARGV[0], NEW.id, s, NEW.updated_by
    FROM unnest(NEW.photo_sha256) AS s
    WHERE s IS NOT NULL AND NOT (s = ANY (coalesce(OLD.photo_sha256, '{}')))
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "blob_holders",
        sa.Column(
            "sha256",
            sa.String(length=64),
            sa.ForeignKey("blobs.sha256", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.UUID(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "photo_links",
        sa.Column("record_type", sa.String(length=40), primary_key=True),
        sa.Column("record_id", sa.UUID(), primary_key=True),
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("linked_by", sa.UUID(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column(
            "linked_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("ix_photo_links_sha256_linked_by", "photo_links", ["sha256", "linked_by"])
    op.execute(
        "INSERT INTO blob_holders (sha256, user_id) "
        "SELECT sha256, uploaded_by FROM blobs WHERE uploaded_by IS NOT NULL"
    )
    op.execute(LINK_FUNCTION)
    for table, record_type in PHOTO_TABLES.items():
        # The table name is one of this module's constants, never input.
        backfill = (
            "INSERT INTO photo_links (record_type, record_id, sha256, linked_by) "  # noqa: S608
            "SELECT DISTINCT :record_type, t.id, s, w FROM " + table + " t, "
            "unnest(t.photo_sha256) AS s, unnest(ARRAY[t.created_by, t.updated_by]) AS w "
            "WHERE s IS NOT NULL AND w IS NOT NULL ON CONFLICT DO NOTHING"
        )
        op.execute(sa.text(backfill).bindparams(record_type=record_type))
        op.execute(
            f"CREATE TRIGGER photo_links_insert AFTER INSERT ON {table} FOR EACH ROW "
            f"WHEN (cardinality(NEW.photo_sha256) > 0) "
            f"EXECUTE FUNCTION photo_links_record('{record_type}')"
        )
        op.execute(
            f"CREATE TRIGGER photo_links_update AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN (NEW.photo_sha256 IS DISTINCT FROM OLD.photo_sha256) "
            f"EXECUTE FUNCTION photo_links_record('{record_type}')"
        )


def downgrade() -> None:
    for table in PHOTO_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS photo_links_update ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS photo_links_insert ON {table}")
    op.execute("DROP FUNCTION IF EXISTS photo_links_record()")
    op.drop_index("ix_photo_links_sha256_linked_by", table_name="photo_links")
    op.drop_table("photo_links")
    op.drop_table("blob_holders")
