"""Sync health per device, for admins: last push and pull, app version, failures, conflicts and
the backlog (ops awaiting review, change-log entries not pulled yet)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from server.auth.models import Device, User
from server.extensions import db
from server.syncapi.conflicts import listed_once
from sync.tables import conflicts, device_sync_state, rejected_ops

# Counting stops here: an admin needs "far behind", not the exact size of a huge backlog, and
# the count must stay a short index scan per device.
BACKLOG_CAP = 10_000

# Entries in the grids the device held at its last pull, after the settled position of the
# cursor it was given then (entries of transactions that were still open are counted until they
# settle, even if that pull already sent them).
_UNPULLED = sa.text(
    """
    SELECT s.device_id,
      (SELECT count(*) FROM (
         SELECT 1 FROM change_log c
         WHERE c.grid_id = ANY(s.last_grid_set)
           AND (c.txid, c.seq) > (s.cursor_txid, s.cursor_seq)
         LIMIT :cap) AS b) AS n
    FROM device_sync_state s
    WHERE s.cursor_txid IS NOT NULL
    """
)


def _unpulled() -> dict[uuid.UUID, int]:
    return {r.device_id: int(r.n) for r in db.session.execute(_UNPULLED, {"cap": BACKLOG_CAP})}


def device_health() -> dict[str, Any]:
    """Every device that has a session record, with its sync state and backlog (two queries)."""
    pending = (
        sa.select(conflicts.c.device_id, sa.func.count().label("n"))
        .where(conflicts.c.status == "open", listed_once())
        .group_by(conflicts.c.device_id)
        .subquery("pending")
    )
    awaiting = (
        sa.select(rejected_ops.c.device_id, sa.func.count().label("n"))
        .where(rejected_ops.c.reviewed_at.is_(None))
        .group_by(rejected_ops.c.device_id)
        .subquery("awaiting")
    )
    rows = db.session.execute(
        sa.select(
            Device.id,
            Device.name,
            Device.revoked_at,
            Device.app_version.label("device_app_version"),
            User.id.label("user_id"),
            User.username,
            device_sync_state.c.last_push_at,
            device_sync_state.c.last_pull_at,
            device_sync_state.c.last_op_id,
            device_sync_state.c.app_version,
            device_sync_state.c.failures,
            sa.func.coalesce(pending.c.n, 0).label("pending_conflicts"),
            sa.func.coalesce(awaiting.c.n, 0).label("rejected_awaiting_review"),
        )
        .join(User, User.id == Device.user_id)
        .outerjoin(device_sync_state, device_sync_state.c.device_id == Device.id)
        .outerjoin(pending, pending.c.device_id == Device.id)
        .outerjoin(awaiting, awaiting.c.device_id == Device.id)
        .order_by(User.username, Device.id)
    ).mappings()
    unpulled = _unpulled()
    items = [
        {
            "device_id": str(r["id"]),
            "device_name": r["name"],
            "user_id": str(r["user_id"]),
            "username": r["username"],
            "revoked": r["revoked_at"] is not None,
            "last_push_at": r["last_push_at"].isoformat() if r["last_push_at"] else None,
            "last_pull_at": r["last_pull_at"].isoformat() if r["last_pull_at"] else None,
            "last_op_id": str(r["last_op_id"]) if r["last_op_id"] else None,
            "app_version": r["app_version"] or r["device_app_version"],
            "failures": list(r["failures"] or []),
            "pending_conflicts": int(r["pending_conflicts"]),
            "backlog": {
                "rejected_awaiting_review": int(r["rejected_awaiting_review"]),
                "open_conflicts": int(r["pending_conflicts"]),
                "changes_since_cursor": unpulled.get(r["id"]),
                "changes_capped": unpulled.get(r["id"], 0) >= BACKLOG_CAP,
            },
        }
        for r in rows
    ]
    db.session.commit()
    return {"items": items}
