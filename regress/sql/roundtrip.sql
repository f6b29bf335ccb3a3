-- roundtrip: the `after` image of a decoded insert reads back, with jsonb_populate_record, as
-- exactly the row that was written, for every type Postgres can read back from JSON.
--
-- What does not round-trip through jsonb_populate_record, and why (shown at the end):
--   bytea      written as bare lowercase hex (Snowflake's BINARY input); bytea input reads text
--              without the \x prefix as escape format, so the bytes differ. decode(v, 'hex')
--              reads it back.
--   BC dates, timestamps and timestamptz   written with ISO 8601 astronomical years (-0043 for
--              44 BC, 0000 for 1 BC); Postgres input accepts only the "BC" suffix form, so the
--              read fails.
--   json       embedded as a JSON value; jsonb_populate_record hands the json column jsonb's text
--              of it (keys reordered, whitespace and duplicate keys dropped): equal as jsonb,
--              not as text.
--   jsonb / json holding JSON null (top level or as an array element of jsonb[]): written as
--              null, the same as SQL NULL, so it reads back as SQL NULL. (A spec question: the
--              format cannot tell the two apart.)
--   xml, point (and other types without an equality operator) come back as the same text but
--              cannot be compared with = / IS NOT DISTINCT FROM / EXCEPT; compared as text.
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
CREATE EXTENSION citext;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

CREATE TYPE roundtrip_mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN roundtrip_code AS text CHECK (VALUE ~ '^[A-Z]{3}$');
CREATE TYPE roundtrip_inner AS (at timestamptz, tags text[]);
CREATE TYPE roundtrip_pair AS (x int, y text, z numeric[], inner_value roundtrip_inner);
CREATE TABLE roundtrip_values (
    id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, o oid,
    f4 float4, f8 float8, n numeric, n_scaled numeric(12, 4),
    t text, vc varchar(10), bp char(5), nm name, ci citext, u uuid, ip inet, cid cidr,
    mac macaddr, jb jsonb,
    d date, ts timestamp, ts3 timestamp(3), tstz timestamptz, tm time, tmtz timetz, iv interval,
    i4_arr int[], t_arr text[], f8_arr float8[], n_arr numeric[], d_arr date[], jb_arr jsonb[],
    comp roundtrip_pair, comp_arr roundtrip_pair[], mood roundtrip_mood, mood_arr roundtrip_mood[],
    code roundtrip_code, m money, rng int4range, tsrng tstzrange);

-- Written under unusual session settings: the records must not depend on them.
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kathmandu';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = -3;
INSERT INTO roundtrip_values VALUES
    (1, true, 32767, -2147483648, 9223372036854775807, 4294967295,
     3.4028235e38, 1.7976931348623157e308, 123456789012345678901234567890.123456789, 1.5,
     E'quote " backslash \\ slash / tab \t nl \n cr \r nul-free \u0001 \u001f ü 😀', 'ten chars!',
     'ab', repeat('n', 63), 'MiXeD', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2001:db8::1/64',
     '192.168.0.0/16', '08:00:2b:01:02:03',
     '{"z": 1, "a": {"nested": [1, 2.50, "x", null, true]}, "u": "\u00fc\u20ac"}',
     '2024-02-29', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.123',
     '2024-02-29 23:59:59.5+05:45', '23:59:59.999999', '23:59:59.999999-14:59',
     '1 year 2 months 3 days 04:05:06.789',
     '{1,NULL,-3}', '{{a,"b,c"},{NULL,"d\"e"}}', '{NaN,Infinity,-Infinity,0.1,-0}',
     '{1.10,NaN,-0.001}', '{2024-01-01,infinity,NULL}', ARRAY['{"a": 1}'::jsonb, '"null"', '[]'],
     ROW(1, 'one', '{1.50,NaN}', ROW('2000-01-01 00:00:00+00', '{x,NULL}')),
     ARRAY[ROW(2, 'two', '{}', NULL)::roundtrip_pair, NULL], 'happy', '{sad,NULL,ok}',
     'ABC', 92233720368547758.07, '[1,10)', '[2024-01-01 00:00:00+00,infinity)'),
    (2, false, -32768, 0, -9223372036854775808, 0,
     'NaN', 'Infinity', 'NaN', 0,
     '', '', '', '', '', '00000000-0000-0000-0000-000000000000', '0.0.0.0', '::/0',
     'ff:ff:ff:ff:ff:ff', '[]',
     'infinity', 'infinity', '-infinity', '-infinity', '00:00:00', '00:00:00+00', '0 seconds',
     '{}', '{}', '{}', '{}', '{}', '{}',
     ROW(NULL, NULL, NULL, NULL), '{}', 'sad', '{}',
     'XYZ', -92233720368547758.08, 'empty', 'empty'),
    (3, NULL, NULL, NULL, NULL, NULL,
     '-Infinity', '-Infinity', 'Infinity', -0.0001,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     '-infinity', '0001-01-01 00:00:00', '1970-01-01 00:00:00.001', '1970-01-01 00:00:00+00',
     '24:00:00', '24:00:00+14:59', '-178000000 years',
     '{{1,2},{3,4}}', NULL, '{1e-320,2.2250738585072014e-308}', '{-Infinity}', NULL, NULL,
     NULL, NULL, NULL, NULL,
     NULL, 0, '(,)', NULL),
    (4, true, 1, 1, 1, 1,
     1e-45, 5e-324, '-0.000000000000000000000000000001', 99999999.9999,
     'x', 'x', 'x', 'x', 'x', NULL, NULL, NULL, NULL, '"a string"',
     '4713-01-01 BC'::date + 1721425, '294276-12-31 23:59:59.999999',
     '2000-01-01 00:00:00', '2000-01-01 00:00:00+00', '12:00:00.000001', '12:00:00.000001+00:00:01',
     '-1 days +00:00:00.000001',
     '{0}', '{""}', '{0}', '{0}', '{2000-01-01}', '{}',
     ROW(0, '', '{}', ROW(NULL, '{}')), '{}', 'ok', '{happy}',
     'QQQ', 0.01, '(-5,5]', '["2024-01-01 00:00:00+00","2024-01-02 00:00:00+00")');
RESET DateStyle;
RESET TimeZone;
RESET IntervalStyle;
RESET extra_float_digits;

CREATE TEMP TABLE decoded AS
SELECT data::jsonb AS rec FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT rec ->> 'op' AS op, rec ->> 'table' AS "table", count(*) FROM decoded GROUP BY 1, 2;
CREATE TEMP TABLE populated AS
SELECT p.* FROM decoded, jsonb_populate_record(NULL::roundtrip_values, rec -> 'after') AS p;

-- Every row comes back IS NOT DISTINCT FROM the row written ...
SELECT written.id, written IS NOT DISTINCT FROM read_back AS same
FROM roundtrip_values written FULL JOIN populated read_back ON read_back.id = written.id
ORDER BY coalesce(written.id, read_back.id);
-- ... and the two sets are equal both ways.
SELECT 'written, not read back' AS problem, * FROM (
    TABLE roundtrip_values EXCEPT TABLE populated) x
UNION ALL
SELECT 'read back, not written', * FROM (
    TABLE populated EXCEPT TABLE roundtrip_values) y;

-- The same holds for the snapshot's r records of the same rows.
SELECT count(*) AS differences FROM (
    (TABLE roundtrip_values
     EXCEPT
     SELECT p.* FROM (SELECT snowcdc.encode_rows('roundtrip_values', '0/0')::jsonb AS rec) r,
                     jsonb_populate_record(NULL::roundtrip_values, r.rec -> 'after') AS p)
    UNION ALL
    (SELECT p.* FROM (SELECT snowcdc.encode_rows('roundtrip_values', '0/0')::jsonb AS rec) r,
                     jsonb_populate_record(NULL::roundtrip_values, r.rec -> 'after') AS p
     EXCEPT
     TABLE roundtrip_values)) d;

-- The key reads back too.
SELECT bool_and((jsonb_populate_record(NULL::roundtrip_values, rec -> 'key')).id
                = (rec -> 'after' ->> 'id')::int) AS keys_read_back
FROM decoded;

-- What does not round-trip (see the header).
CREATE TABLE roundtrip_lossy (id int PRIMARY KEY, by bytea, d_bc date, ts_bc timestamp,
                              tstz_bc timestamptz, j json, x xml, pt point, jb_null jsonb,
                              jb_arr jsonb[]);
INSERT INTO roundtrip_lossy VALUES
    (1, '\x00ff10', '0044-03-15 BC', '0001-12-31 23:59:59 BC', '0001-01-01 00:00:00+00 BC',
     '{"b": 1,   "a": 2, "a": 3}', '<a b="c">x &amp; y</a>', '(1.5,-2)', 'null',
     ARRAY['null'::jsonb, '1']);
CREATE TEMP TABLE lossy AS
SELECT data::jsonb -> 'after' AS after
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT after ->> 'by' AS by_json, after -> 'd_bc' AS d_bc_json, after -> 'ts_bc' AS ts_bc_json,
       after -> 'tstz_bc' AS tstz_bc_json, after -> 'j' AS j_json FROM lossy;
-- bytea: read as escape-format text, so the bytes differ; decode(..., 'hex') is right.
SELECT p.by AS populated, p.by = o.by AS same, decode(l.after ->> 'by', 'hex') = o.by AS decoded_same
FROM lossy l, jsonb_populate_record(NULL::roundtrip_lossy, l.after - 'd_bc' - 'ts_bc' - 'tstz_bc') p,
     roundtrip_lossy o;
-- BC dates and timestamps: astronomical years are not Postgres input.
SELECT jsonb_populate_record(NULL::roundtrip_lossy, jsonb_build_object('d_bc', after -> 'd_bc'))
FROM lossy;
SELECT jsonb_populate_record(NULL::roundtrip_lossy, jsonb_build_object('ts_bc', after -> 'ts_bc'))
FROM lossy;
SELECT jsonb_populate_record(NULL::roundtrip_lossy,
                             jsonb_build_object('tstz_bc', after -> 'tstz_bc'))
FROM lossy;
-- JSON null in jsonb reads back as SQL NULL.
SELECT after -> 'jb_null' AS jb_null_json, after -> 'jb_arr' AS jb_arr_json,
       p.jb_null IS NULL AS jb_null_is_sql_null, p.jb_arr AS jb_arr_populated
FROM lossy l, jsonb_populate_record(NULL::roundtrip_lossy, l.after - 'd_bc' - 'ts_bc' - 'tstz_bc') p;
-- json: equal as jsonb, not as text; xml and point: the same text, no equality operator.
SELECT p.j::text AS populated_json, p.j::text = o.j::text AS same_text,
       p.j::jsonb = o.j::jsonb AS same_jsonb,
       p.x::text = o.x::text AS xml_same_text, p.pt ~= o.pt AS point_same
FROM lossy l, jsonb_populate_record(NULL::roundtrip_lossy, l.after - 'd_bc' - 'ts_bc' - 'tstz_bc') p,
     roundtrip_lossy o;

DROP TABLE decoded, populated, lossy, roundtrip_values, roundtrip_lossy;
DROP TYPE roundtrip_pair;
DROP TYPE roundtrip_inner;
DROP TYPE roundtrip_mood;
DROP DOMAIN roundtrip_code;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
DROP EXTENSION snowcdc;
DROP EXTENSION citext;
