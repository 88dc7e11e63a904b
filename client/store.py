"""The phone's local SQLite store: records, the pending-op queue, acknowledged results, state.

Each record keeps `base` (the last server document seen, with its `version` and `grid_id`) and
`doc` (what the user sees: `base` with the pending ops laid over it). Pulls and push results
only ever replace `base`; `doc` is recomputed from `base` and the queue, so a pull can never
clobber an edit that has not been pushed yet.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_type TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    grid_id     TEXT,              -- as the server last said; NULL until a create is echoed
    version     INTEGER NOT NULL,  -- the server version `base` is at; 0 for an unpushed create
    base        TEXT,              -- last server document (JSON); NULL if the server has none
    doc         TEXT,              -- base + pending ops; NULL while a delete is pending
    PRIMARY KEY (record_type, record_id)
);
CREATE INDEX IF NOT EXISTS records_grid ON records (grid_id);
CREATE TABLE IF NOT EXISTS pending (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id       TEXT NOT NULL UNIQUE,
    record_type TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    body        TEXT NOT NULL      -- the op's JSON, sent byte-for-byte the same on every retry
);
CREATE TABLE IF NOT EXISTS acked (
    op_id  TEXT PRIMARY KEY,       -- a second result for one op is a bug: the insert fails
    status TEXT NOT NULL,
    reason TEXT,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class Row:
    """One stored record."""

    record_type: str
    record_id: str
    grid_id: str | None
    version: int
    base: dict[str, Any] | None
    doc: dict[str, Any] | None


def record_hash(record_id: str, version: int) -> int:
    """First 4 bytes of md5("<uuid>:<version>") as an unsigned integer (the server's checksum)."""
    digest = hashlib.md5(f"{record_id}:{version}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big")


def overlay(base: dict[str, Any] | None, ops: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The user's view: `base` (None or a tombstone: nothing) with pending ops applied in order."""
    doc = None if base is None or base.get("deleted_at") else dict(base)
    for op in ops:
        if op["kind"] == "delete":
            doc = None
        elif op["kind"] in ("create", "patch"):
            doc = {**(doc or {"id": op["record_id"]}), **op["fields"]}
    return doc


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


class Store:
    """A phone's database; every public method is one SQLite transaction unless in `batch()`."""

    def __init__(self, path: str = ":memory:"):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.executescript(_SCHEMA)
        self._depth = 0

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group several changes into one SQLite transaction (a pull page, a push's results)."""
        if self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self.db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self.db.execute("COMMIT")

    # --- state -------------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        """A saved value (cursor, clock, last acknowledged op, held grids, tokens)."""
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str | None) -> None:
        """Save (or clear, with None) a value."""
        with self.batch():
            self.db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- records -----------------------------------------------------------------------------

    def row(self, record_type: str, record_id: str) -> Row | None:
        """One record as stored, or None."""
        found = self.db.execute(
            "SELECT record_type, record_id, grid_id, version, base, doc FROM records "
            "WHERE record_type = ? AND record_id = ?",
            (record_type, record_id),
        ).fetchone()
        if found is None:
            return None
        return Row(found[0], found[1], found[2], found[3], _loads(found[4]), _loads(found[5]))

    def rows(self) -> list[Row]:
        """Every stored record (including hidden ones with a pending delete)."""
        found = self.db.execute(
            "SELECT record_type, record_id, grid_id, version, base, doc FROM records "
            "ORDER BY record_type, record_id"
        ).fetchall()
        return [Row(r[0], r[1], r[2], r[3], _loads(r[4]), _loads(r[5])) for r in found]

    def visible(self) -> dict[tuple[str, str], dict[str, Any]]:
        """What the user sees: every record's current document, by (type, id)."""
        return {(r.record_type, r.record_id): r.doc for r in self.rows() if r.doc is not None}

    def set_base(
        self,
        record_type: str,
        record_id: str,
        version: int,
        base: dict[str, Any] | None,
        grid_id: str | None,
    ) -> None:
        """Replace what the server said about a record, then recompute the user's view.

        A record with neither a live server document nor pending ops is removed.
        """
        with self.batch():
            self.db.execute(
                "INSERT INTO records (record_type, record_id, grid_id, version, base, doc) "
                "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (record_type, record_id) DO UPDATE SET "
                "grid_id = excluded.grid_id, version = excluded.version, base = excluded.base",
                (record_type, record_id, grid_id, version, _dumps(base)),
            )
            self.refresh(record_type, record_id)

    def put_live(self, docs: list[tuple[str, dict[str, Any]]]) -> None:
        """Store live server documents (a snapshot page) as `base`: one statement for the
        clean rows, the per-record path for rows with pending ops (their edits stay on top)."""
        dirty = set(self.db.execute("SELECT DISTINCT record_type, record_id FROM pending"))
        clean = []
        with self.batch():
            for record_type, doc in docs:
                record_id, grid = str(doc["id"]), doc.get("grid_id")
                if (record_type, record_id) in dirty:
                    self.set_base(record_type, record_id, int(doc["version"]), doc, grid)
                else:
                    text = _dumps(doc)
                    clean.append((record_type, record_id, grid, int(doc["version"]), text, text))
            self.db.executemany(
                "INSERT INTO records (record_type, record_id, grid_id, version, base, doc) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (record_type, record_id) DO UPDATE SET "
                "grid_id = excluded.grid_id, version = excluded.version, base = excluded.base, "
                "doc = excluded.doc",
                clean,
            )

    def refresh(self, record_type: str, record_id: str) -> None:
        """Recompute a record's view from its base and pending ops; drop it if nothing is left."""
        row = self.row(record_type, record_id)
        if row is None:
            return
        ops = self.pending_for(record_type, record_id)
        live_base = row.base is not None and not row.base.get("deleted_at")
        if not ops and not live_base:
            self.db.execute(
                "DELETE FROM records WHERE record_type = ? AND record_id = ?",
                (record_type, record_id),
            )
            return
        self.db.execute(
            "UPDATE records SET doc = ? WHERE record_type = ? AND record_id = ?",
            (_dumps(overlay(row.base, ops)), record_type, record_id),
        )

    def forget(self, record_type: str, record_id: str) -> None:
        """Drop a record the phone no longer holds, unless it has unpushed edits."""
        if not self.is_dirty(record_type, record_id):
            self.db.execute(
                "DELETE FROM records WHERE record_type = ? AND record_id = ?",
                (record_type, record_id),
            )

    def drop_grids(self, grid_ids: Iterable[str]) -> None:
        """Drop the rows of grids that left the slice, except rows with unpushed edits."""
        with self.batch():
            for grid in grid_ids:
                self.db.execute(
                    "DELETE FROM records WHERE grid_id = ? AND NOT EXISTS (SELECT 1 FROM pending p "
                    "WHERE p.record_type = records.record_type "
                    "AND p.record_id = records.record_id)",
                    (grid,),
                )

    def drop_outside(self, held: Iterable[str]) -> None:
        """Drop clean rows that are not in a held grid.

        The feed echoes a pushed create that lands in the slice; one that landed elsewhere (an
        old grid, edited offline before a reassignment) or in no grid, and a row kept only
        because it was dirty when its grid was removed, are not the phone's to keep.
        """
        self.db.execute(
            "DELETE FROM records WHERE version > 0 "
            "AND (grid_id IS NULL OR grid_id NOT IN (SELECT value FROM json_each(?))) "
            "AND NOT EXISTS (SELECT 1 FROM pending p WHERE p.record_type = records.record_type "
            "AND p.record_id = records.record_id)",
            (json.dumps(sorted(set(held))),),
        )

    def clean_ids_in_grid(self, grid_id: str) -> set[tuple[str, str]]:
        """(type, id) of the rows held in a grid without unpushed edits."""
        found = self.db.execute(
            "SELECT record_type, record_id FROM records r WHERE grid_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM pending p WHERE p.record_type = r.record_type "
            "AND p.record_id = r.record_id)",
            (grid_id,),
        )
        return {(t, i) for t, i in found}

    def summary(self, grid_id: str) -> tuple[int, int]:
        """(count, checksum) of the live server versions held for a grid, as the server sums it."""
        count, total = 0, 0
        # SQLite reads `deleted_at` itself rather than Python parsing every stored document
        # (10,000 of them after a first download) to look at one field.
        for record_id, version in self.db.execute(
            "SELECT record_id, version FROM records WHERE grid_id = ? AND version > 0 "
            "AND base IS NOT NULL AND json_extract(base, '$.deleted_at') IS NULL",
            (grid_id,),
        ):
            count += 1
            total += record_hash(record_id, version)
        return count, total % 2**32

    # --- the op queue --------------------------------------------------------------------------

    def enqueue(self, op: dict[str, Any]) -> None:
        """Queue an op and lay it over the record's view (creating the row for a create).

        Raises ValueError for a NaN or infinite number, which JSON cannot carry (it would reach
        the server as null): nothing is queued.
        """
        body = json.dumps(op, sort_keys=True, allow_nan=False)
        with self.batch():
            self.db.execute(
                "INSERT INTO pending (op_id, record_type, record_id, body) VALUES (?, ?, ?, ?)",
                (op["op_id"], op["record_type"], op["record_id"], body),
            )
            self.db.execute(
                "INSERT INTO records (record_type, record_id, grid_id, version, base, doc) "
                "VALUES (?, ?, NULL, 0, NULL, NULL) ON CONFLICT DO NOTHING",
                (op["record_type"], op["record_id"]),
            )
            self.refresh(op["record_type"], op["record_id"])

    def queue(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The oldest pending ops, in order; the same ops on every retry until acknowledged."""
        sql = "SELECT body FROM pending ORDER BY seq"
        found = self.db.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
        return [dict(json.loads(body)) for (body,) in found]

    def pending_for(self, record_type: str, record_id: str) -> list[dict[str, Any]]:
        """A record's pending ops, oldest first."""
        found = self.db.execute(
            "SELECT body FROM pending WHERE record_type = ? AND record_id = ? ORDER BY seq",
            (record_type, record_id),
        )
        return [dict(json.loads(body)) for (body,) in found]

    def is_dirty(self, record_type: str, record_id: str) -> bool:
        """Whether the record has unpushed edits."""
        return (
            self.db.execute(
                "SELECT 1 FROM pending WHERE record_type = ? AND record_id = ? LIMIT 1",
                (record_type, record_id),
            ).fetchone()
            is not None
        )

    def acknowledge(self, op_id: str, result: dict[str, Any]) -> None:
        """Remove an op from the queue and keep its result (exactly one per op)."""
        with self.batch():
            self.db.execute("DELETE FROM pending WHERE op_id = ?", (op_id,))
            self.db.execute(
                "INSERT INTO acked (op_id, status, reason, result) VALUES (?, ?, ?, ?)",
                (op_id, result["status"], result.get("reason"), json.dumps(result)),
            )

    def results(self) -> dict[str, dict[str, Any]]:
        """Every acknowledged op's result, by op id."""
        found = self.db.execute("SELECT op_id, result FROM acked")
        return {op_id: dict(json.loads(result)) for op_id, result in found}
