"""A small synced table, tracked with sync_track exactly as the registry tables will be."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import URL, Engine

from sync import hlc
from sync.access import Access, AccessCheck, Device
from sync.merge import Policy
from sync.ops import JSON, Op, OpKind, Reason
from sync.registry import SYNC_HASH_SQL, Location, RecordType, Refused, Registry

GRID_A = uuid.UUID("00000000-0000-7000-8000-00000000000a")
GRID_B = uuid.UUID("00000000-0000-7000-8000-00000000000b")
PLACES = {"north": GRID_A, "south": GRID_B}

test_metadata = sa.MetaData()
notes = sa.Table(
    "sync_test_notes",
    test_metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("grid_id", sa.Uuid, nullable=True),
    sa.Column("scope_path", pg.ARRAY(sa.Uuid), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.Uuid, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.Uuid, nullable=True),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("deleted_by", sa.Uuid, nullable=True),
    sa.Column("sync_hash", sa.BigInteger, sa.Computed(SYNC_HASH_SQL, persisted=True)),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("place", sa.Text, nullable=True),
    sa.Column("visits", sa.Integer, sa.CheckConstraint("visits >= 0"), nullable=True),
    sa.Column("code", sa.Text, nullable=True),
    sa.UniqueConstraint("code", name="uq_sync_test_notes_code"),
)
CODE_TAKEN = Refused(Reason.INVALID_FIELDS, {"code": ["taken"]})


def _locate(conn: sa.Connection, fields: Mapping[str, JSON]) -> Location:
    grid = PLACES.get(str(fields.get("place")))
    return Location(grid, (grid,) if grid else ())


NOTE = RecordType(
    name="note",
    table=notes,
    fields={
        "title": Policy.NEWEST_STAMP,
        "body": Policy.NEWEST_STAMP,
        "visits": Policy.NEWEST_STAMP,
        "status": Policy.SERVER_WINS,
        "place": Policy.SERVER_WINS,
        "code": Policy.SERVER_WINS,
    },
    locate=_locate,
    validate=lambda f: {"title": ["too long"]} if len(str(f.get("title") or "")) > 200 else {},
    unique={"uq_sync_test_notes_code": CODE_TAKEN},
)
REGISTRY = Registry([NOTE])


def allow_all(checks: Sequence[AccessCheck]) -> dict[uuid.UUID, Access]:
    """Every record is in scope now."""
    return {c.op_id: Access.NOW for c in checks}


def make_device(name: str = "phone") -> Device:
    """A device with a fresh id and user."""
    return Device(device_id=uuid.uuid4(), user_id=uuid.uuid4(), app_version=f"{name}-1.0")


def stamp(node: str = "phone", offset_ms: int = 0) -> str:
    """An HLC stamp for now (plus `offset_ms`) on `node`."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    return hlc.Stamp(now_ms + offset_ms, 0, node).encode()


def make_op(
    kind: OpKind,
    record_id: uuid.UUID,
    fields: Mapping[str, JSON] | None = None,
    base_version: int | None = None,
    at: str | None = None,
) -> Op:
    """An op with a fresh op id, stamped now."""
    return Op(
        op_id=uuid.uuid4(),
        record_type="note",
        record_id=record_id,
        kind=kind,
        stamp=at or stamp(),
        base_version=base_version,
        fields=dict(fields or {}),
    )


@pytest.fixture(scope="session")
def runtime_engine(database_urls: tuple[URL, URL]) -> Iterator[Engine]:
    """An engine as the runtime role (the one the service uses), with a pool for threads."""
    engine = sa.create_engine(database_urls[0], pool_size=6)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _notes_table(app: Flask, owner_engine: Engine) -> Iterator[None]:
    with owner_engine.begin() as conn:
        test_metadata.create_all(conn)
        conn.execute(sa.text("SELECT sync_track('sync_test_notes', 'note')"))
    yield
    with owner_engine.begin() as conn:
        test_metadata.drop_all(conn)


@pytest.fixture
def engine(_notes_table: None, runtime_engine: Engine, app: Flask) -> Engine:
    """The runtime engine, with the tracked notes table in place and cleaned after the test."""
    return runtime_engine
