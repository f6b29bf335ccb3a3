-- snowcdc: the landing table for record format v1, its Snowpipe Streaming pipe, and the
-- append-only stream the root task consumes. Run as SNOWCDC_PIPELINE_OWNER after setup.sql.
-- Idempotent. Never CREATE OR REPLACE the pipe or the stream: replacing the pipe invalidates
-- every open channel, replacing the stream loses its offset (records landed but not routed).
USE ROLE SNOWCDC_PIPELINE_OWNER;
USE WAREHOUSE SNOWCDC_WH;

-- One row per record the pipe accepted (begin/commit are never forwarded by the shipper).
CREATE TABLE IF NOT EXISTS SNOWCDC.LANDING.CDC_RECORDS (
    op VARCHAR  -- c u d t r m
    , lsn NUMBER(20,0)  -- commit LSN (snapshot rows: consistent point), unsigned 64-bit
    , seq NUMBER(20,0)  -- position in the transaction (snapshot rows: in the table's snapshot)
    , xid NUMBER(20,0)
    , commit_ts TIMESTAMP_TZ(6)  -- the record's ts (microseconds since the epoch, UTC)
    , source_schema VARCHAR
    , source_table VARCHAR
    , key VARIANT  -- replica-identity columns
    , before VARIANT  -- old row (REPLICA IDENTITY FULL with the before option)
    , after VARIANT  -- new row
    , toast ARRAY  -- columns left out of after: unchanged TOASTed values
    , ingested_at TIMESTAMP_LTZ(6) DEFAULT CURRENT_TIMESTAMP()  -- when the row landed
)
COMMENT = 'snowcdc record format v1, as landed by the pipe';

-- The shipper's channels append NDJSON records to this pipe. A row that fails a cast is not
-- landed; Snowflake counts it in the channel status (rows_error_count, last_error_message),
-- see MONITORING.CHANNEL_STATUS.
CREATE PIPE IF NOT EXISTS SNOWCDC.LANDING.CDC_RECORDS_PIPE
  COMMENT = 'snowcdc: Snowpipe Streaming (high-performance) into LANDING.CDC_RECORDS'
AS
COPY INTO SNOWCDC.LANDING.CDC_RECORDS
    (op, lsn, seq, xid, commit_ts, source_schema, source_table, key, before, after, toast)
FROM (
    SELECT $1:op::VARCHAR,
           $1:lsn::NUMBER(20,0),
           $1:seq::NUMBER(20,0),
           $1:xid::NUMBER(20,0),
           TO_TIMESTAMP_TZ($1:ts::NUMBER(20,0), 6),
           $1:schema::VARCHAR,
           $1:table::VARCHAR,
           $1:key,
           $1:before,
           $1:after,
           $1:toast::ARRAY
    FROM TABLE(DATA_SOURCE(TYPE => 'STREAMING'))
);

-- The shipper needs exactly this: write through the pipe, read its channels' status.
GRANT USAGE ON DATABASE SNOWCDC TO ROLE SNOWCDC_INGEST;
GRANT USAGE ON SCHEMA SNOWCDC.LANDING TO ROLE SNOWCDC_INGEST;
GRANT INSERT ON TABLE SNOWCDC.LANDING.CDC_RECORDS TO ROLE SNOWCDC_INGEST;
GRANT OPERATE, MONITOR ON PIPE SNOWCDC.LANDING.CDC_RECORDS_PIPE TO ROLE SNOWCDC_INGEST;

-- Append-only: the root task only needs inserts, and append-only streams are cheaper and do not
-- go stale on updates/deletes of the landing table (retention cleanup, see cleanup.sql).
CREATE STREAM IF NOT EXISTS SNOWCDC.LANDING.CDC_RECORDS_STREAM
  ON TABLE SNOWCDC.LANDING.CDC_RECORDS
  APPEND_ONLY = TRUE
  COMMENT = 'snowcdc: records not yet moved to STAGING.CDC_PENDING';

-- Keep the stream's table versions long enough that a paused pipeline can catch up: a stream
-- goes stale after MAX(DATA_RETENTION_TIME_IN_DAYS, MAX_DATA_EXTENSION_TIME_IN_DAYS).
ALTER TABLE SNOWCDC.LANDING.CDC_RECORDS SET MAX_DATA_EXTENSION_TIME_IN_DAYS = 14;
