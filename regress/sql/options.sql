-- options: each option's effect, its default and its value spellings.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE opt (id int PRIMARY KEY, amount numeric, v text);
ALTER TABLE opt REPLICA IDENTITY FULL;
INSERT INTO opt VALUES (1, 12.50, 'a');
UPDATE opt SET v = 'b';
SELECT 'emitted' FROM pg_logical_emit_message(true, 'opt', 'hello');

-- Defaults: no begin/commit, no before, numbers as numbers, no messages.
SELECT data FROM (SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data
                  FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL)) r;

-- transactions
SELECT data FROM (SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g') AS data
                  FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'transactions', 'on')) r
WHERE data LIKE '{"op":"begin"%' OR data LIKE '{"op":"commit"%';

-- before
SELECT data::jsonb->'before' AS before FROM pg_logical_slot_peek_changes(
    'regression_slot', NULL, NULL, 'before', 'on') WHERE data::jsonb->>'op' = 'u';

-- numeric-as-string
SELECT data::jsonb->'after'->'amount' AS amount FROM pg_logical_slot_peek_changes(
    'regression_slot', NULL, NULL, 'numeric-as-string', 'on');

-- messages (message-prefixes: see messages.sql)
SELECT data::jsonb->>'content' AS content FROM pg_logical_slot_peek_changes(
    'regression_slot', NULL, NULL, 'messages', 'on') WHERE data::jsonb->>'op' = 'm';

-- format-version: 1 is the only version and the default.
SELECT count(*) FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
    'format-version', '1');

-- Boolean spellings Postgres accepts, true and false alike.
SELECT v, (SELECT count(*) FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL,
                                 'transactions', v)) AS records
FROM unnest(ARRAY['true', 'false', 'on', 'off', 'yes', 'no', '1', '0', 'TRUE', 'Off', 't', 'f']) v;

-- All options together.
SELECT * FROM pg_temp.changes('transactions', 'on', 'before', 'on', 'numeric-as-string', 'on',
    'messages', 'on', 'message-prefixes', 'opt', 'include-tables', 'public.*',
    'exclude-tables', 'public.nothing', 'skip-origin', 'on', 'format-version', '1');

-- Over the replication protocol an option can come without a value, as with
-- pg_recvlogical -o before: a boolean then means true; a non-boolean is an error.
UPDATE opt SET v = 'c';
\! "$(pg_config --bindir)"/pg_recvlogical -d "${PGDATABASE:-contrib_regression}" --slot regression_slot --no-loop --start -o before -o transactions -f - --endpos "$(psql -XAtc 'SELECT pg_current_wal_lsn()' "${PGDATABASE:-contrib_regression}")" | sed -E 's/"(lsn|end_lsn|xid|ts)":[0-9]+/"\1":N/g'
UPDATE opt SET v = 'd';
\! "$(pg_config --bindir)"/pg_recvlogical -d "${PGDATABASE:-contrib_regression}" --slot regression_slot --no-loop --start -o format-version -f - --endpos "$(psql -XAtc 'SELECT pg_current_wal_lsn()' "${PGDATABASE:-contrib_regression}")" 2>&1 | grep -o 'ERROR: .*'
SELECT * FROM pg_temp.changes();

DROP TABLE opt;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
