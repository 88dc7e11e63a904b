"""SQL against the registered record tables and their field history, set-based per batch.

Rows travel as JSON (`to_jsonb` out, `jsonb_populate_record` in) so PostgreSQL does the type
conversion both ways and values compare in one representation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
import sqlalchemy as sa
from psycopg.types.json import Jsonb

from sync.ops import JSON
from sync.registry import RecordType

Key = tuple[str, uuid.UUID]


@dataclass(frozen=True)
class HistoryEntry:
    """One accepted change of one field, as the tracking trigger recorded it."""

    field: str
    version: int
    stamp: str
    value: JSON
    device_id: uuid.UUID | None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def jsonb(value: Any) -> Jsonb:
    """A jsonb parameter orjson writes straight to bytes: a batch's rows (~600 KB of mostly
    CJK text) are not decoded to a str for the driver to encode back."""
    return Jsonb(value, dumps=orjson.dumps)


def uuid_array(ids: Iterable[uuid.UUID]) -> str:
    """Distinct ids, sorted, as one uuid[] literal: the driver's list adaptation dumps each
    element on its own (~6 ms for a 500-op batch; this ~1 ms)."""
    # Sorted as text: the same order (fixed-width lower-case hex), without UUID's Python `<`.
    return "{" + ",".join(sorted({str(i) for i in ids})) + "}"


def quoted_table(conn: sa.Connection, table: sa.Table) -> str:
    """The table's name, schema-qualified and quoted for SQL text."""
    prep = conn.dialect.identifier_preparer
    return prep.format_table(table)


def _column_list(conn: sa.Connection, names: Iterable[str], alias: str = "") -> str:
    prep = conn.dialect.identifier_preparer
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + prep.quote(n) for n in names)


def send_lock(
    conn: sa.Connection, record_type: RecordType, ids: Iterable[uuid.UUID]
) -> psycopg.Cursor[Any]:
    """Send the statement locking the rows with these ids in id order; `locked` reads it."""
    table = quoted_table(conn, record_type.table)
    return driver(conn).execute(
        f"SELECT t.id, to_jsonb(t) AS doc FROM {table} AS t "  # noqa: S608 - quoted identifier
        "WHERE t.id = ANY(CAST(%(ids)s AS uuid[])) ORDER BY t.id FOR UPDATE OF t",
        {"ids": uuid_array(ids)},
    )


def locked(cursor: psycopg.Cursor[Any]) -> dict[uuid.UUID, dict[str, JSON]]:
    """The rows a `send_lock` statement locked, as JSON documents by id."""
    return {row[0]: dict(row[1]) for row in cursor.fetchall()}


def lock_rows(
    conn: sa.Connection, record_type: RecordType, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, JSON]]:
    """Lock the rows with these ids in id order and return them as JSON documents."""
    return locked(send_lock(conn, record_type, ids))


def insert_row(
    conn: sa.Connection, record_type: RecordType, doc: Mapping[str, JSON]
) -> dict[str, JSON]:
    """Insert one record from a JSON document and return the stored row."""
    table = quoted_table(conn, record_type.table)
    cols = sorted(doc)
    row = conn.execute(
        sa.text(
            f"INSERT INTO {table} AS t ({_column_list(conn, cols)}) "  # noqa: S608
            f"SELECT {_column_list(conn, cols, 'r')} "
            f"FROM jsonb_populate_record(NULL::{table}, CAST(:doc AS jsonb)) AS r "
            "RETURNING to_jsonb(t) AS doc"
        ),
        {"doc": _json(doc)},
    ).one()
    return dict(row.doc)


