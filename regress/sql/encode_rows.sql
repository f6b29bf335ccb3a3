-- encode_rows / encode_row: snapshot `r` records, made by the plugin's own encoder, so that
-- key and after are byte for byte those of the `c` record the plugin writes for the same row.
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
CREATE EXTENSION citext;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

-- Every group of the value table of cdc-record-v1.
CREATE TYPE encode_rows_mood AS ENUM ('sad', 'happy');
CREATE DOMAIN encode_rows_posint AS int CHECK (VALUE > 0);
CREATE TYPE encode_rows_pair AS (x int, y text, z numeric[]);
CREATE TABLE encode_rows_types (
    id int PRIMARY KEY, gone int, b bool, i2 int2, i4 int4, i8 int8, o oid,
    f4 float4, f8 float8, n numeric,
    t text, vc varchar(10), bp char(3), nm name, ci citext, u uuid, ip inet, cid cidr,
    mac macaddr, x xml,
    j json, jb jsonb, by bytea,
    d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
    arr int[], arr2 text[], comp encode_rows_pair, mood encode_rows_mood, dom encode_rows_posint,
    m money, pt point, rng int4range);
ALTER TABLE encode_rows_types DROP COLUMN gone;
INSERT INTO encode_rows_types VALUES
    (1, true, -32768, 2147483647, -9223372036854775808, 4294967295,
     1.5, 0.1, 12345678901234567890.000100,
     E'quote " backslash \\ tab \t newline \n bell \u0007 ü €', 'varchar', 'ab', 'name',
     'CiText', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24', '10.0.0.0/8',
     '08:00:2b:01:02:03', '<a>x &amp; y</a>',
     '{"b": 1,  "a": [true, null]}', '{"b": 1, "a": [true, null], "s": "\u00fc"}', '\x00ff10',
     '2024-02-29', '2024-02-29 23:59:59.123456', '2024-02-29 23:59:59.5-05:30', '13:14:15.01',
     '13:14:15+05:45', '1 year 2 months 3 days 04:05:06.5',
     '{1,NULL,3}', '{{a,"b c"},{NULL,"d\"e"}}', ROW(1, 'one', '{1.50,NaN}'), 'happy', 7,
     '12.34', '(1.5,-2)', '[1,10)'),
    (2, false, 0, 0, 0, 0,
     'NaN', 'Infinity', 'NaN',
     '', '', '', '', '', '00000000-0000-0000-0000-000000000000', '::1', '2001:db8::/32',
     'ff:ff:ff:ff:ff:ff', '<e/>',
     '"just a string"', '[]', '',
     '0044-03-15 BC', 'infinity', '-infinity', '00:00:00', '00:00:00-01:30',
     '-1 years -2 mons +3 days -04:05:06',
     '{}', '{}', ROW(NULL, NULL, NULL), 'sad', 1,
     '-0.01', '(0,0)', 'empty'),
    (3, NULL, NULL, NULL, NULL, NULL,
     '-Infinity', -0.0, 'Infinity',
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     'null', 'null', NULL,
     'infinity', '0001-01-01 00:00:00 BC', 'infinity', '24:00:00', NULL, '0 seconds',
     '{{1,2},{3,4}}', NULL, NULL, NULL, NULL,
     NULL, NULL, NULL),
    (4, true, 1, 1, 1, 1, 3.4028235e38, 1e-320, '-0.000000000000000000001',
     repeat(md5('toast'), 400), 'x', 'x', 'x', 'x', NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, decode(repeat(md5('bytes'), 300), 'hex'),
     NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO encode_rows_types (id, t)
SELECT 5, string_agg(md5(g::text), '') FROM generate_series(1, 1000) g;
-- Row 5's text is stored out of line, in the TOAST table.
SELECT pg_relation_size(reltoastrelid) > 0 AS toast_table_used
FROM pg_class WHERE relname = 'encode_rows_types';
-- Keys by replica identity: none, a unique index, FULL with and without a primary key.
CREATE TABLE encode_rows_no_key (a int, b text);
CREATE TABLE encode_rows_by_index (a int NOT NULL, b text NOT NULL, c text);
CREATE UNIQUE INDEX encode_rows_by_index_bc ON encode_rows_by_index (b, c) WHERE false IS NULL;
CREATE UNIQUE INDEX encode_rows_by_index_ba ON encode_rows_by_index (b, a);
ALTER TABLE encode_rows_by_index REPLICA IDENTITY USING INDEX encode_rows_by_index_ba;
CREATE TABLE encode_rows_full_pk (a int, b text PRIMARY KEY);
ALTER TABLE encode_rows_full_pk REPLICA IDENTITY FULL;
CREATE TABLE encode_rows_full (a int, b text);
ALTER TABLE encode_rows_full REPLICA IDENTITY FULL;
INSERT INTO encode_rows_no_key VALUES (1, 'one'), (NULL, NULL);
INSERT INTO encode_rows_by_index VALUES (1, 'one', 'uno'), (2, 'two', NULL);
INSERT INTO encode_rows_full_pk VALUES (1, 'one'), (NULL, 'none');
INSERT INTO encode_rows_full VALUES (1, 'one'), (NULL, NULL);

-- The plugin's c records of those inserts.
CREATE TEMP TABLE wal_records AS
SELECT data FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

-- The snapshot's r records, at a fixed LSN and time so that they can be shown in full.
CREATE TEMP TABLE snapshot_records AS
SELECT snowcdc.encode_rows(rel, '1/2345ABCD', '2026-01-02 03:04:05.678901+00') AS data
FROM unnest('{encode_rows_types, encode_rows_no_key, encode_rows_by_index, encode_rows_full_pk,
              encode_rows_full}'::regclass[]) AS rel;
SELECT data FROM snapshot_records
WHERE length(data) < 2000 ORDER BY data::jsonb ->> 'table', (data::jsonb ->> 'seq')::bigint;
SELECT data::jsonb ->> 'table' AS "table", data::jsonb -> 'key' AS key,
       length(data::jsonb -> 'after' ->> 't') AS t_length,
       length(data::jsonb -> 'after' ->> 'by') AS by_length
FROM snapshot_records WHERE length(data) >= 2000;

-- Envelope: lsn and ts as integers, seq from the row's heap position, no xid.
SELECT DISTINCT (data::jsonb ->> 'lsn')::numeric = '1/2345ABCD'::pg_lsn - '0/0'::pg_lsn AS lsn_ok,
       (data::jsonb ->> 'ts')::bigint = 1767323045678901 AS ts_ok,
       data::jsonb ? 'xid' AS has_xid, data::jsonb ->> 'op' AS op
FROM snapshot_records;

-- Byte-identical to the c records from "schema" on: schema, table, key and after.
SELECT count(*) AS records,
       count(*) FILTER (WHERE w.data IS NULL) AS only_in_snapshot,
       count(*) FILTER (WHERE s.data IS NULL) AS only_in_wal
FROM wal_records w
FULL JOIN snapshot_records s
       ON substring(w.data FROM '"schema":.*$') = substring(s.data FROM '"schema":.*$');
SELECT DISTINCT w.data::jsonb ->> 'op' AS wal_op FROM wal_records w;

-- encode_row gives the same records from a whole-row value and snapshot_seq(ctid).
SELECT count(*) AS differences FROM (
    (SELECT snowcdc.encode_row('encode_rows_types', tbl, '1/2345ABCD',
                               snowcdc.snapshot_seq(tbl.ctid), '2026-01-02 03:04:05.678901+00')
     FROM encode_rows_types tbl
     EXCEPT
     SELECT snowcdc.encode_rows('encode_rows_types', '1/2345ABCD',
                                '2026-01-02 03:04:05.678901+00'))
    UNION ALL
    (SELECT snowcdc.encode_rows('encode_rows_types', '1/2345ABCD',
                                '2026-01-02 03:04:05.678901+00')
     EXCEPT
     SELECT snowcdc.encode_row('encode_rows_types', tbl, '1/2345ABCD',
                               snowcdc.snapshot_seq(tbl.ctid), '2026-01-02 03:04:05.678901+00')
     FROM encode_rows_types tbl)) d;

-- numeric_as_string, as the slot option numeric-as-string.
SELECT data::jsonb -> 'after' -> 'n' AS n
FROM (SELECT snowcdc.encode_rows('encode_rows_types', '0/0', now(), numeric_as_string => true)
      AS data) r ORDER BY data::jsonb ->> 'seq';

-- A column added with a default after rows were written reads as the default in old rows.
ALTER TABLE encode_rows_no_key ADD COLUMN added int DEFAULT 42;
SELECT data::jsonb -> 'after' AS after
FROM (SELECT snowcdc.encode_rows('encode_rows_no_key', '0/0', now()) AS data) r
ORDER BY data::jsonb ->> 'seq';

-- Parallel readers: block ranges cover the table once; seqs are unique and equal snapshot_seq.
CREATE TABLE encode_rows_many (id int PRIMARY KEY, pad text);
INSERT INTO encode_rows_many SELECT g, repeat('p', 200) FROM generate_series(1, 3000) g;
DELETE FROM encode_rows_many WHERE id % 7 = 0;
SELECT count(*) AS ranges, count(*) FILTER (WHERE block_to IS NULL) AS open_ended,
       min(block_from) AS first_block
FROM snowcdc.snapshot_ranges('encode_rows_many', 4);
CREATE TEMP TABLE ranged AS
SELECT r.part, snowcdc.encode_rows('encode_rows_many', '0/0', now(), r.block_from, r.block_to)::jsonb
       AS rec
FROM snowcdc.snapshot_ranges('encode_rows_many', 4) r;
SELECT count(*) AS rows, count(DISTINCT rec ->> 'seq') AS distinct_seqs,
       count(DISTINCT part) AS parts_with_rows
FROM ranged;
SELECT count(*) AS mismatches
FROM encode_rows_many t FULL JOIN ranged r ON (r.rec -> 'key' ->> 'id')::int = t.id
WHERE r.rec IS NULL OR t.id IS NULL
   OR (r.rec ->> 'seq')::bigint <> snowcdc.snapshot_seq(t.ctid);
-- seq increases in the order the rows come out.
SELECT bool_and(seq > previous) AS in_scan_order FROM (
    SELECT (rec::jsonb ->> 'seq')::bigint AS seq,
           lag((rec::jsonb ->> 'seq')::bigint, 1, -1::bigint) OVER (ORDER BY n) AS previous
    FROM snowcdc.encode_rows('encode_rows_many', '0/0') WITH ORDINALITY AS e(rec, n)) x;
SELECT snowcdc.snapshot_seq('(0,1)'), snowcdc.snapshot_seq('(0,2)'),
       snowcdc.snapshot_seq('(1,1)'), snowcdc.snapshot_seq('(4294967294,291)');
-- seq is 64-bit end to end: rows past block 14759254 (about 112 GiB) keep their exact seq.
SELECT (snowcdc.encode_row('encode_rows_many', t, '0/0', snowcdc.snapshot_seq('(4294967294,291)'))
            ::jsonb ->> 'seq')::bigint = snowcdc.snapshot_seq('(4294967294,291)') AS seq_exact,
       (snowcdc.encode_row('encode_rows_many', t, '0/0', 9223372036854775807)::jsonb ->> 'seq')
            AS max_seq
FROM encode_rows_many t WHERE id = 1;

-- The query's snapshot decides which rows are read.
BEGIN;
DELETE FROM encode_rows_many WHERE id > 10;
SELECT count(*) AS visible FROM (SELECT snowcdc.encode_rows('encode_rows_many', '0/0')) r;
ROLLBACK;
-- Stopping early releases the scan (no leak warnings).
SELECT count(*) FROM (SELECT snowcdc.encode_rows('encode_rows_many', '0/0') LIMIT 3) r;
-- Empty ranges and tables.
SELECT count(*) FROM (SELECT snowcdc.encode_rows('encode_rows_many', '0/0', now(), 5, 5)) r;
SELECT count(*) FROM (SELECT snowcdc.encode_rows('encode_rows_many', '0/0', now(), 100000)) r;
TRUNCATE encode_rows_full;
SELECT count(*) FROM (SELECT snowcdc.encode_rows('encode_rows_full', '0/0')) r;

-- Errors name the problem and the way out.
CREATE TABLE encode_rows_parted (a int) PARTITION BY LIST (a);
SELECT snowcdc.encode_rows('encode_rows_parted', '0/0');
CREATE VIEW encode_rows_view AS SELECT 1 AS a;
SELECT snowcdc.encode_rows('encode_rows_view', '0/0');
SELECT snowcdc.encode_rows('encode_rows_many', NULL);
SELECT snowcdc.encode_rows('encode_rows_many', '0/0', 'infinity');
SELECT snowcdc.encode_rows('encode_rows_many', '0/0', now(), -1);
SELECT snowcdc.encode_rows('encode_rows_many', '0/0', now(), 0, 4294967296);
SELECT snowcdc.encode_row('encode_rows_many', ROW(1, 'x'), '0/0', 0);
SELECT snowcdc.encode_row('encode_rows_many', t, '0/0', -1) FROM encode_rows_many t LIMIT 1;
SELECT snowcdc.encode_row('encode_rows_types', t, '0/0', 0) FROM encode_rows_many t LIMIT 1;
SELECT snowcdc.snapshot_seq('(7,0)');
-- Reading every row is for superusers and roles granted it; row-level security is refused.
CREATE ROLE regress_snowcdc_reader;
GRANT USAGE ON SCHEMA snowcdc TO regress_snowcdc_reader;
GRANT SELECT ON encode_rows_many TO regress_snowcdc_reader;
SET ROLE regress_snowcdc_reader;
SELECT snowcdc.encode_rows('encode_rows_many', '0/0');
RESET ROLE;
GRANT EXECUTE ON FUNCTION snowcdc.encode_rows TO regress_snowcdc_reader;
REVOKE SELECT ON encode_rows_many FROM regress_snowcdc_reader;
SET ROLE regress_snowcdc_reader;
SELECT snowcdc.encode_rows('encode_rows_many', '0/0');
RESET ROLE;
GRANT SELECT ON encode_rows_many TO regress_snowcdc_reader;
SET ROLE regress_snowcdc_reader;
SELECT count(*) AS rows FROM (SELECT snowcdc.encode_rows('encode_rows_many', '0/0')) r;
RESET ROLE;
ALTER TABLE encode_rows_many ENABLE ROW LEVEL SECURITY;
CREATE POLICY few ON encode_rows_many USING (id < 5);
SET ROLE regress_snowcdc_reader;
SELECT snowcdc.encode_rows('encode_rows_many', '0/0');
RESET ROLE;

-- A LATIN1 database: the plugin writes UTF-8; encode_rows returns text in the database encoding,
-- which a UTF8 client receives as the same UTF-8 bytes.
CREATE DATABASE encode_rows_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'
    TEMPLATE template0;
\c encode_rows_latin1
SET client_encoding = 'UTF8';
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot_latin1', 'snowcdc');
CREATE TABLE encode_rows_latin1 (id int PRIMARY KEY, t text);
INSERT INTO encode_rows_latin1 VALUES (1, 'Zürich ÿ ß');
SELECT snowcdc.encode_rows('encode_rows_latin1', '0/0', '2026-01-01 00:00:00+00');
SELECT substring(w.data FROM position('"schema":'::bytea IN w.data))
       = substring(convert_to(r.rec, 'UTF8') FROM position('"schema":' IN r.rec)) AS same_bytes
FROM pg_logical_slot_get_binary_changes('regression_slot_latin1', NULL, NULL) w,
     (SELECT snowcdc.encode_rows('encode_rows_latin1', '0/0') AS rec) r;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot_latin1');
\c contrib_regression
DROP DATABASE encode_rows_latin1;

DROP TABLE encode_rows_types, encode_rows_no_key, encode_rows_by_index, encode_rows_full_pk,
    encode_rows_full, encode_rows_many, encode_rows_parted;
DROP VIEW encode_rows_view;
DROP TYPE encode_rows_pair;
DROP TYPE encode_rows_mood;
DROP DOMAIN encode_rows_posint;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
REVOKE USAGE ON SCHEMA snowcdc FROM regress_snowcdc_reader;
DROP EXTENSION snowcdc;
DROP EXTENSION citext;
DROP ROLE regress_snowcdc_reader;
