-- messages: m records for pg_logical_emit_message, only with the messages option.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE msg (id int PRIMARY KEY);

-- A non-transactional message is not flushed to WAL by itself;
-- CHECKPOINT flushes it, so that decoding can see it.
-- Off by default.
SELECT 'emitted' FROM pg_logical_emit_message(false, 'snowcdc', 'not wanted');
CHECKPOINT;
SELECT * FROM pg_temp.changes();

-- Non-transactional: its own LSN, no seq or xid.
SELECT 'emitted' FROM pg_logical_emit_message(false, 'snowcdc', 'plain "quoted"');
CHECKPOINT;
SELECT * FROM pg_temp.changes('messages', 'on');
-- Its lsn is the one pg_logical_emit_message returned (the end of the message record).
SELECT pg_logical_emit_message(false, 'snowcdc', 'where') AS message_lsn \gset
CHECKPOINT;
SELECT (data::jsonb->>'lsn')::numeric = :'message_lsn'::pg_lsn - '0/0' AS lsn_is_the_message_lsn
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'messages', 'on');

-- Transactional: part of its transaction, seq among its records, the commit LSN.
BEGIN;
INSERT INTO msg VALUES (1);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'snowcdc', 'in txn');
INSERT INTO msg VALUES (2);
COMMIT;
SELECT * FROM pg_temp.changes('messages', 'on', 'transactions', 'on');
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'snowcdc', 'txn');
INSERT INTO msg VALUES (3);
COMMIT;
SELECT count(DISTINCT data::jsonb->>'lsn') AS distinct_lsns
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'messages', 'on',
                                 'transactions', 'on');

-- A rolled-back transactional message is never written.
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'snowcdc', 'rolled back');
ROLLBACK;
SELECT * FROM pg_temp.changes('messages', 'on');

-- message-prefixes keeps only the listed prefixes (exact match).
SELECT 'emitted' FROM pg_logical_emit_message(false, 'keep', 'k1');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'keep.not', 'k2');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'other', 'o1');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'also', 'a1');
CHECKPOINT;
SELECT * FROM pg_temp.changes('messages', 'on', 'message-prefixes', 'keep, also');
-- Prefixes are plain strings: a double quote is not quoting (unlike table patterns).
SELECT 'emitted' FROM pg_logical_emit_message(false, 'say "hi', 'q1');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'x', 'q2');
CHECKPOINT;
SELECT * FROM pg_temp.changes('messages', 'on', 'message-prefixes', 'say "hi,x');

-- Content that is not valid text is written as hex digits, and says so.
SELECT 'emitted' FROM pg_logical_emit_message(false, 'bin', '\x00ff41'::bytea);
SELECT 'emitted' FROM pg_logical_emit_message(false, 'ctl', E'tab\there\nnewline');
CHECKPOINT;
SELECT * FROM pg_temp.changes('messages', 'on');

DROP TABLE msg;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
