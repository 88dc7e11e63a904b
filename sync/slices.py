"""A device's slice by grid: per-grid count and checksum, and keyset-paged grid snapshots."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa

from sync.ops import JSON
from sync.records import driver, quoted_table
from sync.registry import RecordType, Registry

MOD = 2**32


@dataclass(frozen=True)
class GridSummary:
    """Live records in one grid: how many, and the sum of their hashes mod 2^32."""

    grid_id: uuid.UUID
    count: int
    checksum: int


def record_hash(record_id: uuid.UUID, version: int) -> int:
    """The hash a phone computes too: first 4 bytes of md5("<uuid>:<version>"), unsigned."""
    digest = hashlib.md5(f"{record_id}:{version}".encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big")


def grid_summaries(
    conn: sa.Connection, registry: Registry, grid_ids: Iterable[uuid.UUID]
) -> list[GridSummary]:
    """Count and order-independent checksum of the live records of every record type per grid.

    One statement for all record types (a round trip per type was ~0.5-1 ms each, eleven of
    them at the end of every full pull), summing each row's stored `sync_hash`.
    """
    grids = sorted(set(grid_ids))
    totals = {g: [0, 0] for g in grids}
    per_type = [
        "SELECT grid_id, count(*) AS n, coalesce(sum(sync_hash), 0) AS total "  # noqa: S608
        f"FROM {quoted_table(conn, record_type.table)} "
        "WHERE grid_id = ANY(:grids) AND deleted_at IS NULL GROUP BY grid_id"
        for record_type in registry
    ]
    if not grids or not per_type:
        return [GridSummary(g, 0, 0) for g in grids]
    for row in conn.execute(sa.text(" UNION ALL ".join(per_type)), {"grids": grids}):
        totals[row.grid_id][0] += int(row.n)
        totals[row.grid_id][1] += int(row.total)
    return [GridSummary(g, totals[g][0], totals[g][1] % MOD) for g in grids]


def load_docs(
    conn: sa.Connection, record_type: RecordType, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, JSON]]:
    """Current rows by id as JSON documents (tombstones included), one query per record type."""
    table = quoted_table(conn, record_type.table)
    rows = conn.execute(
        sa.text(f"SELECT t.id, to_jsonb(t) AS doc FROM {table} AS t WHERE t.id = ANY(:ids)"),  # noqa: S608
        {"ids": sorted(set(ids))},
    )
    return {row.id: dict(row.doc) for row in rows}


@dataclass(frozen=True)
class Place:
    """Where a row is now: enough to tell whether a record is in a slice."""

    grid_id: uuid.UUID | None
    version: int
    deleted: bool


def load_places(
    conn: sa.Connection, record_type: RecordType, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Place]:
    """Where rows are now by id, without reading (or turning into JSON) the whole row."""
    table = quoted_table(conn, record_type.table)
    rows = conn.execute(
        sa.text(
            "SELECT t.id, t.grid_id, t.version, t.deleted_at IS NOT NULL AS deleted "  # noqa: S608
            f"FROM {table} AS t WHERE t.id = ANY(:ids)"
        ),
        {"ids": sorted(set(ids))},
    )
    return {row.id: Place(row.grid_id, int(row.version), bool(row.deleted)) for row in rows}


@dataclass(frozen=True)
class SnapshotPage:
    """One page of an added grid's live records, and where the next page starts (None: done).

    Each record is `(record type, row)`: by default the row is its key (`id`, `version` and
    `grid_id` as JSON); with `columns` it is the caller's select list as driver values.
    """

    records: list[tuple[str, dict[str, Any]]]
    after: str | None


# The caller's select list over the table aliased `t` (SQL text), per record type.
SnapshotColumns = Callable[[sa.Connection, RecordType], str]


def _key(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "version": int(row["version"]), "grid_id": str(row["grid_id"])}


def snapshot(
    conn: sa.Connection,
    registry: Registry,
    grid_ids: Sequence[uuid.UUID],
    after: str | None = None,
    limit: int = 1000,
    *,
    columns: SnapshotColumns | None = None,
) -> SnapshotPage:
    """Live records of `grid_ids`, paged by keyset (record type, id), never by OFFSET.

    `grid_ids` must already be checked against the caller's scope. Changes made while the
    pages are read reach the phone through the change feed, whose cursor predates the snapshot.
    A server reads the columns it presents (`columns`) in the page's own keyset scan: never
    `to_jsonb` of whole rows, which was half of a first download's server time.
    """
    types = list(registry)
    start_type, start_id = types[0].name if types else "", None
    if after:
        name, _, raw = after.partition(":")
        start_type, start_id = name, uuid.UUID(raw)
    one_grid = len(set(grid_ids)) == 1
    sorting = _sort_only_without_index(conn) if one_grid else None
    page = _read_page(conn, types, grid_ids, one_grid, start_type, start_id, limit, columns)
    if sorting is not None:
        conn.execute(sa.text("SELECT set_config('enable_sort', :was, true)"), {"was": sorting})
    return page


def _read_page(
    conn: sa.Connection,
    types: Sequence[RecordType],
    grid_ids: Sequence[uuid.UUID],
    one_grid: bool,
    start_type: str,
    start_id: uuid.UUID | None,
    limit: int,
    columns: SnapshotColumns | None,
) -> SnapshotPage:
    out: list[tuple[str, dict[str, Any]]] = []
    # The driver's binary protocol: a 1,000-record page of the bench's addresses (~2 MB) arrived
    # and was parsed in 17 ms instead of 20 ms as text, and SQLAlchemy's result layer is skipped.
    cursor: psycopg.Cursor[tuple[Any, ...]] = driver(conn).cursor(binary=True)
    for record_type in types:
        if record_type.name < start_type:
            continue
        table = quoted_table(conn, record_type.table)
        after_id = start_id if record_type.name == start_type else None
        # One grid (a phone's usual case) by equality and the keyset bound only when there is
        # one: then the (grid_id, id) index hands rows over in id order and LIMIT stops early.
        where = "t.grid_id = %(grid)s" if one_grid else "t.grid_id = ANY(%(grids)s)"
        if after_id is not None:
            where += " AND t.id > %(after)s"
        select = columns(conn, record_type) if columns else "t.id, t.version, t.grid_id"
        rows = _fetch(
            cursor,
            f"SELECT {select} FROM {table} AS t "  # noqa: S608
            f"WHERE {where} AND t.deleted_at IS NULL ORDER BY t.id LIMIT %(n)s",
            {
                "grid": next(iter(grid_ids), None),
                "grids": sorted(set(grid_ids)),
                "after": after_id,
                "n": limit - len(out) + 1,
            },
        )
        # Plain rows zipped into dicts: a RowMapping per row cost twice the fetch itself.
        keys = [column.name for column in cursor.description or ()]
        for values in rows:
            if len(out) == limit:
                last_type, last_doc = out[-1]
                return SnapshotPage(out, f"{last_type}:{last_doc['id']}")
            row = dict(zip(keys, values, strict=True))
            out.append((record_type.name, row if columns else _key(row)))
    return SnapshotPage(out, None)


# Rows of a page in chunks as PostgreSQL sends them, the next chunk on its way while one is
# parsed: a 2,500-record page of the bench's addresses arrived in 27 ms, against 47 ms in one
# result (medians, var/dl10_sql.py, 2026-11-27). Chunks need libpq 17 (psycopg-binary ships it).
STREAM_CHUNK = 100


def _fetch(
    cursor: psycopg.Cursor[tuple[Any, ...]], query: str, params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """All rows of the statement. A stream is always read to its end: leaving it early cancels
    the statement, which would abort the snapshot's transaction (LIMIT bounds it)."""
    if psycopg.capabilities.has_stream_chunked():
        return list(cursor.stream(query, params, size=STREAM_CHUNK))
    return cursor.execute(query, params).fetchall()


def _sort_only_without_index(conn: sa.Connection) -> str:
    """Have the page's statements sort only where no index gives the order; the setting it
    had, to put back after them.

    A page must come from the (grid_id, id) index in id order and stop at its limit. For a grid
    whose rows the planner has no statistics for yet (loaded since the table was last analyzed)
    it estimated one row, read the whole grid and sorted it, on every page: 35-46 ms a page of a
    10,000-record grid, against 12-17 ms through the index (medians, measured 2026-11-27).
    """
    was: str = conn.execute(sa.text("SELECT current_setting('enable_sort')")).scalar_one()
    conn.execute(sa.text("SELECT set_config('enable_sort', 'off', true)"))
    return was
