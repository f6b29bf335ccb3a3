-- update_identity_index: REPLICA IDENTITY USING INDEX makes that index's columns the key.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE by_index (id int PRIMARY KEY, code text NOT NULL, region int NOT NULL, qty int);
CREATE UNIQUE INDEX by_index_code ON by_index (code, region);
ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_code;
INSERT INTO by_index VALUES (1, 'a', 1, 10);
SELECT * FROM pg_temp.changes();

-- Non-identity change (even of the primary key): key from the new row.
UPDATE by_index SET qty = 11, id = 2;
SELECT * FROM pg_temp.changes('before', 'on');

-- Identity change: the old identity is the key.
UPDATE by_index SET code = 'b';
SELECT * FROM pg_temp.changes('before', 'on');

DELETE FROM by_index;
SELECT * FROM pg_temp.changes('before', 'on');

DROP TABLE by_index;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
