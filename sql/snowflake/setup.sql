-- snowcdc: account-level objects, run ONCE by an administrator.
--
-- Everything else (landing.sql, tasks.sql, monitoring.sql, data_quality.sql,
-- notifications.sql and the generated per-table files) runs as SNOWCDC_PIPELINE_OWNER, and the
-- shipper runs as SNOWCDC_SHIPPER / SNOWCDC_INGEST: no ACCOUNTADMIN at run time.
--
-- Which role each block needs (nothing here needs more than the role it switches to):
--   USERADMIN     roles and the service user
--   SYSADMIN      warehouse, database, schemas (then handed to the owner role)
--   ACCOUNTADMIN  only the account-level grants at the end: EXECUTE TASK, EXECUTE ALERT,
--                 IMPORTED PRIVILEGES on the SNOWFLAKE database (ACCOUNT_USAGE views) and
--                 the notification integrations (notifications.sql, first block)
--
-- Idempotent: every statement can run again. Variables (SnowSQL: -o variable_substitution=true
-- -D name=value; Snowflake CLI: snow sql -f setup.sql -D name=value):
--   shipper_rsa_public_key  the shipper's RSA public key, PEM body without header/footer lines

-- Roles: the pipeline owner owns every object and runs the tasks; the ingest role may only
-- write into the landing table through the pipe; the reader role queries the results.
USE ROLE USERADMIN;
CREATE ROLE IF NOT EXISTS SNOWCDC_PIPELINE_OWNER COMMENT = 'snowcdc: owns the pipeline objects, runs its tasks';
CREATE ROLE IF NOT EXISTS SNOWCDC_INGEST COMMENT = 'snowcdc: the shipper; streams rows into the landing pipe';
CREATE ROLE IF NOT EXISTS SNOWCDC_READER COMMENT = 'snowcdc: reads current state, history and monitoring';
GRANT ROLE SNOWCDC_PIPELINE_OWNER TO ROLE SYSADMIN;
GRANT ROLE SNOWCDC_INGEST TO ROLE SNOWCDC_PIPELINE_OWNER;
GRANT ROLE SNOWCDC_READER TO ROLE SNOWCDC_PIPELINE_OWNER;

-- The shipper authenticates with a key pair only (Snowpipe Streaming REST uses a JWT).
CREATE USER IF NOT EXISTS SNOWCDC_SHIPPER
  TYPE = SERVICE
  DEFAULT_ROLE = SNOWCDC_INGEST
  COMMENT = 'snowcdc-shipper (Snowpipe Streaming, key-pair authentication)';
ALTER USER SNOWCDC_SHIPPER SET RSA_PUBLIC_KEY = '&{shipper_rsa_public_key}';
GRANT ROLE SNOWCDC_INGEST TO USER SNOWCDC_SHIPPER;

-- Compute for the tasks, alerts and dynamic tables; Snowpipe Streaming itself is serverless.
USE ROLE SYSADMIN;
CREATE WAREHOUSE IF NOT EXISTS SNOWCDC_WH
  WAREHOUSE_SIZE = XSMALL
  AUTO_SUSPEND = 60
  AUTO_RESUME = TRUE
  INITIALLY_SUSPENDED = TRUE
  COMMENT = 'snowcdc: merge tasks, alerts, dynamic tables';
GRANT USAGE, OPERATE, MONITOR ON WAREHOUSE SNOWCDC_WH TO ROLE SNOWCDC_PIPELINE_OWNER;

CREATE DATABASE IF NOT EXISTS SNOWCDC COMMENT = 'snowcdc: change data captured from Postgres';
CREATE SCHEMA IF NOT EXISTS SNOWCDC.LANDING COMMENT = 'records exactly as the pipe landed them';
CREATE SCHEMA IF NOT EXISTS SNOWCDC.STAGING COMMENT = 'pending records, merge procedures, tasks';
CREATE SCHEMA IF NOT EXISTS SNOWCDC.ANALYTICS COMMENT = 'current state and SCD2 history per table';
CREATE SCHEMA IF NOT EXISTS SNOWCDC.MONITORING COMMENT = 'lag, freshness, tasks, costs, data quality';
GRANT OWNERSHIP ON DATABASE SNOWCDC TO ROLE SNOWCDC_PIPELINE_OWNER COPY CURRENT GRANTS;
GRANT OWNERSHIP ON ALL SCHEMAS IN DATABASE SNOWCDC TO ROLE SNOWCDC_PIPELINE_OWNER COPY CURRENT GRANTS;

-- Account-level privileges only ACCOUNTADMIN can grant (once).
USE ROLE ACCOUNTADMIN;
GRANT EXECUTE TASK ON ACCOUNT TO ROLE SNOWCDC_PIPELINE_OWNER;
GRANT EXECUTE ALERT ON ACCOUNT TO ROLE SNOWCDC_PIPELINE_OWNER;
-- ACCOUNT_USAGE views for the cost and task-history monitoring views.
GRANT IMPORTED PRIVILEGES ON DATABASE SNOWFLAKE TO ROLE SNOWCDC_PIPELINE_OWNER;

USE ROLE SNOWCDC_PIPELINE_OWNER;
