"""Alembic environment: migrations run as the schema owner (MIGRATION_DATABASE_URL)."""

import logging

from alembic import context
from flask import current_app
from sqlalchemy import create_engine, pool

# No fileConfig(): the app's JSON logging stays in charge when migrations run in-process.
config = context.config
logger = logging.getLogger("alembic.env")

target_metadata = current_app.extensions["migrate"].db.metadata


def include_object(obj, name, type_, reflected, compare_to):
    """Leave PostGIS's own tables out of autogenerate."""
    return not (type_ == "table" and name in {"spatial_ref_sys"})


def run_migrations_offline():
    """Emit SQL for the migration URL without connecting."""
    context.configure(
        url=current_app.config["MIGRATION_DATABASE_URI"],
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Connect as the owner role and apply the migrations in one transaction."""
    engine = create_engine(current_app.config["MIGRATION_DATABASE_URI"], poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
