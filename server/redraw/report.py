"""Turning move counts into what an admin reads: grids by code, workers who gain or lose
records, and devices that may still hold edits made in the moved area."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select

from server.auth.models import Device, User
from server.extensions import db
from server.hierarchy.models import Grid, GridAssignment
from server.redraw.moves import MoveCount
from sync.tables import device_sync_state

# Where a device's last sync time comes from (the preview says so, as asked of it).
DEVICE_SOURCE = "device_sync_state"
# Moved with their person but never counted to the admin who reads the report: special
# populations are hidden from admins (server.privacy.masking), and a count of them moving with
# one door would say who is in one.
UNREPORTED = frozenset({"person_special_populations"})


def move_rows(
    counts: Iterable[MoveCount], new_keys: Mapping[uuid.UUID, tuple[str, str]]
) -> list[dict[str, Any]]:
    """Move counts as JSON rows with codes (but the UNREPORTED types); `new_keys` maps a new
    grid's id to (key, code)."""
    counts = sorted(
        (c for c in counts if c[0] not in UNREPORTED), key=lambda c: (c[0], str(c[1]), str(c[2]))
    )
    ids = {gid for _, old, new, _ in counts for gid in (old, new) if gid is not None}
    found = db.session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(ids))).tuples()
    codes: dict[uuid.UUID, str] = dict(found.all())
    codes.update({gid: code for gid, (_, code) in new_keys.items()})
    rows = []
    for record_type, old, new, n in counts:
        rows.append(
            {
                "record_type": record_type,
                "from_grid_id": old,
                "from_code": codes.get(old) if old else None,
                "to_grid_id": new,
                "to_key": new_keys[new][0] if new is not None and new in new_keys else None,
                "to_code": codes.get(new) if new else None,
                "count": n,
            }
        )
    return rows


def totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Records moved in all, per type, and how many end in no grid."""
    per_type: Counter[str] = Counter()
    for row in rows:
        per_type[row["record_type"]] += row["count"]
    return {
        "total_moved": sum(per_type.values()),
        "per_type": dict(sorted(per_type.items())),
        "into_no_grid": sum(row["count"] for row in rows if row["to_grid_id"] is None),
    }


def workers(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Workers assigned now to a grid that loses or gains records, with how many."""
    gains: Counter[uuid.UUID] = Counter()
    losses: Counter[uuid.UUID] = Counter()
    for row in rows:
        if row["from_grid_id"] is not None:
            losses[row["from_grid_id"]] += row["count"]
        if row["to_grid_id"] is not None:
            gains[row["to_grid_id"]] += row["count"]
    assigned = db.session.execute(
        select(GridAssignment.user_id, User.username, GridAssignment.grid_id)
        .join(User, User.id == GridAssignment.user_id)
        .where(
            GridAssignment.valid_to.is_(None),
            GridAssignment.grid_id.in_(set(gains) | set(losses)),
        )
    )
    people: dict[uuid.UUID, dict[str, Any]] = {}
    for user_id, username, grid_id in assigned:
        person = people.setdefault(
            user_id, {"user_id": user_id, "username": username, "gains": 0, "losses": 0}
        )
        person["gains"] += gains[grid_id]
        person["losses"] += losses[grid_id]
    return sorted(people.values(), key=lambda p: p["username"])


def devices(losing_workers: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """Live devices of the workers whose grids lose records, with their last sync times."""
    if not losing_workers:
        return []
    rows = db.session.execute(
        select(
            Device.id,
            Device.user_id,
            Device.name,
            Device.last_seen_at,
            device_sync_state.c.last_push_at,
            device_sync_state.c.last_pull_at,
        )
        .outerjoin(device_sync_state, device_sync_state.c.device_id == Device.id)
        .where(Device.user_id.in_(list(losing_workers)), Device.revoked_at.is_(None))
        .order_by(Device.user_id, Device.id)
    )
    return [
        {
            "device_id": device_id,
            "user_id": user_id,
            "name": name,
            "last_seen_at": seen,
            "last_push_at": pushed,
            "last_pull_at": pulled,
        }
        for device_id, user_id, name, seen, pushed, pulled in rows
    ]
