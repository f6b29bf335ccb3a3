-- toast: an unchanged TOASTed value is not in the WAL; it is named in toast instead.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

-- big is stored out of line (uncompressible, well over the TOAST threshold).
CREATE TABLE doc (id int PRIMARY KEY, title text, big text);
ALTER TABLE doc ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE FUNCTION pg_temp.big_text(seed int) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(md5((seed * 1000 + i)::text), '') FROM generate_series(1, 300) i
$$;
INSERT INTO doc VALUES (1, 'first', pg_temp.big_text(1));

-- The insert carries the whole value.
SELECT data::jsonb->>'op' AS op, data::jsonb->'toast' AS toast,
       data::jsonb->'after'->>'big' = pg_temp.big_text(1) AS big_complete
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

-- Updating another column: big is left out of after and named in toast.
UPDATE doc SET title = 'second';
SELECT * FROM pg_temp.changes();

-- Updating big itself: the new value is in after, no toast.
UPDATE doc SET big = pg_temp.big_text(2);
SELECT data::jsonb->>'op' AS op, data::jsonb->'toast' AS toast,
       data::jsonb->'after'->>'big' = pg_temp.big_text(2) AS big_complete
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

-- Two TOASTed columns unchanged, names in column order.
ALTER TABLE doc ADD COLUMN big2 text;
ALTER TABLE doc ALTER COLUMN big2 SET STORAGE EXTERNAL;
UPDATE doc SET big2 = pg_temp.big_text(3);
SELECT count(*) FROM pg_temp.changes();
UPDATE doc SET title = 'third';
SELECT * FROM pg_temp.changes();

-- With identity full, Postgres logs the whole old row, so the unchanged value is
-- taken from it: after is complete and there is no toast list.
ALTER TABLE doc REPLICA IDENTITY FULL;
UPDATE doc SET title = 'fourth';
SELECT data::jsonb->>'op' AS op, data::jsonb->'toast' AS toast,
       data::jsonb->'after'->>'title' AS title,
       data::jsonb->'after'->>'big' = pg_temp.big_text(2) AS big_complete,
       data::jsonb->'after'->>'big2' = pg_temp.big_text(3) AS big2_complete,
       data::jsonb->'before'->>'title' AS before_title,
       data::jsonb->'before'->>'big' = pg_temp.big_text(2) AS before_big_complete
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'before', 'on');

-- A delete with identity full carries the whole old row, TOASTed values included.
DELETE FROM doc;
SELECT data::jsonb->>'op' AS op, data::jsonb->'key' AS key,
       data::jsonb->'before'->>'big2' = pg_temp.big_text(3) AS before_big2_complete
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'before', 'on');

DROP TABLE doc;
SELECT * FROM pg_temp.changes();

-- Compressed values are written decompressed: inline (compressed below the TOAST threshold),
-- out of line and compressed, and inside a composite and an array.
CREATE TYPE toast_pair AS (label text, body text);
CREATE TABLE packed (id int PRIMARY KEY, inline_c text, external_c text, pair toast_pair,
                     list text[]);
INSERT INTO packed VALUES (1, repeat('abc', 3000),
    (SELECT string_agg(md5(i::text) || repeat('x', 40), '') FROM generate_series(1, 3000) i),
    ROW('p', repeat('q', 20000)), ARRAY[repeat('r', 20000), NULL]);
SELECT pg_column_compression(inline_c) AS inline_compression,
       pg_column_size(inline_c) < 2000 AS stored_inline,
       pg_column_compression(external_c) AS external_compression,
       pg_column_size(external_c) > 2000 AS stored_out_of_line
FROM packed;
SELECT j->'after'->>'inline_c' = repeat('abc', 3000) AS inline_complete,
       j->'after'->>'external_c' = (SELECT external_c FROM packed) AS external_complete,
       j->'after'->'pair'->>'body' = repeat('q', 20000) AS composite_complete,
       j->'after'->'list'->>0 = repeat('r', 20000) AS array_complete
FROM (SELECT data::jsonb AS j
      FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL)) r;
-- Updating another column: the unchanged out-of-line ones are named in toast, the inline one
-- is in after, decompressed.
UPDATE packed SET id = 2;
SELECT j->'toast' AS toast, j->'after'->>'inline_c' = repeat('abc', 3000) AS inline_complete
FROM (SELECT data::jsonb AS j
      FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL)) r;
DROP TABLE packed;
DROP TYPE toast_pair;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
