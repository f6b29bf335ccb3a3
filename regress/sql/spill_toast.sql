-- spill_toast: a transaction spilled to disk (logical_decoding_work_mem = 64kB) with TOASTed
-- values, aborted subtransactions, an enum value added just before and a table dropped before
-- decoding. No aborted change appears, seq runs 0..n-1 and n counts exactly the records.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

CREATE TYPE spill_state AS ENUM ('new');
CREATE TABLE spill_doc (id int PRIMARY KEY, state spill_state, body text);
ALTER TABLE spill_doc ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE spill_gone (id int PRIMARY KEY, body text);
CREATE FUNCTION pg_temp.body(seed int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(md5((seed * 1000 + i)::text), '') FROM generate_series(1, 100) i
$$;
SELECT count(*) >= 0 AS setup_consumed FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

-- Decoded in the same call as the transaction that uses it (a new enum value cannot be used in
-- the transaction that adds it).
ALTER TYPE spill_state ADD VALUE 'done';
BEGIN;
INSERT INTO spill_doc SELECT g, 'new', pg_temp.body(g) FROM generate_series(1, 200) g;
SAVEPOINT a;
INSERT INTO spill_doc SELECT g, 'new', pg_temp.body(g) FROM generate_series(1001, 1100) g;
UPDATE spill_doc SET body = 'aborted' WHERE id <= 50;
ROLLBACK TO SAVEPOINT a;
UPDATE spill_doc SET state = 'done' WHERE id % 4 = 0;
SAVEPOINT b;
DELETE FROM spill_doc WHERE id % 3 = 0;
RELEASE SAVEPOINT b;
SAVEPOINT c;
INSERT INTO spill_gone VALUES (1, pg_temp.body(1));
SAVEPOINT d;
DELETE FROM spill_doc;
ROLLBACK TO SAVEPOINT d;
RELEASE SAVEPOINT c;
COMMIT;
DROP TABLE spill_gone;

CREATE TEMP TABLE decoded AS
    SELECT ordinality AS pos, data::jsonb AS j
    FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'transactions', 'on')
    WITH ORDINALITY;
SELECT count(*) FILTER (WHERE j->>'op' = 'c' AND j->>'table' = 'spill_doc') AS inserts,
       count(*) FILTER (WHERE j->>'op' = 'u') AS updates,
       count(*) FILTER (WHERE j->>'op' = 'd') AS deletes,
       count(*) FILTER (WHERE j->>'op' = 'c' AND j->>'table' = 'spill_gone') AS dropped_table_rows,
       count(*) FILTER (WHERE (j->'key'->>'id')::int > 1000
                        OR j->'after'->>'body' = 'aborted') AS aborted_changes
FROM decoded;
-- seq is 0..n-1 in output order and n counts the records between begin and commit.
SELECT bool_and((j->>'seq')::int = pos - 2) FILTER (WHERE j ? 'seq') AS seq_contiguous,
       (SELECT (j->>'n')::int FROM decoded WHERE j->>'op' = 'commit')
           = count(*) FILTER (WHERE j ? 'seq') AS n_counts_records,
       count(*) FILTER (WHERE j->>'op' = 'begin') AS begins
FROM decoded;
-- Inserts carry the whole TOASTed body; updates that did not touch it name it in toast.
SELECT bool_and(j->'after'->>'body' = pg_temp.body((j->'key'->>'id')::int))
           FILTER (WHERE j->>'op' = 'c') AS inserted_bodies_complete,
       bool_and(j->'toast' = '["body"]' AND NOT j->'after' ? 'body'
                AND j->'after'->>'state' = 'done') FILTER (WHERE j->>'op' = 'u') AS updates_toast,
       bool_and(j->'after'->>'body' = pg_temp.body(1))
           FILTER (WHERE j->>'table' = 'spill_gone') AS dropped_table_body_complete
FROM decoded;
SELECT spill_txns > 0 AS spilled FROM pg_stat_replication_slots
WHERE slot_name = 'regression_slot';

DROP TABLE spill_doc;
DROP TYPE spill_state;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
