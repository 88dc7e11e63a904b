"""Background redraw jobs: a thread with its own app context and session, progress written
through a separate short transaction so a reader sees it while the apply is still open.

A job holds a lease that its worker renews (a heartbeat thread, every third of
REDRAW_JOB_LEASE_SECONDS). If the process dies mid-job, its transaction rolls back and the lease
runs out; the next read of the job reports it failed with `worker_lost` and frees the draft for
another apply. The worker's open apply keeps the draft row locked, so a job is never declared
lost while its apply can still commit, however late its heartbeat.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.auth.principal import Principal
from server.errors import DomainError, InvalidInput, NotFound
from server.extensions import db
from server.redraw.models import DraftStatus, JobStatus, RedrawDraft, RedrawJob

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
WORKER_LOST = {
    "code": "worker_lost",
    "detail": "The process running this job stopped before it finished; nothing was applied. "
    "The draft is free again: apply it once more.",
}


def lease() -> timedelta:
    """How long a job's lease lasts from its last heartbeat."""
    return timedelta(seconds=int(current_app.config["REDRAW_JOB_LEASE_SECONDS"]))


def get_job(job_id: uuid.UUID) -> RedrawJob:
    """One job (failed with `worker_lost` if its worker is gone), or NotFound."""
    try:
        _reap_if_lost(job_id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    job = db.session.get(RedrawJob, job_id)
    if job is None:
        raise NotFound("No such redraw job.")
    return job


def _reap_if_lost(job_id: uuid.UUID) -> None:
    """Fail an active job whose lease ran out, unless a transaction still holds its draft."""
    job = db.session.scalar(
        select(RedrawJob)
        .where(
            RedrawJob.id == job_id,
            RedrawJob.status.in_(ACTIVE),
            RedrawJob.lease_expires_at < func.now(),
        )
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if job is None:
        return
    # The worker locks the draft for its whole apply: a locked draft means it can still commit.
    draft = db.session.scalar(
        select(RedrawDraft)
        .where(RedrawDraft.id == job.draft_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if draft is None:
        return
    log.warning("redraw job lost its worker", extra={"job_id": str(job_id)})
    job.status = JobStatus.FAILED.value
    job.error = dict(WORKER_LOST)
    job.finished_at = func.now()
    if draft.status == DraftStatus.APPLYING:
        draft.status = DraftStatus.DRAFT.value


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


def _renewed(span: timedelta) -> dict[str, Any]:
    return {"heartbeat_at": func.now(), "lease_expires_at": func.now() + span}


def _claim(job_id: uuid.UUID, span: timedelta) -> bool:
    """Mark a queued job running (False if it is no longer queued, e.g. declared lost)."""
    with Session(db.engine) as session:
        claimed = session.scalar(
            update(RedrawJob)
            .where(RedrawJob.id == job_id, RedrawJob.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value, started_at=func.now(), **_renewed(span))
            .returning(RedrawJob.id)
        )
        session.commit()
    return claimed is not None


def _fail(job_id: uuid.UUID, error: dict[str, Any]) -> None:
    with Session(db.engine) as session:
        job = session.get(RedrawJob, job_id)
        # A job already declared lost keeps that verdict (its draft may be applying anew).
        if job is not None and job.status in ACTIVE:
            job.status = JobStatus.FAILED.value
            job.error = error
            job.finished_at = func.now()
            session.execute(
                update(RedrawDraft)
                .where(RedrawDraft.id == job.draft_id, RedrawDraft.status == DraftStatus.APPLYING)
                .values(status=DraftStatus.DRAFT.value)
            )
        session.commit()


class Heartbeat:
    """A thread renewing a job's lease every third of it until stopped."""

    def __init__(self, app: Flask, job_id: uuid.UUID, span: timedelta) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(app, job_id, span), name=f"redraw-beat-{job_id}", daemon=True
        )

    def _beat(self, app: Flask, job_id: uuid.UUID, span: timedelta) -> None:
        with app.app_context():
            while not self._stop.wait(span.total_seconds() / 3):
                try:
                    _mark(job_id, **_renewed(span))
                except Exception:
                    log.exception("redraw job heartbeat failed", extra={"job_id": str(job_id)})

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(app: Flask, job_id: uuid.UUID, principal: Principal) -> None:
    """The job thread's body: claim it, apply under a heartbeat, record a failure if any."""
    from server.redraw.apply import apply_job

    with app.app_context():
        try:
            span = lease()
            if not _claim(job_id, span):
                log.warning("redraw job no longer queued", extra={"job_id": str(job_id)})
                return
            with Heartbeat(app, job_id, span):
                apply_job(
                    job_id,
                    principal,
                    lambda done, _total: _mark(job_id, tables_done=done, **_renewed(span)),
                )
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
