-- snowcdc: monitoring views and procedures in SNOWCDC.MONITORING. Run as SNOWCDC_PIPELINE_OWNER
-- after tasks.sql. Idempotent (views and procedures are replaced).
--   INGESTION_LAG     commit -> landed, per table and minute (last 24 h)
--   TABLE_FRESHNESS   per table: last landed, last merged, pending records and their age
--   TASK_RUNS         recent runs of the snowcdc task graph (INFORMATION_SCHEMA, 7 days)
--   TASK_FAILURES     failed runs over 30 days (ACCOUNT_USAGE, up to 45 min behind)
--   COSTS             credits per day: Snowpipe Streaming, the warehouse, serverless tasks
--   STREAM_STATUS()   the landing stream: stale or not, and when it would go stale
--   CHANNEL_STATUS()  the pipe's channels: committed offset token, errors
USE ROLE SNOWCDC_PIPELINE_OWNER;
USE WAREHOUSE SNOWCDC_WH;

CREATE OR REPLACE VIEW SNOWCDC.MONITORING.INGESTION_LAG
  COMMENT = 'snowcdc: seconds from source commit to landing, per table and minute'
AS
SELECT source_schema,
       source_table,
       DATE_TRUNC('MINUTE', ingested_at) AS landed_minute,
       COUNT(*) AS records,
       AVG(TIMESTAMPDIFF('MILLISECOND', commit_ts, ingested_at)) / 1000 AS avg_lag_s,
       MAX(TIMESTAMPDIFF('MILLISECOND', commit_ts, ingested_at)) / 1000 AS max_lag_s
FROM SNOWCDC.LANDING.CDC_RECORDS
WHERE ingested_at >= DATEADD('HOUR', -24, CURRENT_TIMESTAMP())
  AND op <> 'r'  -- snapshot rows carry the snapshot time, not a commit time
GROUP BY 1, 2, 3;

CREATE OR REPLACE VIEW SNOWCDC.MONITORING.TABLE_FRESHNESS
  COMMENT = 'snowcdc: per table, how far the current-state and history tables are behind'
AS
WITH landed AS (
    SELECT source_schema, source_table, MAX(commit_ts) AS last_landed_commit_ts,
           MAX(ingested_at) AS last_landed_at
    FROM SNOWCDC.LANDING.CDC_RECORDS
    WHERE source_table IS NOT NULL
    GROUP BY 1, 2
), merged AS (
    SELECT source_schema, source_table, MAX(last_commit_ts) AS last_merged_commit_ts,
           MAX(merged_at) AS last_merged_at
    FROM SNOWCDC.STAGING.CDC_MERGE_LOG
    GROUP BY 1, 2
), pending AS (
    SELECT source_schema, source_table, COUNT(*) AS pending_records,
           MIN(ingested_at) AS oldest_pending_ingested_at
    FROM SNOWCDC.STAGING.CDC_PENDING
    GROUP BY 1, 2
)
SELECT COALESCE(l.source_schema, m.source_schema, p.source_schema) AS source_schema,
       COALESCE(l.source_table, m.source_table, p.source_table) AS source_table,
       l.last_landed_commit_ts,
       l.last_landed_at,
       m.last_merged_commit_ts,
       m.last_merged_at,
       TIMESTAMPDIFF('SECOND', m.last_merged_commit_ts, CURRENT_TIMESTAMP()) AS merged_age_s,
       COALESCE(p.pending_records, 0) AS pending_records,
       TIMESTAMPDIFF('SECOND', p.oldest_pending_ingested_at, CURRENT_TIMESTAMP()) AS oldest_pending_age_s
FROM landed l
FULL OUTER JOIN merged m
  ON m.source_schema = l.source_schema AND m.source_table = l.source_table
FULL OUTER JOIN pending p
  ON p.source_schema = COALESCE(l.source_schema, m.source_schema)
 AND p.source_table = COALESCE(l.source_table, m.source_table);

CREATE OR REPLACE VIEW SNOWCDC.MONITORING.TASK_RUNS
  COMMENT = 'snowcdc: runs of the snowcdc tasks over the last 7 days'
AS
SELECT name, state, scheduled_time, query_start_time, completed_time,
       TIMESTAMPDIFF('MILLISECOND', query_start_time, completed_time) / 1000 AS duration_s,
       error_code, error_message, graph_run_group_id, attempt_number, query_id
FROM TABLE(SNOWCDC.INFORMATION_SCHEMA.TASK_HISTORY(
         SCHEDULED_TIME_RANGE_START => DATEADD('DAY', -7, CURRENT_TIMESTAMP()),
         RESULT_LIMIT => 10000))
WHERE database_name = 'SNOWCDC';

CREATE OR REPLACE VIEW SNOWCDC.MONITORING.TASK_FAILURES
  COMMENT = 'snowcdc: failed task runs over 30 days (ACCOUNT_USAGE latency: up to 45 minutes)'
