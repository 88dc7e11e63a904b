"""push perf: the tracking triggers read per-record op ids and stamps from the write context

A push can then insert many records in one statement: `sync.ctx` may carry
`"rows": {"<record id>": {"op_id", "stamp", "stamps"}}`, and a row found there takes its own op
id and stamps; other rows fall back to the context's top-level values as before.

Revision ID: 0006_push_perf
Revises: 0005_blobs
Create Date: 2026-11-27 02:15:00

"""

from alembic import op

revision = "0006_push_perf"
down_revision = "0005_blobs"
branch_labels = None
depends_on = None

ROW_AWARE = r"""
CREATE OR REPLACE FUNCTION sync_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb := sync_context();
  -- Take the context apart once: a large jsonb taken apart per row is detoasted per row.
  ctx_op uuid := (ctx ->> 'op_id')::uuid;
  ctx_device uuid := (ctx ->> 'device_id')::uuid;
  ctx_stamp text := coalesce(ctx ->> 'stamp', sync_server_stamp());
  ctx_stamps jsonb := coalesce(ctx -> 'stamps', '{}'::jsonb);
  ctx_rows jsonb := coalesce(ctx -> 'rows', '{}'::jsonb);
BEGIN
  WITH rc AS (
    SELECT r.key::uuid AS id, (r.value ->> 'op_id')::uuid AS op_id FROM jsonb_each(ctx_rows) r
  )
  INSERT INTO change_log (record_type, record_id, grid_id, version, kind, op_id, device_id)
  SELECT TG_ARGV[0], n.id, n.grid_id, n.version,
         CASE WHEN n.deleted_at IS NULL THEN 'upsert' ELSE 'delete' END,
         coalesce(rc.op_id, ctx_op), ctx_device
  FROM new_rows n LEFT JOIN rc ON rc.id = n.id
  ORDER BY n.id;

  WITH rc AS (
    SELECT r.key::uuid AS id, (r.value ->> 'op_id')::uuid AS op_id, r.value ->> 'stamp' AS stamp,
           r.value -> 'stamps' AS stamps
    FROM jsonb_each(ctx_rows) r
  )
  INSERT INTO field_stamps (record_type, record_id, field, version, stamp, value, device_id, op_id)
  SELECT TG_ARGV[0], n.id, e.key, n.version,
         coalesce(rc.stamps ->> e.key, rc.stamp, ctx_stamps ->> e.key, ctx_stamp), e.value,
         ctx_device, coalesce(rc.op_id, ctx_op)
  FROM new_rows n
  LEFT JOIN rc ON rc.id = n.id
  CROSS JOIN LATERAL jsonb_each(to_jsonb(n)) AS e
  WHERE e.key <> ALL (sync_contract_columns()) AND e.value <> 'null'::jsonb;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION sync_log_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb := sync_context();
  ctx_op uuid := (ctx ->> 'op_id')::uuid;
  ctx_device uuid := (ctx ->> 'device_id')::uuid;
  ctx_stamp text := coalesce(ctx ->> 'stamp', sync_server_stamp());
  ctx_stamps jsonb := coalesce(ctx -> 'stamps', '{}'::jsonb);
  ctx_rows jsonb := coalesce(ctx -> 'rows', '{}'::jsonb);
BEGIN
  -- One statement, so each row is turned into jsonb once for both logs.
  WITH rc AS (
    SELECT r.key::uuid AS id, (r.value ->> 'op_id')::uuid AS op_id, r.value ->> 'stamp' AS stamp,
           r.value -> 'stamps' AS stamps
    FROM jsonb_each(ctx_rows) r
  ), pairs AS MATERIALIZED (
    SELECT n.id, o.grid_id AS old_grid, n.grid_id, n.version, n.deleted_at,
           to_jsonb(n) AS new_doc, to_jsonb(o) AS old_doc
    FROM new_rows n JOIN old_rows o ON o.id = n.id
  ), logged AS (
    -- A record that changed grid leaves the old grid's feed before it enters the new one's.
    INSERT INTO change_log (record_type, record_id, grid_id, version, kind, op_id, device_id)
    SELECT TG_ARGV[0], c.id, c.grid_id, c.version, c.kind, coalesce(rc.op_id, ctx_op),
           ctx_device
    FROM (
      SELECT p.id, p.old_grid AS grid_id, p.version, 'leave' AS kind, 0 AS ord
      FROM pairs p
      WHERE p.old_grid IS NOT NULL AND p.old_grid IS DISTINCT FROM p.grid_id
      UNION ALL
      SELECT p.id, p.grid_id, p.version,
             CASE WHEN p.deleted_at IS NULL THEN 'upsert' ELSE 'delete' END, 1
      FROM pairs p
      WHERE p.new_doc IS DISTINCT FROM p.old_doc
    ) AS c
    LEFT JOIN rc ON rc.id = c.id
    ORDER BY c.id, c.ord
  )
  INSERT INTO field_stamps (record_type, record_id, field, version, stamp, value, device_id, op_id)
  SELECT TG_ARGV[0], p.id, e.key, p.version,
         coalesce(rc.stamps ->> e.key, rc.stamp, ctx_stamps ->> e.key, ctx_stamp), e.value,
         ctx_device, coalesce(rc.op_id, ctx_op)
  FROM pairs p
  LEFT JOIN rc ON rc.id = p.id
  CROSS JOIN LATERAL jsonb_each(p.new_doc) AS e
  WHERE e.key <> ALL (sync_contract_columns())
    AND e.value IS DISTINCT FROM p.old_doc -> e.key;
  RETURN NULL;
END
$$;
"""

