-- filter_tables: include-tables and exclude-tables, schema-qualified, with * wildcards.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE SCHEMA sales;
CREATE SCHEMA audit;
CREATE TABLE sales.orders (id int PRIMARY KEY);
CREATE TABLE sales.order_lines (id int PRIMARY KEY);
CREATE TABLE sales.customers (id int PRIMARY KEY);
CREATE TABLE audit.log (id int PRIMARY KEY);
CREATE TABLE public.orders (id int PRIMARY KEY);

CREATE FUNCTION pg_temp.touch_all() RETURNS void LANGUAGE sql AS $$
    INSERT INTO sales.orders VALUES (1);
    INSERT INTO sales.order_lines VALUES (1);
    INSERT INTO sales.customers VALUES (1);
    INSERT INTO audit.log VALUES (1);
    INSERT INTO public.orders VALUES (1);
    TRUNCATE sales.orders, audit.log;
$$;
-- Which tables a filter lets through, as schema.table op.
CREATE FUNCTION pg_temp.tables(VARIADIC options text[]) RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT (data::jsonb->>'schema') || '.' || (data::jsonb->>'table') || ' ' || (data::jsonb->>'op')
    FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, VARIADIC options)
$$;
SELECT pg_temp.touch_all();

SELECT * FROM pg_temp.tables('include-tables', 'sales.orders');
SELECT * FROM pg_temp.tables('include-tables', 'sales.*');
SELECT * FROM pg_temp.tables('include-tables', '*.orders');
SELECT * FROM pg_temp.tables('include-tables', 'sales.order*, audit.log');
SELECT * FROM pg_temp.tables('exclude-tables', 'audit.*');
SELECT * FROM pg_temp.tables('exclude-tables', '*.order*,public.*');
-- Exclusion wins over inclusion.
SELECT * FROM pg_temp.tables('include-tables', 'sales.*', 'exclude-tables', 'sales.customers');
-- Names are matched exactly (case and all), not as identifiers.
SELECT * FROM pg_temp.tables('include-tables', 'Sales.Orders');
-- A filter that matches nothing writes nothing, and transactions disappear whole.
SELECT * FROM pg_temp.tables('include-tables', 'nope.*', 'transactions', 'on');
SELECT data FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
    'include-tables', 'nope.*', 'transactions', 'on');
-- Options apply per decoding call: without filters everything is back.
SELECT count(*) FROM pg_temp.changes();

DROP TABLE sales.orders, sales.order_lines, sales.customers, audit.log, public.orders;
DROP SCHEMA sales, audit;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
