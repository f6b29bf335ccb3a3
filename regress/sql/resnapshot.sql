-- resnapshot: requests for a re-snapshot of one table while streaming (1.1): request,
-- cancel, the view, the shipper's functions, and who may call them.
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'test_decoding');

CREATE TABLE rs (id int PRIMARY KEY, v text);
INSERT INTO rs SELECT g, 'v' || g FROM generate_series(1, 5) g;
CREATE TABLE rs_two (a text, b int, c text, PRIMARY KEY (a, b));
INSERT INTO rs_two VALUES ('x', 2, 'x2'), ('x', 10, 'x10'), ('y', 1, 'y1');
CREATE TABLE rs_ident (id int NOT NULL, v text);
CREATE UNIQUE INDEX rs_ident_id ON rs_ident (id);
ALTER TABLE rs_ident REPLICA IDENTITY USING INDEX rs_ident_id;
INSERT INTO rs_ident VALUES (7, 'seven');
CREATE TABLE rs_nokey (v text);
CREATE TABLE rs_full (id int PRIMARY KEY);
ALTER TABLE rs_full REPLICA IDENTITY FULL;

-- A request is a row and a transactional message that wakes the shipper.
SELECT snowcdc.request_snapshot('rs') AS rs_request \gset
SELECT data FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'include-xids', '0')
WHERE data LIKE 'message:%';
SELECT "table", status, rows, chunks, last_key, requested_by = current_user AS by_me
FROM snowcdc.snapshot_requests;
-- A second request for the same table returns the pending one.
SELECT snowcdc.request_snapshot('rs') = :rs_request AS same_request;

-- Keys: the primary key in index order, or the replica-identity index.
SELECT snowcdc.request_snapshot('rs_two') AS two_request \gset
SELECT snowcdc.request_snapshot('rs_ident') AS ident_request \gset
SELECT rel, key_columns FROM snowcdc.snapshot_request ORDER BY id;

-- Tables without a usable key are refused, naming the table and the fix.
SELECT snowcdc.request_snapshot('rs_nokey');
SELECT snowcdc.request_snapshot('rs_full');

-- Chunks in key order after the last key; records with placeholder lsn/seq (and ts, the
-- time of the call).
SELECT regexp_replace(record, '"ts":[0-9]+', '"ts":T') AS record, key
FROM snowcdc.snapshot_chunk(:rs_request, NULL, 2);
SELECT regexp_replace(record, '"ts":[0-9]+', '"ts":T') AS record, key
FROM snowcdc.snapshot_chunk(:rs_request, '{2}', 2);
SELECT regexp_replace(record, '"ts":[0-9]+', '"ts":T') AS record, key
FROM snowcdc.snapshot_chunk(:rs_request, '{5}', 2);
SELECT key FROM snowcdc.snapshot_chunk(:two_request, '{x,2}', 10);
SELECT key FROM snowcdc.snapshot_chunk(:ident_request, NULL, 10);

-- Watermarks are transactional messages.
SELECT 'marked' FROM snowcdc.snapshot_watermark(:rs_request, 1, 'low', 'tok');
SELECT data FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'include-xids', '0')
WHERE data LIKE 'message:%';

-- Progress: start, advance per durable chunk, done.
SELECT snowcdc.snapshot_start(:rs_request);
SELECT snowcdc.snapshot_advance(:rs_request, 1, '{2}', 2, false);
SELECT status, rows, chunks, last_key, finished IS NULL AS open FROM snowcdc.snapshot_requests
WHERE id = :rs_request;
SELECT snowcdc.snapshot_advance(:rs_request, 3, '{5}', 3, true);
SELECT status, rows, chunks, last_key, finished IS NULL AS open FROM snowcdc.snapshot_requests
WHERE id = :rs_request;
-- A finished request takes no more progress; a new request may start.
SELECT snowcdc.snapshot_advance(:rs_request, 4, '{6}', 1, true);
SELECT snowcdc.request_snapshot('rs') <> :rs_request AS new_request;

