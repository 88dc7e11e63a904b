"""HTTP routes for redrawing a community's grids (admin; mounted under /api/v1)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, request

from server.auth.guard import require
from server.auth.models import Role
from server.auth.principal import current_principal
from server.redraw import apply, drafts, jobs
from server.redraw.models import RedrawJob
from server.redraw.schemas import (
    ApplyInSchema,
    DraftInSchema,
    DraftSchema,
    JobSchema,
    PreviewSchema,
    ValidationSchema,
)

bp = Blueprint("redraw", __name__, url_prefix="/api/v1")

Body = tuple[dict[str, Any], int]


def _json() -> Any:
    body = request.get_json(silent=True)
    return {} if body is None else body


@bp.post("/communities/<uuid:community_id>/redraws")
@require(Role.ADMIN)
def create_draft(community_id: uuid.UUID) -> Body:
    """Start a redraw draft for one community."""
    data = DraftInSchema().load(_json())
    draft = drafts.create_draft(current_principal(), community_id, **data)
    return DraftSchema().dump(draft), 201


@bp.get("/redraws/<uuid:draft_id>")
@require(Role.ADMIN)
def get_draft(draft_id: uuid.UUID) -> Body:
    """One redraw draft."""
    return DraftSchema().dump(drafts.get_draft(draft_id)), 200


@bp.put("/redraws/<uuid:draft_id>")
@require(Role.ADMIN)
def replace_draft(draft_id: uuid.UUID) -> Body:
    """Replace a draft's content."""
    data = DraftInSchema().load(_json())
    return DraftSchema().dump(drafts.replace_draft(draft_id, **data)), 200


@bp.delete("/redraws/<uuid:draft_id>")
@require(Role.ADMIN)
def discard_draft(draft_id: uuid.UUID) -> tuple[str, int]:
    """Discard a draft that was not applied."""
    drafts.discard_draft(draft_id)
    return "", 204


@bp.post("/redraws/<uuid:draft_id>/validate")
@require(Role.ADMIN)
def validate_draft(draft_id: uuid.UUID) -> Body:
    """Check a draft; store its problems and snapped geometries."""
    draft, plan = drafts.validate_draft(draft_id)
    body = {"ok": plan.ok, "problems": draft.problems, "draft": draft}
    return ValidationSchema().dump(body), 200


@bp.get("/redraws/<uuid:draft_id>/preview")
@require(Role.ADMIN)
def preview_draft(draft_id: uuid.UUID) -> Body:
    """What applying the draft would move (changes nothing)."""
    return PreviewSchema().dump(drafts.preview_draft(draft_id)), 200


@bp.post("/redraws/<uuid:draft_id>/apply")
@require(Role.ADMIN)
def apply_draft(draft_id: uuid.UUID) -> Body:
    """Apply a draft: 200 with the result, or 202 with a job for a large redraw."""
    data = ApplyInSchema().load(_json())
    outcome = apply.apply_draft(current_principal(), draft_id, **data)
    if isinstance(outcome, RedrawJob):
        return JobSchema().dump(outcome), 202
    return outcome, 200


@bp.get("/redraw-jobs/<uuid:job_id>")
@require(Role.ADMIN)
def get_job(job_id: uuid.UUID) -> Body:
    """A background apply's status, progress and result."""
    return JobSchema().dump(jobs.get_job(job_id)), 200
