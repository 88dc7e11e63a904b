"""A device's recent sync failures, kept in its sync health: newest first, the last few only
(health, not an archive). Push rejections are noted with the push's receipts; a pull notes a
cursor it could not read, or one so old the phone must download its grids again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sync.access import Device
from sync.ops import JSON
from sync.tables import device_sync_state

MAX_FAILURES_KEPT = 20


def failure(
    stage: str, reason: str, device: Device, at: datetime, op_id: uuid.UUID | None = None
) -> dict[str, JSON]:
    """One entry of `failures`: the stage (push, pull), why, which op (push), when, app version."""
    return {
        "stage": stage,
        "op_id": str(op_id) if op_id else None,
        "reason": reason,
        "at": at.isoformat(),
        "app_version": device.app_version,
    }


def kept_failures(new: Any) -> Any:
    """The stored failures after `new` (a jsonb array, newest first): `new`, then the stored ones,
    cut at MAX_FAILURES_KEPT."""
    return sa.func.jsonb_path_query_array(
        new.op("||")(device_sync_state.c.failures),
        sa.literal_column(f"'$[0 to {MAX_FAILURES_KEPT - 1}]'::jsonpath"),
    )


def record_failures(
    conn: sa.Connection, device: Device, failures: Sequence[dict[str, JSON]]
) -> None:
    """Note failures outside a push (in the caller's transaction)."""
    state = pg_insert(device_sync_state).values(
        device_id=device.device_id,
        app_version=device.app_version,
        failures=list(failures)[:MAX_FAILURES_KEPT],
    )
    conn.execute(
        state.on_conflict_do_update(
            index_elements=[device_sync_state.c.device_id],
            set_={
                "app_version": sa.func.coalesce(
                    state.excluded.app_version, device_sync_state.c.app_version
                ),
                "failures": kept_failures(state.excluded.failures),
            },
        )
    )
