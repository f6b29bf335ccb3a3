-- update_identity_default: key from the new row, or the old key when the key changed.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE upd (id int PRIMARY KEY, name text, qty int);
INSERT INTO upd VALUES (1, 'one', 10), (2, 'two', 20);
SELECT * FROM pg_temp.changes();

-- Non-key change: the key comes from the new row; no before even with the option,
-- since Postgres did not log the old row.
UPDATE upd SET qty = 11 WHERE id = 1;
SELECT * FROM pg_temp.changes('before', 'on');

-- Key change: the key is the old identity, after is the new row.
UPDATE upd SET id = 3, name = 'three' WHERE id = 2;
SELECT * FROM pg_temp.changes('before', 'on');

-- Several rows, key changed on each: one u record per row, seq 0..n-1.
UPDATE upd SET id = id * 10;
SELECT * FROM pg_temp.changes();

-- Default identity without a primary key: updates carry no key.
CREATE TABLE upd_nokey (v int, w text);
INSERT INTO upd_nokey VALUES (1, 'a');
UPDATE upd_nokey SET v = 2;
SELECT * FROM pg_temp.changes();

DROP TABLE upd, upd_nokey;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
