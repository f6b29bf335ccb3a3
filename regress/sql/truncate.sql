-- truncate: one t record per truncated table; cascade and restart_identity only when true.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE tr_a (id int PRIMARY KEY);
CREATE TABLE tr_b (id serial PRIMARY KEY, a_id int REFERENCES tr_a);
CREATE TABLE tr_c (v int);
INSERT INTO tr_a VALUES (1);
INSERT INTO tr_b (a_id) VALUES (1);
SELECT count(*) FROM pg_temp.changes();

TRUNCATE tr_c;
SELECT * FROM pg_temp.changes();

-- Several tables in one statement: one record each, seq 0..n-1.
TRUNCATE tr_c, tr_b;
SELECT * FROM pg_temp.changes();

TRUNCATE tr_a CASCADE;
SELECT * FROM pg_temp.changes();

TRUNCATE tr_b RESTART IDENTITY;
SELECT * FROM pg_temp.changes();

TRUNCATE tr_a RESTART IDENTITY CASCADE;
SELECT * FROM pg_temp.changes();

-- Within a transaction with other changes, seq continues across records.
BEGIN;
INSERT INTO tr_c VALUES (1);
TRUNCATE tr_c;
INSERT INTO tr_c VALUES (2);
COMMIT;
SELECT * FROM pg_temp.changes('transactions', 'on');

DROP TABLE tr_a, tr_b, tr_c;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
