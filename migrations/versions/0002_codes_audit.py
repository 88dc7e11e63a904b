"""code tables and the append-only audit log

Revision ID: 0002_codes_audit
Revises: 0001
Create Date: 2026-11-27 01:00:00

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_codes_audit"
down_revision = "0001"
branch_labels = None
depends_on = None

# No UPDATE ever. DELETE and TRUNCATE only for the retention purge (entries are kept at least
# 6 months), which the table owner runs with `SET LOCAL gridwork.audit_purge = 'on'`. Everyone
# else is refused twice: by this trigger and by the revoked privileges below. One function serves
# the row trigger (RETURN OLD lets a purge delete proceed) and the TRUNCATE statement trigger
# (where OLD is NULL and the return value is ignored).
GUARD_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE')
     AND current_setting('gridwork.audit_purge', true) = 'on'
     AND pg_has_role(current_user,
                     (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""

# Revoke from PUBLIC and from every role holding a grant that is not the owner (the runtime role
# gets its rights through default privileges, so it has them by now).
REVOKE_WRITES = """
DO $$
DECLARE
  grantee_name text;
BEGIN
  REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
  FOR grantee_name IN
    SELECT DISTINCT r.rolname
    FROM pg_class c
    CROSS JOIN LATERAL aclexplode(c.relacl) a
    JOIN pg_roles r ON r.oid = a.grantee
    WHERE c.oid = 'audit_log'::regclass AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM %I', grantee_name);
  END LOOP;
END
$$
"""


def upgrade():
    op.create_table(
        "code_tables",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column(
            "loaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "code_values",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("parent", sa.String(length=32), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["table_name"], ["code_tables.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("table_name", "code"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=True),
        sa.Column("device_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=False),
        sa.Column(
            "record_ids",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("result", sa.String(length=20), server_default="ok", nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_record_ids", "audit_log", ["record_ids"], postgresql_using="gin")
    op.create_index("ix_audit_log_actor_id_at", "audit_log", ["actor_id", "at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.execute(GUARD_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(REVOKE_WRITES)


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_id_at", table_name="audit_log")
    op.drop_index("ix_audit_log_record_ids", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("code_values")
    op.drop_table("code_tables")
