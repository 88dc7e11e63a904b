"""The push's batch authorisation: in scope now, in scope when the edit was made, or never."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from server.auth.models import Role
from server.auth.principal import Principal
from server.extensions import db
from server.hierarchy.scope import Scope
from server.registry.services.records import unassigned_in_subtree
from server.syncapi.record_types import BY_NAME
from sync.access import Access, AccessCheck, AuthorizeFn

# One set-based question over assignment history for every op not in scope now: did the user
# cover, at edit time, the grid the record was in at that time (its last change-log entry then;
# a redraw since may have moved it) or the grid it is in now? Workers cover grids by grid
# assignment; dispatchers cover every grid under an org unit they were assigned to.
_HELD_AT_SQL = """
    SELECT w.i
    FROM unnest(CAST(:grids AS uuid[]), CAST(:ats AS timestamptz[]), CAST(:idx AS int[]),
                CAST(:types AS text[]), CAST(:ids AS uuid[]))
         AS w(grid_id, at, i, record_type, record_id)
    LEFT JOIN LATERAL (
      SELECT c.grid_id FROM change_log c
      WHERE c.record_type = w.record_type AND c.record_id = w.record_id
        AND c.kind <> 'leave' AND c.at <= w.at
      ORDER BY c.txid DESC, c.seq DESC
      LIMIT 1
    ) AS then_ ON true
    WHERE EXISTS ({held})
"""
_WORKER_HELD = """
      SELECT 1 FROM grid_assignments a
      WHERE a.user_id = :user AND a.grid_id IN (w.grid_id, then_.grid_id)
        AND a.valid_from <= w.at AND (a.valid_to IS NULL OR a.valid_to > w.at)"""
_DISPATCHER_HELD = """
      SELECT 1 FROM org_assignments a JOIN grids g ON a.org_unit_id = ANY(g.path)
      WHERE a.user_id = :user AND g.id IN (w.grid_id, then_.grid_id)
        AND a.valid_from <= w.at AND (a.valid_to IS NULL OR a.valid_to > w.at)"""
HELD_AT = {
    Role.WORKER: sa.text(_HELD_AT_SQL.format(held=_WORKER_HELD)),
    Role.DISPATCHER: sa.text(_HELD_AT_SQL.format(held=_DISPATCHER_HELD)),
}


def _now(principal: Principal, scope: Scope, check: AccessCheck) -> bool:
    if check.grid_id is None:
        # A record in no grid is kept and listed as unassigned, as the web API does; admins may
        # edit one afterwards, dispatchers only inside their subtree (`_unassigned_seen`).
        return check.creating or principal.role == Role.ADMIN
    return scope.allows_grid(check.grid_id)


def _unassigned_seen(scope: Scope, checks: Sequence[AccessCheck]) -> set[uuid.UUID]:
    """Op ids whose unassigned record lies in a community of the dispatcher's subtree."""
    by_type: dict[str, list[AccessCheck]] = {}
    for check in checks:
        by_type.setdefault(check.record_type, []).append(check)
    seen: set[uuid.UUID] = set()
    for record_type, group in by_type.items():
        sync_type = BY_NAME.get(record_type)
        if sync_type is None:
            continue
        table = sync_type.table
        ids = set(
            db.session.scalars(
                sa.select(table.c.id).where(
                    table.c.id.in_([c.record_id for c in group]),
                    unassigned_in_subtree(table, scope.org_unit_ids),
                )
            )
        )
        seen.update(c.op_id for c in group if c.record_id in ids)
    return seen


def authorizer(principal: Principal, scope: Scope) -> AuthorizeFn:
    """The callback the engine calls once per batch, answering every op at once."""

    def authorize(checks: Sequence[AccessCheck]) -> Mapping[uuid.UUID, Access]:
        answers: dict[uuid.UUID, Access] = {}
        later: list[AccessCheck] = []
        unassigned: list[AccessCheck] = []
        for check in checks:
            if _now(principal, scope, check):
                answers[check.op_id] = Access.NOW
            elif principal.role in HELD_AT and check.grid_id is not None:
                later.append(check)
            elif principal.role == Role.DISPATCHER and check.grid_id is None:
                unassigned.append(check)
            else:
                answers[check.op_id] = Access.NEVER
        if unassigned:
            seen = _unassigned_seen(scope, unassigned)
            for check in unassigned:
                answers[check.op_id] = Access.NOW if check.op_id in seen else Access.NEVER
        if later:
            held = set(
                db.session.scalars(
                    HELD_AT[principal.role],
                    {
                        "grids": [c.grid_id for c in later],
                        "ats": [c.edited_at for c in later],
                        "idx": list(range(len(later))),
                        "types": [c.record_type for c in later],
                        "ids": [c.record_id for c in later],
                        "user": principal.user_id,
                    },
                )
            )
            for i, check in enumerate(later):
                answers[check.op_id] = Access.AT_EDIT_TIME if i in held else Access.NEVER
        return answers

    return authorize
