-- issue_session_settings: no session setting changes a byte of the output, also for types
-- written through their output function (date and timestamp ranges, geometric types). Those
-- used to follow the decoding session's DateStyle, TimeZone and extra_float_digits.
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

CREATE TABLE settings_types (
    id int PRIMARY KEY, d date, ts timestamp, tz timestamptz, t time, ttz timetz, iv interval,
    f4 float4, f8 float8, n numeric, m money, b bytea, dr daterange, tsr tsrange,
    tzr tstzrange, dmr datemultirange, pt point, bx box, ia int[], da date[],
    js jsonb);
INSERT INTO settings_types VALUES (
    1, '2020-01-02', '2020-01-02 03:04:05.5', '2020-01-02 03:04:05.5+00', '03:04:05.5',
    '03:04:05.5-03:30', '1 year -2 days 03:04:05.5', 0.1, 0.30000000000000004, 1.50,
    1234.56, '\xdead', '[2020-01-02,2020-02-03)', '[2020-01-02 03:04:05,)',
    '[2020-01-02 03:04:05+00,2021-01-01 00:00:00+00)', '{[2020-01-02,2020-02-03)}',
    '(0.1,0.30000000000000004)', '((1.5,2.25),(0.1,0.2))', '{1,2}', '{2020-01-02,infinity}',
    '{"a": 0.1}');
-- The data and the snapshot record, as written under the defaults of this instance.
CREATE TEMP TABLE reference AS
    SELECT data FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL)
    UNION ALL
    SELECT snowcdc.encode_rows('settings_types', '0/0', '2020-01-01 00:00:00+00');
SELECT regexp_replace(data, '"(lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data FROM reference;

-- The same bytes under each hostile combination; a differing record would be listed.
CREATE FUNCTION pg_temp.differences() RETURNS SETOF text LANGUAGE sql AS $$
    (SELECT data FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL)
     UNION ALL
     SELECT snowcdc.encode_rows('settings_types', '0/0', '2020-01-01 00:00:00+00'))
    EXCEPT SELECT data FROM reference
$$;
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'America/St_Johns';
SET IntervalStyle = sql_standard;
SET extra_float_digits = -15;
SELECT * FROM pg_temp.differences();
SET DateStyle = 'German';
SET TimeZone = 'Asia/Kathmandu';
SET IntervalStyle = postgres_verbose;
SET extra_float_digits = 3;
SET bytea_output = escape;
SELECT * FROM pg_temp.differences();
SET IntervalStyle = iso_8601;
SET TimeZone = '+14:00';
SELECT * FROM pg_temp.differences();
-- The session's own settings are back after decoding.
SHOW DateStyle;
SHOW TimeZone;
SHOW extra_float_digits;
SELECT '2020-01-02 03:04:05+00'::timestamptz::text, '[2020-01-02,2020-02-03)'::daterange::text,
       '(0.1,0.30000000000000004)'::point::text;
RESET ALL;

SELECT count(*) AS consumed FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
DROP TABLE settings_types;
DROP EXTENSION snowcdc;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
