"""Org units, grids with versioned boundaries, and worker and dispatcher assignments."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db, str_enum


class OrgLevel(enum.StrEnum):
    NEW_AREA = "new_area"
    NEW_CITY = "new_city"
    TOWN = "town"
    COMMUNITY = "community"


class GridKind(enum.StrEnum):
    COMPREHENSIVE = "comprehensive"
    DEDICATED = "dedicated"


class OrgUnit(db.Model):  # type: ignore[name-defined,misc]
    """A node of the hierarchy; `path` lists its ancestors' ids and its own, root first."""

    __tablename__ = "org_units"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    level: Mapped[OrgLevel] = mapped_column(str_enum(OrgLevel, "org_level"))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(12), unique=True)
    path: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    # Communities carry the outline their grids must tile; `boundary_version` guards redraws.
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    boundary_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_org_units_path", "path", postgresql_using="gin"),)


class Grid(db.Model):  # type: ignore[name-defined,misc]
    """A grid's identity (code, name, kind, community); its boundary lives in GridVersion."""

    __tablename__ = "grids"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[GridKind] = mapped_column(str_enum(GridKind, "grid_kind"))
    community_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    # Ancestors of the community plus the community itself, copied for index-only scope filters.
    path: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    version: Mapped[int] = mapped_column(Integer, default=1)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="grid_code_15_digits"),
        Index("ix_grids_path", "path", postgresql_using="gin"),
    )


class GridVersion(db.Model):  # type: ignore[name-defined,misc]
    """A grid's boundary valid over [valid_from, valid_to); the current one has valid_to NULL."""

    __tablename__ = "grid_versions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        Index("ix_grid_versions_grid", "grid_id", "valid_from"),
        Index(
            "ix_grid_versions_current_geom",
            "geom",
            postgresql_using="gist",
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_grid_versions_geom", "geom", postgresql_using="gist"),
        Index(
            "uq_grid_versions_one_current",
            "grid_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
    )


class GridAssignment(db.Model):  # type: ignore[name-defined,misc]
    """A worker covering a grid over [valid_from, valid_to); history is never deleted."""

    __tablename__ = "grid_assignments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    grid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grids.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        Index(
            "uq_grid_assignments_current",
            "user_id",
            "grid_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
    )


class OrgAssignment(db.Model):  # type: ignore[name-defined,misc]
    """A dispatcher scoped to an org-unit subtree over [valid_from, valid_to)."""

    __tablename__ = "org_assignments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_units.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        Index(
            "uq_org_assignments_current",
            "user_id",
            "org_unit_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
    )
