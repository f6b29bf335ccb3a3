-- snowcdc: removes exactly what setup.sql, landing.sql, tasks.sql, monitoring.sql,
-- data_quality.sql, notifications.sql and the generated per-table files created. Destroys the
-- replicated data. Idempotent. Roles as in setup.sql (ACCOUNTADMIN only for the integrations).
-- Stop the shipper first: dropping the pipe invalidates its channels.

-- Everything inside the database: pipe, stream, tasks, alert, procedures, tables, views,
-- dynamic tables. SYSADMIN holds the owner role (setup.sql), so it can drop what that role owns.
USE ROLE SYSADMIN;
DROP DATABASE IF EXISTS SNOWCDC;
DROP WAREHOUSE IF EXISTS SNOWCDC_WH;

USE ROLE ACCOUNTADMIN;
DROP INTEGRATION IF EXISTS SNOWCDC_TASK_ERRORS;
DROP INTEGRATION IF EXISTS SNOWCDC_EMAIL;

-- Dropping the roles also removes the account-level grants made to them.
USE ROLE USERADMIN;
DROP USER IF EXISTS SNOWCDC_SHIPPER;
DROP ROLE IF EXISTS SNOWCDC_READER;
DROP ROLE IF EXISTS SNOWCDC_INGEST;
DROP ROLE IF EXISTS SNOWCDC_PIPELINE_OWNER;
