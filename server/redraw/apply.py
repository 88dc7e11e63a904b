"""Applying a redraw in one transaction: lock, re-check, rewrite the grids, re-place the records.

The community row is locked (SELECT … FOR UPDATE) for the whole apply, so of two admins applying
drafts of one community the second waits, then finds the boundary version moved (409) and
changes nothing. A redraw that would likely move more than REDRAW_SYNC_LIMIT records (a cheap
area-based guess, not the preview's exact count) is handed to a background job (see `jobs`),
which runs the same steps in its own transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from server.audit.service import record_access
from server.auth.principal import Principal
from server.errors import Conflict, InvalidInput, NotFound, StaleVersion
from server.extensions import db
from server.hierarchy.boundaries import stored_geometry
from server.hierarchy.models import Grid, GridAssignment, GridKind, GridVersion, OrgUnit
from server.redraw import jobs, report
from server.redraw.models import DraftStatus, JobStatus, RedrawDraft, RedrawJob
from server.redraw.plan import Plan, display_key, make_plan
from server.redraw.preview import likely_moves_more_than, refuse_invalid
from server.redraw.records import Progress, place_records
from server.registry.placement import ORDER


def _no_progress(done: int, total: int) -> None:
    """Progress is only reported for background jobs."""


def _lock_draft(draft_id: uuid.UUID, status: DraftStatus) -> RedrawDraft:
    draft = db.session.scalar(
        select(RedrawDraft)
        .where(RedrawDraft.id == draft_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if draft is None:
        raise NotFound("No such redraw draft.")
    if draft.status != status:
        raise Conflict(f"The draft is {draft.status}, not {status.value}.")
    return draft


def _lock_community(draft: RedrawDraft, expected: int) -> OrgUnit:
    community = db.session.scalar(
        select(OrgUnit)
        .where(OrgUnit.id == draft.community_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if community is None:
        raise InvalidInput({"community_id": ["No such community."]})
    current = community.boundary_version
    if current != expected or current != draft.base_boundary_version:
        raise StaleVersion(
            f"The community's grids are at boundary version {current}; the draft was drawn on "
            f"{draft.base_boundary_version} and the apply expected {expected}.",
            current_version=current,
        )
    return community


def apply_draft(
    principal: Principal, draft_id: uuid.UUID, expected_boundary_version: int
) -> dict[str, Any] | RedrawJob:
    """Apply a draft now (its result) or, when it moves many records, queue a job (the job)."""
    try:
        draft = _lock_draft(draft_id, DraftStatus.DRAFT)
        community = _lock_community(draft, expected_boundary_version)
        plan = make_plan(community, draft.content)
        refuse_invalid(plan)
        if likely_moves_more_than(plan, int(current_app.config["REDRAW_SYNC_LIMIT"])):
            job = RedrawJob(
                id=uuid.uuid4(),
                draft_id=draft.id,
                status=JobStatus.QUEUED.value,
                expected_boundary_version=expected_boundary_version,
                tables_done=0,
                tables_total=len(ORDER),
                created_by=principal.user_id,
                lease_expires_at=func.now() + jobs.lease(),
            )
            draft.status = DraftStatus.APPLYING.value
            db.session.add(job)
            db.session.commit()
            jobs.start(current_app._get_current_object(), job.id, principal)  # type: ignore[attr-defined]
            return job
        result = write_redraw(plan, draft, principal, _no_progress)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def apply_job(job_id: uuid.UUID, principal: Principal, progress: Progress) -> None:
    """Run a queued job's apply in one transaction (called by the job's thread)."""
    try:
        job = db.session.get(RedrawJob, job_id)
        if job is None:
            raise NotFound("No such redraw job.")
        draft = _lock_draft(job.draft_id, DraftStatus.APPLYING)
        # Holding the draft, re-read the job: one declared lost before we got here must not
        # apply (its draft may already be applying again under a newer job).
        db.session.refresh(job)
        if job.status != JobStatus.RUNNING:
            raise Conflict(f"The job is {job.status}, not running.")
        community = _lock_community(draft, job.expected_boundary_version)
        plan = make_plan(community, draft.content)
        refuse_invalid(plan)
        job.result = write_redraw(plan, draft, principal, progress)
        job.status = JobStatus.DONE.value
        job.tables_done = job.tables_total
        job.finished_at = func.now()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def write_redraw(
    plan: Plan, draft: RedrawDraft, principal: Principal, progress: Progress
) -> dict[str, Any]:
    """Every write of a redraw, uncommitted: grids, records, version, audit, the draft."""
    community = plan.community
    created, ended = _write_grids(plan, principal)
    counts = place_records(plan, progress)
    community.boundary_version += 1
    new_keys = {gid: (display_key(key), plan.codes[key]) for key, gid in created.items()}
    rows = report.move_rows(counts, new_keys)
    summary = report.totals(rows)
    result: dict[str, Any] = _jsonable(
        {
            "community_id": community.id,
            "boundary_version": community.boundary_version,
            "moves": rows,
            **summary,
            "created": [
                {"key": key, "grid_id": gid, "code": code} for gid, (key, code) in new_keys.items()
            ],
            "reshaped": [g.grid_id for g in plan.grids if g.grid_id is not None],
            "retired": list(plan.retire),
            "assignments_ended": ended,
        }
    )
    record_access(
        action="redraw",
        record_type="community",
        record_ids=[community.id],
        detail={"draft_id": draft.id, **summary, "boundary_version": community.boundary_version},
        actor=principal,
    )
    draft.status = DraftStatus.APPLIED.value
    draft.result = result
    draft.applied_at = func.now()
    draft.applied_by = principal.user_id
    return result


def _write_grids(plan: Plan, principal: Principal) -> tuple[dict[str, uuid.UUID], int]:
    """Close the replaced boundaries, open the drafted ones, create and retire grids.

    Returns the new grids' ids by key and how many worker assignments ended.
    """
    replaced = plan.drafted_ids()
    db.session.execute(
        update(GridVersion)
        .where(GridVersion.grid_id.in_(replaced), GridVersion.valid_to.is_(None))
        .values(valid_to=func.now())
    )
    ids: dict[str, uuid.UUID] = {}
    created: dict[str, uuid.UUID] = {}
    reshaped = [g.grid_id for g in plan.grids if g.grid_id is not None]
    # One statement for every reshaped grid (a redraw may hold all of a community's 50 or more).
    db.session.execute(update(Grid).where(Grid.id.in_(reshaped)).values(version=Grid.version + 1))
    for grid in plan.grids:
        if grid.grid_id is not None:
            if grid.name:
                db.session.execute(
                    update(Grid).where(Grid.id == grid.grid_id).values(name=grid.name)
                )
            ids[grid.key] = grid.grid_id
            continue
        code = plan.codes[grid.key]
        new = Grid(
            id=uuid.uuid4(),
            code=code,
            name=grid.name or f"网格{code[-3:]}",
            kind=grid.kind or GridKind.COMPREHENSIVE,
            community_id=plan.community.id,
            path=list(plan.community.path),
            version=1,
        )
        db.session.add(new)
        ids[grid.key] = created[grid.key] = new.id
    db.session.flush()
    for grid in plan.grids:
        geom = stored_geometry(plan.new_geometry(grid.key))
        db.session.add(GridVersion(grid_id=ids[grid.key], geom=geom, created_by=principal.user_id))
    ended = 0
    if plan.retire:
        db.session.execute(
            update(Grid).where(Grid.id.in_(plan.retire)).values(retired_at=func.now())
        )
        ended = len(
            db.session.scalars(
                update(GridAssignment)
                .where(GridAssignment.grid_id.in_(plan.retire), GridAssignment.valid_to.is_(None))
                .values(valid_to=func.now())
                .returning(GridAssignment.id)
            ).all()
        )
    db.session.flush()
    return created, ended


def _jsonable(value: Any) -> Any:
    """`value` with ids as strings, for a JSONB column."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
