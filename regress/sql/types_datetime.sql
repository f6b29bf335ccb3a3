-- types_datetime: ISO 8601 in UTC, whatever DateStyle, TimeZone, IntervalStyle and lc_time say.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET IntervalStyle = 'postgres';

CREATE TABLE t_date (id int PRIMARY KEY, v date);
INSERT INTO t_date VALUES
    (1, '2024-02-29'), (2, '0001-01-01'), (3, '0044-03-15 BC'), (4, '0001-12-31 BC'),
    (5, 'infinity'), (6, '-infinity'), (7, '5874897-12-31'), (8, '4714-11-24 BC'),
    (9, '9999-12-31'), (10, '10000-01-01'), (11, NULL);
SELECT * FROM pg_temp.show('t_date');

CREATE TABLE t_timestamp (id int PRIMARY KEY, v timestamp);
INSERT INTO t_timestamp VALUES
    (1, '2024-01-02 03:04:05'), (2, '2024-01-02 03:04:05.5'), (3, '2024-01-02 03:04:05.123456'),
    (4, '2024-01-02 03:04:05.000001'), (5, '2024-01-02 00:00:00.120'), (6, '0044-03-15 12:00 BC'),
    (7, 'infinity'), (8, '-infinity'), (9, '294276-12-31 23:59:59.999999'),
    (10, '4714-11-24 00:00:00 BC');
SELECT * FROM pg_temp.show('t_timestamp');

-- timestamptz is always written in UTC with Z, whatever zone it was entered in.
CREATE TABLE t_timestamptz (id int PRIMARY KEY, v timestamptz);
INSERT INTO t_timestamptz VALUES
    (1, '2024-01-02 03:04:05+02'), (2, '2024-07-01 12:00:00.25 America/New_York'),
    (3, '2024-01-01 00:30:00+05:30'), (4, '1999-12-31 23:59:59.999999-00'),
    (5, '0044-03-15 12:00:00+00 BC'), (6, 'infinity'), (7, '-infinity'),
    (8, '1970-01-01 00:00:00+00');
SELECT * FROM pg_temp.show('t_timestamptz');

CREATE TABLE t_time (id int PRIMARY KEY, v time);
INSERT INTO t_time VALUES
    (1, '00:00'), (2, '23:59:59.999999'), (3, '24:00:00'), (4, '12:34:56.5'), (5, '01:02:03.000100');
SELECT * FROM pg_temp.show('t_time');

-- timetz keeps its own offset, +HH:MM (seconds only when the offset has them).
CREATE TABLE t_timetz (id int PRIMARY KEY, v timetz);
INSERT INTO t_timetz VALUES
    (1, '12:34:56+05:30'), (2, '00:00:00-08'), (3, '12:00:00.25+00'), (4, '23:59:59.5-12:45'),
    (5, '01:02:03+05:30:15'), (6, '10:00:00-00:00:30');
SELECT * FROM pg_temp.show('t_timetz');

-- interval as ISO 8601 durations: each part with its own sign, as Postgres's iso_8601
-- IntervalStyle prints them (checked against it in the last column).
CREATE TABLE t_interval (id int PRIMARY KEY, v interval);
INSERT INTO t_interval VALUES
    (1, '1 year 2 mons 3 days 04:05:06.5'), (2, '0'), (3, '-1 year -2 mons +3 days -04:05:06.5'),
    (4, '1 day -1 second'), (5, '-0.000001 seconds'), (6, '100 years'), (7, '3 mons'),
    (8, '1 hour'), (9, '2 days 25:00:00'), (10, '0.5 seconds'), (11, '-1 month 1 day'),
    (12, '178956970 years 7 mons'), (13, '-178956970 years -8 mons'),
    (14, '2562047788 hours 54.775807 seconds'), (15, '1 minute 0.120 seconds');
CREATE TEMP TABLE iv AS SELECT * FROM pg_temp.show('t_interval');
SET IntervalStyle = 'iso_8601';
SELECT iv.*, (iv.json::jsonb #>> '{}') = t.v::text AS same_as_iso_8601_style
FROM iv JOIN t_interval t USING (id) ORDER BY id;
SET IntervalStyle = 'postgres';

-- The same rows decoded under very different session settings give the same bytes.
CREATE TABLE t_mixed (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, t time,
                      ttz timetz, i interval);
INSERT INTO t_mixed VALUES
    (1, '2024-03-10', '2024-03-10 01:02:03.4', '2024-03-10 01:02:03.4+00', '01:02:03.4',
     '01:02:03.4+01', '1 day 02:03:04.5'),
    (2, '0100-01-01 BC', '0100-01-01 00:00 BC', '0100-01-01 00:00+00 BC', '00:00', '00:00-01',
     '-1 day -02:03:04.5');
SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres';
SET lc_time = 'C'; SET extra_float_digits = 0;
CREATE TEMP TABLE first_settings AS
    SELECT data FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL);
SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Pacific/Chatham'; SET IntervalStyle = 'sql_standard';
SET lc_time = 'C.utf8'; SET extra_float_digits = -15;
CREATE TEMP TABLE second_settings AS
    SELECT data FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL);
SET DateStyle = 'German'; SET TimeZone = 'America/St_Johns'; SET IntervalStyle = 'postgres_verbose';
SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data,
       data = ANY (SELECT data FROM first_settings) AS same_as_first,
       data = ANY (SELECT data FROM second_settings) AS same_as_second
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
RESET DateStyle; RESET TimeZone; RESET IntervalStyle; RESET lc_time; RESET extra_float_digits;

DROP TABLE t_date, t_timestamp, t_timestamptz, t_time, t_timetz, t_interval, t_mixed, iv,
    first_settings, second_settings;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
