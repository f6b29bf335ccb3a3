-- types_array: JSON arrays, nested per dimension, elements by the value rules, NULL as null.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

CREATE TABLE t_int_array (id int PRIMARY KEY, v int[]);
INSERT INTO t_int_array VALUES
    (1, '{1,2,3}'), (2, '{}'), (3, '{NULL,1,NULL}'), (4, '{{1,2},{3,4}}'),
    (5, '{{{1},{2}},{{3},{4}}}'), (6, '[2:3]={7,8}'), (7, NULL), (8, '{{NULL,NULL}}');
SELECT * FROM pg_temp.show('t_int_array');

CREATE TABLE t_text_array (id int PRIMARY KEY, v text[]);
INSERT INTO t_text_array VALUES
    (1, ARRAY['a', 'b c', 'quote "', 'back\slash', '', NULL, 'NULL', '{braces}', 'Zürich']),
    (2, ARRAY[E'tab\t', E'nl\n']), (3, '{{a,b},{c,d}}');
SELECT * FROM pg_temp.show('t_text_array');

CREATE TABLE t_various_arrays (id int PRIMARY KEY, v text);  -- v unused; see columns below
ALTER TABLE t_various_arrays
    ADD COLUMN num numeric[], ADD COLUMN f float8[], ADD COLUMN b bool[],
    ADD COLUMN ts timestamptz[], ADD COLUMN d date[], ADD COLUMN iv interval[],
    ADD COLUMN j jsonb[], ADD COLUMN by bytea[], ADD COLUMN u uuid[], ADD COLUMN vc varchar(3)[];
INSERT INTO t_various_arrays VALUES
    (1, NULL, '{1.50,NaN,-0.001}', '{0.1,Infinity,-0}', '{t,f,NULL}',
     '{"2024-01-02 03:04:05+02","infinity"}', '{2024-02-29,"0044-03-15 BC"}',
     '{"1 day","-1 second"}', ARRAY['{"a": [1, 2]}'::jsonb, 'null', '"s"'],
     '{"\\x00ff","\\x"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{abc,"a b"}');
SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

-- numeric-as-string reaches array elements too.
INSERT INTO t_various_arrays (id, num) VALUES (2, '{1.50,NaN}');
SELECT (regexp_match(data, '"num":(\[[^]]*\])'))[1] AS num
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'numeric-as-string', 'on');

DROP TABLE t_int_array, t_text_array, t_various_arrays;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
