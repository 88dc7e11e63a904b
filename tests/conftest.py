"""Test fixtures on a real PostGIS database whose schema is built by the migrations."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url

from server import create_app
from server.extensions import db
from server.registry.codes import load_code_tables
from tests import log_scan
from tests.openapi_contract import ContractClient, load_contract

ROOT = Path(__file__).resolve().parents[1]
# Reference data loaded by migrations survives the per-test cleanup.
KEEP_TABLES = {"alembic_version", "spatial_ref_sys"}
KEEP_TABLE_PREFIXES = ("code_",)
_LOG_PATH = pytest.StashKey[Path]()
_LOG_HANDLER = pytest.StashKey[logging.Handler]()


def _test_urls() -> tuple[URL, URL, URL]:
    """(runtime URL, owner URL, admin URL) for this run's test database."""
    runtime = make_url(os.environ["DATABASE_URL"])
    owner = make_url(os.environ.get("MIGRATION_DATABASE_URL") or runtime)
    admin = make_url(os.environ.get("TEST_ADMIN_DATABASE_URL") or owner.set(database="postgres"))
    name = os.environ.get("GRIDWORK_TEST_DB") or f"{runtime.database}_test"
    return runtime.set(database=name), owner.set(database=name), admin


def _create_database(owner: URL, admin: URL) -> None:
    name = owner.database
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{owner.username}"'))
    admin_engine.dispose()
    # As the admin inside the new database: PostGIS and, on the local cluster, the role grants.
    db_engine = create_engine(admin.set(database=name), isolation_level="AUTOCOMMIT")
    with db_engine.connect() as conn:
        has_app_role = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = 'gridwork_app'"))
        if has_app_role and owner.username == "gridwork":
            conn.execute(text((ROOT / "scripts" / "provision.sql").read_text()))
        else:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    db_engine.dispose()


@pytest.fixture(scope="session")
def database_urls() -> tuple[URL, URL]:
    """Create a fresh test database, migrate it to head, and return (runtime URL, owner URL)."""
    runtime, owner, admin = _test_urls()
    _create_database(owner, admin)
    return runtime, owner


@pytest.fixture(scope="session")
def app(
    database_urls: tuple[URL, URL], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """The application, configured for the test database, with the schema built by migrations."""
    runtime, owner = database_urls
    os.environ["GRIDWORK_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    application = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": runtime.render_as_string(hide_password=False),
            "MIGRATION_DATABASE_URI": owner.render_as_string(hide_password=False),
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_KIB": 1024,
            "ARGON2_PARALLELISM": 1,
        }
    )
    with application.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
        load_code_tables(db.session)
        db.session.commit()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(database_urls: tuple[URL, URL]) -> Iterator[Engine]:
    """An engine connected as the schema owner, for cleanup and privilege tests."""
    engine = create_engine(database_urls[1])
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def admin_engine() -> Iterator[Engine]:
    """An engine connected as the cluster admin to the test database (to terminate sessions)."""
    _, owner, admin = _test_urls()
    engine = create_engine(admin.set(database=owner.database), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = [
            name
            for name in conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if name not in KEEP_TABLES and not name.startswith(KEEP_TABLE_PREFIXES)
        ]
        if tables:
            # audit_log is append-only; its trigger lets the owner purge only when asked to.
            conn.execute(text("SET LOCAL gridwork.audit_purge = 'on'"))
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))


@pytest.fixture(autouse=True)
def _app_context(request: pytest.FixtureRequest) -> Iterator[None]:
    """Database tests get an app context and a clean database; pure tests get nothing."""
    if "app" not in request.fixturenames and "client" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    engine: Engine = request.getfixturevalue("owner_engine")
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            _truncate_all(engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An HTTP test client that fails the test on any response openapi.yaml does not document.

    `client.raw` is unvalidated, only for requests that deliberately send garbage.
    """
    return ContractClient(app, app.response_class, contract=load_contract())


def pytest_configure(config: pytest.Config) -> None:
    """Keep every log line of the run in one file, to be scanned when the session ends."""
    path = Path(os.environ.get("GRIDWORK_TEST_LOG") or ROOT / "var" / "test-run.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    config.stash[_LOG_PATH] = path
    config.stash[_LOG_HANDLER] = log_scan.attach(path)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when its logs hold a citizen ID number or a mobile number."""
    config = session.config
    if _LOG_HANDLER not in config.stash:
        return
    handler = config.stash[_LOG_HANDLER]
    handler.flush()
    logging.getLogger().removeHandler(handler)
    handler.close()
    path = config.stash[_LOG_PATH]
    text = path.read_text(encoding="utf-8")
    found = log_scan.personal_numbers(text)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        lines = len(text.splitlines())
        reporter.write_line(f"log scan: {lines} log lines in {path}, {len(found)} personal numbers")
    if found:
        if reporter is not None:
            for number, kind in found[:20]:
                reporter.write_line(f"log scan: a {kind} on line {number} of {path}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
