-- update_identity_full: the old row is logged; key is the primary key, else all columns.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE full_pk (id int PRIMARY KEY, name text, qty int);
ALTER TABLE full_pk REPLICA IDENTITY FULL;
INSERT INTO full_pk VALUES (1, 'one', 10);
SELECT * FROM pg_temp.changes();

-- Non-key change: key from the old row (the primary key), before only with the option.
UPDATE full_pk SET qty = 11;
UPDATE full_pk SET name = NULL;
SELECT * FROM pg_temp.changes();
UPDATE full_pk SET qty = 12;
SELECT * FROM pg_temp.changes('before', 'on');

-- Key change: the key is the old primary key.
UPDATE full_pk SET id = 2, name = 'two';
SELECT * FROM pg_temp.changes('before', 'true');

-- No primary key: the whole old row identifies it, so every column is the key.
CREATE TABLE full_nopk (a int, b text);
ALTER TABLE full_nopk REPLICA IDENTITY FULL;
INSERT INTO full_nopk VALUES (1, 'x');
UPDATE full_nopk SET b = 'y';
SELECT * FROM pg_temp.changes('before', 'on');

DROP TABLE full_pk, full_nopk;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
