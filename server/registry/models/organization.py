"""Real organizations 实有单位, identified by their unified social credit code."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.registry.models.common import RecordColumns, record_indexes


class Organization(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A unit at an address (grid follows the address); a repeated USCC is warned, not refused."""

    __tablename__ = "organizations"

    uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    org_type: Mapped[str] = mapped_column(String(40))
    industry: Mapped[str | None] = mapped_column(String(40))
    legal_representative: Mapped[str | None] = mapped_column(String(50))
    address_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("addresses.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    staff_count: Mapped[int | None] = mapped_column(Integer)
    is_key_unit: Mapped[bool] = mapped_column(Boolean, default=False)
    security_officer: Mapped[str | None] = mapped_column(String(50))
    # A natural person's mobile, sealed like persons.phone. `phone` above is the unit's public
    # switchboard line (printed on its signboard and licence), kept plain and masked on output.
    security_officer_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    security_officer_phone_hash: Mapped[str | None] = mapped_column(String(64))
    hazard_type: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        *record_indexes("organizations"),
        Index("ix_organizations_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
    )
