-- types_text: text, varchar, bpchar, name and "char" as JSON strings, escaped per RFC 8259.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

CREATE TABLE t_text (id int PRIMARY KEY, v text);
INSERT INTO t_text VALUES
    (1, ''), (2, 'plain'), (3, 'quote " and backslash \'), (4, E'tab\tnewline\ncr\rff\fbs\b'),
    (5, E'\x01\x02\x1f\x7f'), (6, 'Zürich ñ €'), (7, '日本語'), (8, U&'\+01F600 emoji'),
    (9, '/ solidus stays'), (10, '</script>'), (11, NULL), (12, E'\u2028 line separator');
SELECT * FROM pg_temp.show('t_text');
-- Each value reads back as the original text.
INSERT INTO t_text SELECT id + 100, v FROM t_text;
SELECT bool_and((json::jsonb #>> '{}') IS NOT DISTINCT FROM t.v) AS all_read_back
FROM pg_temp.vals() j JOIN t_text t ON t.id = j.id - 100;

CREATE TABLE t_varchar (id int PRIMARY KEY, v varchar(10));
INSERT INTO t_varchar VALUES (1, 'short'), (2, 'ten chars!'), (3, '"q"');
SELECT * FROM pg_temp.show('t_varchar');

-- bpchar keeps its padding, as Postgres stores and prints it.
CREATE TABLE t_bpchar (id int PRIMARY KEY, v char(5));
INSERT INTO t_bpchar VALUES (1, 'ab'), (2, 'abcde'), (3, '');
SELECT * FROM pg_temp.show('t_bpchar');

CREATE TABLE t_name (id int PRIMARY KEY, v name);
INSERT INTO t_name VALUES (1, 'pg_class'), (2, 'Mixed "Case"');
SELECT * FROM pg_temp.show('t_name');

CREATE TABLE t_char (id int PRIMARY KEY, v "char");
INSERT INTO t_char VALUES (1, 'a'), (2, '"');
SELECT * FROM pg_temp.show('t_char');

-- citext is a string too.
CREATE EXTENSION citext;
CREATE TABLE t_citext (id int PRIMARY KEY, v citext);
INSERT INTO t_citext VALUES (1, 'MiXeD'), (2, 'tab	inside');
SELECT * FROM pg_temp.show('t_citext');

DROP TABLE t_text, t_varchar, t_bpchar, t_name, t_char, t_citext;
DROP EXTENSION citext;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
