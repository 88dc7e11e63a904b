"""Real population 实有人口: persons, households and their members, special populations."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db
from server.registry.models.common import RecordColumns, record_indexes


class Person(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A person; the ID number and phone exist only encrypted (+ a keyed hash for lookups).

    The floating / overseas / left-behind extensions are one-per-person documents validated by
    their schemas and versioned with the person; special populations are rows of their own.
    """

    __tablename__ = "persons"

    id_type: Mapped[str] = mapped_column(String(40))
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(40))
    birth_date: Mapped[date | None] = mapped_column(Date)
    ethnicity: Mapped[str | None] = mapped_column(String(40))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    registered_place: Mapped[str | None] = mapped_column(String(200))
    address_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("addresses.id"), index=True)
    house_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("houses.id"), index=True)
    population_type: Mapped[str] = mapped_column(String(40))
    floating: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    overseas: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    left_behind: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        *record_indexes("persons"),
        # One live person per ID number in the district; the hash is keyed, never the number.
        Index(
            "uq_persons_id_number_hash",
            "id_number_hash",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_persons_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
    )


class SpecialPopulation(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """One special-population category of a person (the most sensitive rows); grid follows them."""

    __tablename__ = "person_special_populations"

    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    supervising_unit: Mapped[str | None] = mapped_column(String(100))
    risk_level: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        *record_indexes("person_special_populations"),
        Index(
            "uq_person_special_populations_category",
            "person_id",
            "category",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )


class Household(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A household 户 at an address; its grid follows the address."""

    __tablename__ = "households"

    household_number: Mapped[str | None] = mapped_column(String(30))
    address_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("addresses.id"), index=True)
    head_person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("persons.id"), index=True)

    __table_args__ = (*record_indexes("households"),)


class HouseholdMember(RecordColumns, db.Model):  # type: ignore[name-defined,misc]
    """A person's membership of a household with their relation to the head (GB/T 4761)."""

    __tablename__ = "household_members"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id"), index=True)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id"), index=True)
    relation_to_head: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        *record_indexes("household_members"),
        Index(
            "uq_household_members_person",
            "household_id",
            "person_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )
