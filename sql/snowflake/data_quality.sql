-- snowcdc: data-quality views. Run as SNOWCDC_PIPELINE_OWNER after tasks.sql. Idempotent.
--   REJECTED_RECORDS        landed rows the root task could not route (no op/lsn/seq/table)
--   DATA_QUALITY_REPORT()   every problem found by the per-table views
--                           MONITORING.<table>_DATA_QUALITY that `snowcdc-shipper ddl` generates:
--                           more than one current version of a key, duplicate current-state
--                           rows (Snowflake does not enforce primary keys), overlapping versions,
--                           gaps between versions not explained by a delete, and current-state
--                           rows and current versions that do not match.
-- Rows the pipe refused (a cast failed) never reach the landing table: Snowflake counts them in
-- the channel status (rows_error_count, last_error_message), see MONITORING.CHANNEL_STATUS(),
-- and the shipper logs and exports them as a metric.
USE ROLE SNOWCDC_PIPELINE_OWNER;
USE WAREHOUSE SNOWCDC_WH;

CREATE OR REPLACE VIEW SNOWCDC.MONITORING.REJECTED_RECORDS
  COMMENT = 'snowcdc: landed records that no merge will ever apply, with the reason'
AS
SELECT CASE
           WHEN op IS NULL THEN 'no op'
           WHEN op NOT IN ('c', 'u', 'd', 't', 'r') THEN 'unknown op ' || op
           WHEN lsn IS NULL OR seq IS NULL THEN 'no lsn or seq'
           WHEN source_schema IS NULL OR source_table IS NULL THEN 'no schema or table'
           WHEN op IN ('c', 'u', 'r') AND after IS NULL THEN 'no after image'
           WHEN op IN ('u', 'd') AND key IS NULL THEN 'no key'
       END AS problem,
       r.*
FROM SNOWCDC.LANDING.CDC_RECORDS r
WHERE (op IS NULL OR op <> 'm')  -- logical messages are not table changes
  AND (op IS NULL OR op NOT IN ('c', 'u', 'd', 't', 'r')
       OR lsn IS NULL OR seq IS NULL OR source_schema IS NULL OR source_table IS NULL
       OR (op IN ('c', 'u', 'r') AND after IS NULL)
       OR (op IN ('u', 'd') AND key IS NULL));

CREATE OR REPLACE PROCEDURE SNOWCDC.MONITORING.DATA_QUALITY_REPORT()
  RETURNS TABLE (view_name VARCHAR, issue VARCHAR, row_key VARIANT, versions NUMBER)
  LANGUAGE SQL
  EXECUTE AS CALLER
  COMMENT = 'snowcdc: the rows of every generated <table>_DATA_QUALITY view'
AS
$$
DECLARE
    query VARCHAR;
    report RESULTSET;
BEGIN
    SELECT LISTAGG('SELECT ''' || table_name || ''', issue, row_key::VARIANT, versions FROM '
                   || 'SNOWCDC.MONITORING."' || table_name || '"', ' UNION ALL ')
      INTO :query
      FROM SNOWCDC.INFORMATION_SCHEMA.VIEWS
     WHERE table_schema = 'MONITORING' AND ENDSWITH(table_name, '_DATA_QUALITY');
    IF (query IS NULL OR query = '') THEN
        query := 'SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::VARIANT, NULL::NUMBER WHERE FALSE';
    END IF;
    report := (EXECUTE IMMEDIATE :query);
    RETURN TABLE(report);
END;
$$;

GRANT SELECT ON VIEW SNOWCDC.MONITORING.REJECTED_RECORDS TO ROLE SNOWCDC_READER;
