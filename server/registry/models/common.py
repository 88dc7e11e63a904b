"""The columns every synced registry record carries: identity, version, placement and audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Computed, DateTime, ForeignKey, Index, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from sync.registry import SYNC_HASH_SQL

# Columns only the server writes; a client sending any of them gets a 422 naming the field.
SERVER_FIELDS = (
    "grid_id",
    "scope_path",
    "version",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "deleted_at",
    "deleted_by",
    "sync_hash",
)


class RecordColumns:
    """Sync contract: uuid id, SQL-incremented version, derived grid and org path, tombstone."""

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    grid_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("grids.id"))
    scope_path: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'::uuid[]")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # This row's term of its grid's checksum, kept by PostgreSQL (migration 0011_sync_hash).
    sync_hash: Mapped[int] = mapped_column(BigInteger, Computed(SYNC_HASH_SQL, persisted=True))


def record_indexes(table: str) -> tuple[Any, ...]:
    """The indexes every record table has: (grid_id, id) for pulls, scope path, change time."""
    return (
        # version, deleted_at and sync_hash included (migrations 0008_pull_indexes and
        # 0011_sync_hash): a pull's per-grid count and checksum is then an index-only scan, its
        # cost the grid's, not the table's.
        Index(
            f"ix_{table}_grid_id_id",
            "grid_id",
            "id",
            postgresql_include=["version", "deleted_at", "sync_hash"],
        ),
        Index(f"ix_{table}_scope_path", "scope_path", postgresql_using="gin"),
        Index(f"ix_{table}_updated_at", "updated_at"),
    )


def point_column() -> Any:
    """A nullable WGS84 point column (its GiST index is declared per table)."""
    return mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
