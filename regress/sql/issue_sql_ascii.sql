-- issue_sql_ascii: in a SQL_ASCII database, text that is UTF-8 is written as is, and text that
-- is not is refused with an error that says why and what to do. Before, the plugin failed with
-- Postgres's bare "invalid byte sequence" error, and a logical message with such content
-- failed too instead of being written as hex digits.
SET synchronous_commit = on;
\set VERBOSITY terse
\set main_db :DBNAME
CREATE DATABASE snowcdc_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'
    TEMPLATE template0;
\c snowcdc_sql_ascii
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('sql_ascii_slot', 'snowcdc');
CREATE TABLE bytes (id int PRIMARY KEY, t text);
CREATE TABLE other (id int PRIMARY KEY);
INSERT INTO bytes VALUES (1, convert_from('\x5ac3bc72696368'::bytea, 'SQL_ASCII'));
SELECT 'emitted' FROM pg_logical_emit_message(false, 'm', '\xe9'::bytea);
CHECKPOINT;  -- flushes the non-transactional message's WAL
SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g')
FROM pg_logical_slot_get_changes('sql_ascii_slot', NULL, NULL, 'messages', 'on');

-- A LATIN1 byte (e9) is not UTF-8: an error, and the change stays in the slot.
INSERT INTO bytes VALUES (2, convert_from('\x6361666ce9'::bytea, 'SQL_ASCII'));
INSERT INTO other VALUES (1);
SELECT data FROM pg_logical_slot_get_changes('sql_ascii_slot', NULL, NULL);
-- Leaving the table out lets the rest through.
SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g')
FROM pg_logical_slot_get_changes('sql_ascii_slot', NULL, NULL, 'exclude-tables', 'public.bytes');

SELECT 'stop' FROM pg_drop_replication_slot('sql_ascii_slot');
\c :main_db
DROP DATABASE snowcdc_sql_ascii;
