"""sync gaps: each device's last pull position (for its backlog in sync health), and an index
for rejected ops still awaiting review

Revision ID: 0006_sync_gaps
Revises: 0005_blobs
Create Date: 2026-11-27 03:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006_sync_gaps"
down_revision = "0005_blobs"
branch_labels = None
depends_on = None


def upgrade():
    # xid8 has no SQLAlchemy type; the settled position of the cursor the device was last given.
    op.execute(
        "ALTER TABLE device_sync_state ADD COLUMN cursor_txid xid8, ADD COLUMN cursor_seq bigint"
    )
    op.create_index(
        "ix_rejected_ops_unreviewed",
        "rejected_ops",
        ["device_id"],
        postgresql_where=sa.text("reviewed_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_rejected_ops_unreviewed", table_name="rejected_ops")
    op.execute("ALTER TABLE device_sync_state DROP COLUMN cursor_seq, DROP COLUMN cursor_txid")
