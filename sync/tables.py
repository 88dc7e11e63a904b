"""The sync engine's own tables (SQLAlchemy Core, own MetaData), created by migration 0002_sync."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.types import UserDefinedType

metadata = sa.MetaData()


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id; compared in SQL, carried as text in cursors."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        """The column type in DDL."""
        return "xid8"


change_log = sa.Table(
    "change_log",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    # The writing transaction: a pull cursor only advances past transactions that have ended.
    sa.Column("txid", Xid8(), nullable=False, server_default=sa.text("pg_current_xact_id()")),
    sa.Column("record_type", sa.Text, nullable=False),
    sa.Column("record_id", sa.Uuid, nullable=False),
    sa.Column("grid_id", sa.Uuid, nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("op_id", sa.Uuid, nullable=True),
    sa.Column("device_id", sa.Uuid, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("kind IN ('upsert', 'delete', 'leave')", name="ck_change_log_kind"),
    sa.Index("ix_change_log_grid_txid_seq", "grid_id", "txid", "seq"),
    sa.Index("ix_change_log_txid_seq", "txid", "seq"),
    # Created by migration 0004_track_registry, for "which grid was this record in at time t".
    sa.Index("ix_change_log_record", "record_type", "record_id", "txid", "seq"),
)

# Where compaction has cut the change log: cursors from before it must reset.
change_log_horizon = sa.Table(
    "change_log_horizon",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True),
    sa.Column("txid", Xid8(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("id = 1", name="ck_change_log_horizon_single_row"),
)

op_receipts = sa.Table(
    "op_receipts",
    metadata,
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("op_id", sa.Uuid, primary_key=True),
    sa.Column("payload_hash", sa.Text, nullable=False),
    sa.Column("result", pg.JSONB, nullable=False),
    sa.Column("flags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

conflicts = sa.Table(
    "conflicts",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("record_type", sa.Text, nullable=False),
    sa.Column("record_id", sa.Uuid, nullable=False),
    sa.Column("field", sa.Text, nullable=True),
    sa.Column("base_value", pg.JSONB(none_as_null=False), nullable=True),
    sa.Column("server_value", pg.JSONB(none_as_null=False), nullable=True),
    sa.Column("client_value", pg.JSONB(none_as_null=False), nullable=True),
    sa.Column("winner", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="open"),
    sa.Column("op_id", sa.Uuid, nullable=True),
    sa.Column("device_id", sa.Uuid, nullable=True),
    sa.Column("user_id", sa.Uuid, nullable=True),
    sa.Column("grid_id", sa.Uuid, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_by", sa.Uuid, nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolved_how", sa.Text, nullable=True),
    sa.CheckConstraint("status IN ('open', 'resolved')", name="ck_conflicts_status"),
    sa.CheckConstraint("winner IN ('server', 'client')", name="ck_conflicts_winner"),
    sa.CheckConstraint(
        "kind IN ('field', 'update_vs_delete', 'delete_vs_update')", name="ck_conflicts_kind"
    ),
    sa.Index("ix_conflicts_status_grid", "status", "grid_id"),
    sa.Index("ix_conflicts_record", "record_type", "record_id"),
)

rejected_ops = sa.Table(
    "rejected_ops",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("device_id", sa.Uuid, nullable=False),
    sa.Column("user_id", sa.Uuid, nullable=True),
    sa.Column("op_id", sa.Uuid, nullable=False),
    sa.Column("record_type", sa.Text, nullable=False),
    sa.Column("record_id", sa.Uuid, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("field_errors", pg.JSONB, nullable=False, server_default="{}"),
    sa.Column("payload", pg.JSONB, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewed_by", sa.Uuid, nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_rejected_ops_device_at", "device_id", "at"),
    # Created by migration 0006_sync_gaps, for "ops awaiting review" per device in sync health.
    sa.Index(
        "ix_rejected_ops_unreviewed", "device_id", postgresql_where=sa.text("reviewed_at IS NULL")
    ),
)

# One row per accepted field change, written by the tracking trigger for every writer, so the
# merge knows which fields changed after a base version, when (HLC) and from which value.
field_stamps = sa.Table(
    "field_stamps",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("record_type", sa.Text, nullable=False),
    sa.Column("record_id", sa.Uuid, nullable=False),
    sa.Column("field", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("stamp", sa.Text, nullable=False),
    sa.Column("value", pg.JSONB(none_as_null=False), nullable=True),
    sa.Column("device_id", sa.Uuid, nullable=True),
    sa.Column("op_id", sa.Uuid, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_field_stamps_record_version", "record_type", "record_id", "version"),
)

device_sync_state = sa.Table(
    "device_sync_state",
    metadata,
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("last_push_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_pull_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_grid_set", pg.ARRAY(sa.Uuid), nullable=True),
    sa.Column("last_op_id", sa.Uuid, nullable=True),
    sa.Column("app_version", sa.Text, nullable=True),
    sa.Column("failures", pg.JSONB, nullable=False, server_default="[]"),
    # Added by migration 0006_sync_gaps: the settled position of the cursor the device was last
    # given, so sync health can count the change-log entries it has not pulled yet.
    sa.Column("cursor_txid", Xid8(), nullable=True),
    sa.Column("cursor_seq", sa.BigInteger, nullable=True),
)
