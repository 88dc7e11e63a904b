"""registry: addresses, houses, persons (+ extensions), households, organizations, incidents, work

Every table carries the sync contract (id, version, grid_id, scope_path, created/updated/deleted
at/by) with an index on (grid_id, id), a GIN index on scope_path and one on updated_at.

Revision ID: 0002_registry
Revises: 0001
Create Date: 2026-11-27 00:51:17

"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_registry"
down_revision = "0001"
branch_labels = None
depends_on = None

# Created in this order (anchors before what follows them); dropped in reverse.
TABLES = (
    "addresses",
    "tasks",
    "houses",
    "incidents",
    "organizations",
    "persons",
    "follow_up_plans",
    "households",
    "person_special_populations",
    "visits",
    "household_members",
)


def upgrade():
    op.create_table(
        "addresses",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("division_code", sa.String(length=12), nullable=True),
        sa.Column("street", sa.String(length=100), nullable=True),
        sa.Column("door_number", sa.String(length=30), nullable=True),
        sa.Column("courtyard", sa.String(length=100), nullable=True),
        sa.Column("building", sa.String(length=30), nullable=True),
        sa.Column("unit", sa.String(length=30), nullable=True),
        sa.Column("floor", sa.String(length=40), nullable=True),
        sa.Column("room", sa.String(length=30), nullable=True),
        sa.Column("full_text", sa.String(length=300), nullable=False),
        sa.Column("normalized_text", sa.String(length=300), nullable=False),
        sa.Column(
            "point",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("police_address_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "kind = 'street' OR point IS NOT NULL", name="address_point_below_street"
        ),
        sa.CheckConstraint(
            "kind IN ('street', 'door', 'building', 'unit', 'room')", name="address_kind"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_addresses_grid_id_id", "addresses", ["grid_id", "id"], unique=False)
    op.create_index(
        "ix_addresses_normalized_text",
        "addresses",
        ["normalized_text"],
        unique=False,
        postgresql_ops={"normalized_text": "text_pattern_ops"},
    )
    op.create_index(op.f("ix_addresses_parent_id"), "addresses", ["parent_id"], unique=False)
    op.create_index(
        "ix_addresses_point", "addresses", ["point"], unique=False, postgresql_using="gist"
    )
    op.create_index(
        "ix_addresses_scope_path", "addresses", ["scope_path"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_addresses_updated_at", "addresses", ["updated_at"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("task_type", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("assignee_id", sa.UUID(), nullable=False),
        sa.Column("target_type", sa.String(length=30), nullable=True),
        sa.Column("target_id", sa.UUID(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "status IN ('assigned', 'signed', 'done', 'cancelled')", name="task_status"
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_tasks_assignee_id"), "tasks", ["assignee_id"], unique=False)
    op.create_index("ix_tasks_grid_id_id", "tasks", ["grid_id", "id"], unique=False)
    op.create_index(
        "ix_tasks_scope_path", "tasks", ["scope_path"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_tasks_target", "tasks", ["target_type", "target_id"], unique=False)
    op.create_index("ix_tasks_updated_at", "tasks", ["updated_at"], unique=False)
    op.create_table(
        "houses",
        sa.Column("address_id", sa.UUID(), nullable=False),
        sa.Column("house_use", sa.String(length=40), nullable=False),
        sa.Column("house_nature", sa.String(length=40), nullable=True),
        sa.Column("area_m2", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("owner_name", sa.String(length=50), nullable=True),
        sa.Column("owner_id_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("owner_id_number_hash", sa.String(length=64), nullable=True),
        sa.Column("owner_phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("owner_phone_hash", sa.String(length=64), nullable=True),
        sa.Column("occupancy", sa.String(length=40), nullable=False),
        sa.Column("tenant_count", sa.Integer(), nullable=True),
        sa.Column("rent_start", sa.Date(), nullable=True),
        sa.Column("rent_end", sa.Date(), nullable=True),
        sa.Column("hazard_type", sa.String(length=40), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_houses_address_id"), "houses", ["address_id"], unique=False)
    op.create_index("ix_houses_grid_id_id", "houses", ["grid_id", "id"], unique=False)
    op.create_index(
        op.f("ix_houses_owner_id_number_hash"), "houses", ["owner_id_number_hash"], unique=False
    )
    op.create_index(
        "ix_houses_scope_path", "houses", ["scope_path"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_houses_updated_at", "houses", ["updated_at"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "point",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("address_id", sa.UUID(), nullable=True),
        sa.Column("urgency", sa.String(length=40), nullable=False),
        sa.Column("scale", sa.String(length=40), nullable=True),
        sa.Column("parties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reporter_name", sa.String(length=50), nullable=True),
        sa.Column("reporter_phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("reporter_phone_hash", sa.String(length=64), nullable=True),
        sa.Column("reporter_anonymous", sa.Boolean(), nullable=False),
        sa.Column("photo_sha256", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("origin_grid_id", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.CheckConstraint("kind IN ('event', 'dispute')", name="incident_kind"),
        sa.CheckConstraint("point IS NOT NULL OR address_id IS NOT NULL", name="incident_located"),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["origin_grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_incidents_address_id"), "incidents", ["address_id"], unique=False)
    op.create_index("ix_incidents_grid_id_id", "incidents", ["grid_id", "id"], unique=False)
    op.create_index(
        "ix_incidents_point", "incidents", ["point"], unique=False, postgresql_using="gist"
    )
    op.create_index(
        "ix_incidents_scope_path", "incidents", ["scope_path"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_incidents_updated_at", "incidents", ["updated_at"], unique=False)
    op.create_table(
        "organizations",
        sa.Column("uscc", sa.String(length=18), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_type", sa.String(length=40), nullable=False),
        sa.Column("industry", sa.String(length=40), nullable=True),
        sa.Column("legal_representative", sa.String(length=50), nullable=True),
        sa.Column("address_id", sa.UUID(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("staff_count", sa.Integer(), nullable=True),
        sa.Column("is_key_unit", sa.Boolean(), nullable=False),
        sa.Column("security_officer", sa.String(length=50), nullable=True),
        # A natural person's mobile: sealed like persons.phone (the unit's own `phone` is its
        # public switchboard number and stays plain; it is still masked per role on the way out).
        sa.Column("security_officer_phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("security_officer_phone_hash", sa.String(length=64), nullable=True),
        sa.Column("hazard_type", sa.String(length=40), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_organizations_address_id"), "organizations", ["address_id"], unique=False
    )
    op.create_index("ix_organizations_grid_id_id", "organizations", ["grid_id", "id"], unique=False)
    op.create_index(
        "ix_organizations_name",
        "organizations",
        ["name"],
        unique=False,
        postgresql_ops={"name": "text_pattern_ops"},
    )
    op.create_index(
        "ix_organizations_scope_path",
        "organizations",
        ["scope_path"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("ix_organizations_updated_at", "organizations", ["updated_at"], unique=False)
    op.create_index(op.f("ix_organizations_uscc"), "organizations", ["uscc"], unique=False)
    op.create_table(
        "persons",
        sa.Column("id_type", sa.String(length=40), nullable=False),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=False),
        sa.Column("id_number_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("sex", sa.String(length=40), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("ethnicity", sa.String(length=40), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("registered_place", sa.String(length=200), nullable=True),
        sa.Column("address_id", sa.UUID(), nullable=True),
        sa.Column("house_id", sa.UUID(), nullable=True),
        sa.Column("population_type", sa.String(length=40), nullable=False),
        sa.Column("floating", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("overseas", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("left_behind", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["house_id"],
            ["houses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_persons_address_id"), "persons", ["address_id"], unique=False)
    op.create_index("ix_persons_grid_id_id", "persons", ["grid_id", "id"], unique=False)
    op.create_index(op.f("ix_persons_house_id"), "persons", ["house_id"], unique=False)
    op.create_index(
        "ix_persons_name",
        "persons",
        ["name"],
        unique=False,
        postgresql_ops={"name": "text_pattern_ops"},
    )
    op.create_index(op.f("ix_persons_phone_hash"), "persons", ["phone_hash"], unique=False)
    op.create_index(
        "ix_persons_scope_path", "persons", ["scope_path"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_persons_updated_at", "persons", ["updated_at"], unique=False)
    op.create_index(
        "uq_persons_id_number_hash",
        "persons",
        ["id_number_hash"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "follow_up_plans",
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("cycle", sa.String(length=40), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_follow_up_plans_grid_id_id", "follow_up_plans", ["grid_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_follow_up_plans_person_id"), "follow_up_plans", ["person_id"], unique=False
    )
    op.create_index(
        "ix_follow_up_plans_scope_path",
        "follow_up_plans",
        ["scope_path"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_follow_up_plans_updated_at", "follow_up_plans", ["updated_at"], unique=False
    )
    op.create_table(
        "households",
        sa.Column("household_number", sa.String(length=30), nullable=True),
        sa.Column("address_id", sa.UUID(), nullable=False),
        sa.Column("head_person_id", sa.UUID(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["addresses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["head_person_id"],
            ["persons.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_households_address_id"), "households", ["address_id"], unique=False)
    op.create_index("ix_households_grid_id_id", "households", ["grid_id", "id"], unique=False)
    op.create_index(
        op.f("ix_households_head_person_id"), "households", ["head_person_id"], unique=False
    )
    op.create_index(
        "ix_households_scope_path",
        "households",
        ["scope_path"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("ix_households_updated_at", "households", ["updated_at"], unique=False)
    op.create_table(
        "person_special_populations",
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("supervising_unit", sa.String(length=100), nullable=True),
        sa.Column("risk_level", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_person_special_populations_grid_id_id",
        "person_special_populations",
        ["grid_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_person_special_populations_person_id"),
        "person_special_populations",
        ["person_id"],
        unique=False,
    )
    op.create_index(
        "ix_person_special_populations_scope_path",
        "person_special_populations",
        ["scope_path"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_person_special_populations_updated_at",
        "person_special_populations",
        ["updated_at"],
        unique=False,
    )
    op.create_index(
        "uq_person_special_populations_category",
        "person_special_populations",
        ["person_id", "category"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "visits",
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("form", sa.String(length=40), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column(
            "point",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("photo_sha256", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_visits_grid_id_id", "visits", ["grid_id", "id"], unique=False)
    op.create_index(op.f("ix_visits_person_id"), "visits", ["person_id"], unique=False)
    op.create_index(
        "ix_visits_scope_path", "visits", ["scope_path"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_visits_updated_at", "visits", ["updated_at"], unique=False)
    op.create_table(
        "household_members",
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("relation_to_head", sa.String(length=40), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("grid_id", sa.UUID(), nullable=True),
        sa.Column(
            "scope_path",
            postgresql.ARRAY(sa.UUID()),
            server_default=sa.text("'{}'::uuid[]"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["deleted_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_household_members_grid_id_id", "household_members", ["grid_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_household_members_household_id"),
        "household_members",
        ["household_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_household_members_person_id"), "household_members", ["person_id"], unique=False
    )
    op.create_index(
        "ix_household_members_scope_path",
        "household_members",
        ["scope_path"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_household_members_updated_at", "household_members", ["updated_at"], unique=False
    )
    op.create_index(
        "uq_household_members_person",
        "household_members",
        ["household_id", "person_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
