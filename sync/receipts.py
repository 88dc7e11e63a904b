"""What a push leaves besides its effects: a receipt per op (the replay answer), the payload of
every rejected op (kept for review), and the device's push health — a few set-based writes in
the push's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import orjson
import sqlalchemy as sa

from sync import records
from sync.access import Device
from sync.health import KEPT_FAILURES, MAX_FAILURES_KEPT, failure
from sync.ops import JSON, Op, OpResult, Status
from sync.tables import rejected_ops

_INSERT_RECEIPTS = sa.text(
    """
    INSERT INTO op_receipts (device_id, op_id, payload_hash, result, flags, at)
    SELECT :device_id, r.op_id, r.payload_hash, r.result, r.flags, :at
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(op_id uuid, payload_hash text, result jsonb, flags text[])
    ORDER BY r.op_id
    """
)
_PUSH_STATE = sa.text(
    f"""
    INSERT INTO device_sync_state AS s (device_id, last_push_at, last_op_id, app_version, failures)
    VALUES (:device_id, :at, :last_op_id, :app_version, CAST(:failures AS jsonb))
    ON CONFLICT (device_id) DO UPDATE SET
      last_push_at = excluded.last_push_at,
      last_op_id = coalesce(excluded.last_op_id, s.last_op_id),
      app_version = excluded.app_version,
      failures = {KEPT_FAILURES}
    """  # noqa: S608 - a constant fragment, no input
)


def row(op: Op, payload_hash: str, result: OpResult) -> dict[str, JSON]:
    """An op's receipt as `store` writes it."""
    return {
        "op_id": op.op_id,
        "payload_hash": payload_hash,
        "result": result.receipt(),
        "flags": [f.value for f in result.flags],
    }


def store(
    conn: sa.Connection,
    device: Device,
    ops: Sequence[Op],
    results: Sequence[OpResult],
    fresh: Mapping[int, dict[str, JSON]],
    rejects: list[tuple[Op, OpResult]],
    now: datetime,
) -> None:
    """Store receipts (`fresh`: the op index and `row` of each op run for the first time), keep
    rejected payloads, record device health: a few set-based writes."""
    records.set_write_context(conn, None)
    if fresh:
        # One statement for all receipts (an executemany is a round trip per row).
        conn.execute(
            _INSERT_RECEIPTS,
            {
                "device_id": device.device_id,
                "at": now,
                "rows": orjson.dumps([fresh[i] for i in sorted(fresh)]).decode(),
            },
        )
    rejects = rejects + [
        (ops[i], results[i]) for i in sorted(fresh) if results[i].status is Status.REJECTED
    ]
    if rejects:
        conn.execute(
            sa.insert(rejected_ops),
            [
                {
                    "id": uuid.uuid4(),
                    "device_id": device.device_id,
                    "user_id": device.user_id,
                    "op_id": op.op_id,
                    "record_type": op.record_type,
                    "record_id": op.record_id,
                    "reason": result.reason.value if result.reason else "rejected",
                    "field_errors": {k: list(v) for k, v in result.field_errors.items()},
                    "payload": op.to_json(),
                    "at": now,
                }
                for op, result in rejects
            ],
        )
    failures = [
        failure("push", r.reason.value if r.reason else "rejected", device, now, op.op_id)
        for op, r in rejects
    ][-MAX_FAILURES_KEPT:]
    conn.execute(
        _PUSH_STATE,
        {
            "device_id": device.device_id,
            "at": now,
            "last_op_id": ops[-1].op_id if ops else None,
            "app_version": device.app_version,
            "failures": orjson.dumps(failures).decode(),
        },
    )
