"""A redraw draft of one community's grids, and the job that applies a large one."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class DraftStatus(enum.StrEnum):
    DRAFT = "draft"
    APPLYING = "applying"
    APPLIED = "applied"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RedrawDraft(db.Model):  # type: ignore[name-defined,misc]
    """What an admin proposes for one community: reshaped, new and retired grids.

    `content` is the draft as sent ({grids: [...], retire: [...]}); `problems` and `snapped`
    are the last validation's verdict; `result` the move counts once applied.
    """

    __tablename__ = "redraw_drafts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    community_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"))
    base_boundary_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=DraftStatus.DRAFT.value)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    snapped: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    validated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'applying', 'applied')", name="ck_redraw_drafts_status"
        ),
        Index("ix_redraw_drafts_community", "community_id", "status"),
    )


class RedrawJob(db.Model):  # type: ignore[name-defined,misc]
    """A redraw applied in the background: status, tables placed so far, the result, and the
    lease its worker renews (a queued or running job whose lease ran out has lost its worker)."""

    __tablename__ = "redraw_jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("redraw_drafts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value)
    expected_boundary_version: Mapped[int] = mapped_column(Integer)
    tables_done: Mapped[int] = mapped_column(Integer, default=0)
    tables_total: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Renewed by the worker while it runs (see `jobs`); once it has passed, the worker is gone.
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_redraw_jobs_status"
        ),
        Index("ix_redraw_jobs_draft", "draft_id"),
    )
