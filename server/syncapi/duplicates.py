"""Possible-duplicate warnings for addresses written over sync: the web API's check, once per
batch (two workers will register the same door offline)."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections import Counter
from collections.abc import Sequence

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from server.registry.models.address import Address
from server.registry.services.addresses import DUPLICATE_RADIUS_M
from server.registry.services.records import Caller, visible
from server.syncapi.translate import Translation
from sync.ops import Flag, Op, OpKind, OpResult, Status
from sync.tables import change_log

MAX_CANDIDATES = 5  # as many as the web API's `possible_duplicate` warnings name
_WRITTEN = (Status.APPLIED, Status.MERGED, Status.CONFLICT)
# The batch's texts that more than one address carries (deleted or out of scope too): a probe
# of the normalized-text index per text, which lets a batch of fresh doors, the usual push, skip
# the matching query (~12 ms of planning and probing for 500 creates). Correlated, so each text
# is an index probe whatever the statistics say (as a join the planner hashed the texts and
# scanned the whole table).
_SHARED_TEXTS = sa.text(
    """
    SELECT w.t FROM jsonb_array_elements_text(CAST(:texts AS jsonb)) AS w(t)
    WHERE (SELECT count(*) FROM (
      SELECT FROM addresses AS a WHERE a.normalized_text = w.t LIMIT 2
    ) AS found) > 1
    """
)
_UPDATE_RECEIPTS = sa.text(
    """
    UPDATE op_receipts AS o SET result = r.result, flags = r.flags
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(op_id uuid, result jsonb, flags text[])
    WHERE o.device_id = :device_id AND o.op_id = r.op_id
    """
)


def _touches_match(translation: Translation, result: OpResult) -> bool:
    """An address create, or a patch of its point or text, that wrote its record."""
    op = translation.op
    return (
        op.record_type == "address"
        and result.status in _WRITTEN
        and (
            op.kind is OpKind.CREATE
            or (
                op.kind is OpKind.PATCH and ("point" in op.fields or "normalized_text" in op.fields)
            )
        )
    )


def _inserted_text(
    translation: Translation, result: OpResult, retouched: set[uuid.UUID]
) -> str | None:
    """The normalized text a create stored as its record's own, when the op inserted it as sent
    and no other op of the batch touches the record (None: not known here). A create merged
    into a stored record may have kept the stored text; a later patch of the batch may have
    changed it."""
    op = translation.op
    text = op.fields.get("normalized_text")
    fresh = op.kind is OpKind.CREATE and result.status is Status.APPLIED and result.version == 1
    if not fresh or op.record_id in retouched or not isinstance(text, str):
        return None
    return text


def _may_match(
    conn: sa.Connection,
    wanted: list[tuple[int, Translation, OpResult]],
    retouched: set[uuid.UUID],
) -> list[tuple[int, Op]]:
    """The ops whose record may share its text with another address: those whose text another
    address also carries, and those whose stored text is not known here."""
    texts = {i: _inserted_text(t, r, retouched) for i, t, r in wanted}
    known = sorted({text for text in texts.values() if text is not None})
    shared = (
        set(conn.scalars(_SHARED_TEXTS, {"texts": orjson.dumps(known).decode()}))
        if known
        else set()
    )
    return [(i, t.op) for i, t, _ in wanted if texts[i] is None or texts[i] in shared]


@functools.lru_cache(maxsize=512)
def _candidates_query(caller: Caller) -> sa.Select[tuple[uuid.UUID, uuid.UUID]]:
    """(op id, candidate id) for each op's record (`rows`, `created`: JSON arrays bound at
    execution): other live addresses the caller may see with the same normalized text within
    the radius, at most MAX_CANDIDATES each.

    Built once per caller: building it (and its cache key) cost ~3 ms a push, most of a small
    push's time in this check."""
    table = Address.__table__
    mine = table.alias("mine")
    wanted = (
        sa.func.jsonb_to_recordset(sa.cast(sa.bindparam("rows", type_=sa.Text()), JSONB))
        .table_valued(
            sa.column("op_id", sa.Uuid),
            sa.column("record_id", sa.Uuid),
            sa.column("ord", sa.Integer),
        )
        .render_derived(name="wanted", with_types=True)
    )
    fresh = (
        sa.func.jsonb_to_recordset(sa.cast(sa.bindparam("created", type_=sa.Text()), JSONB))
        .table_valued(sa.column("record_id", sa.Uuid), sa.column("ord", sa.Integer))
        .render_derived(name="fresh", with_types=True)
    )
    # Only ops that wrote their record in this transaction: a replayed op keeps its stored answer.
    written = sa.exists().where(
        change_log.c.txid == sa.func.pg_current_xact_id(),
        change_log.c.record_type == "address",
        change_log.c.record_id == wanted.c.record_id,
        change_log.c.op_id == wanted.c.op_id,
    )
    # Each op's record is matched through the normalized-text index only, whatever the
    # statistics say: the text is all but unique, while points are not (rooms and units inherit
    # their building's point, and a fresh table has no statistics, where the planner took the
    # point or grid index and walked hundreds of rows per op). So the distance test is on
    # geography (the geometry GiST index cannot serve it) and the scope test sits in a CASE (no
    # index condition is taken from it): both are checked on the few rows with the same text.
    # A record created by a later op of the same batch did not exist when this op was made:
    # only the later op is flagged, as the web API would flag the second of two posts.
    pairs = (
        sa.select(
            wanted.c.op_id,
            wanted.c.ord,
            table.c.id.label("candidate_id"),
            sa.func.row_number().over(partition_by=wanted.c.op_id, order_by=table.c.id).label("n"),
        )
        .select_from(
            wanted.join(mine, mine.c.id == wanted.c.record_id)
            .join(
                table,
                sa.and_(
                    table.c.normalized_text == mine.c.normalized_text,
                    sa.func.ST_DWithin(
                        sa.func.Geography(table.c.point),
                        sa.func.Geography(mine.c.point),
                        DUPLICATE_RADIUS_M,
                    ),
                    table.c.id != mine.c.id,
                ),
            )
            .outerjoin(fresh, fresh.c.record_id == table.c.id)
        )
        .where(
            mine.c.deleted_at.is_(None),
            mine.c.point.is_not(None),
            written,
            sa.case((visible(table, caller), sa.true()), else_=sa.false()),
            sa.or_(fresh.c.ord.is_(None), fresh.c.ord < wanted.c.ord),
        )
        .subquery("pairs")
    )
    return (
        sa.select(pairs.c.op_id, pairs.c.candidate_id)
        .where(pairs.c.n <= MAX_CANDIDATES)
        .order_by(pairs.c.ord, pairs.c.candidate_id)
    )