-- Cancel: the pending request of the table, and a message; nothing pending gives 0.
SELECT snowcdc.cancel_snapshot('rs');
SELECT snowcdc.cancel_snapshot('rs');
SELECT snowcdc.snapshot_start(id) FROM snowcdc.snapshot_request WHERE rel = 'rs'::regclass
  AND status = 'cancelled';
SELECT data FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, 'include-xids', '0')
WHERE data LIKE 'message:%';
SELECT snowcdc.snapshot_fail(:two_request, 'table dropped');
SELECT "table", status, detail IS NOT NULL AS has_detail FROM snowcdc.snapshot_requests
ORDER BY id;

-- Permissions: revoked from PUBLIC; the table only through the functions. requested_by is
-- the session user.
CREATE ROLE rs_nobody;
GRANT USAGE ON SCHEMA snowcdc TO rs_nobody;
GRANT SELECT ON rs TO rs_nobody;
SET ROLE rs_nobody;
SELECT snowcdc.request_snapshot('rs');
SELECT snowcdc.cancel_snapshot('rs');
SELECT * FROM snowcdc.snapshot_requests;
SELECT * FROM snowcdc.snapshot_request;
UPDATE snowcdc.snapshot_request SET status = 'done';
SELECT * FROM snowcdc.snapshot_chunk(1, NULL, 1);
SELECT snowcdc.snapshot_watermark(1, 1, 'low', 'x');
SELECT snowcdc.snapshot_advance(1, 1, NULL, 0, true);
RESET ROLE;
-- Granted explicitly, a role may request (the function runs as the extension's owner).
GRANT EXECUTE ON FUNCTION snowcdc.request_snapshot(regclass) TO rs_nobody;
SET ROLE rs_nobody;
SELECT snowcdc.request_snapshot('rs_two') > 0 AS requested;
RESET ROLE;
SELECT "table", requested_by FROM snowcdc.snapshot_requests WHERE status = 'requested'
ORDER BY id;
-- The chunk runs with the caller's rights: a role that may not read rs_two gets none of its
-- rows, whoever requested it.
SELECT id AS two_id FROM snowcdc.snapshot_request WHERE rel = 'rs_two'::regclass
ORDER BY id DESC LIMIT 1 \gset
GRANT SELECT ON snowcdc.snapshot_request TO rs_nobody;
GRANT EXECUTE ON FUNCTION snowcdc.snapshot_chunk(bigint, text[], integer, boolean) TO rs_nobody;
GRANT EXECUTE ON FUNCTION snowcdc.encode_row(regclass, record, pg_lsn, bigint, timestamptz, boolean)
    TO rs_nobody;
SET ROLE rs_nobody;
SELECT count(*) FROM snowcdc.snapshot_chunk(:two_id, NULL, 10);
RESET ROLE;
GRANT SELECT ON rs_two TO rs_nobody;
SET ROLE rs_nobody;
SELECT count(*) > 0 AS reads_granted_table FROM snowcdc.snapshot_chunk(:two_id, NULL, 10);
RESET ROLE;
REVOKE ALL ON rs_two FROM rs_nobody;
REVOKE ALL ON snowcdc.snapshot_request FROM rs_nobody;
REVOKE ALL ON FUNCTION snowcdc.snapshot_chunk(bigint, text[], integer, boolean) FROM rs_nobody;
REVOKE ALL ON FUNCTION snowcdc.encode_row(regclass, record, pg_lsn, bigint, timestamptz, boolean)
    FROM rs_nobody;

REVOKE ALL ON rs FROM rs_nobody;
REVOKE ALL ON SCHEMA snowcdc FROM rs_nobody;
REVOKE ALL ON FUNCTION snowcdc.request_snapshot(regclass) FROM rs_nobody;
DROP ROLE rs_nobody;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
DROP TABLE rs, rs_two, rs_ident, rs_nokey, rs_full;
DROP EXTENSION snowcdc;
