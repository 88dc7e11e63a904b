"""The application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from server.config import load_config
from server.errors import register_error_handlers
from server.extensions import db, migrate
from server.logs import configure_logging

API_PREFIX = "/api/v1"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app: config from the environment (overridden by `config`), extensions,
    error rendering, logging and every blueprint."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    _import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    configure_logging(app)
    register_error_handlers(app)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _import_models() -> None:
    """Import every model module so the metadata (and Alembic) sees all tables."""
    import server.auth.models
    import server.hierarchy.models  # noqa: F401


def _migrations_dir() -> Any:
    from server.health.service import MIGRATIONS

    return MIGRATIONS


def _register_blueprints(app: Flask) -> None:
    from server.health.views import bp as health_bp

    app.register_blueprint(health_bp)


def _register_cli(app: Flask) -> None:
    pass
