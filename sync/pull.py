"""The pull use case: changes in the device's grids since its cursor, a scope diff, checksums.

Never skips a change: entries are read in (txid, seq) order and the cursor's settled position
only advances past transactions below the snapshot's xmin, all of which have ended. Entries of
later transactions that are already visible (the tail) are sent too, and sent again until they
settle (the phone keeps the higher version), so a transaction that commits late, below entries
already sent, is delivered by the next pull.
Run it in one REPEATABLE READ transaction so the feed and the checksums share one snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from sync import records
from sync.access import Device
from sync.cursor import Cursor, Position, decode_cursor
from sync.health import failure, record_failures
from sync.ops import JSON
from sync.registry import Registry
from sync.slices import GridSummary, grid_summaries, load_docs, load_places
from sync.tables import change_log_horizon

_TOMBSTONE_KEYS = ("id", "version", "grid_id", "deleted_at", "deleted_by")


@dataclass(frozen=True)
class Change:
    """One entry for the phone: upsert (with the record), delete (a tombstone) or leave."""

    record_type: str
    record_id: uuid.UUID
    kind: str
    grid_id: uuid.UUID | None
    version: int
    record: dict[str, JSON] | None


@dataclass(frozen=True)
class PullResult:
    """A page of changes and everything the phone needs to check and continue."""

    changes: list[Change]
    cursor: str
    has_more: bool
    added_grids: list[uuid.UUID]
    removed_grids: list[uuid.UUID]
    # Present only when the phone, after applying this page, holds this snapshot's whole slice.
    summaries: list[GridSummary] | None
    reset_required: bool
    last_op_id: uuid.UUID | None


@dataclass(frozen=True)
class _Entry:
    position: Position
    record_type: str
    record_id: uuid.UUID
    grid_id: uuid.UUID | None
    version: int
    kind: str


# Per grid, an ordered range scan of (grid_id, txid, seq) that stops after n entries, then the
# first n of them all: the cost is the device's grids' changes, never the whole log after the
# cursor. The grid is bounded by a row comparison and `<=`, not `grid_id = g.id`: with an
# equality the planner drops grid_id from the order and may walk (txid, seq) instead, filtering
# on grid_id, through every grid's entries (500,000 of them for a cursor before a bulk load).
# Ordered by the xid8 column itself: a bare `txid` would name the text output column, whose
# order differs from xid8's once txids gain a digit (and a page cut there would skip entries).
_FEED = """
SELECT c.seq, c.txid::text AS txid, c.record_type, c.record_id, c.grid_id, c.version, c.kind
FROM unnest(CAST(:grids AS uuid[])) AS g(id)
CROSS JOIN LATERAL (
  SELECT seq, txid, record_type, record_id, grid_id, version, kind
  FROM change_log
  WHERE (grid_id, txid, seq) > (g.id, CAST(:txid AS xid8), :seq)
    AND grid_id <= g.id
    AND {bound}
  ORDER BY grid_id, txid, seq
  LIMIT :n
) AS c
ORDER BY c.txid, c.seq
LIMIT :n
"""


def _entries(
    conn: sa.Connection, grids: list[uuid.UUID], after: Position, horizon: int, below: bool, n: int
) -> list[_Entry]:
    if not grids or n <= 0:
        return []
    bound = "txid < CAST(:horizon AS xid8)" if below else "txid >= CAST(:horizon AS xid8)"
    if not below:
        after = max(after, Position(horizon, 0))  # the same rows; the scan starts at the horizon
    rows = conn.execute(
        sa.text(_FEED.format(bound=bound)),
        {
            "grids": grids,
            "txid": str(after.txid),
            "seq": after.seq,
            "horizon": str(horizon),
            "n": n,
        },
    )
    return [
        _Entry(
            Position(int(r.txid), r.seq), r.record_type, r.record_id, r.grid_id, r.version, r.kind
        )
        for r in rows
    ]


def _resolve(
    conn: sa.Connection, registry: Registry, entries: list[_Entry], grids: frozenset[uuid.UUID]
) -> list[Change]:
    """Turn log entries into changes carrying current rows, one per record.

    The record's row in this snapshot decides, not which of its entries came last: entries are in
    (txid, seq) order, which is not commit order. A transaction that began before another but
    committed after it has the smaller txid, so its move out of (or back into) the slice can sit
    before the other's upsert in the feed.
    """
    last: dict[tuple[str, uuid.UUID], _Entry] = {}
    for entry in entries:
        key = (entry.record_type, entry.record_id)
        last.pop(key, None)  # re-inserting keeps the dict in order of each record's last entry
        last[key] = entry
    docs: dict[tuple[str, uuid.UUID], dict[str, JSON]] = {}
    away: dict[tuple[str, uuid.UUID], int] = {}  # records out of the slice now, by version
    for record_type in registry:
        name = record_type.name
        ids = [k[1] for k, e in last.items() if k[0] == name and e.kind != "leave"]
        left = [k[1] for k, e in last.items() if k[0] == name and e.kind == "leave"]
        if left:
            # Most records that left are still away (a redraw's thousands): where they are now
            # is enough, and only one that came back into the slice needs its row.
            for record_id, place in load_places(conn, record_type, left).items():
                if place.grid_id in grids:
                    ids.append(record_id)
                else:
                    away[(name, record_id)] = place.version
        for record_id, row in (load_docs(conn, record_type, ids) if ids else {}).items():
            docs[(name, record_id)] = row
    changes: list[Change] = []
    for key, entry in last.items():
        if registry.get(entry.record_type) is None:
            continue
        doc = docs.get(key)
        if doc is None:  # away from the slice, or gone from the table: the phone drops it
            version = away.get(key, entry.version)
            kind = "leave" if entry.kind == "leave" or key in away else "delete"
            changes.append(Change(*key, kind, entry.grid_id, version, None))
            continue
        grid = uuid.UUID(doc["grid_id"]) if doc.get("grid_id") else None
        version = int(doc["version"])
        if grid not in grids:
            # Out of the slice now, whatever the entry said: the phone drops it, and learns
            # nothing of where it went (a tombstone would name the other grid and its deleter).
            changes.append(Change(*key, "leave", entry.grid_id, version, None))
        elif doc.get("deleted_at") is not None:
            tomb = {k: doc.get(k) for k in _TOMBSTONE_KEYS}
            changes.append(Change(*key, "delete", grid, version, tomb))
        else:
            changes.append(Change(*key, "upsert", grid, version, doc))
    return changes


def pull(
    conn: sa.Connection,
    registry: Registry,
    device: Device,
    grid_ids: Iterable[uuid.UUID],
    cursor: str | None,
    limit: int = 500,
    *,
    now: datetime | None = None,
) -> PullResult:
    """One page of the feed for the device's current grids (looked up by the caller per request)."""
    now = now or datetime.now(UTC)
    grids = frozenset(grid_ids)
    xmin = int(conn.scalar(sa.text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")) or 0)
    start = Position(xmin, 0)
    previous = decode_cursor(cursor) if cursor else Cursor(start, start, frozenset())
    horizon = conn.scalar(sa.select(sa.cast(change_log_horizon.c.txid, sa.Text)))
    reset = cursor is not None and horizon is not None and previous.position.txid <= int(horizon)
    removed = sorted(previous.grids - grids)
    if reset:
        # Compaction removed entries this phone never saw: it re-snapshots every grid it holds
        # (keeping its unpushed edits) and continues from here.
        previous = Cursor(start, start, frozenset())
    added = sorted(grids - previous.grids)
    # Added grids come as snapshots; the feed only carries grids the phone already holds.
    feed_grids = sorted(grids & previous.grids)
    settled = _entries(conn, feed_grids, previous.position, xmin, True, limit + 1)
    position = max(previous.position, start)
    tail_from = max(previous.tail, position)
    tail: list[_Entry] = []
    if len(settled) > limit:
        settled = settled[:limit]
        position = settled[-1].position
        has_more = True
    else:
        tail = _entries(conn, feed_grids, tail_from, xmin, False, limit - len(settled) + 1)
        has_more = len(tail) > limit - len(settled)
        tail = tail[: limit - len(settled)]
        # Page on through a long tail; once it is drained, the next pull starts the tail again
        # from the settled position, so a transaction that committed late is sent at once.
        if not has_more:
            tail_from = position
        elif tail:
            tail_from = tail[-1].position
    changes = _resolve(conn, registry, settled + tail, grids)
    last_op_id = _record_pull(conn, device, grids, now, position)
    if reset:
        record_failures(conn, device, [failure("pull", "reset_required", device, now)])
    return PullResult(
        changes=changes,
        cursor=Cursor(position, max(tail_from, position), grids).encode(),
        has_more=has_more,
        added_grids=added,
        removed_grids=removed,
        summaries=None if has_more else grid_summaries(conn, registry, grids),
        reset_required=reset,
        last_op_id=last_op_id,
    )


# Text, not a Core upsert: SQLAlchemy compiles a PostgreSQL ON CONFLICT afresh on every call.
_PULL_STATE = sa.text(
    """
    INSERT INTO device_sync_state AS s
      (device_id, last_pull_at, last_grid_set, app_version, cursor_txid, cursor_seq)
    VALUES (:device_id, :at, CAST(:grids AS uuid[]), :app_version, CAST(:txid AS xid8), :seq)
    ON CONFLICT (device_id) DO UPDATE SET
      last_pull_at = excluded.last_pull_at,
      last_grid_set = excluded.last_grid_set,
      cursor_txid = excluded.cursor_txid,
      cursor_seq = excluded.cursor_seq,
      app_version = coalesce(excluded.app_version, s.app_version)
    RETURNING s.last_op_id
    """
)


def _record_pull(
    conn: sa.Connection,
    device: Device,
    grids: frozenset[uuid.UUID],
    now: datetime,
    position: Position,
) -> uuid.UUID | None:
    """Note the pull (and where its cursor settled, for the device's backlog) in the device's
    sync health; return its last acknowledged op id."""
    last_op_id: uuid.UUID | None = conn.scalar(
        _PULL_STATE,
        {
            "device_id": device.device_id,
            "at": now,
            "grids": records.uuid_array(grids),
            "app_version": device.app_version,
            "txid": str(position.txid),
            "seq": position.seq,
        },
    )
    return last_op_id


def compact_change_log(conn: sa.Connection, before: datetime) -> int:
    """Delete change-log entries older than `before` and move the reset horizon past them."""
    deleted = conn.execute(
        sa.text(
            # Only settled entries: a horizon above a running transaction could hide its entries.
            "WITH gone AS (DELETE FROM change_log WHERE at < :before "
            "AND txid < pg_snapshot_xmin(pg_current_snapshot()) RETURNING txid) "
            "SELECT (SELECT txid::text FROM gone ORDER BY txid DESC LIMIT 1) AS txid, "
            "(SELECT count(*) FROM gone) AS n"
        ),
        {"before": before},
    ).one()
    if deleted.txid is not None:
        conn.execute(
            sa.text(
                "INSERT INTO change_log_horizon (id, txid, at) "
                "VALUES (1, CAST(:txid AS xid8), :at) ON CONFLICT (id) DO UPDATE "
                "SET txid = greatest(change_log_horizon.txid, excluded.txid), at = excluded.at"
            ),
            {"txid": deleted.txid, "at": before},
        )
    return int(deleted.n)
