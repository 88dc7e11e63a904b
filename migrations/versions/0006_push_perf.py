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
  fallback text := sync_server_stamp();
BEGIN
  INSERT INTO change_log (record_type, record_id, grid_id, version, kind, op_id, device_id)
  SELECT TG_ARGV[0], n.id, n.grid_id, n.version,
         CASE WHEN n.deleted_at IS NULL THEN 'upsert' ELSE 'delete' END,
         coalesce(ctx -> 'rows' -> (n.id::text) ->> 'op_id', ctx ->> 'op_id')::uuid,
         (ctx ->> 'device_id')::uuid
  FROM new_rows n
  ORDER BY n.id;

  INSERT INTO field_stamps (record_type, record_id, field, version, stamp, value, device_id, op_id)
  SELECT TG_ARGV[0], n.id, e.key, n.version,
         coalesce(r.row_ctx -> 'stamps' ->> e.key, r.row_ctx ->> 'stamp',
                  ctx -> 'stamps' ->> e.key, ctx ->> 'stamp', fallback),
         e.value,
         (ctx ->> 'device_id')::uuid, coalesce(r.row_ctx ->> 'op_id', ctx ->> 'op_id')::uuid
  FROM new_rows n
  CROSS JOIN LATERAL (SELECT ctx -> 'rows' -> (n.id::text) AS row_ctx) AS r
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
         coalesce(ctx -> 'rows' -> (c.id::text) ->> 'op_id', ctx ->> 'op_id')::uuid,
         (ctx ->> 'device_id')::uuid
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
         coalesce(r.row_ctx -> 'stamps' ->> e.key, r.row_ctx ->> 'stamp',
                  ctx -> 'stamps' ->> e.key, ctx ->> 'stamp', fallback),
         e.value,
         (ctx ->> 'device_id')::uuid, coalesce(r.row_ctx ->> 'op_id', ctx ->> 'op_id')::uuid
  FROM new_rows n
  JOIN old_rows o ON o.id = n.id
  CROSS JOIN LATERAL (SELECT ctx -> 'rows' -> (n.id::text) AS row_ctx) AS r
  CROSS JOIN LATERAL jsonb_each(to_jsonb(n)) AS e
  WHERE e.key <> ALL (sync_contract_columns())
    AND e.value IS DISTINCT FROM to_jsonb(o) -> e.key;
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

