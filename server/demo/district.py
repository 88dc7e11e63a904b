"""Write the demo district (org units, grids, grid versions) into the database, uncommitted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from geoalchemy2 import WKTElement
from shapely.geometry import MultiPolygon
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from server.demo.layout import DEMO_SEED, ROOT_NAME, plan_district
from server.hierarchy.models import Grid, GridKind, GridVersion, OrgLevel, OrgUnit

# The app passes its scoped session (`db.session`); scripts may pass a plain one.
AnySession = Session | scoped_session[Any]
# Ids are derived from codes so a rebuilt demo database has the same ids as the last one.
DEMO_NAMESPACE = uuid.UUID("6f1d2b8e-4c1a-5e3b-9a57-20261127d3e0")
# The demo boundaries and assignments are in force from this (past) instant.
DEMO_VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DistrictSummary:
    """What build_district wrote: the root, every unit id by key (code or name), grid ids."""

    root_id: uuid.UUID
    unit_ids: dict[str, uuid.UUID]
    grid_ids: dict[str, uuid.UUID]
    community_of_grid: dict[str, str]

    @property
    def counts(self) -> dict[str, int]:
        """Rows written per kind."""
        return {"org_units": len(self.unit_ids), "grids": len(self.grid_ids)}


def demo_id(kind: str, key: str) -> uuid.UUID:
    """The stable id of a demo row (`kind` is org, grid, user …)."""
    return uuid.uuid5(DEMO_NAMESPACE, f"{kind}:{key}")


def find_demo_root(session: AnySession) -> uuid.UUID | None:
    """The id of the demo new area if it has been loaded."""
    return session.scalar(
        select(OrgUnit.id).where(
            OrgUnit.parent_id.is_(None),
            OrgUnit.level == OrgLevel.NEW_AREA,
            OrgUnit.name == ROOT_NAME,
        )
    )


def _geometry(geom: MultiPolygon) -> WKTElement:
    return WKTElement(geom.wkt, srid=4326)


def build_district(session: AnySession, seed: int = DEMO_SEED) -> DistrictSummary:
    """Add the demo hierarchy and grids to `session` (flushed, not committed); return its ids."""
    plan = plan_district(seed)
    unit_ids: dict[str, uuid.UUID] = {}
    paths: dict[str, list[uuid.UUID]] = {}
    for unit in plan.units:
        unit_id = demo_id("org", unit.key)
        parent_id = unit_ids[unit.parent_key] if unit.parent_key else None
        path = [*paths[unit.parent_key], unit_id] if unit.parent_key else [unit_id]
        unit_ids[unit.key], paths[unit.key] = unit_id, path
        session.add(
            OrgUnit(
                id=unit_id,
                parent_id=parent_id,
                level=OrgLevel(unit.level),
                name=unit.name,
                code=unit.code,
                path=path,
                boundary=_geometry(unit.outline) if unit.outline is not None else None,
                boundary_version=1,
            )
        )
        # Parents must exist before children reference them; there is no ORM relationship
        # to order the inserts for us.
        session.flush()
    grid_ids: dict[str, uuid.UUID] = {}
    for grid in plan.grids:
        grid_id = demo_id("grid", grid.code)
        grid_ids[grid.code] = grid_id
        session.add(
            Grid(
                id=grid_id,
                code=grid.code,
                name=grid.name,
                kind=GridKind.COMPREHENSIVE,
                community_id=unit_ids[grid.community_key],
                path=paths[grid.community_key],
                version=1,
            )
        )
    session.flush()
    session.add_all(
        GridVersion(
            id=demo_id("grid-version", grid.code),
            grid_id=grid_ids[grid.code],
            geom=_geometry(grid.geom),
            valid_from=DEMO_VALID_FROM,
        )
        for grid in plan.grids
    )
    session.flush()
    return DistrictSummary(
        root_id=unit_ids[ROOT_NAME],
        unit_ids=unit_ids,
        grid_ids=grid_ids,
        community_of_grid={grid.code: grid.community_key for grid in plan.grids},
    )
