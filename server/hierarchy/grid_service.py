"""Use cases for grids: list and read the current boundaries in scope, create and edit (admin).

Writes lock the community row (SELECT … FOR UPDATE) while they validate and insert, so two
concurrent writes in one community cannot both pass the overlap check or take the same code.
A new boundary re-places the records of the land it covers or gave up, as a redraw does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import shapely
from flask import current_app
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from geo.geometry import to_geojson
from geo.overlap import find_overlaps
from server.audit.service import record_access
from server.auth.principal import Principal
from server.errors import Conflict, Duplicate, InvalidInput, NotFound, StaleVersion
from server.extensions import db
from server.hierarchy.boundaries import checked_boundary, geometry_error, stored_geometry
from server.hierarchy.codes import GRID_RANGES, grid_code_problem, next_grid_code
from server.hierarchy.models import Grid, GridKind, GridVersion, OrgLevel, OrgUnit
from server.hierarchy.scope import Scope, resolve_scope
from server.redraw.moves import Area
from server.redraw.records import place_area
from server.transaction import transaction

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class GridView:
    """A grid with its current boundary, as the API shows it."""

    id: uuid.UUID
    code: str
    name: str
    kind: GridKind
    community_id: uuid.UUID
    version: int
    valid_from: datetime
    geometry: dict[str, Any]


def _current() -> Select[Any]:
    return (
        select(Grid, GridVersion.geom, GridVersion.valid_from)
        .join(GridVersion, and_(GridVersion.grid_id == Grid.id, GridVersion.valid_to.is_(None)))
        .where(Grid.retired_at.is_(None))
    )


def _view(grid: Grid, geom: Any, valid_from: datetime) -> GridView:
    return GridView(
        grid.id,
        grid.code,
        grid.name,
        grid.kind,
        grid.community_id,
        grid.version,
        valid_from,
        to_geojson(to_shape(geom)),
    )


def _as_of(at: datetime) -> Select[Any]:
    """Grids with the boundary valid at `at` (valid_from <= at < valid_to), retired ones too;
    `version` is the number of that boundary version."""
    earlier = aliased(GridVersion)
    number = (
        select(func.count())
        .where(earlier.grid_id == GridVersion.grid_id, earlier.valid_from <= GridVersion.valid_from)
        .correlate(GridVersion)
        .scalar_subquery()
    )
    return select(Grid, GridVersion.geom, GridVersion.valid_from, number).join(
        GridVersion,
        and_(
            GridVersion.grid_id == Grid.id,
            GridVersion.valid_from <= at,
            or_(GridVersion.valid_to.is_(None), GridVersion.valid_to > at),
        ),
    )


def _as_of_view(grid: Grid, geom: Any, valid_from: datetime, number: int) -> GridView:
    return replace(_view(grid, geom, valid_from), version=number)


def _scope_as_of(scope: Scope) -> ColumnElement[bool]:
    # A dispatcher's subtree also holds the grids retired there since.
    if scope.org_unit_ids:
        return or_(
            scope.grid_filter(Grid.id.expression),
            Grid.path.overlap(array(list(scope.org_unit_ids))),
        )
    return scope.grid_filter(Grid.id.expression)


def list_grids(
    principal: Principal, bbox: BBox | None = None, as_of: datetime | None = None
) -> list[GridView]:
    """The current grids in the caller's scope (or their boundaries at `as_of`, retired grids
    included), optionally those meeting a lng/lat box."""
    scope = resolve_scope(principal)
    if as_of is not None:
        query = _as_of(as_of).where(_scope_as_of(scope)).order_by(Grid.code)
    else:
        query = _current().where(scope.grid_filter(Grid.id.expression)).order_by(Grid.code)
    if bbox is not None:
        query = query.where(func.ST_Intersects(GridVersion.geom, func.ST_MakeEnvelope(*bbox, 4326)))
    if as_of is not None:
        return [_as_of_view(*row) for row in db.session.execute(query)]
    return [_view(*row) for row in db.session.execute(query)]


def get_grid(principal: Principal, grid_id: uuid.UUID, as_of: datetime | None = None) -> GridView:
    """One current grid (or its boundary at `as_of`); out of the caller's scope reads exactly
    like an unknown grid."""
    scope = resolve_scope(principal)
    if as_of is not None:
        query = _as_of(as_of).where(Grid.id == grid_id, _scope_as_of(scope))
        row = db.session.execute(query).one_or_none()
        if row is None:
            raise NotFound("No such grid at that time.")
        return _as_of_view(*row)
    if not scope.allows_grid(grid_id):
        raise NotFound("No such grid.")
    return _load(grid_id)


def _load(grid_id: uuid.UUID) -> GridView:
    row = db.session.execute(_current().where(Grid.id == grid_id)).one_or_none()
    if row is None:
        raise NotFound("No such grid.")
    return _view(*row)


def _lock_community(community_id: uuid.UUID) -> OrgUnit:
    community = db.session.scalar(
        select(OrgUnit)
        .where(OrgUnit.id == community_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if community is None or community.level != OrgLevel.COMMUNITY or community.code is None:
        raise InvalidInput({"community_id": ["No such community."]})
    return community


def _check_overlaps(community_id: uuid.UUID, geom: MultiPolygon, exclude: uuid.UUID | None) -> None:
    """Refuse `geom` when it overlaps a current sibling grid beyond the configured tolerance."""
    query = (
        _current()
        .with_only_columns(Grid.id, Grid.code, GridVersion.geom)
        .where(
            Grid.community_id == community_id,
            func.ST_Intersects(GridVersion.geom, from_shape(geom, srid=4326)),
        )
    )
    if exclude is not None:
        query = query.where(Grid.id != exclude)
    siblings = [(gid, code, to_shape(g)) for gid, code, g in db.session.execute(query)]
    tolerance = float(current_app.config["GRID_OVERLAP_TOLERANCE_M2"])
    overlaps = find_overlaps(geom, siblings, tolerance)
    if overlaps:
        problems = [
            {
                "kind": "overlap",
                "message": f"Overlaps grid {o.code} by {o.area_m2} m².",
                "location": list(o.location),
                "grid_id": str(o.sibling_id),
                "code": o.code,
                "area_m2": o.area_m2,
            }
            for o in overlaps
        ]
        raise geometry_error(
            "geometry", problems, f"The geometry overlaps {len(overlaps)} sibling grid(s)."
        )


def _open_version(grid_id: uuid.UUID, geom: MultiPolygon, user_id: uuid.UUID) -> None:
    db.session.add(GridVersion(grid_id=grid_id, geom=stored_geometry(geom), created_by=user_id))


def _replace_records(area: BaseGeometry) -> int:
    """Re-place the records on `area` (land a grid took or gave up) and their dependents, with
    the redraw's set-based UPDATEs: the change log moves them between the phones' slices. How
    many records changed grid."""
    db.session.flush()
    moves = place_area(Area(shapely.to_wkb(area)), [])
    return sum(n for _, old, new, n in moves if old != new)


def create_grid(
    principal: Principal,
    *,
    code: str | None,
    name: str,
    kind: GridKind,
    community_id: uuid.UUID,
    geometry: dict[str, Any],
) -> GridView:
    """Create a grid in a community: a valid (or the next free) code, a boundary that is valid,
    inside the district and overlaps no sibling; nothing is stored when any check fails."""
    try:
        with transaction():
            community = _lock_community(community_id)
            community_code = community.code or ""
            if code is None:
                used = db.session.scalars(
                    select(Grid.code).where(Grid.code.startswith(community_code, autoescape=True))
                )
                code = next_grid_code(community_code, kind, used)
                if code is None:
                    raise Conflict(f"No free {kind.value} grid code left in this community.")
            else:
                problem = grid_code_problem(code, community_code, kind)
                if problem:
                    raise InvalidInput({"code": [problem]})
                if db.session.scalar(select(Grid.id).where(Grid.code == code)):
                    raise Duplicate(f"A grid with code {code} exists.")
            geom = checked_boundary(geometry, "geometry")
            _check_overlaps(community.id, geom, exclude=None)
            grid = Grid(
                id=uuid.uuid4(),
                code=code,
                name=name,
                kind=kind,
                community_id=community.id,
                path=list(community.path),
                version=1,
            )
            db.session.add(grid)
            db.session.flush()
            _open_version(grid.id, geom, principal.user_id)
            moved = _replace_records(geom)
            # Not the code: 15 digits read as an old ID number and would be stored masked.
            record_access("create", "grid", [grid.id], detail={"moved": moved}, actor=principal)
    except IntegrityError as exc:
        raise Duplicate(f"A grid with code {code} exists.") from exc
    return _load(grid.id)


def update_grid(
    principal: Principal,
    grid_id: uuid.UUID,
    *,
    name: str | None = None,
    kind: GridKind | None = None,
    geometry: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> GridView:
    """Rename, re-kind or redraw a grid. A new geometry closes the current version (valid_to =
    now) and opens the next one, checked like a new grid; `expected_version` guards it."""
    with transaction():
        community_id = db.session.scalar(
            select(Grid.community_id).where(Grid.id == grid_id, Grid.retired_at.is_(None))
        )
        if community_id is None:
            raise NotFound("No such grid.")
        _lock_community(community_id)
        grid = db.session.scalar(
            select(Grid)
            .where(Grid.id == grid_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        # Re-read under the lock: a redraw may have retired the grid while this one waited.
        if grid is None or grid.retired_at is not None:
            raise NotFound("No such grid.")
        if expected_version is not None and expected_version != grid.version:
            raise StaleVersion(
                f"The grid is at version {grid.version}, not {expected_version}.",
                current_version=grid.version,
            )
        changed: list[str] = []
        detail: dict[str, Any] = {}
        if kind is not None and kind != grid.kind:
            allowed = GRID_RANGES[kind]
            if int(grid.code[12:]) not in allowed:
                raise InvalidInput(
                    {"kind": [f"Code {grid.code} is outside the {kind.value} grid range."]}
                )
            grid.kind = kind
            changed.append("kind")
        if name is not None:
            grid.name = name
            changed.append("name")
        if geometry is not None:
            geom = checked_boundary(geometry, "geometry")
            _check_overlaps(community_id, geom, exclude=grid.id)
            old = db.session.scalar(
                select(GridVersion.geom).where(
                    GridVersion.grid_id == grid.id, GridVersion.valid_to.is_(None)
                )
            )
            db.session.execute(
                update(GridVersion)
                .where(GridVersion.grid_id == grid.id, GridVersion.valid_to.is_(None))
                .values(valid_to=func.now())
            )
            _open_version(grid.id, geom, principal.user_id)
            grid.version += 1
            changed.append("geometry")
            # The land the grid keeps, takes or gives up.
            affected = geom if old is None else shapely.union(to_shape(old), geom)
            detail["moved"] = _replace_records(affected)
        record_access(
            "update",
            "grid",
            [grid.id],
            detail={"fields": changed, "version": grid.version, **detail},
            actor=principal,
        )
    return _load(grid_id)
