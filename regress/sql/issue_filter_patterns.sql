-- issue_filter_patterns: include/exclude-tables match the schema and the table part each on its
-- own ('*' never spans the dot), and a double-quoted part is a name matched exactly, so names
-- with dots, commas, quotes, stars and spaces can be selected. Before, a pattern was globbed
-- against "schema.table": *.orders also matched table "b.orders" of schema a, and quoted names
-- matched nothing.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

CREATE SCHEMA a;
CREATE SCHEMA "my.schema";
CREATE SCHEMA "Ünï ""q""";
CREATE TABLE a.orders (id int);
CREATE TABLE a."b.orders" (id int);
CREATE TABLE "my.schema"."t,1" (id int);
CREATE TABLE "my.schema"."t*" (id int);
CREATE TABLE "my.schema".tx (id int);
CREATE TABLE "Ünï ""q"""."Mixed Case" (id int);
INSERT INTO a.orders VALUES (1);
INSERT INTO a."b.orders" VALUES (1);
INSERT INTO "my.schema"."t,1" VALUES (1);
INSERT INTO "my.schema"."t*" VALUES (1);
INSERT INTO "my.schema".tx VALUES (1);
INSERT INTO "Ünï ""q"""."Mixed Case" VALUES (1);

-- Which tables a filter lets through, as schema|table.
CREATE FUNCTION pg_temp.tables(VARIADIC options text[]) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT (data::jsonb->>'schema') || '|' || (data::jsonb->>'table')
    FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, VARIADIC options)
$$;
SELECT * FROM pg_temp.tables('include-tables', '*.orders');
SELECT * FROM pg_temp.tables('include-tables', 'a.*orders');
SELECT * FROM pg_temp.tables('include-tables', 'a."b.orders"');
SELECT * FROM pg_temp.tables('include-tables', '"my.schema".*');
SELECT * FROM pg_temp.tables('include-tables', '"my.schema"."t,1", "my.schema"."t*"');
SELECT * FROM pg_temp.tables('include-tables', '*.t*', 'exclude-tables', '"my.schema"."t*"');
SELECT * FROM pg_temp.tables('include-tables', '"Ünï ""q""".Mixed*');
SELECT * FROM pg_temp.tables('include-tables', 'my.schema.*');
-- Malformed patterns are errors that show the pattern.
SELECT * FROM pg_temp.tables('include-tables', '"my.schema.*');
SELECT * FROM pg_temp.tables('include-tables', '"my.schema"');
SELECT * FROM pg_temp.tables('include-tables', '"my"x.t');
SELECT * FROM pg_temp.tables('include-tables', 'a.b.c');
SELECT * FROM pg_temp.tables('include-tables', 'a.');
SELECT * FROM pg_temp.tables('include-tables', '"".t');

SELECT count(*) AS consumed FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
DROP SCHEMA a, "my.schema", "Ünï ""q""" CASCADE;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
