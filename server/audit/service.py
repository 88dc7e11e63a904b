"""Writing audit entries (inside the caller's transaction, or for refused attempts in their own),
and searching them for auditors."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g, has_app_context
from sqlalchemy import insert, select
from sqlalchemy.exc import StatementError

from server.audit.models import AuditEntry
from server.auth.models import Role
from server.auth.principal import Principal
from server.extensions import db
from server.privacy.masking import mask_id_number, mask_phone

# Free text (a stated reason, a detail value) may quote an ID number or a phone by accident;
# the audit log must not become a second copy of them, so such runs are masked on the way in.
_ID_NUMBER_RUN = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_PHONE_RUN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

SEARCH_LIMIT_MAX = 200
REFUSED = "refused"

log = logging.getLogger(__name__)


def scrub(text: str) -> str:
    """Mask anything in `text` that looks like a citizen ID number or a mobile number."""
    text = _ID_NUMBER_RUN.sub(lambda m: mask_id_number(m.group(0)), text)
    return _PHONE_RUN.sub(lambda m: mask_phone(m.group(0)), text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    return value


@dataclass(frozen=True)
class Actor:
    """Who acted when there is no session yet, e.g. the account a login attempt names."""

    user_id: uuid.UUID
    role: Role
    device_id: uuid.UUID | None = None


def _context_principal() -> Principal | None:
    if not has_app_context():
        return None
    principal = g.get("principal")
    return principal if isinstance(principal, Principal) else None


def _entry_values(
    action: str,
    record_type: str,
    record_ids: Sequence[uuid.UUID],
    *,
    reason: str | None,
    result: str,
    detail: dict[str, Any] | None,
    actor: Principal | Actor | None,
) -> dict[str, Any]:
    principal = actor or _context_principal()
    return {
        "actor_id": principal.user_id if principal else None,
        "actor_role": principal.role.value if principal else None,
        "device_id": principal.device_id if principal else None,
        "action": action,
        "record_type": record_type,
        "record_ids": list(record_ids),
        "reason": scrub(reason) if reason else None,
        "result": result,
        "request_id": g.get("request_id") if has_app_context() else None,
        "detail": _scrub_value(detail) if detail else None,
    }


def record_access(
    action: str,
    record_type: str,
    record_ids: Sequence[uuid.UUID],
    *,
    reason: str | None = None,
    result: str = "ok",
    detail: dict[str, Any] | None = None,
    actor: Principal | Actor | None = None,
) -> None:
    """Add an audit row to db.session for the current caller (or `actor`); never commits.

    The calling service's commit carries the row, so the action and its audit entry are one
    transaction: an action that rolls back leaves no entry, and no entry is lost for one that
    commits.
    """
    values = _entry_values(
        action,
        record_type,
        record_ids,
        reason=reason,
        result=result,
        detail=detail,
        actor=actor,
    )
    db.session.add(AuditEntry(**values))


def record_refusal(
    action: str,
    record_type: str,
    record_ids: Sequence[uuid.UUID],
    *,
    why: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    actor: Principal | Actor | None = None,
) -> None:
    """Audit a refused attempt (result "refused", detail.reason = `why`) and commit it now.

    A refusal is raised as an error, which rolls the request's transaction back, and a row added
    by `record_access` would roll back with it. So this row is written on a connection of its
    own, in a transaction of its own that commits at once: it survives the request's rollback
    and never commits the request's half-done work (that stays on db.session's connection).

    Never raises: the refusal has already kept the data back, and failing the request instead
    would turn a 404 or 429 into a 500 for this caller only, which itself tells them something.
    A failed write is logged at ERROR (without the database's message, which may quote values).
    """
    values = _entry_values(
        action,
        record_type,
        record_ids,
        reason=reason,
        result=REFUSED,
        detail={**(detail or {}), "reason": why},
        actor=actor,
    )
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(AuditEntry).values(**values))
    except Exception as exc:
        # Any failure at all: the caller's refusal must go out exactly as it would have.
        cause = exc.orig if isinstance(exc, StatementError) else exc
        log.error(
            "refused attempt not audited",
            extra={
                "action": action,
                "record_type": record_type,
                "refusal": why,
                "error_type": type(cause or exc).__name__,
                "sqlstate": getattr(cause, "sqlstate", None),
            },
        )


@dataclass(frozen=True)
class AuditFilters:
    """What an auditor asks: entries about a record, by an actor, of an action, in a window."""

    record_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: int | None = None
    limit: int = 50


@dataclass(frozen=True)
class AuditPage:
    """Entries newest first; `next` is the cursor of the following page, None on the last."""

    items: list[AuditEntry]
    next: str | None


def search_audit(filters: AuditFilters) -> AuditPage:
    """Answer "who looked at this record" (and similar), newest first, keyset-paginated by id.

    The search itself is audited: auditors are watched too.
    """
    limit = max(1, min(filters.limit, SEARCH_LIMIT_MAX))
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if filters.record_id is not None:
        query = query.where(AuditEntry.record_ids.contains([filters.record_id]))
    if filters.actor_id is not None:
        query = query.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action is not None:
        query = query.where(AuditEntry.action == filters.action)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    if filters.cursor is not None:
        query = query.where(AuditEntry.id < filters.cursor)
    try:
        rows = list(db.session.scalars(query))
        more = len(rows) > limit
        items = rows[:limit]
        for item in rows:
            # Detached before the commit, so reading them afterwards costs no query per row.
            db.session.expunge(item)
        record_access(
            "search",
            "audit_log",
            [],
            detail={
                "record_id": filters.record_id,
                "actor_id": filters.actor_id,
                "action": filters.action,
                "since": filters.since,
                "until": filters.until,
                "returned": len(items),
            },
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return AuditPage(items=items, next=str(items[-1].id) if more else None)
