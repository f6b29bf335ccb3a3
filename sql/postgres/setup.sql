-- The Postgres-dialect twin of sql/snowflake/setup.sql and landing.sql, used by the scenario
-- suite (tests/scenarios) to execute the generated merge logic. Same schemas, tables and
-- columns; jsonb stands in for VARIANT and ARRAY. Not meant for production.

CREATE SCHEMA IF NOT EXISTS landing;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE SCHEMA IF NOT EXISTS monitoring;

-- Every record the pipe accepted, as landed (landing.sql: LANDING.CDC_RECORDS).
CREATE TABLE IF NOT EXISTS landing.cdc_records (
    op text,
    lsn numeric(20,0),
    seq numeric(20,0),
    xid numeric(20,0),
    commit_ts timestamptz(6),
    source_schema text,
    source_table text,
    key jsonb,
    before jsonb,
    after jsonb,
    toast jsonb,
    ingested_at timestamptz(6) DEFAULT now()
);

-- Records moved off the stream by the root task, waiting for their table's merge
-- (tasks.sql: STAGING.CDC_PENDING).
CREATE TABLE IF NOT EXISTS staging.cdc_pending (
    op text,
    lsn numeric(20,0),
    seq numeric(20,0),
    xid numeric(20,0),
    commit_ts timestamptz(6),
    source_schema text,
    source_table text,
    key jsonb,
    before jsonb,
    after jsonb,
    toast jsonb,
    ingested_at timestamptz(6) DEFAULT now()
);

-- Truncates already applied, per table (tasks.sql: STAGING.CDC_TRUNCATIONS).
CREATE TABLE IF NOT EXISTS staging.cdc_truncations (
    source_schema text NOT NULL,
    source_table text NOT NULL,
    lsn numeric(20,0) NOT NULL,
    seq numeric(20,0) NOT NULL,
    commit_ts timestamptz(6) NOT NULL,
    applied_at timestamptz(6) DEFAULT now()
);

-- One row per merge that applied records, per table (tasks.sql: STAGING.CDC_MERGE_LOG).
CREATE TABLE IF NOT EXISTS staging.cdc_merge_log (
    source_schema text NOT NULL,
    source_table text NOT NULL,
    merged_at timestamptz(6) NOT NULL,
    records numeric(20,0) NOT NULL,
    last_lsn numeric(20,0),
    last_commit_ts timestamptz(6)
);

-- The pipe's projection of one NDJSON record (landing.sql: the COPY ... SELECT of the pipe)
-- followed by what the root task does with the stream (tasks.sql: SNOWCDC_ROUTE).
CREATE OR REPLACE FUNCTION landing.land(record jsonb) RETURNS void
LANGUAGE sql AS $$
    WITH landed AS (
        INSERT INTO landing.cdc_records (op, lsn, seq, xid, commit_ts, source_schema,
                                         source_table, key, before, after, toast)
        SELECT record ->> 'op', (record ->> 'lsn')::numeric(20,0),
               (record ->> 'seq')::numeric(20,0), (record ->> 'xid')::numeric(20,0),
               timestamptz 'epoch' + (record ->> 'ts')::bigint * interval '1 microsecond',
               record ->> 'schema', record ->> 'table',
               record -> 'key', record -> 'before', record -> 'after', record -> 'toast'
        RETURNING *
    )
    INSERT INTO staging.cdc_pending (op, lsn, seq, xid, commit_ts, source_schema, source_table,
                                     key, before, after, toast, ingested_at)
    SELECT op, lsn, seq, xid, commit_ts, source_schema, source_table, key, before, after, toast,
           ingested_at
    FROM landed
    WHERE op IN ('c', 'u', 'd', 't', 'r') AND lsn IS NOT NULL AND seq IS NOT NULL
      AND source_table IS NOT NULL;
$$;
