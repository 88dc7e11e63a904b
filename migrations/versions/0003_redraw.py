"""redraw: drafts of a community's grid redraw, and jobs for long applies

Revision ID: 0003_redraw
Revises: 0002_registry
Create Date: 2026-11-27 01:05:00

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_redraw"
down_revision = "0002_registry"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "redraw_drafts",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("community_id", sa.UUID(), sa.ForeignKey("org_units.id"), nullable=False),
        sa.Column("base_boundary_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("content", postgresql.JSONB(), nullable=False),
        sa.Column("problems", postgresql.JSONB(), nullable=True),
        sa.Column("snapped", postgresql.JSONB(), nullable=True),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("created_by", sa.UUID(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.UUID(), sa.ForeignKey("users.id"), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'applying', 'applied')", name="ck_redraw_drafts_status"
        ),
    )
    op.create_index("ix_redraw_drafts_community", "redraw_drafts", ["community_id", "status"])
    op.create_table(
        "redraw_jobs",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column(
            "draft_id",
            sa.UUID(),
            sa.ForeignKey("redraw_drafts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expected_boundary_version", sa.Integer(), nullable=False),
        sa.Column("tables_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("tables_total", sa.Integer(), nullable=False),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("error", postgresql.JSONB(), nullable=True),
        sa.Column("created_by", sa.UUID(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_redraw_jobs_status"
        ),
    )
    op.create_index("ix_redraw_jobs_draft", "redraw_jobs", ["draft_id"])


def downgrade():
    op.drop_index("ix_redraw_jobs_draft", table_name="redraw_jobs")
    op.drop_table("redraw_jobs")
    op.drop_index("ix_redraw_drafts_community", table_name="redraw_drafts")
    op.drop_table("redraw_drafts")
