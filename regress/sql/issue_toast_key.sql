-- issue_toast_key: an unchanged TOASTed replica-identity column must be in after, not in toast.
-- Postgres logs the old key when it holds an out-of-line value, so the value is known; the
-- plugin used to take it only from REPLICA IDENTITY FULL old rows and listed the key in toast.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

-- k is stored out of line (uncompressible, over the TOAST threshold, under the btree limit).
CREATE FUNCTION pg_temp.long_key(seed int) RETURNS text LANGUAGE sql AS $$
    SELECT left(string_agg(md5((seed * 1000 + i)::text), ''), 2600) FROM generate_series(1, 100) i
$$;
CREATE TABLE tk_default (k text PRIMARY KEY, v int);
ALTER TABLE tk_default ALTER COLUMN k SET STORAGE EXTERNAL;
CREATE TABLE tk_index (id int, k text NOT NULL, v int);
ALTER TABLE tk_index ALTER COLUMN k SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX tk_index_k ON tk_index (k);
ALTER TABLE tk_index REPLICA IDENTITY USING INDEX tk_index_k;
INSERT INTO tk_default VALUES (pg_temp.long_key(1), 1);
INSERT INTO tk_index VALUES (1, pg_temp.long_key(2), 1);
SELECT count(*) AS inserts FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

UPDATE tk_default SET v = 2;
UPDATE tk_index SET v = 2;
SELECT data::jsonb->>'table' AS tbl, data::jsonb->>'op' AS op,
       data::jsonb->'key'->>'k' = k AS key_complete,
       data::jsonb->'after'->>'k' = k AS after_has_key,
       data::jsonb->'toast' AS toast
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL)
JOIN (SELECT 'tk_default' AS tbl, k FROM tk_default
      UNION ALL SELECT 'tk_index', k FROM tk_index) t ON t.tbl = data::jsonb->>'table'
ORDER BY 1;

DROP TABLE tk_default, tk_index;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