# The functions as 0002_sync made them.
ONE_CONTEXT = r"""
CREATE OR REPLACE FUNCTION sync_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb := sync_context();
  fallback text := sync_server_stamp();
BEGIN
  INSERT INTO change_log (record_type, record_id, grid_id, version, kind, op_id, device_id)
  SELECT TG_ARGV[0], n.id, n.grid_id, n.version,
         CASE WHEN n.deleted_at IS NULL THEN 'upsert' ELSE 'delete' END,
         (ctx ->> 'op_id')::uuid, (ctx ->> 'device_id')::uuid
  FROM new_rows n
  ORDER BY n.id;

  INSERT INTO field_stamps (record_type, record_id, field, version, stamp, value, device_id, op_id)
  SELECT TG_ARGV[0], n.id, e.key, n.version,
         coalesce(ctx -> 'stamps' ->> e.key, ctx ->> 'stamp', fallback), e.value,
         (ctx ->> 'device_id')::uuid, (ctx ->> 'op_id')::uuid
  FROM new_rows n
  CROSS JOIN LATERAL jsonb_each(to_jsonb(n)) AS e
  WHERE e.key <> ALL (sync_contract_columns()) AND e.value <> 'null'::jsonb;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION sync_log_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ctx jsonb := sync_context();
  fallback text := sync_server_stamp();
BEGIN
  -- A record that changed grid leaves the old grid's feed before it enters the new one's.
  INSERT INTO change_log (record_type, record_id, grid_id, version, kind, op_id, device_id)
  SELECT TG_ARGV[0], c.id, c.grid_id, c.version, c.kind,
         (ctx ->> 'op_id')::uuid, (ctx ->> 'device_id')::uuid
  FROM (
    SELECT n.id, o.grid_id, n.version, 'leave' AS kind, 0 AS ord
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.grid_id IS NOT NULL AND o.grid_id IS DISTINCT FROM n.grid_id
    UNION ALL
    SELECT n.id, n.grid_id, n.version,
           CASE WHEN n.deleted_at IS NULL THEN 'upsert' ELSE 'delete' END, 1
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE to_jsonb(n) IS DISTINCT FROM to_jsonb(o)
  ) AS c
  ORDER BY c.id, c.ord;

  INSERT INTO field_stamps (record_type, record_id, field, version, stamp, value, device_id, op_id)
  SELECT TG_ARGV[0], n.id, e.key, n.version,
         coalesce(ctx -> 'stamps' ->> e.key, ctx ->> 'stamp', fallback), e.value,
         (ctx ->> 'device_id')::uuid, (ctx ->> 'op_id')::uuid
  FROM new_rows n
  JOIN old_rows o ON o.id = n.id
  CROSS JOIN LATERAL jsonb_each(to_jsonb(n)) AS e
  WHERE e.key <> ALL (sync_contract_columns())
    AND e.value IS DISTINCT FROM to_jsonb(o) -> e.key;
  RETURN NULL;
END
$$;
"""


def upgrade():
    op.execute(ROW_AWARE)


def downgrade():
    op.execute(ONE_CONTEXT)
