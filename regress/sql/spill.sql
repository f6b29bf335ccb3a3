-- spill: a transaction larger than logical_decoding_work_mem (64kB here) spills to disk and comes back whole and in order.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

SHOW logical_decoding_work_mem;
CREATE TABLE spill (id int PRIMARY KEY, pad text);
BEGIN;
INSERT INTO spill SELECT g, repeat('p', 100) FROM generate_series(1, 5000) g;
UPDATE spill SET pad = 'u' WHERE id % 2 = 0;
DELETE FROM spill WHERE id % 5 = 0;
COMMIT;
-- The slot spilled to disk while decoding it.
SELECT count(*) AS records,
       count(*) FILTER (WHERE j->>'op' = 'c') AS inserts,
       count(*) FILTER (WHERE j->>'op' = 'u') AS updates,
       count(*) FILTER (WHERE j->>'op' = 'd') AS deletes,
       bool_and((j->>'seq')::int = pos - 2) FILTER (WHERE j->>'op' IN ('c', 'u', 'd')) AS seq_in_order,
       (array_agg(j->>'n') FILTER (WHERE j->>'op' = 'commit'))[1] AS n,
       count(DISTINCT j->>'lsn') AS distinct_lsns
FROM (SELECT ordinality AS pos, data::jsonb AS j
      FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'transactions', 'on')
      WITH ORDINALITY) r;
SELECT spill_txns > 0 AS spilled FROM pg_stat_replication_slots
WHERE slot_name = 'regression_slot';

-- Spilled records are identical to unspilled ones.
BEGIN;
INSERT INTO spill SELECT g, repeat('q', 100) FROM generate_series(10001, 12000) g;
INSERT INTO spill VALUES (0, 'last');
COMMIT;
SELECT * FROM pg_temp.changes() OFFSET 1999;

DROP TABLE spill;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
