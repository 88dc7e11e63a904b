"""pull indexes: every record table's (grid_id, id) index also carries version and deleted_at

A pull ends with each grid's count and checksum of live records (`grid_summaries`): with
`version` and `deleted_at` in the index that is an index-only scan of the grid's entries,
instead of a visit to every heap page holding one of its records, which once the table no
longer fits in shared buffers were read back from disk on each pull (the pull's cost grew with
the table, not with the grid). Keyset snapshot pages filter tombstones in the index too.

Revision ID: 0008_pull_indexes
Revises: 0007_redraw_job_lease
Create Date: 2026-11-27 04:50:00

"""

from alembic import op

revision = "0008_pull_indexes"
down_revision = "0007_redraw_job_lease"
branch_labels = None
depends_on = None

TABLES = (
    "addresses",
    "houses",
    "persons",
    "person_special_populations",
    "households",
    "household_members",
    "organizations",
    "incidents",
    "tasks",
    "visits",
    "follow_up_plans",
)


def upgrade():
    for table in TABLES:
        op.execute(f"DROP INDEX ix_{table}_grid_id_id")
        op.execute(
            f"CREATE INDEX ix_{table}_grid_id_id ON {table} (grid_id, id) "
            "INCLUDE (version, deleted_at)"
        )


def downgrade():
    for table in TABLES:
        op.execute(f"DROP INDEX ix_{table}_grid_id_id")
        op.execute(f"CREATE INDEX ix_{table}_grid_id_id ON {table} (grid_id, id)")
