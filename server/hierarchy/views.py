"""HTTP routes for org units, grids and assignments (mounted under /api/v1)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request

from server.auth.guard import require
from server.auth.models import Role
from server.auth.principal import current_principal
from server.hierarchy import assignment_service, grid_service, org_unit_service
from server.hierarchy.schemas import (
    GridAssignmentCreateSchema,
    GridAssignmentQuerySchema,
    GridAssignmentSchema,
    GridCollectionSchema,
    GridCreateSchema,
    GridFeatureSchema,
    GridGetQuerySchema,
    GridListQuerySchema,
    GridPatchSchema,
    OrgAssignmentCreateSchema,
    OrgAssignmentQuerySchema,
    OrgAssignmentSchema,
    OrgUnitCreateSchema,
    OrgUnitDetailSchema,
    OrgUnitSchema,
)

bp = Blueprint("hierarchy", __name__, url_prefix="/api/v1")

Body = tuple[dict[str, Any], int]


# --- org units ------------------------------------------------------------------------------


@bp.get("/org-units")
@require()
def list_org_units() -> Body:
    """Org units in the caller's scope (everything for admins and auditors)."""
    units = org_unit_service.list_org_units(current_principal())
    return {"items": OrgUnitSchema(many=True).dump(units)}, 200


@bp.get("/org-units/<uuid:unit_id>")
@require()
def get_org_unit(unit_id: uuid.UUID) -> Body:
    """One org unit in scope, with a community's boundary."""
    unit = org_unit_service.get_org_unit(current_principal(), unit_id)
    return OrgUnitDetailSchema().dump(unit), 200


@bp.post("/org-units")
@require(Role.ADMIN)
def create_org_unit() -> Body:
    """Create an org unit under a parent one level up."""
    data = OrgUnitCreateSchema().load(request.get_json())
    unit = org_unit_service.create_org_unit(**data)
    return OrgUnitDetailSchema().dump(unit), 201


# --- grids ----------------------------------------------------------------------------------


@bp.get("/grids")
@require()
def list_grids() -> Body:
    """The caller's current grids as a GeoJSON FeatureCollection, optionally within a bbox."""
    query = GridListQuerySchema().load(request.args.to_dict())
    grids = grid_service.list_grids(current_principal(), bbox=query["bbox"], as_of=query["as_of"])
    return GridCollectionSchema().dump({"features": grids}), 200


@bp.get("/grids/<uuid:grid_id>")
@require()
def get_grid(grid_id: uuid.UUID) -> Body:
    """One current grid in scope (or its boundary `as_of` an instant) as a GeoJSON Feature."""
    query = GridGetQuerySchema().load(request.args.to_dict())
    grid = grid_service.get_grid(current_principal(), grid_id, as_of=query["as_of"])
    return GridFeatureSchema().dump(grid), 200


@bp.post("/grids")
@require(Role.ADMIN)
def create_grid() -> Body:
    """Create a grid with its first boundary version."""
    data = GridCreateSchema().load(request.get_json())
    grid = grid_service.create_grid(current_principal(), **data)
    return GridFeatureSchema().dump(grid), 201


@bp.patch("/grids/<uuid:grid_id>")
@require(Role.ADMIN)
def update_grid(grid_id: uuid.UUID) -> Body:
    """Rename, re-kind or redraw a grid (a redraw opens a new boundary version)."""
    data = GridPatchSchema().load(request.get_json())
    grid = grid_service.update_grid(current_principal(), grid_id, **data)
    return GridFeatureSchema().dump(grid), 200


# --- assignments ----------------------------------------------------------------------------


@bp.get("/grid-assignments")
@require(Role.ADMIN, Role.WORKER)
def list_grid_assignments() -> Body:
    """Grid assignments (a worker sees only their own)."""
    query = GridAssignmentQuerySchema().load(request.args.to_dict())
    items = assignment_service.list_grid_assignments(current_principal(), **query)
    return {"items": GridAssignmentSchema(many=True).dump(items)}, 200


@bp.post("/grid-assignments")
@require(Role.ADMIN)
def open_grid_assignment() -> Body:
    """Assign a worker to a grid from now on."""
    data = GridAssignmentCreateSchema().load(request.get_json())
    assignment = assignment_service.open_grid_assignment(current_principal(), **data)
    return GridAssignmentSchema().dump(assignment), 201


@bp.post("/grid-assignments/<uuid:assignment_id>/end")
@require(Role.ADMIN)
def end_grid_assignment(assignment_id: uuid.UUID) -> Body:
    """End a worker's grid assignment now."""
    assignment = assignment_service.end_grid_assignment(assignment_id)
    return GridAssignmentSchema().dump(assignment), 200


@bp.get("/org-assignments")
@require(Role.ADMIN, Role.DISPATCHER)
def list_org_assignments() -> Body:
    """Org-unit assignments (a dispatcher sees only their own)."""
    query = OrgAssignmentQuerySchema().load(request.args.to_dict())
    items = assignment_service.list_org_assignments(current_principal(), **query)
    return {"items": OrgAssignmentSchema(many=True).dump(items)}, 200


@bp.post("/org-assignments")
@require(Role.ADMIN)
def open_org_assignment() -> Body:
    """Assign a dispatcher to an org unit's subtree from now on."""
    data = OrgAssignmentCreateSchema().load(request.get_json())
    assignment = assignment_service.open_org_assignment(current_principal(), **data)
    return OrgAssignmentSchema().dump(assignment), 201


@bp.post("/org-assignments/<uuid:assignment_id>/end")
@require(Role.ADMIN)
def end_org_assignment(assignment_id: uuid.UUID) -> Body:
    """End a dispatcher's org-unit assignment now."""
    assignment = assignment_service.end_org_assignment(assignment_id)
    return OrgAssignmentSchema().dump(assignment), 200
