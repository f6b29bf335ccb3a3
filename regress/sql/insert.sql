-- insert: c records carry the key and the whole new row, NULLs and odd names included.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE ins (id int PRIMARY KEY, name text, note varchar(20));
INSERT INTO ins VALUES (1, 'one', NULL);
INSERT INTO ins VALUES (2, 'two', 'x'), (3, 'three', 'y');
SELECT * FROM pg_temp.changes();

-- A composite primary key is the key, in index column order.
CREATE TABLE ins_pair (a int, b text, c int, PRIMARY KEY (b, a));
INSERT INTO ins_pair VALUES (1, 'k', 2);
SELECT * FROM pg_temp.changes();

-- Without a primary key (identity default) there is no key at all, not {}.
CREATE TABLE ins_nokey (v int);
INSERT INTO ins_nokey VALUES (7);
SELECT * FROM pg_temp.changes();

-- Schema, table and column names are written as stored, JSON-escaped.
CREATE SCHEMA "Odd ""Schema""";
CREATE TABLE "Odd ""Schema"""."Tab""le" ("we""ird" int PRIMARY KEY, "Ünïcode col" text, "new
line" int);
INSERT INTO "Odd ""Schema"""."Tab""le" VALUES (1, 'ü', 2);
SELECT * FROM pg_temp.changes();

-- A dropped column is skipped.
ALTER TABLE ins DROP COLUMN note;
INSERT INTO ins VALUES (4, 'four');
SELECT * FROM pg_temp.changes();

-- Envelope values: lsn is the commit LSN of the transaction, seq counts its records
-- from 0, xid is the transaction's, ts its commit time.
BEGIN;
INSERT INTO ins VALUES (5, 'five'), (6, 'six');
SELECT pg_current_xact_id()::text::bigint AS xid \gset
COMMIT;
SELECT (data::jsonb->>'op') AS op,
       (data::jsonb->>'lsn')::numeric = (SELECT (data::jsonb->>'lsn')::numeric FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'transactions', 'on') WHERE data::jsonb->>'op' = 'commit') AS lsn_is_commit_lsn,
       (data::jsonb->>'seq') AS seq,
       (data::jsonb->>'xid')::bigint = :xid AS xid_ok,
       to_timestamp((data::jsonb->>'ts')::numeric / 1000000) BETWEEN now() - interval '1 minute' AND now() + interval '1 minute' AS ts_ok
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'transactions', 'on')
WHERE data::jsonb->>'op' = 'c';
SELECT count(*) FROM pg_temp.changes();

DROP TABLE ins, ins_pair, ins_nokey, "Odd ""Schema"""."Tab""le";
DROP SCHEMA "Odd ""Schema""";
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
