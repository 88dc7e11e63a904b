"""Real housing 实有房屋: hangs off a door or room address, whose grid it follows."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.registry.models.common import RecordColumns, record_indexes


class House(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A dwelling or premises; the owner's ID number and phone are stored encrypted + hashed."""

    __tablename__ = "houses"

    address_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("addresses.id"), index=True)
    house_use: Mapped[str] = mapped_column(String(40))
    house_nature: Mapped[str | None] = mapped_column(String(40))
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    owner_name: Mapped[str | None] = mapped_column(String(50))
    owner_id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    owner_id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    owner_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    owner_phone_hash: Mapped[str | None] = mapped_column(String(64))
    occupancy: Mapped[str] = mapped_column(String(40))
    tenant_count: Mapped[int | None] = mapped_column(Integer)
    rent_start: Mapped[date | None] = mapped_column(Date)
    rent_end: Mapped[date | None] = mapped_column(Date)
    hazard_type: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (*record_indexes("houses"),)
