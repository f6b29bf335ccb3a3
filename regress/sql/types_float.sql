-- types_float: float4/float8 as the shortest text that reads back the same value.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

CREATE TABLE t_float8 (id int PRIMARY KEY, v float8);
INSERT INTO t_float8 VALUES
    (1, 0), (2, '-0'), (3, 1), (4, -1.5), (5, 0.1), (6, 1e100), (7, 1e-300),
    (8, 1.7976931348623157e308), (9, 5e-324), (10, 123456789012345680), (11, 1e15), (12, 1e16),
    (13, 3.141592653589793), (14, 0.1::float8 + 0.2::float8), (15, 'NaN'), (16, 'Infinity'),
    (17, '-Infinity'), (18, NULL);

-- Decode under one setting of extra_float_digits, peek under another: same records.
SET extra_float_digits = -15;
CREATE TEMP TABLE low AS
    SELECT data FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL);
SET extra_float_digits = 3;
CREATE TEMP TABLE high AS
    SELECT data FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL);
SELECT count(*) AS records, bool_and(low.data = high.data) AS identical
FROM (SELECT row_number() OVER () AS n, data FROM low) low
JOIN (SELECT row_number() OVER () AS n, data FROM high) high USING (n);

-- Postgres's own shortest text (extra_float_digits = 3 here) and ours; each reads back.
SELECT s.*, CASE WHEN json = 'null' THEN t.v IS NULL
                 WHEN json LIKE '"%' THEN (json::jsonb #>> '{}')::float8 = t.v
                 ELSE json::float8 = t.v END AS reads_back
FROM pg_temp.show('t_float8') s JOIN t_float8 t USING (id) ORDER BY id;

CREATE TABLE t_float4 (id int PRIMARY KEY, v float4);
INSERT INTO t_float4 VALUES
    (1, 0.1), (2, 1e30), (3, 3.4028235e38), (4, 1.4e-45), (5, -2.5), (6, 16777217),
    (7, 'NaN'), (8, '-Infinity'), (9, 1.17549435e-38), (10, '-0');
SET extra_float_digits = 0;
SELECT s.*, CASE WHEN json LIKE '"%' THEN (json::jsonb #>> '{}')::float4 = t.v
                 ELSE json::float4 = t.v END AS reads_back
FROM pg_temp.show('t_float4') s JOIN t_float4 t USING (id) ORDER BY id;
RESET extra_float_digits;

DROP TABLE t_float8, t_float4, low, high;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
