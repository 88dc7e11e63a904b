"""The push's batch authorisation: in scope now, in scope when the edit was made, or never."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from server.auth.models import Role
from server.auth.principal import Principal
from server.extensions import db
from server.hierarchy.scope import Scope
from sync.access import Access, AccessCheck, AuthorizeFn

# One set-based question over assignment history for every op not in scope now.
_HELD_AT = sa.text(
    """
    SELECT w.i FROM unnest(CAST(:grids AS uuid[]), CAST(:ats AS timestamptz[]),
                           CAST(:idx AS int[])) AS w(grid_id, at, i)
    WHERE EXISTS (
      SELECT 1 FROM grid_assignments a
      WHERE a.user_id = :user AND a.grid_id = w.grid_id
        AND a.valid_from <= w.at AND (a.valid_to IS NULL OR a.valid_to > w.at))
    """
)


def _now(principal: Principal, scope: Scope, check: AccessCheck) -> bool:
    if check.grid_id is None:
        # A record in no grid is kept and listed as unassigned, as the web API does; only
        # dispatchers and admins (who see unassigned records) may edit one afterwards.
        return check.creating or principal.role in (Role.DISPATCHER, Role.ADMIN)
    return scope.allows_grid(check.grid_id)


def authorizer(principal: Principal, scope: Scope) -> AuthorizeFn:
    """The callback the engine calls once per batch, answering every op at once."""

    def authorize(checks: Sequence[AccessCheck]) -> Mapping[uuid.UUID, Access]:
        answers: dict[uuid.UUID, Access] = {}
        later: list[AccessCheck] = []
        for check in checks:
            if _now(principal, scope, check):
                answers[check.op_id] = Access.NOW
            elif principal.role == Role.WORKER and check.grid_id is not None:
                later.append(check)
            else:
                answers[check.op_id] = Access.NEVER
        if later:
            held = set(
                db.session.scalars(
                    _HELD_AT,
                    {
                        "grids": [c.grid_id for c in later],
                        "ats": [c.edited_at for c in later],
                        "idx": list(range(len(later))),
                        "user": principal.user_id,
                    },
                )
            )
            for i, check in enumerate(later):
                answers[check.op_id] = Access.AT_EDIT_TIME if i in held else Access.NEVER
        return answers

    return authorize
