"""Standard addresses 标准地址: a tree street → door → building → unit → room."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.registry.models.common import RecordColumns, point_column, record_indexes

ADDRESS_KINDS = ("street", "door", "building", "unit", "room")


class Address(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """One node of the address tree; its grid comes from its point (or its parent's point)."""

    __tablename__ = "addresses"

    kind: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("addresses.id"), index=True)
    division_code: Mapped[str | None] = mapped_column(String(12))
    street: Mapped[str | None] = mapped_column(String(100))
    door_number: Mapped[str | None] = mapped_column(String(30))
    courtyard: Mapped[str | None] = mapped_column(String(100))
    building: Mapped[str | None] = mapped_column(String(30))
    unit: Mapped[str | None] = mapped_column(String(30))
    floor: Mapped[str | None] = mapped_column(String(40))
    room: Mapped[str | None] = mapped_column(String(30))
    full_text: Mapped[str] = mapped_column(String(300))
    normalized_text: Mapped[str] = mapped_column(String(300))
    point = point_column()
    police_address_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        *record_indexes("addresses"),
        Index("ix_addresses_point", "point", postgresql_using="gist"),
        Index(
            "ix_addresses_normalized_text",
            "normalized_text",
            postgresql_ops={"normalized_text": "text_pattern_ops"},
        ),
        CheckConstraint(
            "kind IN ('street', 'door', 'building', 'unit', 'room')", name="address_kind"
        ),
        CheckConstraint("kind = 'street' OR point IS NOT NULL", name="address_point_below_street"),
    )
