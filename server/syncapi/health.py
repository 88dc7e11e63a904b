"""Sync health per device, for admins: last push and pull, app version, failures, conflicts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.auth.models import Device, User
from server.extensions import db
from sync.tables import conflicts, device_sync_state


def device_health() -> dict[str, Any]:
    """Every device that has a session record, with its sync state (one query)."""
    pending = (
        sa.select(conflicts.c.device_id, sa.func.count().label("n"))
        .where(conflicts.c.status == "open")
        .group_by(conflicts.c.device_id)
        .subquery("pending")
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
        )
        .join(User, User.id == Device.user_id)
        .outerjoin(device_sync_state, device_sync_state.c.device_id == Device.id)
        .outerjoin(pending, pending.c.device_id == Device.id)
        .order_by(User.username, Device.id)
    ).mappings()
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
        }
        for r in rows
    ]
    db.session.commit()
    return {"items": items}
