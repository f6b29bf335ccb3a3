-- heartbeat: a transactional logical message 'snowcdc.heartbeat' that lets an idle slot advance.
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

SELECT snowcdc.heartbeat() AS heartbeat_lsn \gset
SELECT now() AS called_at \gset

-- With messages on, it is a transactional m record between begin and commit.
SELECT regexp_replace(regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g'),
                      '\\"ts\\":[0-9]+', '\\"ts\\":N') AS record
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
                                  'messages', 'true', 'transactions', 'true');
-- Its content is the call time in microseconds since 1970.
SELECT abs(((data::jsonb ->> 'content')::jsonb ->> 'ts')::bigint
           - (extract(epoch FROM :'called_at'::timestamptz) * 1000000)::bigint) < 60000000
       AS content_is_call_time
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'messages', 'true')
WHERE data::jsonb ->> 'op' = 'm';
-- Its commit ends after the returned LSN.
SELECT (data::jsonb ->> 'end_lsn')::numeric > :'heartbeat_lsn'::pg_lsn - '0/0'::pg_lsn
       AS commit_after_message
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
                                  'messages', 'true', 'transactions', 'true')
WHERE data::jsonb ->> 'op' = 'commit';

-- Consuming it moves the slot past the returned LSN, with no data change in between.
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'messages', 'true');
SELECT confirmed_flush_lsn > :'heartbeat_lsn' AS slot_advanced
FROM pg_replication_slots WHERE slot_name = 'regression_slot';

-- Transactional: a heartbeat in a rolled-back transaction is never decoded.
BEGIN;
SELECT snowcdc.heartbeat() IS NOT NULL AS called;
ROLLBACK;
SELECT count(*) AS decoded
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'messages', 'true');

-- Only superusers and roles granted EXECUTE may call it.
CREATE ROLE regress_snowcdc_shipper;
GRANT USAGE ON SCHEMA snowcdc TO regress_snowcdc_shipper;
SET ROLE regress_snowcdc_shipper;
SELECT snowcdc.heartbeat();
RESET ROLE;
GRANT EXECUTE ON FUNCTION snowcdc.heartbeat() TO regress_snowcdc_shipper;
SET ROLE regress_snowcdc_shipper;
SELECT snowcdc.heartbeat() IS NOT NULL AS called;
RESET ROLE;
SELECT count(*) AS decoded
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'messages', 'true');

SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
REVOKE USAGE ON SCHEMA snowcdc FROM regress_snowcdc_shipper;
DROP EXTENSION snowcdc;
DROP ROLE regress_snowcdc_shipper;
