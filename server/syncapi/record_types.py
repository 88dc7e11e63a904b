"""Every synced registry record type: its table, wire fields, merge policies and hooks.

Phones speak the web API's field vocabulary (`id_number`, `phone`, `point` as GeoJSON, an
incident's `reporter`); `server.syncapi.translate` turns an op into table columns before the
engine sees it, so a plaintext identifier never reaches the engine's tables. The merge fields
are table columns; every column except the sync contract is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from marshmallow import Schema

from server.registry.models import (
    Address,
    FollowUpPlan,
    House,
    Household,
    HouseholdMember,
    Incident,
    Organization,
    Person,
    SpecialPopulation,
    Task,
    Visit,
)
from server.registry.schemas.address import AddressIn
from server.registry.schemas.house import HouseIn
from server.registry.schemas.incident import IncidentIn
from server.registry.schemas.organization import OrganizationIn
from server.registry.schemas.person import HouseholdIn, MemberIn, PersonIn, SpecialPopulationIn
from server.registry.schemas.work import FollowUpPlanIn, TaskIn, VisitIn
from server.registry.services import personal
from server.registry.services.work import FIXED_TASK_FIELDS
from server.registry.validators import check_citizen_id, check_mobile
from sync.merge import Policy
from sync.registry import CONTRACT_COLUMNS, Reference

N, S = Policy.NEWEST_STAMP, Policy.SERVER_WINS
CITIZEN_ID_TYPE = "111"


def _citizen_or_plain(value: str, fields: Mapping[str, object]) -> str:
    """Citizen ID numbers are checked (with the sex sent alongside); other types are trimmed."""
    id_type = fields.get("id_type")
    looks_citizen = len(value.strip()) == 18 and value.strip()[:17].isdigit()
    if id_type == CITIZEN_ID_TYPE or (id_type is None and looks_citizen):
        sex = fields.get("sex")
        return check_citizen_id(value, sex=sex if isinstance(sex, str) else None)
    return value.strip().upper()


def _citizen(value: str, fields: Mapping[str, object]) -> str:
    return check_citizen_id(value)


def _mobile(value: str, fields: Mapping[str, object]) -> str:
    return check_mobile(value)


Normalize = Callable[[str, Mapping[str, object]], str]


@dataclass(frozen=True)
class Sealed:
    """A wire field stored encrypted (`enc`) and, when searchable, keyed-hashed (`hash`)."""

    wire: str
    enc: str
    hash: str | None
    context: str
    normalize: Normalize


@dataclass(frozen=True)
class SyncType:
    """One synced record type as `server` declares it."""

    name: str
    table: sa.Table
    schema: type[Schema]
    # Policies of the columns that are not NEWEST_STAMP (identity, location, membership, status).
    server_wins: frozenset[str] = frozenset()
    sealed: tuple[Sealed, ...] = ()
    # Columns only the server writes (derived or set by a command); a phone may not send them.
    server_owned: frozenset[str] = frozenset()
    # Columns filled on create when the op leaves them out (the models' Python-side defaults).
    create_defaults: Mapping[str, object] = field(default_factory=dict)
    # Wire fields that are not columns of the table, and the columns they are stored in.
    composite: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Fields naming another synced record, which must be in the writer's scope (as in the web
    # API, where `reference` and an address's `_parent` check the same).
    references: tuple[Reference, ...] = ()
    # Wire fields set when the record is created and never after (the web API refuses a change).
    fixed: frozenset[str] = frozenset()

    @property
    def columns(self) -> list[str]:
        """The merge fields: every non-contract column."""
        return [c.name for c in self.table.c if c.name not in CONTRACT_COLUMNS]

    @property
    def policies(self) -> dict[str, Policy]:
        """Per-column merge policy."""
        return {c: (S if c in self.server_wins else N) for c in self.columns}

    @property
    def wire_fields(self) -> frozenset[str]:
        """Field names a phone may send."""
        sealed_columns = {s.enc for s in self.sealed} | {s.hash for s in self.sealed if s.hash}
        composite_columns = {c for cols in self.composite.values() for c in cols}
        plain = set(self.columns) - sealed_columns - composite_columns - self.server_owned
        return frozenset(plain | {s.wire for s in self.sealed} | set(self.composite))


ADDRESS_COLUMNS = frozenset(
    {
        "kind",
        "parent_id",
        "division_code",
        "street",
        "door_number",
        "courtyard",
        "building",
        "unit",
        "floor",
        "room",
        "full_text",
        "normalized_text",
        "point",
        "police_address_id",
    }
)

SYNC_TYPES: tuple[SyncType, ...] = (
    SyncType(
        "address",
        Address.__table__,
        AddressIn,
        server_wins=ADDRESS_COLUMNS,
        server_owned=frozenset({"normalized_text"}),
        # Streets are district-wide reference data: any address may hang under one.
        references=(Reference("parent_id", "address", shared=("kind", "street")),),
    ),
    SyncType(
        "house",
        House.__table__,
        HouseIn,
        references=(Reference("address_id", "address"),),
        server_wins=frozenset(
            {"address_id", "owner_name", "owner_id_number_enc", "owner_id_number_hash"}
        ),
        sealed=(
            Sealed(
                "owner_id_number",
                "owner_id_number_enc",
                "owner_id_number_hash",
                personal.OWNER_ID_NUMBER,
                _citizen,
            ),
            Sealed(
                "owner_phone",
                "owner_phone_enc",
                "owner_phone_hash",
                personal.OWNER_PHONE,
                _mobile,
            ),
        ),
    ),
    SyncType(
        "person",
        Person.__table__,
        PersonIn,
        references=(Reference("house_id", "house"), Reference("address_id", "address")),
        server_wins=frozenset(
            {
                "id_type",
                "id_number_enc",
                "id_number_hash",
                "name",
                "sex",
                "birth_date",
                "address_id",
                "house_id",
            }
        ),
        sealed=(
            Sealed(
                "id_number",
                "id_number_enc",
                "id_number_hash",
                personal.PERSON_ID_NUMBER,
                _citizen_or_plain,
            ),
            Sealed("phone", "phone_enc", "phone_hash", personal.PERSON_PHONE, _mobile),
        ),
    ),
    SyncType(
        "person_special_population",
        SpecialPopulation.__table__,
        SpecialPopulationIn,
        references=(Reference("person_id", "person"),),
        server_wins=frozenset({"person_id", "category"}),
    ),
    SyncType(
        "household",
        Household.__table__,
        HouseholdIn,
        references=(Reference("address_id", "address"), Reference("head_person_id", "person")),
        server_wins=frozenset({"address_id", "head_person_id", "household_number"}),
    ),
    SyncType(
        "household_member",
        HouseholdMember.__table__,
        MemberIn,
        references=(Reference("household_id", "household"), Reference("person_id", "person")),
        server_wins=frozenset({"household_id", "person_id", "relation_to_head"}),
    ),
    SyncType(
        "organization",
        Organization.__table__,
        OrganizationIn,
        references=(Reference("address_id", "address"),),
        server_wins=frozenset({"uscc", "name", "address_id"}),
        create_defaults={"is_key_unit": False},
        sealed=(
            Sealed(
                "security_officer_phone",
                "security_officer_phone_enc",
                "security_officer_phone_hash",
                personal.SECURITY_OFFICER_PHONE,
                _mobile,
            ),
        ),
    ),
    SyncType(
        "incident",
        Incident.__table__,
        IncidentIn,
        references=(Reference("address_id", "address"),),
        server_wins=frozenset({"status", "point", "address_id", "kind"}),
        server_owned=frozenset({"status", "origin_grid_id"}),
        create_defaults={
            "status": "reported",
            "parties": [],
            "photo_sha256": [],
            "reporter_anonymous": False,
        },
        composite={
            "reporter": (
                "reporter_name",
                "reporter_phone_enc",
                "reporter_phone_hash",
                "reporter_anonymous",
            )
        },
    ),
    SyncType(
        "task",
        Task.__table__,
        TaskIn,
        server_wins=frozenset({"assignee_id", "target_type", "target_id", "status"}),
        fixed=frozenset(FIXED_TASK_FIELDS),
        create_defaults={"status": "assigned"},
    ),
    SyncType(
        "visit",
        Visit.__table__,
        VisitIn,
        references=(Reference("person_id", "person"),),
        server_wins=frozenset({"person_id", "point"}),
        create_defaults={"photo_sha256": []},
    ),
    SyncType(
        "follow_up_plan",
        FollowUpPlan.__table__,
        FollowUpPlanIn,
        references=(Reference("person_id", "person"),),
        server_wins=frozenset({"person_id"}),
    ),
)

BY_NAME: dict[str, SyncType] = {t.name: t for t in SYNC_TYPES}

# Incident statuses a phone may set with the `set_status` command (the lifecycle comes later).
INCIDENT_STATUSES = ("reported", "accepted", "in_progress", "resolved", "closed")
