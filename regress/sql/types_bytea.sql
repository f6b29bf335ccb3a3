-- types_bytea: lowercase hex digits without the \x prefix, whatever bytea_output says.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

CREATE TABLE t_bytea (id int PRIMARY KEY, v bytea);
INSERT INTO t_bytea VALUES
    (1, '\x'), (2, '\x00ff'), (3, 'abc'::bytea), (4, '\xDEADBEEF'), (5, NULL),
    (6, convert_to('Zürich', 'UTF8'));
SET bytea_output = 'escape';
SELECT * FROM pg_temp.show('t_bytea');
SET bytea_output = 'hex';

-- A large value (compressed inline, or stored out of line) comes out whole.
INSERT INTO t_bytea VALUES (10, decode(repeat('0123456789abcdef', 20000), 'hex'));
INSERT INTO t_bytea SELECT 11, string_agg(decode(md5(i::text), 'hex'), ''::bytea)
FROM generate_series(1, 5000) i;
SELECT j.id, length(j.json), (j.json::jsonb #>> '{}') = encode(t.v, 'hex') AS complete
FROM pg_temp.vals() j JOIN t_bytea t USING (id) ORDER BY id;

DROP TABLE t_bytea;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
