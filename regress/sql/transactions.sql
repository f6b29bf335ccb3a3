-- transactions: begin/commit records, subtransactions, rollbacks, prepared transactions.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE tx (id int PRIMARY KEY, v text);

-- Off by default: only the changes.
INSERT INTO tx VALUES (1, 'a');
SELECT * FROM pg_temp.changes();

-- With transactions: begin, the changes, commit with n = number of records.
BEGIN;
INSERT INTO tx VALUES (2, 'b');
UPDATE tx SET v = 'bb' WHERE id = 2;
DELETE FROM tx WHERE id = 1;
COMMIT;
SELECT * FROM pg_temp.changes('transactions', 'on');

-- Envelope predicates: every record of the transaction has the LSN and time of its
-- commit record, which lies between the WAL positions just before and after COMMIT;
-- the transaction's xid; seq 0..n-1 in order; ts within a minute of now().
BEGIN;
INSERT INTO tx SELECT g, 'x' FROM generate_series(10, 14) g;
SELECT pg_current_xact_id()::text::bigint AS xid \gset
SELECT pg_current_wal_insert_lsn() - '0/0' AS before_commit \gset
COMMIT;
SELECT pg_current_wal_insert_lsn() - '0/0' AS after_commit \gset
WITH r AS (
    SELECT ordinality AS pos, data::jsonb AS j
    FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'transactions', 'on')
         WITH ORDINALITY),
c AS (SELECT j FROM r WHERE j->>'op' = 'commit')
SELECT count(*) FILTER (WHERE r.j->>'op' = 'c') AS changes,
       (SELECT (j->>'n')::int FROM c) AS n,
       bool_and((r.j->>'lsn') = (SELECT j->>'lsn' FROM c)) AS same_lsn,
       bool_and((r.j->>'ts') = (SELECT j->>'ts' FROM c)) AS same_ts,
       bool_and((r.j->>'xid')::bigint = :xid) AS same_xid,
       bool_and((r.j->>'seq')::int = r.pos - 2) FILTER (WHERE r.j->>'op' = 'c') AS seq_in_order,
       (SELECT (j->>'lsn')::numeric >= :before_commit AND (j->>'end_lsn')::numeric > (j->>'lsn')::numeric
               AND (j->>'end_lsn')::numeric <= :after_commit FROM c) AS commit_lsns,
       (SELECT to_timestamp((j->>'ts')::numeric / 1e6) BETWEEN now() - interval '1 minute'
                                                         AND now() + interval '1 minute'
        FROM c) AS ts_now
FROM r;
SELECT count(*) FROM pg_temp.changes();

-- Subtransactions: committed ones are part of the top-level transaction, rolled-back
-- ones vanish; seq is contiguous over what remains.
BEGIN;
INSERT INTO tx VALUES (20, 'top');
SAVEPOINT s1;
INSERT INTO tx VALUES (21, 'kept');
RELEASE SAVEPOINT s1;
SAVEPOINT s2;
INSERT INTO tx VALUES (22, 'rolled back');
ROLLBACK TO SAVEPOINT s2;
SAVEPOINT s3;
SAVEPOINT s4;
INSERT INTO tx VALUES (23, 'nested');
RELEASE SAVEPOINT s4;
RELEASE SAVEPOINT s3;
INSERT INTO tx VALUES (24, 'top again');
COMMIT;
SELECT * FROM pg_temp.changes('transactions', 'on');

-- A rolled-back transaction writes nothing.
BEGIN;
INSERT INTO tx VALUES (30, 'never');
ROLLBACK;
SELECT * FROM pg_temp.changes('transactions', 'on');

-- A transaction without changes writes nothing, not even begin/commit.
BEGIN;
SELECT 'xid' FROM pg_current_xact_id();
COMMIT;
SELECT * FROM pg_temp.changes('transactions', 'on');

-- Prepared transactions are written when COMMIT PREPARED is decoded, with the
-- commit's LSN; ROLLBACK PREPARED writes nothing.
BEGIN;
INSERT INTO tx VALUES (40, 'prepared');
PREPARE TRANSACTION 'p1';
BEGIN;
INSERT INTO tx VALUES (41, 'prepared, rolled back');
PREPARE TRANSACTION 'p2';
SELECT * FROM pg_temp.changes('transactions', 'on');
SELECT pg_current_wal_insert_lsn() - '0/0' AS before_commit \gset
COMMIT PREPARED 'p1';
ROLLBACK PREPARED 'p2';
SELECT bool_and((data::jsonb->>'lsn')::numeric >= :before_commit) AS lsn_of_commit_prepared
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL, 'transactions', 'on');
SELECT * FROM pg_temp.changes('transactions', 'on');

DROP TABLE tx;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
