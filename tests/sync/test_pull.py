"""Pull on the real database: cursors that never skip, scope diffs, checksums, resets."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.access import Device
from sync.cursor import Cursor, Position
from sync.errors import InvalidCursor
from sync.ops import OpKind
from sync.pull import PullResult, compact_change_log, pull
from sync.push import push
from sync.slices import MOD, record_hash, snapshot
from sync.tables import Xid8, change_log, device_sync_state
from tests.sync.conftest import GRID_A, GRID_B, REGISTRY, allow_all, make_device, make_op, notes


def pulled(
    engine: Engine,
    device: Device,
    grids: Iterable[uuid.UUID],
    cursor: str | None,
    limit: int = 500,
) -> PullResult:
    repeatable = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    with repeatable as conn, conn.begin():
        return pull(conn, REGISTRY, device, grids, cursor, limit)


def write_note(conn: sa.Connection, grid: uuid.UUID = GRID_A, title: str = "t") -> uuid.UUID:
    record_id = uuid.uuid4()
    now = datetime.now(UTC)
    conn.execute(
        notes.insert().values(
            id=record_id, version=1, grid_id=grid, created_at=now, updated_at=now, title=title
        )
    )
    return record_id


def new_note(engine: Engine, grid: uuid.UUID = GRID_A, title: str = "t") -> uuid.UUID:
    with engine.begin() as conn:
        return write_note(conn, grid, title)


def ids(result: PullResult, kind: str = "upsert") -> set[uuid.UUID]:
    return {c.record_id for c in result.changes if c.kind == kind}


def test_first_pull_lists_every_grid_as_added_and_sends_no_history(engine: Engine) -> None:
    new_note(engine)
    result = pulled(engine, make_device(), [GRID_A, GRID_B], None)
    assert (result.added_grids, result.removed_grids) == (sorted([GRID_A, GRID_B]), [])
    assert result.changes == []
    assert not result.reset_required


def test_change_after_the_cursor_is_delivered_with_its_current_row(engine: Engine) -> None:
    device = make_device()
    first = pulled(engine, device, [GRID_A], None)
    record_id = new_note(engine, title="hello")
    second = pulled(engine, device, [GRID_A], first.cursor)
    [change] = second.changes
    assert (change.record_id, change.kind, change.version) == (record_id, "upsert", 1)
    assert change.record is not None
    assert change.record["title"] == "hello"


def test_change_in_a_grid_the_device_does_not_hold_is_not_sent(engine: Engine) -> None:
    device = make_device()
    first = pulled(engine, device, [GRID_A], None)
    new_note(engine, GRID_B)
    assert pulled(engine, device, [GRID_A], first.cursor).changes == []


def test_out_of_order_commits_are_never_skipped(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    with engine.connect() as slow, engine.connect() as fast:
        slow_tx = slow.begin()
        late = write_note(slow, title="A")  # transaction A writes first and waits
        with fast.begin():
            early = write_note(fast, title="B")  # transaction B writes and commits
        middle = pulled(engine, device, [GRID_A], cursor)
        slow_tx.commit()  # A commits after the pull
    assert ids(middle) == {early}
    after = pulled(engine, device, [GRID_A], middle.cursor)
    assert late in ids(after)


def test_a_page_limit_pages_by_keyset_and_delivers_every_change(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    written = {new_note(engine) for _ in range(7)}
    seen: set[uuid.UUID] = set()
    # Entries of transactions still below other sessions' horizon may be sent twice (allowed),
    # so the page count is not fixed; every page respects the limit and the chain ends.
    for _ in range(20):
        page = pulled(engine, device, [GRID_A], cursor, limit=3)
        assert len(page.changes) <= 3
        seen |= ids(page)
        cursor = page.cursor
        if not page.has_more:
            break
    else:
        raise AssertionError("paging never ended")
    assert seen == written


def test_pages_follow_transaction_order_when_txids_gain_a_digit(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    # Entries of two future transactions: as text, "10000000000" sorts before "9999999990".
    earlier, later = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        for txid, record_id in ((9_999_999_990, earlier), (10_000_000_000, later)):
            conn.execute(
                change_log.insert().values(
                    txid=sa.cast(sa.literal(str(txid), sa.Text), Xid8()),
                    record_type="note",
                    record_id=record_id,
                    grid_id=GRID_A,
                    version=1,
                    kind="upsert",
                )
            )
    first = pulled(engine, device, [GRID_A], cursor, limit=1)
    second = pulled(engine, device, [GRID_A], first.cursor, limit=1)
    assert [c.record_id for c in first.changes + second.changes] == [earlier, later]


def test_grid_move_sends_a_leave_to_the_old_grid_and_the_record_to_the_new(engine: Engine) -> None:
    in_a, in_b = make_device("a"), make_device("b")
    cursor_a = pulled(engine, in_a, [GRID_A], None).cursor
    cursor_b = pulled(engine, in_b, [GRID_B], None).cursor
    record_id = new_note(engine, GRID_A)
    with engine.begin() as conn:  # a boundary redraw moves the record
        conn.execute(notes.update().where(notes.c.id == record_id).values(grid_id=GRID_B))
    [left] = pulled(engine, in_a, [GRID_A], cursor_a).changes
    [arrived] = pulled(engine, in_b, [GRID_B], cursor_b).changes
    assert (left.kind, left.grid_id, left.record) == ("leave", GRID_A, None)
    assert (arrived.kind, arrived.grid_id, arrived.record_id) == ("upsert", GRID_B, record_id)


def test_tombstone_is_sent_as_a_delete_with_who_and_when(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    record_id = new_note(engine)
    with engine.begin() as conn:
        push(conn, REGISTRY, device, allow_all, [make_op(OpKind.DELETE, record_id, base_version=1)])
    [change] = pulled(engine, device, [GRID_A], cursor).changes
    assert (change.kind, change.version) == ("delete", 2)
    assert change.record is not None
    assert change.record["deleted_by"] == str(device.user_id)


def test_scope_change_is_a_diff_of_removed_and_added_grids(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    new_note(engine, GRID_B)
    result = pulled(engine, device, [GRID_B], cursor)
    assert (result.removed_grids, result.added_grids) == ([GRID_A], [GRID_B])
    assert result.changes == []  # the added grid comes as a snapshot, not as its history
    with engine.connect() as conn:
        state = conn.execute(sa.select(device_sync_state)).one()
    assert state.last_grid_set == [GRID_B]


def test_a_lost_pull_response_does_not_lose_the_scope_diff(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    pulled(engine, device, [GRID_B], cursor)  # the phone never receives this answer
    retried = pulled(engine, device, [GRID_B], cursor)
    assert (retried.removed_grids, retried.added_grids) == ([GRID_A], [GRID_B])


@pytest.mark.parametrize("chunked", [True, False], ids=["streamed", "libpq before 17"])
def test_snapshot_pages_through_an_added_grid(
    engine: Engine, chunked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages are streamed in chunks where the libpq can, and read whole where it cannot.
    monkeypatch.setattr(psycopg.capabilities, "has_stream_chunked", lambda *_, **__: chunked)
    written = {new_note(engine, GRID_B) for _ in range(5)}
    new_note(engine, GRID_A)
    seen: set[str] = set()
    after: str | None = None
    with engine.connect() as conn:
        while True:
            page = snapshot(conn, REGISTRY, [GRID_B], after, limit=2)
            seen |= {doc["id"] for _, doc in page.records}
            after = page.after
            if after is None:
                break
    assert seen == {str(i) for i in written}


@pytest.mark.parametrize("setting", ["on", "off"])
def test_a_snapshot_page_puts_the_sort_setting_back(engine: Engine, setting: str) -> None:
    new_note(engine, GRID_B)
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SELECT set_config('enable_sort', :v, true)"), {"v": setting})
        page = snapshot(conn, REGISTRY, [GRID_B], None, limit=10)
        after = conn.execute(sa.text("SELECT current_setting('enable_sort')")).scalar_one()
    assert len(page.records) == 1
    assert after == setting


def test_grid_checksum_is_the_sum_of_record_hashes_mod_2_32(engine: Engine) -> None:
    device = make_device()
    written = [new_note(engine) for _ in range(4)]
    with engine.begin() as conn:
        conn.execute(notes.update().where(notes.c.id == written[0]).values(version=5))
    [summary] = pulled(engine, device, [GRID_A], None).summaries or []
    expected = (record_hash(written[0], 5) + sum(record_hash(i, 1) for i in written[1:])) % MOD
    assert (summary.grid_id, summary.count, summary.checksum) == (GRID_A, 4, expected)


def test_checksums_are_withheld_while_more_pages_remain(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    for _ in range(3):
        new_note(engine)
    assert pulled(engine, device, [GRID_A], cursor, limit=2).summaries is None


def test_cursor_older_than_the_compaction_horizon_requires_a_reset(engine: Engine) -> None:
    device = make_device()
    old = Cursor(Position(5, 0), Position(5, 0), frozenset({GRID_A, GRID_B})).encode()
    with engine.begin() as conn:  # compaction has cut the log up to transaction 10
        conn.execute(
            sa.text("INSERT INTO change_log_horizon VALUES (1, CAST('10' AS xid8), now())")
        )
    result = pulled(engine, device, [GRID_A], old)
    assert result.reset_required
    assert (result.added_grids, result.removed_grids) == ([GRID_A], [GRID_B])
    assert not pulled(engine, device, [GRID_A], result.cursor).reset_required


def test_a_reset_is_noted_in_the_devices_sync_health_once(engine: Engine) -> None:
    device = make_device()
    old = Cursor(Position(5, 0), Position(5, 0), frozenset({GRID_A})).encode()
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO change_log_horizon VALUES (1, CAST('10' AS xid8), now())")
        )
    fresh = pulled(engine, device, [GRID_A], old).cursor
    pulled(engine, device, [GRID_A], fresh)
    with engine.connect() as conn:
        failures = conn.scalar(
            sa.select(device_sync_state.c.failures).where(
                device_sync_state.c.device_id == device.device_id
            )
        )
    assert [(f["stage"], f["reason"], f["op_id"]) for f in failures] == [
        ("pull", "reset_required", None)
    ]


def test_compaction_deletes_entries_older_than_the_cutoff_and_moves_the_horizon(
    engine: Engine,
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with engine.begin() as conn:
        conn.execute(
            change_log.insert().values(
                txid=sa.cast("3", Xid8()),
                record_type="note",
                record_id=uuid.uuid4(),
                grid_id=GRID_A,
                version=1,
                kind="upsert",
                at=long_ago,
            )
        )
    new_note(engine)
    with engine.begin() as conn:
        deleted = compact_change_log(conn, datetime.now(UTC) - timedelta(days=90))
        horizon = conn.scalar(sa.text("SELECT txid::text FROM change_log_horizon"))
        left = conn.scalar(sa.select(sa.func.count()).select_from(change_log))
    assert (deleted, horizon, left) == (1, "3", 1)


def test_pull_reports_the_devices_last_acknowledged_op(engine: Engine) -> None:
    device = make_device()
    op = make_op(OpKind.CREATE, uuid.uuid4(), {"place": "north"})
    with engine.begin() as conn:
        push(conn, REGISTRY, device, allow_all, [op])
    assert pulled(engine, device, [GRID_A], None).last_op_id == op.op_id


def test_own_push_echoes_back_with_its_new_version(engine: Engine) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    record_id = uuid.uuid4()
    with engine.begin() as conn:
        push(
            conn,
            REGISTRY,
            device,
            allow_all,
            [make_op(OpKind.CREATE, record_id, {"place": "north"})],
        )
    [change] = pulled(engine, device, [GRID_A], cursor).changes
    assert (change.record_id, change.version) == (record_id, 1)


def test_unreadable_cursor_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidCursor):
        pulled(engine, make_device(), [GRID_A], "not-a-cursor")


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 6])
def test_every_page_size_delivers_every_change(engine: Engine, limit: int) -> None:
    device = make_device()
    cursor = pulled(engine, device, [GRID_A], None).cursor
    with engine.connect() as holder:
        tx = holder.begin()
        written = {new_note(engine), new_note(engine)}
        held = write_note(holder)  # an open writer splits the log into settled and tail entries
        written |= {new_note(engine), new_note(engine)}
        tx.commit()
    written.add(held)
    seen: set[uuid.UUID] = set()
    for _ in range(20):
        page = pulled(engine, device, [GRID_A], cursor, limit=limit)
        seen |= ids(page)
        cursor = page.cursor
        if not page.has_more:
            break
    assert written <= seen


def test_first_download_of_ten_thousand_records_resumes_after_a_dropped_page(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sync_test_notes (id, version, grid_id, created_at, updated_at, title) "
                "SELECT gen_random_uuid(), 1, :grid, now(), now(), 'n' || g "
                "FROM generate_series(1, 10000) AS g"
            ),
            {"grid": GRID_A},
        )
    seen: set[str] = set()
    after: str | None = None
    requests = 0
    with engine.connect() as conn:
        while True:
            page = snapshot(conn, REGISTRY, [GRID_A], after, limit=2500)
            requests += 1
            if requests == 2:  # the response is lost; the phone asks for the same page again
                page = snapshot(conn, REGISTRY, [GRID_A], after, limit=2500)
            seen |= {doc["id"] for _, doc in page.records}
            after = page.after
            if after is None:
                break
    assert len(seen) == 10_000
    assert requests <= 5
