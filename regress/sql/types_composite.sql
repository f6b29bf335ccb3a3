-- types_composite: composites as objects; enums, domains, money, uuid, network and other types.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/type_values.sql

CREATE TYPE address AS (street text, zip int, geo float8[]);
CREATE TYPE person AS (name text, born date, home address, "odd ""key""" bool);
CREATE TABLE t_composite (id int PRIMARY KEY, v person);
INSERT INTO t_composite VALUES
    (1, ROW('Ann', '1990-05-01', ROW('Main St. 1', 8001, '{47.37,8.54}'), true)),
    (2, ROW(NULL, NULL, NULL, NULL)), (3, NULL), (4, ROW('B "q"', '0044-03-15 BC', ROW(NULL, 1, '{}'), false));
SELECT * FROM pg_temp.show('t_composite');

-- A dropped attribute is skipped; an added one appears.
ALTER TYPE address DROP ATTRIBUTE zip;
ALTER TYPE address ADD ATTRIBUTE country text;
INSERT INTO t_composite VALUES (5, ROW('Cy', '2000-01-01', ROW('Side St.', '{}', 'CH'), NULL));
SELECT * FROM pg_temp.show('t_composite');

CREATE TABLE t_composite_array (id int PRIMARY KEY, v address[]);
INSERT INTO t_composite_array VALUES (1, ARRAY[ROW('a', '{1}', 'X')::address, NULL, ROW('b', NULL, NULL)::address]);
SELECT * FROM pg_temp.show('t_composite_array');

-- Enums are strings.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy "!"');
CREATE TABLE t_enum (id int PRIMARY KEY, v mood);
INSERT INTO t_enum VALUES (1, 'sad'), (2, 'happy "!"'), (3, NULL);
SELECT * FROM pg_temp.show('t_enum');
CREATE TABLE t_enum_array (id int PRIMARY KEY, v mood[]);
INSERT INTO t_enum_array VALUES (1, '{ok,sad}');
SELECT * FROM pg_temp.show('t_enum_array');

-- Domains are written as their base type.
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
CREATE DOMAIN price AS numeric(8, 2);
CREATE DOMAIN short_text AS varchar(10);
CREATE DOMAIN stamp AS timestamptz;
CREATE DOMAIN int_list AS int[];
CREATE DOMAIN price_of_price AS price;
CREATE DOMAIN home AS address;
CREATE TABLE t_domain (id int PRIMARY KEY, a positive_int, b price, c short_text, d stamp,
                       e int_list, f price_of_price, g home, h positive_int[]);
INSERT INTO t_domain VALUES (1, 7, 12.5, 'dom "x"', '2024-01-02 03:04:05+02', '{1,2}', 3, ROW('s', '{}', 'c'), '{1,2}');
SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

-- money is its exact amount as a number: the stored integer scaled by lc_monetary's
-- fraction digits (2 in the C locale), never symbols or grouping.
CREATE TABLE t_money (id int PRIMARY KEY, v money);
INSERT INTO t_money VALUES (1, 12.34), (2, -0.05), (3, 0), (4, '92233720368547758.07'),
    (5, '-92233720368547758.08'), (6, 1000000), (7, NULL);
SET lc_monetary = 'C.utf8';
SELECT * FROM pg_temp.show('t_money');
RESET lc_monetary;

-- Everything else: the type's own text output as a string.
CREATE TABLE t_other (id int PRIMARY KEY, u uuid, i inet, c cidr, m macaddr, m8 macaddr8,
                      x xml, p point, b bit(4), vb varbit, tv tsvector, r int4range,
                      l pg_lsn, rc regclass, bx box, hs int2vector);
INSERT INTO t_other VALUES (1, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '192.168.0.1/24', '10.0.0.0/8',
    '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', '<a href="x">t</a>', '(1.5,-2)', B'1010',
    B'11', 'a fat cat', '[1,10)', '16/B374D848', 't_other', '((1,2),(3,4))', '1 2 3');
SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

DROP TABLE t_composite, t_composite_array, t_enum, t_enum_array, t_domain, t_money, t_other;
DROP DOMAIN positive_int, price_of_price, price, short_text, stamp, int_list, home;
DROP TYPE person, address, mood;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
