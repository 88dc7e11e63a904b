"""Demo accounts: who covers which grid, and what the scope resolver gives each of them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from server.auth.models import Role, User
from server.auth.principal import Principal
from server.demo.service import load_demo
from server.extensions import db
from server.hierarchy.models import Grid, GridAssignment, OrgUnit
from server.hierarchy.scope import Scope, resolve_scope


def _load(app: Flask) -> list[dict[str, Any]]:
    load_demo()
    path = Path(app.config["INSTANCE_PATH"]) / "demo-logins.json"
    logins: list[dict[str, Any]] = json.loads(path.read_text())["logins"]
    return logins


def _scope_of(username: str) -> Scope:
    user = db.session.scalars(select(User).where(User.username == username)).one()
    return resolve_scope(
        Principal(
            user.id, user.username, user.role, session_id=uuid.uuid4(), device_id=uuid.uuid4()
        )
    )


def _grid_ids(codes: list[str]) -> frozenset[uuid.UUID]:
    return frozenset(db.session.scalars(select(Grid.id).where(Grid.code.in_(codes))))


def test_there_is_one_admin_one_auditor_and_two_dispatchers(app: Flask) -> None:
    roles = [login["role"] for login in _load(app)]
    assert roles.count("admin") == 1
    assert roles.count("auditor") == 1
    assert roles.count("dispatcher") == 2


def test_every_grid_has_exactly_one_current_worker(app: Flask) -> None:
    _load(app)
    grid_ids = set(db.session.scalars(select(Grid.id)))
    assigned = list(
        db.session.scalars(select(GridAssignment.grid_id).where(GridAssignment.valid_to.is_(None)))
    )
    assert sorted(assigned) == sorted(grid_ids)


def test_every_worker_but_one_has_a_current_assignment(app: Flask) -> None:
    _load(app)
    workers = set(db.session.scalars(select(User.id).where(User.role == Role.WORKER)))
    assigned = set(
        db.session.scalars(select(GridAssignment.user_id).where(GridAssignment.valid_to.is_(None)))
    )
    assert assigned <= workers
    assert len(workers - assigned) == 1


def test_a_few_workers_cover_two_grids(app: Flask) -> None:
    logins = _load(app)
    two = [login for login in logins if len(login["grids"]) == 2]
    assert 2 <= len(two) <= 5
    assert all(a[:12] == b[:12] for a, b in (login["grids"] for login in two))


def test_a_demo_workers_scope_is_exactly_their_grids(app: Flask) -> None:
    for login in _load(app):
        if login["role"] != "worker":
            continue
        scope = _scope_of(login["username"])
        assert not scope.everything
        assert scope.grid_ids == _grid_ids(login["grids"])


def test_the_worker_without_a_grid_sees_nothing(app: Flask) -> None:
    spare = next(x for x in _load(app) if x["role"] == "worker" and not x["grids"])
    assert _scope_of(spare["username"]).grid_ids == frozenset()


def test_the_town_dispatcher_sees_exactly_the_grids_of_the_town(app: Flask) -> None:
    _load(app)
    town = db.session.scalars(select(OrgUnit).where(OrgUnit.name == "三桥街道")).one()
    assert town.code is not None
    expected = db.session.scalars(select(Grid.id).where(Grid.code.startswith(town.code))).all()
    scope = _scope_of("dispatcher01")
    assert scope.grid_ids == frozenset(expected)
    assert scope.org_unit_ids == {town.id}


def test_the_new_city_dispatcher_sees_every_grid_of_the_city(app: Flask) -> None:
    _load(app)
    # Both towns of 秦汉新城 lie in county 610404, and no other demo town does.
    expected = db.session.scalars(select(Grid.id).where(Grid.code.startswith("610404"))).all()
    scope = _scope_of("dispatcher02")
    assert len(expected) > 0
    assert scope.grid_ids == frozenset(expected)
