"""Background redraw jobs: a thread with its own app context and session, progress written
through a separate short transaction so a reader sees it while the apply is still open."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from flask import Flask
from sqlalchemy import func, update
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.errors import DomainError, InvalidInput, NotFound
from server.extensions import db
from server.redraw.models import DraftStatus, JobStatus, RedrawDraft, RedrawJob

log = logging.getLogger(__name__)


def get_job(job_id: uuid.UUID) -> RedrawJob:
    """One job, or NotFound."""
    job = db.session.get(RedrawJob, job_id)
    if job is None:
        raise NotFound("No such redraw job.")
    return job


def start(app: Flask, job_id: uuid.UUID, principal: Principal) -> threading.Thread:
    """Run a queued job in a background thread; returns the thread."""
    thread = threading.Thread(
        target=run, args=(app, job_id, principal), name=f"redraw-{job_id}", daemon=True
    )
    thread.start()
    return thread


def _mark(job_id: uuid.UUID, **values: Any) -> None:
    """Write job fields in their own committed transaction."""
    with Session(db.engine) as session:
        session.execute(update(RedrawJob).where(RedrawJob.id == job_id).values(**values))
        session.commit()


def _fail(job_id: uuid.UUID, error: dict[str, Any]) -> None:
    with Session(db.engine) as session:
        job = session.get(RedrawJob, job_id)
        if job is not None:
            job.status = JobStatus.FAILED.value
            job.error = error
            job.finished_at = func.now()
            session.execute(
                update(RedrawDraft)
                .where(RedrawDraft.id == job.draft_id, RedrawDraft.status == DraftStatus.APPLYING)
                .values(status=DraftStatus.DRAFT.value)
            )
        session.commit()


def run(app: Flask, job_id: uuid.UUID, principal: Principal) -> None:
    """The job thread's body: mark it running, apply, and record a failure if there is one."""
    from server.redraw.apply import apply_job

    with app.app_context():
        try:
            _mark(job_id, status=JobStatus.RUNNING.value, started_at=func.now())
            apply_job(job_id, principal, lambda done, _total: _mark(job_id, tables_done=done))
        except DomainError as exc:
            error: dict[str, Any] = {"code": exc.code, "detail": exc.detail}
            if isinstance(exc, InvalidInput):
                error["errors"] = exc.errors
            _fail(job_id, error)
        except Exception:
            log.exception("redraw job failed", extra={"job_id": str(job_id)})
            _fail(job_id, {"code": "internal_error", "detail": "The error has been logged."})
        finally:
            db.session.remove()