def driver(conn: sa.Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under `conn`: the same session and transaction, for statements
    sent in pipeline mode (SQLAlchemy reads each result as it executes)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError("the sync engine runs on psycopg 3")
    return raw


def insert_rows(
    conn: sa.Connection,
    record_type: RecordType,
    docs: Sequence[Mapping[str, JSON]],
    shared: Mapping[str, JSON] | None = None,
) -> psycopg.Cursor[Any]:
    """Send one statement inserting records that all carry the same columns; its cursor's
    `rowcount` is how many it inserted once the statement has run (in pipeline mode: once the
    pipeline is synced).

    Columns a document lacks would be NULL rather than their default, so callers group their
    documents by column set. `shared` holds columns every record takes the same value of (the
    audit columns of one batch, say), over any value a document carries: sent and converted
    once, not once per row (~10 ms of a 500-row insert).
    """
    table = quoted_table(conn, record_type.table)
    common = sorted(shared or {})
    cols = sorted(set(docs[0]) - set(common))
    join = f"CROSS JOIN jsonb_populate_record(NULL::{table}, %(shared)s) AS s " if common else ""
    return driver(conn).execute(
        f"INSERT INTO {table} AS t ({_column_list(conn, [*cols, *common])}) "  # noqa: S608
        f"SELECT {_column_list(conn, cols, 'r')}"
        f"{', ' + _column_list(conn, common, 's') if common else ''} "
        f"FROM jsonb_populate_recordset(NULL::{table}, %(docs)s) AS r {join}ORDER BY r.id",
        {"docs": jsonb(docs), **({"shared": jsonb(shared)} if common else {})},
    )


def update_rows(
    conn: sa.Connection, record_type: RecordType, docs: list[Mapping[str, JSON]]
) -> psycopg.Cursor[Any]:
    """Send one statement setting the same columns on several records (each document carries
    its `id`); its cursor's `rowcount` is how many it updated once it has run. The rows must
    already be locked by this transaction."""
    table = quoted_table(conn, record_type.table)
    cols = sorted(set(docs[0]) - {"id"})
    return driver(conn).execute(
        f"UPDATE {table} AS t SET ({_column_list(conn, cols)}) = "  # noqa: S608
        f"ROW({_column_list(conn, cols, 'r')}) "
        f"FROM jsonb_populate_recordset(NULL::{table}, %(docs)s) AS r WHERE t.id = r.id",
        {"docs": jsonb(docs)},
    )


def update_row(
    conn: sa.Connection, record_type: RecordType, record_id: uuid.UUID, doc: Mapping[str, JSON]
) -> dict[str, JSON]:
    """Set the columns in `doc` on one record and return the stored row."""
    table = quoted_table(conn, record_type.table)
    cols = sorted(doc)
    row = conn.execute(
        sa.text(
            f"UPDATE {table} AS t SET ({_column_list(conn, cols)}) = "  # noqa: S608
            f"(SELECT {_column_list(conn, cols, 'r')} "
            f"FROM jsonb_populate_record(NULL::{table}, CAST(:doc AS jsonb)) AS r) "
            "WHERE t.id = :id RETURNING to_jsonb(t) AS doc"
        ),
        {"doc": _json(doc), "id": record_id},
    ).one()
    return dict(row.doc)


def load_history(
    conn: sa.Connection, min_bases: Mapping[Key, int]
) -> dict[Key, list[HistoryEntry]]:
    """Field history of the given records: every change after the record's smallest base
    version, plus each field's last change at or before it (its value at the base)."""
    if not min_bases:
        return {}
    keys = sorted(min_bases)
    params = {
        "types": [k[0] for k in keys],
        "ids": [k[1] for k in keys],
        "bases": [min_bases[k] for k in keys],
    }
    rows = conn.execute(
        sa.text(
            """
            WITH wanted AS (
              SELECT * FROM unnest(CAST(:types AS text[]), CAST(:ids AS uuid[]),
                                   CAST(:bases AS bigint[])) AS w(record_type, record_id, base)
            )
            SELECT fs.record_type, fs.record_id, fs.field, fs.version, fs.stamp, fs.value,
                   fs.device_id, fs.id
            FROM field_stamps fs JOIN wanted w USING (record_type, record_id)
            WHERE fs.version > w.base
            UNION ALL
            SELECT * FROM (
              SELECT DISTINCT ON (fs.record_type, fs.record_id, fs.field)
                     fs.record_type, fs.record_id, fs.field, fs.version, fs.stamp, fs.value,
                     fs.device_id, fs.id
              FROM field_stamps fs JOIN wanted w USING (record_type, record_id)
              WHERE fs.version <= w.base
              ORDER BY fs.record_type, fs.record_id, fs.field, fs.version DESC, fs.id DESC
            ) AS at_base
            ORDER BY 4, 8
            """
        ),
        params,
    )
    history: dict[Key, list[HistoryEntry]] = {k: [] for k in keys}
    for row in rows:
        history[(row.record_type, row.record_id)].append(
            HistoryEntry(row.field, row.version, row.stamp, row.value, row.device_id)
        )
    return history


def set_write_context(conn: sa.Connection, context: Mapping[str, JSON] | None) -> None:
    """Tell the tracking trigger which op, device and stamps the next write carries."""
    conn.execute(sa.text("SELECT set_config('sync.ctx', :ctx, true)"), {"ctx": _context(context)})


def send_write_context(conn: sa.Connection, context: Mapping[str, JSON] | None) -> None:
    """`set_write_context` on the driver connection, for writes sent in pipeline mode."""
    driver(conn).execute("SELECT set_config('sync.ctx', %(ctx)s, true)", {"ctx": _context(context)})


def _context(context: Mapping[str, JSON] | None) -> str:
    return _json(context) if context else ""
