"""Readiness checks against the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.extensions import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migration_heads() -> set[str]:
    """The head revisions of the migration scripts shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(config).get_heads())


def readiness() -> dict[str, Any]:
    """Report database reachability, migration state and PostGIS presence."""
    checks: dict[str, Any] = {"database": False, "migrations": False, "postgis": False}
    try:
        current = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
        checks["database"] = True
        checks["migrations"] = current == migration_heads()
        checks["postgis"] = bool(
            db.session.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'"))
        )
    except SQLAlchemyError:
        db.session.rollback()
    finally:
        db.session.rollback()
    ready = all(checks.values())
    return {"status": "ready" if ready else "not_ready", "checks": checks}
