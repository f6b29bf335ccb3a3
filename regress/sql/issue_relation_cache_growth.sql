-- issue_relation_cache_growth: the per-relation cache frees what it no longer needs. Entries
-- invalidated by DDL (dropped or altered tables) are freed between transactions, and none is
-- kept in the backend after a decoding call; before, every table ever decoded kept its entry
-- (and its memory context) for the life of the process.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

-- 30 tables, each created, written, altered, written and dropped in its own transactions.
DO $$
BEGIN
    FOR i IN 1..30 LOOP
        EXECUTE format('CREATE TABLE growth_%s (id int PRIMARY KEY, v text)', i);
        EXECUTE format('INSERT INTO growth_%s VALUES (1, ''a'')', i);
        COMMIT;
        EXECUTE format('ALTER TABLE growth_%s ADD COLUMN w int DEFAULT %s', i, i);
        EXECUTE format('UPDATE growth_%s SET v = ''b''', i);
        COMMIT;
        EXECUTE format('DROP TABLE growth_%s', i);
        COMMIT;
    END LOOP;
END $$;

-- Every record is right after the rebuilds: the update carries the added column.
SELECT count(*) AS records,
       count(*) FILTER (WHERE data::jsonb->>'op' = 'u'
                        AND (data::jsonb->'after'->>'w')::int
                            = substr(data::jsonb->>'table', 8)::int) AS updates_with_w
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
-- No relation entry outlives the decoding call.
SELECT count(*) AS relation_contexts FROM pg_backend_memory_contexts
WHERE name = 'snowcdc relation';

SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
