"""Incidents 事件 and disputes 矛盾纠纷 as reported; the lifecycle is built elsewhere."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.registry.models.common import RecordColumns, point_column, record_indexes


class Incident(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """An event or dispute; `origin_grid_id` keeps the grid it was reported in for statistics."""

    __tablename__ = "incidents"

    kind: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    point = point_column()
    address_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("addresses.id"), index=True)
    urgency: Mapped[str] = mapped_column(String(40))
    scale: Mapped[str | None] = mapped_column(String(40))
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    reporter_name: Mapped[str | None] = mapped_column(String(50))
    reporter_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_phone_hash: Mapped[str | None] = mapped_column(String(64))
    reporter_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_sha256: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    status: Mapped[str] = mapped_column(String(20), default="reported")
    origin_grid_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("grids.id"))

    __table_args__ = (
        *record_indexes("incidents"),
        Index("ix_incidents_point", "point", postgresql_using="gist"),
        CheckConstraint("kind IN ('event', 'dispute')", name="incident_kind"),
        CheckConstraint("point IS NOT NULL OR address_id IS NOT NULL", name="incident_located"),
    )
