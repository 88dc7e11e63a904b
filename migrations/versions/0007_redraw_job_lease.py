"""redraw job lease: a background apply's heartbeat, so a job whose worker died is detected

A job holds a lease (`lease_expires_at`) that its worker renews while it runs
(`heartbeat_at`); a queued or running job whose lease ran out and whose draft no transaction
holds is reported failed with `worker_lost`, and its draft is freed for another apply.

Revision ID: 0007_redraw_job_lease
Revises: 0006_sync_gaps
Create Date: 2026-11-27 03:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007_redraw_job_lease"
down_revision = "0006_sync_gaps"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "redraw_jobs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "redraw_jobs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade():
    op.drop_column("redraw_jobs", "heartbeat_at")
    op.drop_column("redraw_jobs", "lease_expires_at")
