"""Concurrent pushes on real connections: no deadlock, no lost update, exactly once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.access import Device
from sync.ops import Op, OpKind, OpResult, Status
from sync.push import push
from tests.sync.conftest import REGISTRY, allow_all, make_device, make_op, notes

ROUNDS = 5


def in_threads(*targets: Callable[[], None]) -> None:
    failures: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures


def run(engine: Engine, device: Device, ops: list[Op]) -> list[OpResult]:
    with engine.begin() as conn:
        return push(conn, REGISTRY, device, allow_all, ops)


def test_concurrent_overlapping_batches_never_deadlock_and_lose_no_update(engine: Engine) -> None:
    ids = [uuid.uuid4() for _ in range(20)]
    run(engine, make_device(), [make_op(OpKind.CREATE, i, {"place": "north"}) for i in ids])
    barrier = threading.Barrier(2)

    def editing(field: str, order: list[uuid.UUID]) -> Callable[[], None]:
        device = make_device(field)

        def edit() -> None:
            for round_ in range(ROUNDS):
                barrier.wait(timeout=30)
                run(
                    engine,
                    device,
                    [make_op(OpKind.PATCH, i, {field: f"{field}{round_}"}, 1) for i in order],
                )

        return edit

    in_threads(editing("title", ids), editing("body", ids[::-1]))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(notes.c.version, notes.c.title, notes.c.body)).all()
    last = ROUNDS - 1
    assert sorted(set(rows)) == [(1 + 2 * ROUNDS, f"title{last}", f"body{last}")]


def test_two_pushes_of_one_batch_from_one_device_at_once_apply_it_once(engine: Engine) -> None:
    device = make_device()
    record_id = uuid.uuid4()
    run(engine, device, [make_op(OpKind.CREATE, record_id, {"place": "north", "visits": 0})])
    batch = [make_op(OpKind.PATCH, record_id, {"visits": 1}, 1)]
    answers: list[list[OpResult]] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait(timeout=30)
        answers.append(run(engine, device, batch))

    in_threads(send, send)
    assert answers[0] == answers[1]
    with engine.connect() as conn:
        assert conn.execute(sa.select(notes.c.version, notes.c.visits)).one() == (2, 1)


def test_create_racing_a_create_of_the_same_id_becomes_a_merge_not_a_failure(
    engine: Engine,
) -> None:
    record_id = uuid.uuid4()
    first = make_op(OpKind.CREATE, record_id, {"place": "north", "title": "first"})
    second = make_op(OpKind.CREATE, record_id, {"place": "north", "body": "second"})
    answers: list[list[OpResult]] = []
    with engine.connect() as holder:
        tx = holder.begin()
        push(holder, REGISTRY, make_device("one"), allow_all, [first])  # inserted, not committed
        racer = threading.Thread(
            target=lambda: answers.append(run(engine, make_device(), [second]))
        )
        racer.start()
        time.sleep(0.5)  # the racer has read no row and now waits on the unique index
        tx.commit()
        racer.join(timeout=30)
    [[result]] = answers
    assert result.status is Status.MERGED
    with engine.connect() as conn:
        row = conn.execute(sa.select(notes.c.version, notes.c.title, notes.c.body)).one()
    assert tuple(row) == (2, "first", "second")


def test_killed_push_leaves_nothing_and_its_retry_applies_exactly_once(engine: Engine) -> None:
    device = make_device()
    existing = uuid.uuid4()
    run(engine, device, [make_op(OpKind.CREATE, existing, {"place": "north", "visits": 0})])
    blocked_id = uuid.uuid4()
    batch = [
        make_op(OpKind.PATCH, existing, {"visits": 1}, 1),
        make_op(OpKind.CREATE, blocked_id, {"place": "north", "title": "mine"}),
    ]
    pids: list[int] = []

    def doomed() -> None:
        with engine.connect() as conn, conn.begin():
            pids.append(conn.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
            push(conn, REGISTRY, device, allow_all, batch)

    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            doomed()
        except BaseException as error:
            failures.append(error)

    with engine.connect() as holder:
        tx = holder.begin()
        # Another writer holds the second record's id, so the push stops mid-batch, after op 1.
        push(
            holder,
            REGISTRY,
            make_device("other"),
            allow_all,
            [make_op(OpKind.CREATE, blocked_id, {"place": "north"})],
        )
        thread = threading.Thread(target=guarded)
        thread.start()
        with engine.connect() as killer:
            assert wait_for_lock_wait(killer, pids), "the push never reached its second op"
            assert killer.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})
        thread.join(timeout=30)
        tx.rollback()
    assert failures  # the server side of the push died
    assert note_version(engine, existing) == 1
    first = run(engine, device, batch)
    again = run(engine, device, batch)
    assert [r.status for r in first] == [Status.APPLIED, Status.APPLIED]
    assert again == first
    assert note_version(engine, existing) == 2


def wait_for_lock_wait(conn: sa.Connection, pids: list[int]) -> bool:
    """True once the push's backend waits on a lock inside its INSERT (op 2, after op 1)."""
    query = sa.text(
        "SELECT query FROM pg_stat_activity WHERE pid = :pid AND wait_event_type = 'Lock'"
    )
    for _ in range(100):
        if pids:
            waiting = conn.execute(query, {"pid": pids[0]}).scalar()
            conn.rollback()  # a fresh statistics snapshot next time
            if waiting and waiting.lstrip().startswith("INSERT"):
                return True
        time.sleep(0.05)
    return False


def note_version(engine: Engine, record_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(notes.c.version).where(notes.c.id == record_id)).scalar_one()
        )
