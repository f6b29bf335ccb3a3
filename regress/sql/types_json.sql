-- types_json: json and jsonb embedded as JSON values (not strings), on one line.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

CREATE TABLE t_json (id int PRIMARY KEY, v json);
INSERT INTO t_json VALUES
    (1, '{"a": 1, "b": [true, false, null], "c": {"d": "e"}}'),
    (2, E'{\n  "pretty": [\n    1,\n    2\n  ],\n\t"tab": "x"\r\n}'),
    (3, '"a string with  two spaces and \"quotes\" and \\n"'),
    (4, '[]'), (5, '{}'), (6, 'null'), (7, '12.50'), (8, '-1e-7'), (9, 'true'),
    (10, '{"dup": 1, "dup": 2}'), (11, '"\u00e9\ud83d\ude00"'), (12, NULL),
    (13, '  [ "  spaced  " , { "k" : "v v" } ]  ');
SELECT * FROM pg_temp.show('t_json');

CREATE TABLE t_jsonb (id int PRIMARY KEY, v jsonb);
INSERT INTO t_jsonb VALUES
    (1, '{"b": [true, false, null], "a": 1, "c": {"d": "e"}}'),
    (2, '"Zürich"'), (3, '[1, 2.50, -3e2, 12345678901234567890]'), (4, '{}'), (5, 'null'),
    (6, '{"k": "tab\tand\nnewline \"q\" \\"}'), (7, '{"dup": 1, "dup": 2}'), (8, NULL),
    (9, '{"nested": {"deeper": {"deepest": [[], [{}]]}}}'), (10, '" spaces  inside "');
SELECT * FROM pg_temp.show('t_jsonb');

-- Embedded values are JSON values of the record: they read back equal.
INSERT INTO t_jsonb SELECT id + 100, v FROM t_jsonb;
SELECT bool_and((json::jsonb) IS NOT DISTINCT FROM t.v OR (json = 'null' AND t.v IS NULL))
       AS all_read_back
FROM pg_temp.vals() j JOIN t_jsonb t ON t.id = j.id - 100;

DROP TABLE t_json, t_jsonb;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
