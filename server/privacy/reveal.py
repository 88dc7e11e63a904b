"""Unmasking one field of one record: role check, stated reason, daily quota, audit entry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from flask import current_app
from sqlalchemy import ColumnClause, DateTime, Float, func, literal_column, select

from server.audit.models import AuditEntry
from server.audit.service import record_access, record_refusal
from server.auth.models import Role
from server.auth.principal import Principal
from server.errors import DomainError, Forbidden, InvalidInput, TooMany
from server.extensions import db
from server.privacy.masking import FieldClass, field_class

# Who may unmask what. Only roles that see the field MASKED by default are listed: a role that
# sees it in full needs no reveal, and HIDDEN means the role has no business with it at all.
# - ID numbers: dispatchers (checking identity before dispatching or closing) and admins
#   (correcting records). Workers do not: the masked first 6 + last 4 let them match a card in
#   hand, and a phone in the field is the device most likely to be lost.
# - Phones: workers too, to call the people they visit; dispatchers to call parties.
# - Names: admins only (everyone else with a need already sees them).
# - House owners' identity: dispatchers and admins, e.g. to reach a landlord over a hazard.
# - Special-population extensions: nobody; they are shown to those who work the case or not at all.
# - Birth dates: not on their own; revealing the ID number reveals it.
REVEAL_ROLES: dict[FieldClass, frozenset[Role]] = {
    FieldClass.ID_NUMBER: frozenset({Role.DISPATCHER, Role.ADMIN}),
    FieldClass.PHONE: frozenset({Role.WORKER, Role.DISPATCHER, Role.ADMIN}),
    FieldClass.PERSON_NAME: frozenset({Role.ADMIN}),
    FieldClass.OWNER_IDENTITY: frozenset({Role.DISPATCHER, Role.ADMIN}),
    FieldClass.SPECIAL_POPULATION: frozenset(),
    FieldClass.BIRTH_DATE: frozenset(),
}

# The quota day is the operator's calendar day, not UTC's.
QUOTA_TIME_ZONE = "Asia/Shanghai"
REASON_MAX_LENGTH = 500

E = TypeVar("E", bound=DomainError)

_DAY_START: ColumnClause[datetime] = literal_column(
    f"date_trunc('day', now() AT TIME ZONE '{QUOTA_TIME_ZONE}') AT TIME ZONE '{QUOTA_TIME_ZONE}'",
    type_=DateTime(timezone=True),
)
_SECONDS_TO_MIDNIGHT: ColumnClause[float] = literal_column(
    f"ceil(extract(epoch FROM (date_trunc('day', now() AT TIME ZONE '{QUOTA_TIME_ZONE}')"
    f" + interval '1 day') AT TIME ZONE '{QUOTA_TIME_ZONE}' - now()))",
    type_=Float(),
)


# How much of a requested field name a refusal row keeps (a real one is far shorter).
FIELD_NAME_MAX = 40


@dataclass(frozen=True)
class _Attempt:
    """One reveal request, for auditing its refusal."""

    principal: Principal
    record_type: str
    record_id: uuid.UUID
    field: str

    def refuse(self, error: E, why: str, reason: str | None = None) -> E:
        """Audit the refusal in its own committed transaction, then hand back `error` to raise."""
        record_refusal(
            "reveal",
            self.record_type,
            [self.record_id],
            why=why,
            reason=reason,
            detail={"field": self.field[:FIELD_NAME_MAX]},
            actor=self.principal,
        )
        return error


def _checked_reason(attempt: _Attempt, reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        error = InvalidInput({"reason": ["State why you need to see this field."]})
        raise attempt.refuse(error, "no_reason")
    if len(text) > REASON_MAX_LENGTH:
        error = InvalidInput({"reason": [f"At most {REASON_MAX_LENGTH} characters."]})
        raise attempt.refuse(error, "reason_too_long")
    return text


def reveals_today(user_id: uuid.UUID) -> tuple[int, int]:
    """(successful reveals by the user since local midnight, seconds until the next midnight)."""
    row = db.session.execute(
        select(func.count(AuditEntry.id), _SECONDS_TO_MIDNIGHT).where(
            AuditEntry.actor_id == user_id,
            AuditEntry.action == "reveal",
            AuditEntry.result == "ok",
            AuditEntry.at >= _DAY_START,
        )
    ).one()
    return int(row[0]), int(row[1])


def _check_quota(attempt: _Attempt, reason: str) -> None:
    principal = attempt.principal
    # Serialize one user's reveals until their transaction ends, so two parallel requests cannot
    # both take the last unit of quota.
    db.session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"reveal:{principal.user_id}", 0)))
    )
    used, seconds_left = reveals_today(principal.user_id)
    quota = int(current_app.config.get("REVEAL_DAILY_QUOTA", 20))
    if used >= quota:
        error = TooMany(
            f"You have used your {quota} reveals for today.",
            headers={"Retry-After": str(max(seconds_left, 1))},
        )
        # Refused rows count as "refused", not "ok", so they never use up quota themselves.
        raise attempt.refuse(error, "over_quota", reason)


def reveal(
    principal: Principal,
    *,
    record_type: str,
    record_id: uuid.UUID,
    field: str,
    reason: str | None,
    fetch: Callable[[], str],
) -> str:
    """Return the full value of one field after checking reason, role and quota, and add an
    audit row (action "reveal") to the caller's transaction; the caller's service commits.

    `fetch` reads the value (scope-checked by the caller) only once every check has passed.
    A refused reveal is audited at once in a transaction of its own (`record_refusal`), since
    the error it raises rolls the caller's transaction back.
    """
    attempt = _Attempt(principal, record_type, record_id, field)
    text = _checked_reason(attempt, reason)
    kind = field_class(field)
    if kind is None:
        error = InvalidInput({"field": [f"{field!r} is not a field that can be revealed."]})
        raise attempt.refuse(error, "unknown_field", text)
    if principal.role not in REVEAL_ROLES[kind]:
        refusal = Forbidden(f"The {principal.role.value} role may not reveal {kind.value} fields.")
        raise attempt.refuse(refusal, "role", text)
    _check_quota(attempt, text)
    value = fetch()
    record_access(
        "reveal",
        record_type,
        [record_id],
        reason=text,
        detail={"field": field},
        actor=principal,
    )
    return value
