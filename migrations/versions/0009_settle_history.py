"""settle history: databases of stop 6 and of stop 7 reach the same schema

After stop 6 shipped, `0002_registry` gained `incidents.reporter_phone_hash` and
`0006_push_perf` was removed, and stop 7 shipped that. A stop-6 database (head
`0006_push_perf`, no such column) could not upgrade: the revision it stood on was gone.
`0006_push_perf` is back as stop 6 shipped it, the other files stay as stop 7 shipped them, and
this revision joins the two lines of history:
- a database whose `0002_registry` predates the column gets it, and the incidents' tracking
  triggers are generated again so it is a tracked field like the others;
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
