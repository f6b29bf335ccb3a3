-- origin: with skip-origin, changes replayed under a replication origin are not written.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE orig (id int PRIMARY KEY, v text);
SELECT 'created' FROM pg_replication_origin_create('upstream');

-- A local change, then changes made as if replayed from 'upstream'.
INSERT INTO orig VALUES (1, 'local');
SELECT 'session' FROM pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT 'xact' FROM pg_replication_origin_xact_setup('0/AABBCCDD', now());
INSERT INTO orig VALUES (2, 'replayed');
COMMIT;
INSERT INTO orig VALUES (3, 'replayed, no origin lsn');
SELECT 'reset' FROM pg_replication_origin_session_reset();
INSERT INTO orig VALUES (4, 'local again');

-- Without the option (the default, false) every change is written.
SELECT data FROM (SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data
                  FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'skip-origin', 'off')) r;

-- With it, only local changes; the skipped transactions write nothing at all.
SELECT * FROM pg_temp.changes('skip-origin', 'on', 'transactions', 'on');

SELECT 'dropped' FROM pg_replication_origin_drop('upstream');
DROP TABLE orig;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
