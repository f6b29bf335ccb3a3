-- delete: d records carry the old key, and the old row with identity full and before.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE del (id int, part text, name text, PRIMARY KEY (id, part));
INSERT INTO del VALUES (1, 'a', 'one'), (2, 'b', 'two');
SELECT count(*) FROM pg_temp.changes();

DELETE FROM del WHERE id = 1;
SELECT * FROM pg_temp.changes('before', 'on');

ALTER TABLE del REPLICA IDENTITY FULL;
DELETE FROM del WHERE id = 2;
SELECT * FROM pg_temp.changes('before', 'on');

INSERT INTO del VALUES (3, 'c', NULL);
DELETE FROM del;
SELECT * FROM pg_temp.changes();

-- Without a key, a delete is still written, without key.
CREATE TABLE del_nokey (v int);
INSERT INTO del_nokey VALUES (1);
DELETE FROM del_nokey;
SELECT * FROM pg_temp.changes();

DROP TABLE del, del_nokey;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
