"""Use cases for redraw drafts: create, read, replace, discard, validate, preview (admin).

A draft is the admin's proposal for one community; nothing in it touches the grids until it is
applied (see `apply`). Each use case commits once, or rolls back on any error.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from geo.geometry import to_geojson
from server.auth.principal import Principal
from server.errors import Conflict, InvalidInput, NotFound
from server.extensions import db
from server.hierarchy.models import OrgLevel, OrgUnit
from server.redraw.models import DraftStatus, RedrawDraft
from server.redraw.plan import Plan, check_content, current_grids, make_plan, problem_dict
from server.redraw.preview import build_preview


def _geometry(value: Any) -> Any:
    """A GeoJSON geometry as stored: its type and coordinates only. Other members (`bbox`,
    `crs`, anything) are not read, and one holding NaN or Infinity could not be stored."""
    if isinstance(value, Mapping):
        return {k: value[k] for k in ("type", "coordinates") if k in value}
    return value


def normalized(grids: list[Mapping[str, Any]], retire: list[uuid.UUID]) -> dict[str, Any]:
    """A loaded draft body as the JSON stored on the draft."""
    return {
        "grids": [
            {
                "grid_id": str(g["grid_id"]) if g.get("grid_id") else None,
                "key": g.get("key"),
                "name": g.get("name"),
                "kind": g["kind"].value if g.get("kind") else None,
                "geometry": _geometry(g["geometry"]),
            }
            for g in grids
        ],
        "retire": [str(gid) for gid in retire],
    }


def _community(community_id: uuid.UUID) -> OrgUnit:
    community = db.session.get(OrgUnit, community_id)
    if community is None:
        raise NotFound("No such community.")
    if community.level != OrgLevel.COMMUNITY or community.code is None:
        raise InvalidInput({"community_id": ["Only a community's grids are redrawn."]})
    return community


def get_draft(draft_id: uuid.UUID) -> RedrawDraft:
    """One draft, or NotFound."""
    draft = db.session.get(RedrawDraft, draft_id)
    if draft is None:
        raise NotFound("No such redraw draft.")
    return draft


def _editable(draft_id: uuid.UUID) -> RedrawDraft:
    draft = db.session.scalar(
        select(RedrawDraft)
        .where(RedrawDraft.id == draft_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if draft is None:
        raise NotFound("No such redraw draft.")
    if draft.status != DraftStatus.DRAFT:
        raise Conflict(f"The draft is {draft.status}; only a draft can change.")
    return draft


def create_draft(
    principal: Principal,
    community_id: uuid.UUID,
    grids: list[Mapping[str, Any]],
    retire: list[uuid.UUID],
) -> RedrawDraft:
    """Store a new draft for a community, based on its current boundary version."""
    try:
        community = _community(community_id)
        content = normalized(grids, retire)
        check_content(content, current_grids(community.id))
        draft = RedrawDraft(
            id=uuid.uuid4(),
            community_id=community.id,
            base_boundary_version=community.boundary_version,
            status=DraftStatus.DRAFT.value,
            content=content,
            created_by=principal.user_id,
        )
        db.session.add(draft)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return draft


def replace_draft(
    draft_id: uuid.UUID, grids: list[Mapping[str, Any]], retire: list[uuid.UUID]
) -> RedrawDraft:
    """Replace a draft's content; it is now based on the community's current boundary version
    and must be validated again."""
    try:
        draft = _editable(draft_id)
        community = _community(draft.community_id)
        content = normalized(grids, retire)
        check_content(content, current_grids(community.id))
        draft.content = content
        draft.base_boundary_version = community.boundary_version
        draft.problems = None
        draft.snapped = None
        draft.validated_at = None
        draft.updated_at = func.now()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return draft


def discard_draft(draft_id: uuid.UUID) -> None:
    """Delete a draft that has not been applied."""
    try:
        db.session.delete(_editable(draft_id))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def _plan(draft: RedrawDraft) -> Plan:
    return make_plan(_community(draft.community_id), draft.content)


def validate_draft(draft_id: uuid.UUID) -> tuple[RedrawDraft, Plan]:
    """Check a draft against the community now; store its problems and snapped geometries."""
    try:
        draft = _editable(draft_id)
        plan = _plan(draft)
        draft.problems = [problem_dict(p) for p in plan.verdict.problems]
        draft.snapped = [
            {
                "grid_id": str(grid.grid_id) if grid.grid_id else None,
                "key": grid.new_key,
                "geometry": (
                    to_geojson(geom)
                    if (geom := plan.verdict.geometries[grid.key]) is not None and not geom.is_empty
                    else None
                ),
            }
            for grid in plan.grids
        ]
        draft.validated_at = func.now()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return draft, plan


def preview_draft(draft_id: uuid.UUID) -> dict[str, Any]:
    """What applying the draft now would move; writes nothing (422 for an invalid draft)."""
    try:
        draft = get_draft(draft_id)
        result = build_preview(_plan(draft))
        result["draft_id"] = draft.id
        return result
    finally:
        db.session.rollback()
