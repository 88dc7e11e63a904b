"""A draft read against the community as it is now: geo's verdict, snapped shapes, proposed codes.

Keys: geo works on string keys. An existing grid's key is its id; a new grid's is `new:<key>` so
a client's key can never pass for a grid id. `display_key` turns them back for the API.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from flask import current_app
from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, select

from geo.codes import CodeRangeExhausted, assign_codes
from geo.geometry import GeometryRejected, parse_multipolygon
from geo.partition import Problem
from geo.redraw import RedrawResult, validate_redraw
from server.errors import Conflict, InvalidInput
from server.extensions import db
from server.hierarchy.codes import GRID_RANGES
from server.hierarchy.models import Grid, GridKind, GridVersion, OrgUnit

NEW_PREFIX = "new:"


@dataclass(frozen=True)
class CurrentGrid:
    """A current grid of the community with its current boundary."""

    id: uuid.UUID
    code: str
    name: str
    kind: GridKind
    geom: MultiPolygon


@dataclass(frozen=True)
class DraftGrid:
    """One drafted grid: an existing one continuing (`grid_id`) or a new one (`new_key`)."""

    key: str
    grid_id: uuid.UUID | None
    new_key: str | None
    name: str | None
    kind: GridKind | None
    geometry: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """A draft checked against the community now; `codes` only when the draft is valid."""

    community: OrgUnit
    current: dict[str, CurrentGrid]
    grids: list[DraftGrid]
    retire: list[uuid.UUID]
    verdict: RedrawResult
    codes: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when geo found no problem."""
        return self.verdict.ok

    def new_geometry(self, key: str) -> MultiPolygon:
        """The snapped boundary of a drafted grid."""
        geom = self.verdict.geometries[key]
        assert geom is not None
        return geom

    def drafted_ids(self) -> list[uuid.UUID]:
        """Existing grids the draft reshapes or retires."""
        return [g.grid_id for g in self.grids if g.grid_id is not None] + list(self.retire)

    def affected_area(self) -> BaseGeometry:
        """The union of the old and new boundaries of every drafted grid."""
        old = [self.current[str(gid)].geom for gid in self.drafted_ids()]
        new = [geom for geom in self.verdict.geometries.values() if geom is not None]
        return shapely.union_all([*old, *new])

    def changed_area(self) -> BaseGeometry:
        """Where the covering grid changes: each drafted grid's gain, and every retired grid."""
        gains = [
            self.new_geometry(g.key)
            if g.grid_id is None
            else self.new_geometry(g.key).difference(self.current[str(g.grid_id)].geom)
            for g in self.grids
        ]
        retired = [self.current[str(gid)].geom for gid in self.retire]
        return shapely.union_all([*gains, *retired])


def display_key(key: str) -> str:
    """The key as the client wrote it: a grid id, or the new grid's own key."""
    return key[len(NEW_PREFIX) :] if key.startswith(NEW_PREFIX) else key


def _json_number(value: float | None) -> float | None:
    """The number, or None where JSON has none (a draft drawn at ±1e300 has an infinite area)."""
    return value if value is None or math.isfinite(value) else None


def problem_dict(problem: Problem) -> dict[str, Any]:
    """A geo problem as JSON, located so an editor can draw it."""
    return {
        "kind": problem.kind.value,
        "keys": [display_key(key) for key in problem.keys],
        "location": [_json_number(c) for c in problem.location],
        "size_m2": _json_number(problem.size_m2),
        "detail": problem.detail,
    }


def draft_grids(content: Mapping[str, Any]) -> list[DraftGrid]:
    """The drafted grids of a stored draft's content."""
    grids = []
    for item in content["grids"]:
        grid_id = uuid.UUID(item["grid_id"]) if item.get("grid_id") else None
        new_key = item.get("key")
        kind = GridKind(item["kind"]) if item.get("kind") else None
        key = str(grid_id) if grid_id is not None else NEW_PREFIX + str(new_key)
        grids.append(DraftGrid(key, grid_id, new_key, item.get("name"), kind, item["geometry"]))
    return grids