def flag_possible_duplicates(
    conn: sa.Connection,
    caller: Caller,
    device_id: uuid.UUID,
    translations: Sequence[Translation],
    results: Sequence[OpResult],
) -> list[OpResult]:
    """The results with `possible_duplicate` and the candidates' ids on the address writes that
    match another address (a probe of the batch's texts, then one query for the ops whose text
    another address carries); their stored receipts say the same, so a replay answers alike.
    The ops stay applied: this is a warning."""
    touching = [
        (i, t, r)
        for i, (t, r) in enumerate(zip(translations, results, strict=True))
        if _touches_match(t, r)
    ]
    addresses = Counter(t.op.record_id for t in translations if t.op.record_type == "address")
    retouched = {record_id for record_id, n in addresses.items() if n > 1}
    wanted = _may_match(conn, touching, retouched) if touching else []
    if not wanted:
        return list(results)
    rows = orjson.dumps(
        [{"op_id": op.op_id, "record_id": op.record_id, "ord": i} for i, op in wanted]
    ).decode()
    # Every create of the batch, checked or not: a record made by a later op is never named.
    created = orjson.dumps(
        [
            {"record_id": t.op.record_id, "ord": i}
            for i, t, _ in touching
            if t.op.kind is OpKind.CREATE
        ]
    ).decode()
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for op_id, candidate in conn.execute(
        _candidates_query(caller), {"rows": rows, "created": created}
    ):
        found.setdefault(op_id, []).append(candidate)
    if not found:
        return list(results)
    out = list(results)
    changed: list[OpResult] = []
    for i, op in wanted:
        ids = found.get(op.op_id)
        if ids and Flag.POSSIBLE_DUPLICATE not in out[i].flags:
            out[i] = dataclasses.replace(
                out[i],
                flags=(*out[i].flags, Flag.POSSIBLE_DUPLICATE),
                candidate_ids=tuple(ids),
            )
            changed.append(out[i])
    conn.execute(
        _UPDATE_RECEIPTS,
        {
            "device_id": device_id,
            "rows": orjson.dumps(
                [
                    {"op_id": r.op_id, "result": r.receipt(), "flags": [f.value for f in r.flags]}
                    for r in changed
                ]
            ).decode(),
        },
    )
    return out
