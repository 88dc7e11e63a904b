"""Merge the codes/audit, registry+redraw and sync branches; track every registry table.

Revision ID: 0004_track_registry
Revises: 0002_codes_audit, 0003_redraw, 0002_sync
Create Date: 2026-11-27

"""

from alembic import op

revision = "0004_track_registry"
down_revision = ("0002_codes_audit", "0003_redraw", "0002_sync")
branch_labels = None
depends_on = None

# table → the record type name phones see in ops and pulls.
TRACKED = {
    "addresses": "address",
    "houses": "house",
    "persons": "person",
    "person_special_populations": "person_special_population",
    "households": "household",
    "household_members": "household_member",
    "organizations": "organization",
    "incidents": "incident",
    "tasks": "task",
    "visits": "visit",
    "follow_up_plans": "follow_up_plan",
}


def upgrade():
    for table, record_type in TRACKED.items():
        op.execute(f"SELECT sync_track('{table}', '{record_type}')")
    # Where was this record when the phone edited it? (offline edits judged by history)
    op.execute(
        "CREATE INDEX ix_change_log_record ON change_log (record_type, record_id, txid, seq)"
    )


def downgrade():
    op.execute("DROP INDEX ix_change_log_record")
    for table in TRACKED:
        op.execute(f"SELECT sync_untrack('{table}')")
