-- options_errors: unknown, duplicate and malformed options are errors naming the option and value.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE opterr (id int PRIMARY KEY);
INSERT INTO opterr VALUES (1);

-- Unknown name; the detail lists the valid ones.
\set VERBOSITY default
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'include-xids', '1');
\set VERBOSITY terse
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'Transactions', 'on');
-- Duplicates, even with the same value.
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
    'before', 'on', 'before', 'on');
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
    'include-tables', 'public.*', 'include-tables', 'public.x');
-- Bad booleans.
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'transactions', 'maybe');
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'skip-origin', '');
-- Format versions out of range or malformed.
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'format-version', '2');
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'format-version', '0');
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'format-version', '1x');
-- Table names must be schema-qualified.
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'include-tables', 'orders');
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
    'exclude-tables', 'public.a, b');
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'exclude-tables', '*');
-- An empty list is an error, not "no filter".
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'include-tables', '');
SELECT * FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'message-prefixes', ' , ');
-- (An option without a value only comes over the replication protocol: see options.sql.)

-- The errors consumed nothing: the change is still there.
SELECT count(*) FROM pg_temp.changes();

DROP TABLE opterr;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
