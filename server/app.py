"""The application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g

from server.config import load_config
from server.errors import register_error_handlers
from server.extensions import db, migrate
from server.logs import configure_logging
from server.text_guard import install_text_guard

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
    app.before_request(_forget_previous_caller)
    configure_logging(app)
    register_error_handlers(app)
    install_text_guard(app)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _forget_previous_caller() -> None:
    """Start every request with no caller: under an outer app context (tests, CLI) `g` is
    shared between requests, and a view must never see the previous request's principal."""
    g.pop("principal", None)


def _import_models() -> None:
    """Import every model module so the metadata (and Alembic) sees all tables."""
    import server.audit.models
    import server.auth.models
    import server.blobs.models
    import server.hierarchy.models
    import server.redraw.models
    import server.registry.codes
    import server.registry.models  # noqa: F401


def _migrations_dir() -> Any:
    from server.health.service import MIGRATIONS

    return MIGRATIONS


def _register_blueprints(app: Flask) -> None:
    from server.audit.views import bp as audit_bp
    from server.auth.views import bp as auth_bp
    from server.blobs.views import bp as blobs_bp
    from server.health.views import bp as health_bp
    from server.hierarchy.views import bp as hierarchy_bp
    from server.redraw.views import bp as redraw_bp
    from server.registry.codes_views import bp as code_tables_bp
    from server.registry.views.records import bp as registry_bp
    from server.syncapi.views import bp as syncapi_bp
    from server.users.views import bp as users_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(hierarchy_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(users_bp)
    app.register_blueprint(code_tables_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(registry_bp)
    app.register_blueprint(redraw_bp)
    app.register_blueprint(blobs_bp)
    app.register_blueprint(syncapi_bp)


def _register_cli(app: Flask) -> None:
    from server.demo.cli import demo
    from server.registry.codes_views import codes_cli

    app.cli.add_command(demo)
    app.cli.add_command(codes_cli)
