-- partitioned: changes of a partitioned table are recorded per leaf partition. Postgres decodes
-- every change in the leaf that stores the row, and snowcdc writes it as it is decoded (like
-- pgoutput without publish_via_partition_root): schema and table name the leaf, after follows
-- the leaf's own column order, the key is the leaf's replica identity, a row moved to another
-- partition is a delete in one leaf and an insert in the other, and TRUNCATE of the parent is
-- one t record per leaf. encode_rows refuses the parent for the same reason (encode_rows.sql).
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
CREATE FUNCTION pg_temp.changes(VARIADIC options text[] DEFAULT '{}') RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g')
    FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, VARIADIC options)
    WHERE data::json IS NOT NULL  -- every record must parse as JSON
$$;

CREATE TABLE measures (id int, region text, v int, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE measures_eu PARTITION OF measures FOR VALUES IN ('eu');
-- A partition attached with its own column order and a dropped column.
CREATE TABLE measures_us (v int, gone int, region text NOT NULL, id int NOT NULL);
ALTER TABLE measures_us DROP COLUMN gone;
ALTER TABLE measures ATTACH PARTITION measures_us FOR VALUES IN ('us');
-- Two levels: the record names the leaf, not the intermediate parent.
CREATE TABLE measures_other PARTITION OF measures DEFAULT PARTITION BY RANGE (id);
CREATE TABLE measures_other_low PARTITION OF measures_other FOR VALUES FROM (0) TO (100);

INSERT INTO measures VALUES (1, 'eu', 10), (2, 'us', 20), (3, 'apac', 30);
UPDATE measures SET v = v + 1 WHERE id = 2;
UPDATE measures SET region = 'us' WHERE id = 1;
DELETE FROM measures WHERE id = 3;
TRUNCATE measures;
SELECT * FROM pg_temp.changes();

-- The include-tables filter sees leaf names too.
INSERT INTO measures VALUES (4, 'eu', 40), (5, 'us', 50);
SELECT * FROM pg_temp.changes('include-tables', 'public.measures_eu');

DROP TABLE measures;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
