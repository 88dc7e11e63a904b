"""The phone's loop: edit offline into the queue, then sync = push the queue, then pull.

Rules a mobile client must keep (docs/sync-protocol.md, "Reference client"):
- every edit is an op with a fresh op id, the server version it was made from and an HLC stamp
  per changed field; queued ops are never rewritten (a retry must send the same bytes);
- push before pull; an op leaves the queue only when its result arrives (rejected included);
- a pull replaces only what the server said (`base`); unpushed edits stay laid over it;
- removed grids drop their rows except dirty ones; a checksum mismatch re-snapshots that grid;
- `reset_required` drops clean rows, keeps the queue, and re-snapshots every grid.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client.hlc import Clock, wall_ms
from client.store import Store
from client.transport import SyncApi

PUSH_BATCH = 500
PULL_LIMIT = 500
# Snapshot pages of 2,500 records, not the server's default 1,000: each page is a round trip
# (on a phone network the larger cost) and the server's fixed work per request. A first download
# of the bench's 10,050-record grid over loopback took 713 ms at 1,000, 609 ms at 2,500 and 599 ms
# at 5,000 (medians of 10 interleaved, 2026-11-27); 2,500 records of ~2 KB stay a few MB to parse.
SNAPSHOT_LIMIT = 2500


@dataclass
class SyncReport:
    """What one sync did: results by status, pages pulled, grids re-snapshotted."""

    statuses: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    resnapshots: list[str] = field(default_factory=list)
    reset: bool = False


class Phone:
    """One device: its store, its clock and its way to the server."""

    def __init__(
        self, store: Store, api: SyncApi, node: str, now: Callable[[], int] = wall_ms
    ) -> None:
        self.store = store
        self.api = api
        self.clock = Clock(node, store.get_state("clock"), now)

    # --- offline edits -----------------------------------------------------------------------

    def create(self, record_type: str, fields: dict[str, Any], record_id: str = "") -> str:
        """Create a record with a phone-made id; returns the id."""
        record_id = record_id or str(uuid.uuid4())
        self._enqueue(record_type, record_id, "create", None, fields)
        return record_id

    def patch(self, record_type: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change some fields of a record the phone holds."""
        self._enqueue(
            record_type, record_id, "patch", self._base_version(record_type, record_id), fields
        )

    def delete(self, record_type: str, record_id: str) -> None:
        """Delete (tombstone) a record the phone holds."""
        self._enqueue(
            record_type, record_id, "delete", self._base_version(record_type, record_id), {}
        )

    def get(self, record_type: str, record_id: str) -> dict[str, Any] | None:
        """The record as the user sees it (pending edits included), or None."""
        row = self.store.row(record_type, record_id)
        return None if row is None else row.doc

    def _base_version(self, record_type: str, record_id: str) -> int:
        row = self.store.row(record_type, record_id)
        if row is None or row.doc is None:
            raise KeyError(f"{record_type} {record_id} is not on this phone")
        # The server version the edit is made from; earlier queued ops of this device never
        # count against it on the server, so it stays the last version the server confirmed.
        return row.version

    def _enqueue(
        self,
        record_type: str,
        record_id: str,
        kind: str,
        base_version: int | None,
        fields: dict[str, Any],
    ) -> None:
        stamp = self.clock.stamp()
        self.store.set_state("clock", stamp)
        self.store.enqueue(
            {
                "op_id": str(uuid.uuid4()),
                "record_type": record_type,
                "record_id": record_id,
                "kind": kind,
                "stamp": stamp,
                "base_version": base_version,
                "fields": fields,
                "stamps": dict.fromkeys(fields, stamp),
                "command": None,
                "args": {},
            }
        )

    # --- sync --------------------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Push the whole queue, then pull until the feed is drained and the slice verified.

        A TransportError leaves everything as it was (queue, cursor): call sync again.
        """
        report = SyncReport()
        while self.push_once(report):
            pass
        self.pull(report)
        return report

    def push_once(self, report: SyncReport | None = None) -> bool:
        """Push the oldest batch; False when the queue was empty.

        After a lost response the same ops go again unchanged; the server answers from its
        receipts, so each op still gets exactly one result here.
        """
        ops = self.store.queue(PUSH_BATCH)
        if not ops:
            return False
        results = self.api.push(ops)
        with self.store.batch():
            for op, result in zip(ops, results, strict=True):
                self._take_result(op, result)
                if report is not None:
                    report.statuses[result["status"]] = report.statuses.get(result["status"], 0) + 1
            self.store.set_state("last_acked_op", ops[-1]["op_id"])
        return True

    def _take_result(self, op: dict[str, Any], result: dict[str, Any]) -> None:
        record_type, record_id = op["record_type"], op["record_id"]
        row = self.store.row(record_type, record_id)
        self.store.acknowledge(op["op_id"], result)
        current = result.get("current")
        if current is not None:
            # merged / conflict (and some rejections): the stored record is the truth.
            self._set_base(record_type, record_id, current)
        elif result["status"] == "applied" and row is not None:
            # Written as sent: the server document is the old one with these fields.
            base = dict(row.base or {"id": record_id})
            if op["kind"] == "delete":
                base["deleted_at"] = "deleted"
            base.update(op["fields"], version=result["version"])
            self.store.set_base(record_type, record_id, result["version"], base, row.grid_id)
        else:
            # rejected without a record, duplicate: the server state is unchanged.
            self.store.refresh(record_type, record_id)

    def pull(self, report: SyncReport | None = None) -> SyncReport:
        """Pull pages until `has_more` is false, then check every grid's count and checksum."""
        report = report or SyncReport()
        while True:
            page = self.api.pull(self.store.get_state("cursor"), PULL_LIMIT)
            report.pages += 1
            with self.store.batch():
                self._apply_page(page, report)
            if not page["has_more"]:
                break
        self.store.drop_outside(json.loads(self.store.get_state("grids") or "[]"))
        for summary in page.get("summaries") or []:
            grid = summary["grid_id"]
            if self.store.summary(grid) != (summary["count"], summary["checksum"]):
                self.resnapshot(grid)
                report.resnapshots.append(grid)
        return report

    def _apply_page(self, page: dict[str, Any], report: SyncReport) -> None:
        grids = set(json.loads(self.store.get_state("grids") or "[]"))
        if page.get("reset_required"):
            # Entries this phone never saw were compacted away: keep only unpushed edits and
            # download every grid again.
            report.reset = True
            for row in self.store.rows():
                self.store.forget(row.record_type, row.record_id)
            grids = set()
        self.store.drop_grids(page.get("removed_grids") or [])
        grids -= set(page.get("removed_grids") or [])
        for grid in page.get("added_grids") or []:
            self._download(grid)
            grids.add(grid)
        for change in page["changes"]:
            self._apply_change(change)
        if page.get("conflicts") is not None:
            # Conflicts raised by this device's ops: how the user learns their value lost.
            self.store.set_state("conflicts", json.dumps(page["conflicts"]))
        if page.get("last_op_id"):
            self.store.set_state("last_acked_op", page["last_op_id"])
        self.store.set_state("grids", json.dumps(sorted(grids)))
        self.store.set_state("cursor", page["cursor"])

    def _apply_change(self, change: dict[str, Any]) -> None:
        record_type, record_id = change["record_type"], change["record_id"]
        row = self.store.row(record_type, record_id)
        if row is not None and row.version > change["version"]:
            return  # re-sent older entry: the phone keeps the higher version
        if change["kind"] == "upsert":
            self._set_base(record_type, record_id, change["record"])
        elif change["kind"] == "delete":
            tomb = change.get("record") or {"id": record_id, "deleted_at": "deleted"}
            self.store.set_base(
                record_type, record_id, change["version"], tomb, change.get("grid_id")
            )
        elif row is not None and row.grid_id in (change.get("grid_id"), None):
            self.store.forget(record_type, record_id)  # "leave": it moved out of the slice

    def _set_base(self, record_type: str, record_id: str, doc: dict[str, Any]) -> None:
        self.store.set_base(record_type, record_id, int(doc["version"]), doc, doc.get("grid_id"))

    def _download(self, grid: str) -> set[tuple[str, str]]:
        """Fetch a grid's live records page by page; returns the (type, id) pairs received."""
        seen: set[tuple[str, str]] = set()
        after: str | None = None
        while True:
            page = self.api.snapshot(grid, after, SNAPSHOT_LIMIT)
            docs = [(item["record_type"], item["record"]) for item in page["records"]]
            self.store.put_live(docs)
            seen.update((record_type, str(doc["id"])) for record_type, doc in docs)
            after = page.get("after")
            if not after:
                return seen

    def conflicts(self) -> list[dict[str, Any]]:
        """Conflicts raised by this device's ops as of the last full pull (to show the user)."""
        found: list[dict[str, Any]] = json.loads(self.store.get_state("conflicts") or "[]")
        return found

    def resnapshot(self, grid: str) -> None:
        """Replace one grid's clean rows with a fresh snapshot (after a checksum mismatch)."""
        with self.store.batch():
            seen = self._download(grid)
            for record_type, record_id in self.store.clean_ids_in_grid(grid) - seen:
                self.store.forget(record_type, record_id)
