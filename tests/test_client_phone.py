"""The reference client against a scripted server: queueing, results, pulls, scope, checksums."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

import client.phone
from client.hlc import Clock
from client.phone import Phone
from client.store import Store, record_hash
from client.transport import TransportError

GRID_A = str(uuid.UUID(int=0xA))
GRID_B = str(uuid.UUID(int=0xB))


class FakeApi:
    """Answers pushes with `on_push` and pulls/snapshots from queued pages."""

    def __init__(self) -> None:
        self.pushed: list[list[dict[str, Any]]] = []
        self.on_push: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = applied_all
        self.pages: deque[dict[str, Any]] = deque()
        self.snapshots: dict[str, list[dict[str, Any]]] = {}
        self.snapshot_calls: list[tuple[str, str | None, int]] = []
        self.lose_next_push = False

    def push(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.pushed.append(ops)
        results = self.on_push(ops)
        if self.lose_next_push:
            self.lose_next_push = False
            raise TransportError("connection reset after the server committed")
        return results

    def pull(self, cursor: str | None, limit: int) -> dict[str, Any]:
        return self.pages.popleft() if self.pages else page()

    def snapshot(self, grid_id: str, after: str | None, limit: int) -> dict[str, Any]:
        """Pages of `limit` records; `after` is the position of the next one."""
        self.snapshot_calls.append((grid_id, after, limit))
        records = self.snapshots.get(grid_id, [])
        start = int(after or 0)
        following = str(start + limit) if start + limit < len(records) else None
        return {"records": records[start : start + limit], "after": following}


def applied_all(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [result(op, "applied", (op["base_version"] or 0) + 1) for op in ops]


def result(op: dict[str, Any], status: str, version: int | None, **extra: Any) -> dict[str, Any]:
    return {"op_id": op["op_id"], "status": status, "version": version, "reason": None, **extra}


def page(changes: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "changes": changes or [],
        "cursor": "c",
        "has_more": False,
        "added_grids": [],
        "removed_grids": [],
        "summaries": [],
        "reset_required": False,
        "last_op_id": None,
        **extra,
    }


def doc(record_id: str, version: int, grid: str = GRID_A, **fields: Any) -> dict[str, Any]:
    return {"id": record_id, "version": version, "grid_id": grid, "deleted_at": None, **fields}


def upsert(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_type": "note",
        "record_id": record["id"],
        "kind": "upsert",
        "grid_id": record["grid_id"],
        "version": record["version"],
        "record": record,
    }


def summary(grid: str, *records: dict[str, Any]) -> dict[str, Any]:
    total = sum(record_hash(r["id"], r["version"]) for r in records) % 2**32
    return {"grid_id": grid, "count": len(records), "checksum": total}


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def phone(api: FakeApi) -> Phone:
    return Phone(Store(), api, "phone-1")


def held(phone: Phone, record_id: str, version: int = 1, grid: str = GRID_A, **fields: Any) -> None:
    """Give the phone a record as if pulled (and its grid as held)."""
    phone.store.set_base("note", record_id, version, doc(record_id, version, grid, **fields), grid)
    grids = set(json.loads(phone.store.get_state("grids") or "[]")) | {grid}
    phone.store.set_state("grids", json.dumps(sorted(grids)))


def test_a_patch_is_queued_with_its_base_version_and_a_stamp_per_field(phone: Phone) -> None:
    record_id = str(uuid.uuid4())
    held(phone, record_id, version=3, title="a")
    phone.patch("note", record_id, {"title": "b", "body": "x"})
    (op,) = phone.store.queue()
    assert (op["kind"], op["base_version"], op["fields"]) == (
        "patch",
        3,
        {"title": "b", "body": "x"},
    )
    assert op["stamps"] == {"title": op["stamp"], "body": op["stamp"]}
    assert phone.get("note", record_id) == doc(record_id, 3, title="b", body="x")


@pytest.mark.parametrize("number", [float("nan"), float("inf")])
def test_a_number_json_cannot_carry_is_refused_before_it_is_queued(
    phone: Phone, number: float
) -> None:
    with pytest.raises(ValueError, match="JSON"):
        phone.create("note", {"title": "a", "visits": number})
    assert phone.store.queue() == []


def test_applied_results_empty_the_queue_and_advance_versions(phone: Phone, api: FakeApi) -> None:
    record_id = phone.create("note", {"title": "a"})
    phone.patch("note", record_id, {"title": "b"})
    phone.push_once()
    assert phone.store.queue() == []
    assert phone.store.row("note", record_id).version == 1  # type: ignore[union-attr]
    assert [r["status"] for r in phone.store.results().values()] == ["applied", "applied"]


def test_a_pushed_create_the_feed_does_not_echo_is_dropped(phone: Phone, api: FakeApi) -> None:
    echoed, elsewhere = phone.create("note", {"title": "a"}), phone.create("note", {"title": "b"})
    api.pages.append(page([upsert(doc(echoed, 1, title="a"))], added_grids=[GRID_A]))
    phone.sync()
    assert phone.get("note", echoed) == doc(echoed, 1, title="a")
    assert phone.store.row("note", elsewhere) is None


def test_a_pulled_upsert_keeps_the_unpushed_fields(phone: Phone, api: FakeApi) -> None:
    record_id = str(uuid.uuid4())
    held(phone, record_id, version=1, title="a", body="x")
    phone.patch("note", record_id, {"title": "mine"})
    api.pages.append(page([upsert(doc(record_id, 2, title="theirs", body="y"))]))
    phone.pull()
    assert phone.get("note", record_id) == doc(record_id, 2, title="mine", body="y")
    assert phone.store.queue()[0]["base_version"] == 1


def test_an_older_pulled_version_is_ignored(phone: Phone, api: FakeApi) -> None:
    record_id = str(uuid.uuid4())
    held(phone, record_id, version=5, title="new")
    api.pages.append(page([upsert(doc(record_id, 4, title="old"))]))
    phone.pull()
    assert phone.get("note", record_id) == doc(record_id, 5, title="new")


def test_a_conflict_result_takes_the_stored_record(phone: Phone, api: FakeApi) -> None:
    record_id = str(uuid.uuid4())
    held(phone, record_id, version=1, title="a")
    phone.patch("note", record_id, {"title": "mine"})
    stored = doc(record_id, 3, title="server")
    api.on_push = lambda ops: [result(ops[0], "conflict", 3, current=stored)]
    phone.push_once()
    assert phone.get("note", record_id) == stored


def test_a_rejected_create_leaves_no_record_behind(phone: Phone, api: FakeApi) -> None:
    record_id = phone.create("note", {"title": "x" * 300})
    api.on_push = lambda ops: [result(ops[0], "rejected", None, reason="invalid_fields")]
    phone.push_once()
    assert phone.store.queue() == []
    assert phone.store.row("note", record_id) is None


def test_an_applied_delete_removes_the_record(phone: Phone, api: FakeApi) -> None:
    record_id = str(uuid.uuid4())
    held(phone, record_id)
    phone.delete("note", record_id)
    assert phone.get("note", record_id) is None
    phone.push_once()
    assert phone.store.row("note", record_id) is None


def test_a_lost_push_response_resends_the_same_batch(phone: Phone, api: FakeApi) -> None:
    phone.create("note", {"title": "a"})
    phone.create("note", {"title": "b"})
    api.lose_next_push = True
    with pytest.raises(TransportError):
        phone.sync()
    phone.sync()
    assert api.pushed[0] == api.pushed[1]
    assert len(phone.store.results()) == 2


def test_a_removed_grid_drops_clean_rows_and_keeps_dirty_ones(phone: Phone, api: FakeApi) -> None:
    clean, dirty, other = (str(uuid.uuid4()) for _ in range(3))
    held(phone, clean)
    held(phone, dirty)
    held(phone, other, grid=GRID_B)
    phone.patch("note", dirty, {"title": "unpushed"})
    api.pages.append(page(removed_grids=[GRID_A]))
    phone.pull()
    assert phone.store.row("note", clean) is None
    assert phone.get("note", dirty) == doc(dirty, 1, title="unpushed")
    assert phone.get("note", other) is not None


def test_an_added_grid_is_downloaded_by_snapshot(phone: Phone, api: FakeApi) -> None:
    record = doc(str(uuid.uuid4()), 2, GRID_B, title="t")
    api.snapshots[GRID_B] = [{"record_type": "note", "record": record}]
    api.pages.append(page(added_grids=[GRID_B], summaries=[summary(GRID_B, record)]))
    report = phone.pull()
    assert phone.get("note", record["id"]) == record
    assert report.resnapshots == []


def test_a_grid_larger_than_a_page_is_downloaded_page_by_page(
    phone: Phone, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client.phone, "SNAPSHOT_LIMIT", 2)
    records = [doc(str(uuid.uuid4()), 1, GRID_B) for _ in range(5)]
    api.snapshots[GRID_B] = [{"record_type": "note", "record": r} for r in records]
    api.pages.append(page(added_grids=[GRID_B], summaries=[summary(GRID_B, *records)]))
    report = phone.pull()
    assert api.snapshot_calls == [(GRID_B, None, 2), (GRID_B, "2", 2), (GRID_B, "4", 2)]
    assert phone.store.visible() == {("note", r["id"]): r for r in records}
    assert report.resnapshots == []


def test_a_checksum_mismatch_resnapshots_that_grid(phone: Phone, api: FakeApi) -> None:
    stale, missing = str(uuid.uuid4()), doc(str(uuid.uuid4()), 1)
    held(phone, stale)
    api.snapshots[GRID_A] = [{"record_type": "note", "record": missing}]
    api.pages.append(page(summaries=[summary(GRID_A, missing)]))
    report = phone.pull()
    assert report.resnapshots == [GRID_A]
    assert phone.store.visible() == {("note", missing["id"]): missing}


def test_reset_required_keeps_unpushed_edits_and_downloads_again(
    phone: Phone, api: FakeApi
) -> None:
    gone, dirty = str(uuid.uuid4()), str(uuid.uuid4())
    held(phone, gone)
    held(phone, dirty, title="a")
    phone.patch("note", dirty, {"title": "unpushed"})
    fresh = doc(dirty, 4, title="server")
    api.snapshots[GRID_A] = [{"record_type": "note", "record": fresh}]
    api.pages.append(page(reset_required=True, added_grids=[GRID_A]))
    report = phone.pull()
    assert report.reset
    assert phone.store.row("note", gone) is None
    assert phone.get("note", dirty) == doc(dirty, 4, title="unpushed")


def test_a_tombstone_for_a_dirty_record_keeps_the_edit_until_pushed(
    phone: Phone, api: FakeApi
) -> None:
    record_id = str(uuid.uuid4())
    held(phone, record_id, title="a")
    phone.patch("note", record_id, {"title": "mine"})
    tomb = {"id": record_id, "version": 2, "grid_id": GRID_A, "deleted_at": "2026-01-01"}
    api.pages.append(page([{**upsert(doc(record_id, 2)), "kind": "delete", "record": tomb}]))
    phone.pull()
    assert phone.get("note", record_id) == {"id": record_id, "title": "mine"}
    api.on_push = lambda ops: [result(ops[0], "conflict", 2, current=tomb)]
    phone.push_once()
    assert phone.store.row("note", record_id) is None


def test_a_second_result_for_one_op_is_refused() -> None:
    store = Store()
    store.acknowledge("op-1", {"status": "applied"})
    with pytest.raises(sqlite3.IntegrityError):
        store.acknowledge("op-1", {"status": "applied"})


def test_the_clock_moves_past_a_remote_stamp_even_when_the_wall_clock_lags() -> None:
    clock = Clock("phone", now=lambda: 1000)
    first = clock.stamp()
    clock.observe("000000000005000-00007-server")
    later = clock.stamp()
    assert first < "000000000005000-00007-server" < later
