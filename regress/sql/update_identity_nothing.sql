-- update_identity_nothing: no identity, so no key in any record; deletes still show.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE nothing (id int PRIMARY KEY, name text);
ALTER TABLE nothing REPLICA IDENTITY NOTHING;
INSERT INTO nothing VALUES (1, 'one');
UPDATE nothing SET name = 'uno';
UPDATE nothing SET id = 2;
DELETE FROM nothing;
SELECT * FROM pg_temp.changes('before', 'on');

DROP TABLE nothing;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
