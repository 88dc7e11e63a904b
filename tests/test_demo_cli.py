"""`flask demo load` and `flask demo logins`, run through the Flask CLI runner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from server.auth.models import User
from server.auth.passwords import verify_password
from server.extensions import db
from server.hierarchy.models import Grid, GridAssignment, GridVersion, OrgAssignment, OrgUnit

TABLES = (OrgUnit, Grid, GridVersion, User, GridAssignment, OrgAssignment)


def _counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
        for model in TABLES
    }


def _invoke(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["demo", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _logins_path(app: Flask) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "demo-logins.json"


def test_demo_load_twice_leaves_the_same_row_counts(app: Flask) -> None:
    _invoke(app, "load")
    first = _counts()
    second_output = _invoke(app, "load")
    assert _counts() == first
    assert "already loaded" in second_output
    assert first["grids"] == first["grid_versions"] > 0


def test_demo_load_reports_what_it_created(app: Flask) -> None:
    output = _invoke(app, "load")
    assert "loaded the demo district" in output
    assert "19 org_units" in output


def test_demo_logins_are_kept_readable_by_the_owner_only(app: Flask) -> None:
    _invoke(app, "load")
    assert stat.S_IMODE(_logins_path(app).stat().st_mode) == 0o600


def test_demo_passwords_match_the_stored_hashes(app: Flask) -> None:
    _invoke(app, "load")
    logins = json.loads(_logins_path(app).read_text())["logins"]
    assert len(logins) == db.session.scalar(select(func.count()).select_from(User))
    for login in (logins[0], logins[-1]):
        user = db.session.scalars(select(User).where(User.username == login["username"])).one()
        assert verify_password(user.password_hash, login["password"])
        assert user.role.value == login["role"]


def test_demo_logins_print_the_base_url_the_logins_and_a_curl_example(app: Flask) -> None:
    _invoke(app, "load")
    output = _invoke(app, "logins", "--host", "127.0.0.1", "--port", "8765")
    logins = json.loads(_logins_path(app).read_text())["logins"]
    assert "API base URL: http://127.0.0.1:8765/api/v1" in output
    for login in logins:
        assert login["username"] in output
        assert login["password"] in output
    assert "curl -s -X POST http://127.0.0.1:8765/api/v1/auth/login" in output
    assert '"device_id": "demo-cli"' in output
    assert "curl -s http://127.0.0.1:8765/api/v1/grids" in output
