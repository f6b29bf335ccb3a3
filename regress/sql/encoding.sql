-- encoding: in a non-UTF-8 database the records are still UTF-8.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\set main_db :DBNAME
CREATE DATABASE snowcdc_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c snowcdc_latin1
SET synchronous_commit = on;
SET client_encoding = 'UTF8';
SELECT 'init' FROM pg_create_logical_replication_slot('latin1_slot', 'snowcdc');
CREATE TYPE "Größe" AS ENUM ('klein', 'groß');
CREATE TABLE "Straßen" (id int PRIMARY KEY, "Name" text, "Größe" "Größe", j json, jb jsonb,
                        c char(3), n name, arr text[]);
INSERT INTO "Straßen" VALUES (1, 'Zürich Bahnhofstraße ½ ©', 'groß', '{"ä": "ö"}', '{"ü": "ß"}',
                              'éé', 'Ångström', '{Ä,Ö}');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'präfix', 'Grüße');
SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database();

-- The output is UTF-8, not the database encoding, so the textual interface refuses it.
SELECT data FROM pg_logical_slot_peek_changes('latin1_slot', NULL, NULL);

-- As bytes, it is valid UTF-8 (convert_from rejects anything else) with the right text.
SELECT regexp_replace(convert_from(data, 'UTF8'), '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g')
FROM pg_logical_slot_peek_binary_changes('latin1_slot', NULL, NULL, 'messages', 'on');
-- ü is the two UTF-8 bytes c3 bc, not the single LATIN1 byte fc.
SELECT position('\xc3bc'::bytea IN data) > 0 AS has_utf8_u_umlaut,
       position('\xfc'::bytea IN data) = 0 AS has_no_latin1_byte
FROM pg_logical_slot_get_binary_changes('latin1_slot', NULL, NULL)
WHERE convert_from(data, 'UTF8') LIKE '%Zürich%';

SELECT 'stop' FROM pg_drop_replication_slot('latin1_slot');
\c :main_db
DROP DATABASE snowcdc_latin1;

-- In a UTF-8 database the textual interface works and gives the same characters.
SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database();
CREATE TABLE strassen (id int PRIMARY KEY, name text);
INSERT INTO strassen VALUES (1, 'Zürich Bahnhofstraße ½ ©');
SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g')
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
DROP TABLE strassen;
SELECT count(*) FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
