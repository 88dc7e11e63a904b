"""The append-only audit log: who did what to which records, when, from which device."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    """One audited action. The database refuses UPDATE, DELETE and TRUNCATE on this table.

    Rows name records by id only: never an ID number, phone or name (see `record_access`).
    Deliberately no foreign keys: entries outlive the users and records they mention.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_record_ids", "record_ids", postgresql_using="gin"),
        Index("ix_audit_log_actor_id_at", "actor_id", "at"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    device_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(20))
    record_type: Mapped[str] = mapped_column(String(40))
    record_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(20), server_default="ok")
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
