-- types_numeric: bool as true/false, integers and oid as numbers, numeric with exactly Postgres's digits.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

CREATE TABLE t_bool (id int PRIMARY KEY, v bool);
INSERT INTO t_bool VALUES (1, true), (2, false), (3, NULL);
SELECT * FROM pg_temp.show('t_bool');

CREATE TABLE t_int2 (id int PRIMARY KEY, v int2);
INSERT INTO t_int2 VALUES (1, -32768), (2, 32767), (3, 0), (4, NULL);
SELECT * FROM pg_temp.show('t_int2');

CREATE TABLE t_int4 (id int PRIMARY KEY, v int4);
INSERT INTO t_int4 VALUES (1, -2147483648), (2, 2147483647), (3, -1);
SELECT * FROM pg_temp.show('t_int4');

CREATE TABLE t_int8 (id int PRIMARY KEY, v int8);
INSERT INTO t_int8 VALUES (1, -9223372036854775808), (2, 9223372036854775807), (3, 42);
SELECT * FROM pg_temp.show('t_int8');

CREATE TABLE t_oid (id int PRIMARY KEY, v oid);
INSERT INTO t_oid VALUES (1, 0), (2, 4294967295), (3, 1259);
SELECT * FROM pg_temp.show('t_oid');

CREATE TABLE t_numeric (id int PRIMARY KEY, v numeric);
INSERT INTO t_numeric VALUES
    (1, 0), (2, -0.5), (3, 123.4500), (4, 1e-20), (5, 1e20), (6, -987654321.000000001),
    (7, 'NaN'), (8, 'Infinity'), (9, '-Infinity'), (10, 0.000), (11, 12345678901234567890.123456789),
    (12, NULL), (13, -0.0);
SELECT * FROM pg_temp.show('t_numeric');

CREATE TABLE t_numeric_typmod (id int PRIMARY KEY, v numeric(10, 2));
INSERT INTO t_numeric_typmod VALUES (1, 5), (2, -0.004), (3, 99999999.99);
SELECT * FROM pg_temp.show('t_numeric_typmod');

-- numeric-as-string quotes every numeric, NaN and infinities as before.
DELETE FROM t_numeric;
INSERT INTO t_numeric VALUES (20, 1.50), (21, -1e-3), (22, 'NaN'), (23, '-Infinity');
SELECT * FROM pg_temp.show('t_numeric', 'numeric-as-string', 'on') WHERE json IS NOT NULL;
-- ... and leaves the other number types alone.
INSERT INTO t_int8 VALUES (20, 7);
SELECT * FROM pg_temp.show('t_int8', 'numeric-as-string', 'on');

-- Independent of lc_numeric and extra_float_digits.
SET lc_numeric = 'C.utf8';
SET extra_float_digits = -15;
INSERT INTO t_numeric VALUES (30, 3.14159);
SELECT * FROM pg_temp.show('t_numeric');
RESET lc_numeric;
RESET extra_float_digits;

DROP TABLE t_bool, t_int2, t_int4, t_int8, t_oid, t_numeric, t_numeric_typmod;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
