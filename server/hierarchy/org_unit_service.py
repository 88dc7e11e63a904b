"""Use cases for org units: list and read within the caller's scope, create (admin)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import any_, exists, false, or_, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.exc import IntegrityError

from geo.geometry import to_geojson
from server.audit.service import record_access
from server.auth.principal import Principal
from server.errors import Duplicate, InvalidInput, NotFound
from server.extensions import db
from server.hierarchy.boundaries import checked_boundary, stored_geometry
from server.hierarchy.codes import CHILD_LEVEL, division_code_problem
from server.hierarchy.models import Grid, OrgLevel, OrgUnit
from server.hierarchy.scope import Scope, resolve_scope
from server.transaction import transaction


@dataclass(frozen=True)
class OrgUnitView:
    """An org unit as the API shows it."""

    id: uuid.UUID
    parent_id: uuid.UUID | None
    level: OrgLevel
    code: str | None
    name: str
    boundary: dict[str, Any] | None = None
    boundary_version: int = 1


def _view(unit: OrgUnit, with_boundary: bool = False) -> OrgUnitView:
    boundary = None
    if with_boundary and unit.boundary is not None:
        boundary = to_geojson(to_shape(unit.boundary))
    return OrgUnitView(
        unit.id, unit.parent_id, unit.level, unit.code, unit.name, boundary, unit.boundary_version
    )


def _visible(scope: Scope) -> Any:
    """A predicate on OrgUnit: the units on the paths of the caller's grids, and a dispatcher's
    subtrees with their ancestors. Admins and auditors see every unit."""
    if scope.everything:
        return None
    conditions = []
    if scope.grid_ids:
        # Ancestors of (and including) each visible grid's community.
        conditions.append(
            exists().where(Grid.id.in_(scope.grid_ids), OrgUnit.id == any_(Grid.path))
        )
    if scope.org_unit_ids:
        roots = array(list(scope.org_unit_ids))
        conditions.append(OrgUnit.path.overlap(roots))
        ancestor = select(OrgUnit.path).where(OrgUnit.id.in_(scope.org_unit_ids)).subquery()
        conditions.append(exists().where(OrgUnit.id == any_(ancestor.c.path)))
    return or_(*conditions) if conditions else false()


def list_org_units(principal: Principal) -> list[OrgUnitView]:
    """Every org unit the caller may see, root levels first."""
    query = select(OrgUnit).order_by(OrgUnit.level, OrgUnit.code, OrgUnit.name)
    predicate = _visible(resolve_scope(principal))
    if predicate is not None:
        query = query.where(predicate)
    return [_view(unit) for unit in db.session.scalars(query)]


def get_org_unit(principal: Principal, unit_id: uuid.UUID) -> OrgUnitView:
    """One org unit, with its boundary; out of scope reads as unknown."""
    query = select(OrgUnit).where(OrgUnit.id == unit_id)
    predicate = _visible(resolve_scope(principal))
    if predicate is not None:
        query = query.where(predicate)
    unit = db.session.scalar(query)
    if unit is None:
        raise NotFound("No such org unit.")
    return _view(unit, with_boundary=True)


def create_org_unit(
    *,
    parent_id: uuid.UUID | None,
    level: OrgLevel,
    name: str,
    code: str | None,
    boundary: dict[str, Any] | None,
) -> OrgUnitView:
    """Create an org unit one level below its parent, with a valid division code and, for a
    community, an optional checked boundary; its path is the parent's path plus itself."""
    try:
        with transaction():
            parent = None
            if parent_id is not None:
                parent = db.session.get(OrgUnit, parent_id)
                if parent is None:
                    raise InvalidInput({"parent_id": ["No such org unit."]})
            expected = CHILD_LEVEL.get(parent.level if parent else None)
            if level != expected:
                where = f"under a {parent.level.value}" if parent else "without a parent"
                need = expected.value if expected else "nothing (communities have no child units)"
                raise InvalidInput({"level": [f"A unit {where} must be: {need}."]})
            problem = division_code_problem(level, code, parent.code if parent else None)
            if problem:
                raise InvalidInput({"code": [problem]})
            if boundary is not None and level != OrgLevel.COMMUNITY:
                raise InvalidInput({"boundary": ["Only a community carries a boundary."]})
            if code is not None and db.session.scalar(
                select(OrgUnit.id).where(OrgUnit.code == code)
            ):
                raise Duplicate(f"An org unit with code {code} exists.")
            unit_id = uuid.uuid4()
            unit = OrgUnit(
                id=unit_id,
                parent_id=parent.id if parent else None,
                level=level,
                name=name,
                code=code,
                path=[*(parent.path if parent else []), unit_id],
            )
            if boundary is not None:
                unit.boundary = stored_geometry(checked_boundary(boundary, "boundary"))
            db.session.add(unit)
            record_access("create", "org_unit", [unit_id], detail={"level": level.value})
    except IntegrityError as exc:
        raise Duplicate(f"An org unit with code {code} exists.") from exc
    return get_org_unit_unscoped(unit_id)


def get_org_unit_unscoped(unit_id: uuid.UUID) -> OrgUnitView:
    """One org unit by id for internal callers that already checked the caller's rights."""
    unit = db.session.get(OrgUnit, unit_id, populate_existing=True)
    if unit is None:
        raise NotFound("No such org unit.")
    return _view(unit, with_boundary=True)