AS
SELECT name, schema_name, state, scheduled_time, completed_time, error_code, error_message,
       graph_run_group_id, query_id
FROM SNOWFLAKE.ACCOUNT_USAGE.TASK_HISTORY
WHERE database_name = 'SNOWCDC'
  AND state IN ('FAILED', 'FAILED_AND_AUTO_SUSPENDED', 'CANCELLED')
  AND scheduled_time >= DATEADD('DAY', -30, CURRENT_TIMESTAMP());

CREATE OR REPLACE VIEW SNOWCDC.MONITORING.COSTS
  COMMENT = 'snowcdc: credits per day and service (ACCOUNT_USAGE)'
AS
SELECT DATE_TRUNC('DAY', start_time)::DATE AS usage_day,
       'SNOWPIPE_STREAMING' AS service,
       name AS object_name,
       SUM(credits_used) AS credits
FROM SNOWFLAKE.ACCOUNT_USAGE.METERING_HISTORY
WHERE service_type = 'SNOWPIPE_STREAMING'
  AND start_time >= DATEADD('DAY', -30, CURRENT_TIMESTAMP())
GROUP BY 1, 2, 3
UNION ALL
SELECT DATE_TRUNC('DAY', start_time)::DATE, 'PIPE', pipe_name, SUM(credits_used)
FROM SNOWFLAKE.ACCOUNT_USAGE.PIPE_USAGE_HISTORY
WHERE pipe_name = 'CDC_RECORDS_PIPE'
  AND start_time >= DATEADD('DAY', -30, CURRENT_TIMESTAMP())
GROUP BY 1, 2, 3
UNION ALL
SELECT DATE_TRUNC('DAY', start_time)::DATE, 'WAREHOUSE', warehouse_name, SUM(credits_used)
FROM SNOWFLAKE.ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
WHERE warehouse_name = 'SNOWCDC_WH'
  AND start_time >= DATEADD('DAY', -30, CURRENT_TIMESTAMP())
GROUP BY 1, 2, 3
UNION ALL
SELECT DATE_TRUNC('DAY', start_time)::DATE, 'SERVERLESS_TASK', task_name, SUM(credits_used)
FROM SNOWFLAKE.ACCOUNT_USAGE.SERVERLESS_TASK_HISTORY
WHERE database_name = 'SNOWCDC'
  AND start_time >= DATEADD('DAY', -30, CURRENT_TIMESTAMP())
GROUP BY 1, 2, 3;

-- SHOW commands cannot appear in views: these procedures run them and return the result.
CREATE OR REPLACE PROCEDURE SNOWCDC.MONITORING.STREAM_STATUS()
  RETURNS TABLE ()
  LANGUAGE SQL
  EXECUTE AS CALLER
  COMMENT = 'snowcdc: the landing stream, whether it is stale and when it would become stale'
AS
$$
BEGIN
    SHOW STREAMS IN SCHEMA SNOWCDC.LANDING;
    LET streams RESULTSET := (
        SELECT "name" AS stream_name, "stale" AS stale, "stale_after" AS stale_after,
               TIMESTAMPDIFF('HOUR', CURRENT_TIMESTAMP(), "stale_after") AS hours_until_stale,
               "mode" AS mode
        FROM TABLE(RESULT_SCAN(LAST_QUERY_ID())));
    RETURN TABLE(streams);
END;
$$;

CREATE OR REPLACE PROCEDURE SNOWCDC.MONITORING.CHANNEL_STATUS()
  RETURNS TABLE ()
  LANGUAGE SQL
  EXECUTE AS CALLER
  COMMENT = 'snowcdc: Snowpipe Streaming channels of the landing table (SHOW CHANNELS)'
AS
$$
BEGIN
    SHOW CHANNELS IN TABLE SNOWCDC.LANDING.CDC_RECORDS;
    LET channels RESULTSET := (SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID())));
    RETURN TABLE(channels);
END;
$$;

GRANT USAGE ON DATABASE SNOWCDC TO ROLE SNOWCDC_READER;
GRANT USAGE ON SCHEMA SNOWCDC.MONITORING TO ROLE SNOWCDC_READER;
GRANT USAGE ON SCHEMA SNOWCDC.ANALYTICS TO ROLE SNOWCDC_READER;
GRANT SELECT ON ALL VIEWS IN SCHEMA SNOWCDC.MONITORING TO ROLE SNOWCDC_READER;
GRANT SELECT ON FUTURE VIEWS IN SCHEMA SNOWCDC.MONITORING TO ROLE SNOWCDC_READER;
GRANT SELECT ON FUTURE TABLES IN SCHEMA SNOWCDC.ANALYTICS TO ROLE SNOWCDC_READER;
GRANT SELECT ON FUTURE DYNAMIC TABLES IN SCHEMA SNOWCDC.ANALYTICS TO ROLE SNOWCDC_READER;
