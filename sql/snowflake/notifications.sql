-- snowcdc: notifications. Task errors go to an SNS topic through the root task's
-- ERROR_INTEGRATION (it covers every task of the graph); the graph's finalizer e-mails a summary
-- of failed merges; an alert e-mails when replication lags.
-- Idempotent. Variables (see setup.sql for how to pass them):
--   sns_topic_arn, sns_role_arn   the SNS topic and the IAM role Snowflake assumes to publish
--   alert_email                   a verified e-mail address of a user of this account

-- 1. ACCOUNTADMIN, once: integrations are account objects. After creating the SNS integration,
--    DESC NOTIFICATION INTEGRATION SNOWCDC_TASK_ERRORS gives the IAM user ARN and external id
--    to put in the role's trust policy on the AWS side.
USE ROLE ACCOUNTADMIN;
CREATE NOTIFICATION INTEGRATION IF NOT EXISTS SNOWCDC_TASK_ERRORS
  ENABLED = TRUE
  DIRECTION = OUTBOUND
  TYPE = QUEUE
  NOTIFICATION_PROVIDER = AWS_SNS
  AWS_SNS_TOPIC_ARN = '&{sns_topic_arn}'
  AWS_SNS_ROLE_ARN = '&{sns_role_arn}'
  COMMENT = 'snowcdc: task errors';
CREATE NOTIFICATION INTEGRATION IF NOT EXISTS SNOWCDC_EMAIL
  TYPE = EMAIL
  ENABLED = TRUE
  ALLOWED_RECIPIENTS = ('&{alert_email}')
  COMMENT = 'snowcdc: lag alerts and failed-merge summaries';
GRANT USAGE ON INTEGRATION SNOWCDC_TASK_ERRORS TO ROLE SNOWCDC_PIPELINE_OWNER;
GRANT USAGE ON INTEGRATION SNOWCDC_EMAIL TO ROLE SNOWCDC_PIPELINE_OWNER;

-- 2. The pipeline owner from here on.
USE ROLE SNOWCDC_PIPELINE_OWNER;
USE WAREHOUSE SNOWCDC_WH;

ALTER TASK SNOWCDC.STAGING.SNOWCDC_ROUTE SUSPEND;
ALTER TASK SNOWCDC.STAGING.SNOWCDC_ROUTE SET ERROR_INTEGRATION = SNOWCDC_TASK_ERRORS;

-- The finalizer runs after every run of the graph, failed or not.
CREATE OR REPLACE PROCEDURE SNOWCDC.STAGING.NOTIFY_GRAPH_RUN()
  RETURNS VARCHAR
  LANGUAGE SQL
  EXECUTE AS OWNER
  COMMENT = 'snowcdc: e-mails the failed tasks of the current graph run'
AS
$$
DECLARE
    failures VARCHAR;
BEGIN
    SELECT LISTAGG(name || ': ' || COALESCE(error_message, state), '\n')
      INTO :failures
      FROM TABLE(SNOWCDC.INFORMATION_SCHEMA.TASK_HISTORY(
               SCHEDULED_TIME_RANGE_START => DATEADD('DAY', -1, CURRENT_TIMESTAMP())))
     WHERE graph_run_group_id = SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_RUN_GROUP_ID')
       AND state = 'FAILED';
    IF (failures IS NULL OR failures = '') THEN
        RETURN 'no failed task in this run';
    END IF;
    CALL SYSTEM$SEND_EMAIL('SNOWCDC_EMAIL', '&{alert_email}',
                           'snowcdc: a merge task failed; its records stay pending', :failures);
    RETURN 'notified: ' || failures;
END;
$$;

CREATE OR REPLACE TASK SNOWCDC.STAGING.SNOWCDC_FINALIZE
  WAREHOUSE = SNOWCDC_WH
  COMMENT = 'snowcdc: failure summary after each graph run'
  FINALIZE = SNOWCDC.STAGING.SNOWCDC_ROUTE
AS
  CALL SNOWCDC.STAGING.NOTIFY_GRAPH_RUN();

SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('SNOWCDC.STAGING.SNOWCDC_ROUTE');

-- Lag alert: records waiting more than 15 minutes to be merged, or landing more than
-- 5 minutes after their commit.
CREATE OR REPLACE ALERT SNOWCDC.MONITORING.SNOWCDC_LAG_ALERT
  WAREHOUSE = SNOWCDC_WH
  SCHEDULE = '5 MINUTE'
  COMMENT = 'snowcdc: replication lag'
  IF (EXISTS (
      SELECT 1 FROM SNOWCDC.MONITORING.TABLE_FRESHNESS WHERE oldest_pending_age_s > 900
      UNION ALL
      SELECT 1 FROM SNOWCDC.LANDING.CDC_RECORDS
      WHERE ingested_at >= DATEADD('MINUTE', -5, CURRENT_TIMESTAMP())
        AND op <> 'r'
        AND TIMESTAMPDIFF('SECOND', commit_ts, ingested_at) > 300))
  THEN
    CALL SYSTEM$SEND_EMAIL('SNOWCDC_EMAIL', '&{alert_email}',
        'snowcdc: replication lag above threshold',
        'Records wait more than 15 minutes to merge or land more than 5 minutes after their '
        || 'commit. See SNOWCDC.MONITORING.TABLE_FRESHNESS and SNOWCDC.MONITORING.INGESTION_LAG.');
ALTER ALERT SNOWCDC.MONITORING.SNOWCDC_LAG_ALERT RESUME;
