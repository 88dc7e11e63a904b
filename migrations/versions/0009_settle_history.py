"""settle history: the incident reporter's phone hash and 0006_push_perf, as every database has them

After they had landed, 0002_registry gained `incidents.reporter_phone_hash` and 0006_push_perf
was removed. Both are back exactly as they landed, and this revision joins the two lines of
history, so a database from either side upgrades to the same schema:
- one made before the change lacks `reporter_phone_hash`: the column is added and the incidents'
  tracking triggers are generated again, so it is a tracked field like the others;
- 0006_push_perf's generic `sync_log_insert()` / `sync_log_update()` are called by no trigger
  (each tracked table has its own functions, from `sync_track`): they are dropped.

Revision ID: 0009_settle_history
Revises: 0008_pull_indexes, 0006_push_perf
Create Date: 2026-11-27 06:55:00

"""

from alembic import op

revision = "0009_settle_history"
down_revision = ("0008_pull_indexes", "0006_push_perf")
branch_labels = None
depends_on = None


def upgrade():
    op.execute("ALTER TABLE incidents ADD COLUMN IF NOT EXISTS reporter_phone_hash varchar(64)")
    op.execute("SELECT sync_track('incidents', 'incident')")
    op.execute("DROP FUNCTION IF EXISTS sync_log_insert()")
    op.execute("DROP FUNCTION IF EXISTS sync_log_update()")


def downgrade():
    # 0006_push_perf's downgrade writes its functions again with CREATE OR REPLACE. The column
    # stays: a database made after the change had it from 0002_registry, and 0002_registry's
    # downgrade drops the table with it.
    pass
