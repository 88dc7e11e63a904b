"""A device's recent sync failures, kept in its sync health: newest first, the last few only
(health, not an archive). Push rejections are noted with the push's receipts; a pull notes a
cursor it could not read, or one so old the phone must download its grids again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import orjson
import sqlalchemy as sa

from sync.access import Device
from sync.ops import JSON

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


# The stored failures after the new ones (`excluded.failures`, newest first), cut at the limit;
# for an upsert of `device_sync_state AS s`. (The statements are text: SQLAlchemy compiles a
# PostgreSQL INSERT … ON CONFLICT afresh on every call, ~1 ms, and they run on every push and
# pull.)
KEPT_FAILURES = (
    f"jsonb_path_query_array(excluded.failures || s.failures, '$[0 to {MAX_FAILURES_KEPT - 1}]')"
)
_RECORD_FAILURES = sa.text(
    f"""
    INSERT INTO device_sync_state AS s (device_id, app_version, failures)
    VALUES (:device_id, :app_version, CAST(:failures AS jsonb))
    ON CONFLICT (device_id) DO UPDATE SET
      app_version = coalesce(excluded.app_version, s.app_version),
      failures = {KEPT_FAILURES}
    """  # noqa: S608 - a constant fragment, no input
)


def record_failures(
    conn: sa.Connection, device: Device, failures: Sequence[dict[str, JSON]]
) -> None:
    """Note failures outside a push (in the caller's transaction)."""
    conn.execute(
        _RECORD_FAILURES,
        {
            "device_id": device.device_id,
            "app_version": device.app_version,
            "failures": orjson.dumps(list(failures)[:MAX_FAILURES_KEPT]).decode(),
        },
    )