def current_grids(community_id: uuid.UUID) -> dict[str, CurrentGrid]:
    """The community's current grids with their current boundaries, keyed by id."""
    rows = db.session.execute(
        select(Grid, GridVersion.geom)
        .join(GridVersion, and_(GridVersion.grid_id == Grid.id, GridVersion.valid_to.is_(None)))
        .where(Grid.community_id == community_id, Grid.retired_at.is_(None))
    )
    return {
        str(grid.id): CurrentGrid(grid.id, grid.code, grid.name, grid.kind, _multi(to_shape(geom)))
        for grid, geom in rows
    }


def check_content(content: Mapping[str, Any], current: Mapping[str, CurrentGrid]) -> None:
    """Refuse (422) a draft naming grids the community does not have now, or unreadable shapes."""
    errors: dict[str, Any] = {}
    for i, item in enumerate(content["grids"]):
        grid_id = item.get("grid_id")
        if grid_id is not None and grid_id not in current:
            errors[f"grids.{i}.grid_id"] = ["Not a current grid of this community."]
        elif grid_id is not None and item.get("kind") not in (None, current[grid_id].kind.value):
            errors[f"grids.{i}.kind"] = ["An existing grid's kind changes with PATCH /grids."]
        try:
            parse_multipolygon(item["geometry"])
        except GeometryRejected as exc:
            errors[f"grids.{i}.geometry"] = [exc.problem.as_dict()]
    for i, grid_id in enumerate(content["retire"]):
        if grid_id not in current:
            errors[f"retire.{i}"] = ["Not a current grid of this community."]
    if errors:
        raise InvalidInput(errors, detail="The draft names grids or shapes that cannot be used.")


def make_plan(community: OrgUnit, content: Mapping[str, Any]) -> Plan:
    """Check the draft against the community as it is now (geo.redraw) and propose codes."""
    current = current_grids(community.id)
    check_content(content, current)
    grids = draft_grids(content)
    retire = [uuid.UUID(gid) for gid in content["retire"]]
    outline = _outline(community, current)
    draft: dict[str, BaseGeometry | None] = {g.key: parse_multipolygon(g.geometry) for g in grids}
    draft.update({str(gid): None for gid in retire})
    tolerance = float(current_app.config["GRID_OVERLAP_TOLERANCE_M2"])
    try:
        verdict = validate_redraw(
            outline, {key: grid.geom for key, grid in current.items()}, draft, tolerance
        )
    except ValueError as exc:
        raise InvalidInput({"grids": [str(exc)]}, detail=str(exc)) from exc
    codes = _proposed_codes(community, grids, verdict) if verdict.ok else {}
    return Plan(community, current, grids, retire, verdict, codes)


def _outline(community: OrgUnit, current: Mapping[str, CurrentGrid]) -> BaseGeometry:
    # A community drawn before outlines were stored is outlined by what its grids cover now.
    if community.boundary is not None:
        return to_shape(community.boundary)
    if not current:
        raise InvalidInput(
            {"community": ["The community has neither an outline nor grids to redraw."]}
        )
    return shapely.union_all([grid.geom for grid in current.values()])


def _proposed_codes(
    community: OrgUnit, grids: list[DraftGrid], verdict: RedrawResult
) -> dict[str, str]:
    """Codes for the new grids: the lowest never issued in the community, in reading order."""
    community_code = community.code or ""
    issued = db.session.execute(
        select(Grid.id, Grid.code).where(Grid.code.startswith(community_code, autoescape=True))
    )
    existing = {str(gid): code for gid, code in issued}
    ranges = {kind.value: (r.start, r.stop - 1) for kind, r in GRID_RANGES.items()}
    codes: dict[str, str] = {}
    for kind in GridKind:
        new = {
            g.key: geom
            for g in grids
            if g.grid_id is None
            and (g.kind or GridKind.COMPREHENSIVE) == kind
            and (geom := verdict.geometries[g.key]) is not None
        }
        if not new:
            continue
        try:
            assigned = assign_codes(community_code, new, existing, kind.value, ranges)
        except CodeRangeExhausted as exc:
            raise Conflict(str(exc)) from exc
        codes.update({key: code for key, code in assigned.items() if key in new})
        existing.update(codes)
    return codes


def _multi(geom: BaseGeometry) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    return MultiPolygon([geom])
