"""Work given to and done by grid workers: tasks, visits and follow-up plans."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.registry.models.common import RecordColumns, point_column, record_indexes

TASK_STATUSES = ("assigned", "signed", "done", "cancelled")


class Task(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A task for a worker about a target record (or a grid); its grid is fixed at creation."""

    __tablename__ = "tasks"

    task_type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    assignee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    target_type: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(40), default="assigned")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        *record_indexes("tasks"),
        CheckConstraint(
            "status IN ('assigned', 'signed', 'done', 'cancelled')", name="task_status"
        ),
        Index("ix_tasks_target", "target_type", "target_id"),
    )


class Visit(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A worker's visit to a person on a follow-up list; grid follows the person."""

    __tablename__ = "visits"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    form: Mapped[str] = mapped_column(String(40))
    content: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)
    point = point_column()
    photo_sha256: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)

    __table_args__ = (*record_indexes("visits"),)


class FollowUpPlan(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A person on a follow-up list with a cycle and the next visit due; grid follows them."""

    __tablename__ = "follow_up_plans"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    cycle: Mapped[str] = mapped_column(String(40))
    next_due: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (*record_indexes("follow_up_plans"),)
