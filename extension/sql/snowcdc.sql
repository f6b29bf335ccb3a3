/*
 * snowcdc.sql: the SQL side of the snowcdc extension (CREATE EXTENSION snowcdc).
 *
 * What it installs, all in schema snowcdc:
 *   setup_check(), setup_ok()    is this server ready for snowcdc, and how to fix it if not
 *   slot_health                  one row per snowcdc replication slot: lag, retained WAL
 *   heartbeat()                  a logical message that lets an idle database's slot advance
 *   encode_rows(), encode_row()  `r` (snapshot read) records, made by the plugin's own encoder
 *   snapshot_seq(), snapshot_ranges()   helpers for parallel initial snapshots
 *   request_snapshot(), cancel_snapshot(), snapshot_requests   re-snapshot of one table while
 *                                streaming (1.1), and the shipper's functions for it
 *
 * Versions and upgrades (the convention every release follows):
 *   - This file is the unversioned source of truth for the newest version. The build
 *     (Makefile.pgxs) copies it to extension/snowcdc--<version>.sql; nobody edits that copy.
 *   - The version number lives in one place: default_version in extension/snowcdc.control.
 *   - Each release that changes SQL objects adds one upgrade script
 *     extension/sql/snowcdc--<previous>--<new>.sql holding exactly the statements that turn the
 *     previous version's objects into these. It opens with the guard
 *       \echo Use "ALTER EXTENSION snowcdc UPDATE" to load this file. \quit
 *     and is installed by Makefile.pgxs (DATA picks up extension/sql/snowcdc--*--*.sql).
 *   - A release changes this file and adds its upgrade script in the same commit; CI installs
 *     the previous version, runs ALTER EXTENSION snowcdc UPDATE, and compares the result with a
 *     fresh install.
 *   - Never change an upgrade script that has been released.
 *   - Each released version stays installable (CREATE EXTENSION snowcdc VERSION '<old>'): its
 *     install script is kept, frozen, as extension/sql/snowcdc--<old>.sql (`git show
 *     v<old>:extension/sql/snowcdc.sql`); Makefile.pgxs installs every extension/sql/snowcdc--*.sql.
 */

\echo Use "CREATE EXTENSION snowcdc" to load this file. \quit

-- The schema is created by CREATE EXTENSION (control file: schema = snowcdc). Monitoring roles
-- may read the health view; everything else is granted explicitly below.
GRANT USAGE ON SCHEMA snowcdc TO pg_monitor;

--------------------------------------------------------------------------------------------------
-- setup_check: every server-side prerequisite of snowcdc, one row per check or per problem, each
-- problem with the statement that fixes it.
--------------------------------------------------------------------------------------------------

-- Names of output_plugin_libraries (15.19 and later), a list whose elements may be double-quoted
-- ("a,b" is one name); NULL when the server predates the setting (then any installed library may
-- be an output plugin).
CREATE FUNCTION snowcdc._output_plugin_libraries()
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN current_setting('output_plugin_libraries', true) IS NULL THEN NULL
                ELSE array(
                    SELECT CASE WHEN m[1] LIKE '"%'
                                THEN replace(substr(m[1], 2, length(m[1]) - 2), '""', '"')
                                ELSE btrim(m[1]) END
                    FROM regexp_matches(current_setting('output_plugin_libraries', true),
                                        '\s*("(?:[^"]|"")*"|[^,]*)\s*(?:,|$)', 'g') AS m
                    WHERE btrim(m[1]) <> '')
           END
$$;

-- Replica identity of every permanent table in the user schemas, as decoding will see it.
-- Only plain tables (relkind 'r') carry changes: partitions are plain tables, partitioned parents
-- have no rows of their own. Unlogged and temporary tables are never decoded.
CREATE FUNCTION snowcdc._replica_identity_problems()
RETURNS TABLE(check_name text, status text, detail text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH tables AS (
        SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relreplident,
               EXISTS (SELECT 1 FROM pg_index i
                       WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
               EXISTS (SELECT 1 FROM pg_index i
                       WHERE i.indrelid = c.oid AND i.indisreplident) AS has_identity_index,
               -- An index that REPLICA IDENTITY USING INDEX accepts: unique, immediate, valid,
               -- no predicate, no expressions, every key column NOT NULL.
               (SELECT format('%I', ic.relname)
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indisvalid
                  AND i.indpred IS NULL AND i.indexprs IS NULL
                  AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                  WHERE a.attrelid = c.oid
                                    AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])
                                    AND NOT a.attnotnull)
                ORDER BY ic.relname LIMIT 1) AS candidate_index
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relpersistence = 'p'
          AND n.nspname NOT IN ('information_schema', 'snowcdc') AND n.nspname !~ '^pg_'
    ),
    problems AS (
        SELECT name,
               CASE WHEN relreplident = 'f' THEN 'warning' ELSE 'error' END AS status,
               CASE
                   WHEN relreplident = 'n' THEN
                       format('table %s has REPLICA IDENTITY NOTHING: its updates and deletes '
                              'carry no key, so the warehouse cannot apply them', name)
                   WHEN relreplident = 'd' AND NOT has_pk THEN
                       format('table %s has no primary key and REPLICA IDENTITY DEFAULT: its '
                              'updates and deletes carry no key, so the warehouse cannot apply '
                              'them', name)
                   WHEN relreplident = 'i' AND NOT has_identity_index THEN
                       format('table %s has REPLICA IDENTITY USING INDEX but the index is gone: '
                              'its updates and deletes carry no key', name)
                   WHEN relreplident = 'f' AND NOT has_pk AND candidate_index IS NULL THEN
                       format('table %s has REPLICA IDENTITY FULL and no key: every column is '
                              'its key, and identical rows cannot be told apart', name)
               END AS detail,
               CASE
                   WHEN relreplident IN ('n', 'i') AND has_pk THEN
                       format('ALTER TABLE %s REPLICA IDENTITY DEFAULT;', name)
                   WHEN candidate_index IS NOT NULL THEN
                       format('ALTER TABLE %s REPLICA IDENTITY USING INDEX %s;', name,
                              candidate_index)
                   WHEN relreplident = 'f' THEN
                       format('ALTER TABLE %s ADD PRIMARY KEY (<key columns>);', name)
                   ELSE
                       format('ALTER TABLE %s ADD PRIMARY KEY (<key columns>); -- or, when the '
                              'table has no key: ALTER TABLE %s REPLICA IDENTITY FULL;',
                              name, name)
               END AS fix
        FROM tables
    )
    SELECT 'replica_identity', status, detail, fix
    FROM problems WHERE detail IS NOT NULL
    UNION ALL
    SELECT 'replica_identity', 'ok',
           format('all %s tables in user schemas have a usable replica identity',
                  (SELECT count(*) FROM tables)),
           NULL
    WHERE NOT EXISTS (SELECT 1 FROM problems WHERE detail IS NOT NULL)
    ORDER BY 3
$$;

-- status is 'ok', 'warning' (works, but look at it) or 'error' (snowcdc will not work until the
-- fix is applied). fix is NULL when status is 'ok'.
CREATE FUNCTION snowcdc.setup_check()
RETURNS TABLE(check_name text, status text, detail text, fix text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH settings AS (
        SELECT current_setting('wal_level') AS wal_level,
               snowcdc._output_plugin_libraries() AS plugins,
               current_setting('output_plugin_libraries', true) AS plugins_text,
               current_setting('max_replication_slots')::int AS max_slots,
               (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
               (SELECT count(*) FROM pg_replication_slots WHERE plugin = 'snowcdc')::int
                   AS snowcdc_slots,
               current_setting('max_wal_senders')::int AS max_senders,
               (SELECT count(*) FROM pg_stat_replication)::int AS used_senders
    )
    SELECT 'wal_level',
           CASE WHEN wal_level = 'logical' THEN 'ok' ELSE 'error' END,
           format('wal_level is %s%s', wal_level,
                  CASE WHEN wal_level <> 'logical' THEN '; logical decoding needs logical'
                  ELSE '' END),
           CASE WHEN wal_level <> 'logical' THEN
               'ALTER SYSTEM SET wal_level = logical; -- then restart the server'
           END
    FROM settings
    UNION ALL
    SELECT 'output_plugin_libraries',
           CASE WHEN plugins IS NULL OR 'snowcdc' = ANY (plugins) THEN 'ok' ELSE 'error' END,
           CASE WHEN plugins IS NULL THEN
                    'this server predates output_plugin_libraries: any installed library may be '
                    'an output plugin'
                ELSE format('output_plugin_libraries is ''%s''%s', plugins_text,
                            CASE WHEN 'snowcdc' = ANY (plugins) THEN ''
                                 ELSE '; snowcdc must be listed to be used as an output plugin'
                            END)
           END,
           CASE WHEN plugins IS NOT NULL AND NOT 'snowcdc' = ANY (plugins) THEN
               -- A list setting: one literal per name, or the whole list would be one name.
               format('ALTER SYSTEM SET output_plugin_libraries = %s; SELECT pg_reload_conf();',
                      (SELECT string_agg(quote_literal(name), ', ')
                       FROM unnest(plugins || 'snowcdc'::text) AS name))
           END
    FROM settings
    UNION ALL
    SELECT 'max_replication_slots',
           CASE WHEN used_slots < max_slots OR snowcdc_slots > 0 THEN 'ok' ELSE 'error' END,
           format('%s of %s replication slots in use, %s of them by snowcdc%s', used_slots,
                  max_slots, snowcdc_slots,
                  CASE WHEN used_slots >= max_slots AND snowcdc_slots = 0 THEN
                      '; no slot is left for snowcdc'
                  ELSE '' END),
           CASE WHEN used_slots >= max_slots AND snowcdc_slots = 0 THEN
               format('ALTER SYSTEM SET max_replication_slots = %s; -- then restart the server',
                      used_slots + 1)
           END
    FROM settings
    UNION ALL
    -- The shipper streams through one walsender; its own connection counts once it runs.
    SELECT 'max_wal_senders',
           CASE WHEN used_senders < max_senders THEN 'ok'
                WHEN snowcdc_slots > 0 THEN 'warning'
                ELSE 'error' END,
           format('%s of %s WAL senders in use%s', used_senders, max_senders,
                  CASE WHEN used_senders >= max_senders THEN
                      '; a new replication connection will be refused'
                  ELSE '' END),
           CASE WHEN used_senders >= max_senders THEN
               format('ALTER SYSTEM SET max_wal_senders = %s; -- then restart the server',
                      used_senders + 1)
           END
    FROM settings
    UNION ALL
    SELECT * FROM snowcdc._replica_identity_problems()
$$;

-- For scripts: true when no check is in status 'error'.
CREATE FUNCTION snowcdc.setup_ok()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NOT EXISTS (SELECT 1 FROM snowcdc.setup_check() WHERE status = 'error')
$$;

--------------------------------------------------------------------------------------------------
-- slot_health: one row per replication slot that decodes with snowcdc.
--------------------------------------------------------------------------------------------------

-- retained_wal_bytes: WAL the server keeps for the slot (current position - restart_lsn).
-- lag_bytes: WAL not yet confirmed by the shipper (current position - confirmed_flush_lsn).
-- Both are NULL for a slot that lost its WAL (wal_status 'lost': restart_lsn is NULL); such a
-- slot can never resume and must be dropped and the table snapshot taken again.
-- safe_wal_size is NULL unless max_slot_wal_keep_size limits retention.
-- On a standby the current position is the last replayed one.
CREATE VIEW snowcdc.slot_health AS
WITH here AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
)
SELECT s.slot_name,
       s.database,
       s.active,
       s.active_pid,
       s.restart_lsn,
       s.confirmed_flush_lsn,
       (here.lsn - s.restart_lsn)::bigint AS retained_wal_bytes,
       pg_size_pretty((here.lsn - s.restart_lsn)::bigint) AS retained_wal,
       (here.lsn - s.confirmed_flush_lsn)::bigint AS lag_bytes,
       pg_size_pretty((here.lsn - s.confirmed_flush_lsn)::bigint) AS lag,
       s.wal_status,
       s.safe_wal_size,
       pg_size_pretty(s.safe_wal_size) AS safe_wal
FROM pg_catalog.pg_replication_slots s CROSS JOIN here
WHERE s.plugin = 'snowcdc';

GRANT SELECT ON snowcdc.slot_health TO pg_monitor;

--------------------------------------------------------------------------------------------------
-- heartbeat: a transactional logical message with prefix 'snowcdc.heartbeat'.
--------------------------------------------------------------------------------------------------

-- Why: a slot's confirmed position only moves when the shipper confirms something it received.
-- On a database with no writes to captured tables (while other databases or unlogged activity
-- keep producing WAL), nothing arrives, the slot never advances and its retained WAL grows
-- without bound. Calling heartbeat() every few minutes gives the shipper a transaction to
-- deliver and confirm.
--
-- Why transactional: a transactional message belongs to a transaction with an xid, so it is
-- decoded between begin and commit and its commit carries an end_lsn that the shipper confirms
-- exactly like any data transaction: one code path for advancing the slot. A non-transactional
-- message is decoded outside any transaction, immediately, even if the caller later rolls back,
-- and has no commit to confirm. The cost is one xid per heartbeat.
--
-- content is {"ts":<microseconds since 1970-01-01 UTC>} of the call, so the shipper can also
-- measure end-to-end delay. Returns the LSN just past the message record: once the slot's
-- confirmed_flush_lsn is past it, the heartbeat went all the way through. The plugin emits it
-- only with its messages option on (and message-prefixes, if set, including snowcdc.heartbeat);
-- with messages off it skips the transaction as empty and the shipper sees nothing to confirm.
--
-- SECURITY DEFINER so that a non-superuser shipper role can be allowed to call it with
--   GRANT USAGE ON SCHEMA snowcdc TO <role>;
--   GRANT EXECUTE ON FUNCTION snowcdc.heartbeat() TO <role>;
-- nobody else may.
CREATE FUNCTION snowcdc.heartbeat()
RETURNS pg_lsn
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_logical_emit_message(
        true, 'snowcdc.heartbeat',
        format('{"ts":%s}',
               (extract(epoch FROM clock_timestamp()) * 1000000)::bigint))
$$;

REVOKE ALL ON FUNCTION snowcdc.heartbeat() FROM PUBLIC;

--------------------------------------------------------------------------------------------------
-- Snapshot records: the initial copy of a table as `r` records, made by the plugin's encoder.
--------------------------------------------------------------------------------------------------

-- How an initial snapshot is read (the shipper does this; any client can):
--   1. Create the slot on a replication connection with EXPORT_SNAPSHOT; keep that connection
--      open. Its consistent_point is the snapshot_lsn of every `r` record.
--   2. Plan ranges: SELECT * FROM snowcdc.snapshot_ranges('public.t', 4);
--   3. Each reader, on its own connection:
--        SET client_encoding = 'UTF8';  -- records are UTF-8 whatever the database encoding
--        BEGIN ISOLATION LEVEL REPEATABLE READ;
--        SET TRANSACTION SNAPSHOT '<exported snapshot name>';
--        COPY (SELECT snowcdc.encode_rows('public.t', '<consistent_point>', '<snapshot time>',
--                                         <block_from>, <block_to>)) TO STDOUT;
--        COMMIT;
--      Call encode_rows in the select list as above, not in FROM: in the select list its rows
--      stream to the client one by one; in FROM they would be collected in full first.
--      COPY's text format escapes backslashes, so read it with an escape-aware reader or use
--      COPY ... (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02') for the records byte for byte.
--
-- seq of an `r` record is snapshot_seq(ctid) = block * MaxHeapTuplesPerPage + (offset - 1),
-- MaxHeapTuplesPerPage being 291 for 8 kB pages: unique for the table, increasing in scan order,
-- the same in any split into ranges and on a retry; not contiguous. (cdc-record-v1 asks only
-- that (schema, table, lsn, seq) be unique for snapshot records.)

-- One `r` record per row of rel visible to the current snapshot in heap blocks
-- [block_from, block_to) (block_to NULL: to the end), in heap order.
-- numeric_as_string must match the slot's numeric-as-string option.
CREATE FUNCTION snowcdc.encode_rows(rel regclass, snapshot_lsn pg_lsn,
                                    snapshot_ts timestamptz DEFAULT now(),
                                    block_from bigint DEFAULT 0, block_to bigint DEFAULT NULL,
                                    numeric_as_string boolean DEFAULT false)
RETURNS SETOF text
LANGUAGE c STABLE
ROWS 1000
AS 'MODULE_PATHNAME', 'snowcdc_encode_rows';

-- The `r` record of one row given as the table's whole-row value, for readers that select rows
-- by key ranges or other conditions:
--   SELECT snowcdc.encode_row('public.t', t, '<lsn>', snowcdc.snapshot_seq(t.ctid), '<ts>')
--   FROM public.t AS t WHERE id >= 1000 AND id < 2000;
CREATE FUNCTION snowcdc.encode_row(rel regclass, "row" record, lsn pg_lsn, seq bigint,
                                   ts timestamptz DEFAULT now(),
                                   numeric_as_string boolean DEFAULT false)
RETURNS text
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'snowcdc_encode_row';

-- The seq encode_rows gives the row at tid.
CREATE FUNCTION snowcdc.snapshot_seq(tid)
RETURNS bigint
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'snowcdc_snapshot_seq';

-- Splits rel's heap into at most `parts` block ranges of about equal size for parallel
-- encode_rows readers. The last range is open-ended (block_to NULL) so that no block is missed
-- whatever the table's size by the time it is read.
CREATE FUNCTION snowcdc.snapshot_ranges(rel regclass, parts integer)
RETURNS TABLE(part integer, block_from bigint, block_to bigint)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    WITH size AS (
        SELECT pg_relation_size(rel) / current_setting('block_size')::bigint AS blocks,
               greatest(parts, 1) AS parts
    ),
    split AS (
        SELECT least(size.parts::bigint, greatest(size.blocks, 1)) AS n, size.blocks FROM size
    )
    SELECT i::integer,
           i * blocks / n,
           CASE WHEN i = n - 1 THEN NULL ELSE (i + 1) * blocks / n END
    FROM split, generate_series(0, n - 1) AS i
    ORDER BY i
$$;

-- Reading every row of a table is for the snapshot's owner: superusers, or roles granted it.
REVOKE ALL ON FUNCTION snowcdc.encode_rows(regclass, pg_lsn, timestamptz, bigint, bigint, boolean)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION snowcdc.encode_row(regclass, record, pg_lsn, bigint, timestamptz, boolean)
    FROM PUBLIC;

--------------------------------------------------------------------------------------------------
-- Re-snapshot of one table while streaming (version 1.1): requests and their progress.
--------------------------------------------------------------------------------------------------

-- How it works (the shipper does the work; see shipper/src/resnapshot.hpp for why it is correct):
--   SELECT snowcdc.request_snapshot('public.t');   -- or: snowcdc-shipper resnapshot --table public.t
-- records a request and emits a transactional 'snowcdc.snapshot_request' message, so a running
-- shipper wakes at once. The shipper reads the table in key order, chunk by chunk: it commits a
-- low watermark (snapshot_watermark), selects the chunk (snapshot_chunk), commits a high
-- watermark, and in the change stream drops every chunk row changed between the two watermarks;
-- the rest are `r` records at the high watermark's place. Only after the sink made a chunk
-- durable does the shipper record it (snapshot_advance): the request survives crashes and
-- restarts and resumes after its last durable chunk. snapshot_requests shows the progress;
-- cancel_snapshot stops it.
--
-- The state lives in snowcdc.snapshot_request, changed only through the SECURITY DEFINER
-- functions below (granted to nobody but the owner: GRANT EXECUTE to the shipper's role and to
-- whoever may request re-snapshots).
CREATE TABLE snowcdc.snapshot_request (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rel regclass NOT NULL,
    key_columns text[] NOT NULL,  -- the key the chunks are paged by, in index order
    status text NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'running', 'done', 'cancelled', 'failed')),
    requested timestamptz NOT NULL DEFAULT now(),
    requested_by name NOT NULL DEFAULT session_user,
    last_key text[],  -- key (text output of each column) of the last row durably shipped
    rows bigint NOT NULL DEFAULT 0,
    chunks bigint NOT NULL DEFAULT 0,
    updated timestamptz,
    finished timestamptz,
    detail text
);
REVOKE ALL ON snowcdc.snapshot_request FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('snowcdc.snapshot_request', '');
SELECT pg_catalog.pg_extension_config_dump('snowcdc.snapshot_request_id_seq', '');

-- The key a re-snapshot pages by: the primary key, or the replica-identity index. NULL when the
-- table has neither (or its changes would carry another key: REPLICA IDENTITY FULL/NOTHING).
CREATE FUNCTION snowcdc._snapshot_key(rel regclass)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array(SELECT a.attname::text
                 FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(att, n)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.att
                 ORDER BY k.n)
    FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
    WHERE c.oid = rel AND c.relkind = 'r'
      AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
$$;

-- Requests a re-snapshot of rel; returns the request's id (the pending one's, if rel already
-- has a request that is not finished).
CREATE FUNCTION snowcdc.request_snapshot(rel regclass)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key text[] := snowcdc._snapshot_key(rel);
    request bigint;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'table % has no primary key or replica identity index to read it by',
                        rel
            USING HINT = format('ALTER TABLE %s ADD PRIMARY KEY (<key columns>); or ALTER TABLE '
                                '%s REPLICA IDENTITY USING INDEX <unique index>; (a table with '
                                'REPLICA IDENTITY FULL or NOTHING cannot be re-snapshotted)',
                                rel, rel);
    END IF;
    SELECT r.id INTO request FROM snowcdc.snapshot_request r
    WHERE r.rel = request_snapshot.rel AND r.status IN ('requested', 'running');
    IF request IS NOT NULL THEN
        RAISE NOTICE 'table % already has re-snapshot request % pending', rel, request;
        RETURN request;
    END IF;
    INSERT INTO snowcdc.snapshot_request (rel, key_columns) VALUES (rel, key)
    RETURNING id INTO request;
    PERFORM pg_logical_emit_message(true, 'snowcdc.snapshot_request',
                                    format('{"id":%s,"status":"requested"}', request));
    RETURN request;
END
$$;

-- Cancels rel's pending re-snapshot; returns the number of requests cancelled (0 or 1).
CREATE FUNCTION snowcdc.cancel_snapshot(rel regclass)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    request bigint;
BEGIN
    UPDATE snowcdc.snapshot_request r
    SET status = 'cancelled', updated = now(), finished = now(),
        detail = format('cancelled by %s', session_user)
    WHERE r.rel = cancel_snapshot.rel AND r.status IN ('requested', 'running')
    RETURNING id INTO request;
    IF request IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pg_logical_emit_message(true, 'snowcdc.snapshot_request',
                                    format('{"id":%s,"status":"cancelled"}', request));
    RETURN 1;
END
$$;

-- For the shipper: one chunk of a request's table in key order, after the key `after` (NULL:
-- from the start), at most `max_rows` rows: each row's `r` record (lsn, seq 0 and ts as placeholders
-- the shipper replaces) and its key as text. It runs with the caller's rights (it only reads
-- snowcdc.snapshot_request), so the shipper ships only tables its role may SELECT: a request
-- never widens what leaves the database.
CREATE FUNCTION snowcdc.snapshot_chunk(request bigint, after text[], max_rows integer,
                                       numeric_as_string boolean DEFAULT false)
RETURNS TABLE(record text, key text[])
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    req snowcdc.snapshot_request;
    cols text;
    keys text;
    params text;
BEGIN
    SELECT * INTO req FROM snowcdc.snapshot_request r WHERE r.id = request;
    IF req.id IS NULL THEN
        RAISE EXCEPTION 're-snapshot request % does not exist', request;
    END IF;
    SELECT string_agg(format('t.%I', k.col), ', ' ORDER BY k.pos),
           string_agg(format('t.%I::text', k.col), ', ' ORDER BY k.pos),
           string_agg(format('$1[%s]::%s', k.pos, format_type(a.atttypid, a.atttypmod)), ', '
                      ORDER BY k.pos)
    INTO cols, keys, params
    FROM unnest(req.key_columns) WITH ORDINALITY AS k(col, pos)
    JOIN pg_attribute a ON a.attrelid = req.rel AND a.attname = k.col AND NOT a.attisdropped;
    RETURN QUERY EXECUTE format(
        'SELECT snowcdc.encode_row(%L::regclass, t, ''0/0'', 0, now(), %L), ARRAY[%s] '
        'FROM %s AS t %s ORDER BY %s LIMIT %s',
        req.rel, numeric_as_string, keys, req.rel,
        CASE WHEN after IS NULL THEN '' ELSE format('WHERE (%s) > (%s)', cols, params) END,
        cols, max_rows)
    USING after;
END
$$;

-- For the shipper: commits nothing itself; emits the transactional 'snowcdc.watermark'
-- message naming the request, the chunk, the mark ('low' or 'high') and the shipper's token.
CREATE FUNCTION snowcdc.snapshot_watermark(request bigint, chunk bigint, mark text, token text)
RETURNS pg_lsn
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_logical_emit_message(
        true, 'snowcdc.watermark',
        json_build_object('request', request, 'chunk', chunk, 'mark', mark,
                          'token', token)::text)
$$;

-- For the shipper: a pending request starts running (no-op unless it is 'requested').
CREATE FUNCTION snowcdc.snapshot_start(request bigint)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH u AS (
        UPDATE snowcdc.snapshot_request SET status = 'running', updated = now()
        WHERE id = request AND status IN ('requested', 'running') RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM u)
$$;

-- For the shipper: chunk `chunk` of a running request is durable in the sink up to `last_key`
-- with `rows` `r` records; `done` when it was the last. False when the request is no longer
-- running (cancelled meanwhile): then nothing changes.
CREATE FUNCTION snowcdc.snapshot_advance(request bigint, chunk bigint, last_key text[],
                                         rows bigint, done boolean)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH u AS (
        UPDATE snowcdc.snapshot_request r
        SET last_key = coalesce(snapshot_advance.last_key, r.last_key),
            rows = r.rows + snapshot_advance.rows, chunks = snapshot_advance.chunk,
            updated = now(),
            status = CASE WHEN done THEN 'done' ELSE 'running' END,
            finished = CASE WHEN done THEN now() END
        WHERE r.id = request AND r.status = 'running' RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM u)
$$;

-- For the shipper: a request that cannot go on (its table was dropped, ...), with the reason.
CREATE FUNCTION snowcdc.snapshot_fail(request bigint, detail text)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH u AS (
        UPDATE snowcdc.snapshot_request r
        SET status = 'failed', detail = snapshot_fail.detail, updated = now(), finished = now()
        WHERE r.id = request AND r.status IN ('requested', 'running') RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM u)
$$;

-- One row per re-snapshot request, newest first.
CREATE VIEW snowcdc.snapshot_requests AS
SELECT id, rel AS "table", requested, requested_by, status, rows, chunks, last_key, updated,
       finished, detail
FROM snowcdc.snapshot_request
ORDER BY id DESC;

REVOKE ALL ON snowcdc.snapshot_requests FROM PUBLIC;
GRANT SELECT ON snowcdc.snapshot_requests TO pg_monitor;
REVOKE ALL ON FUNCTION snowcdc.request_snapshot(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION snowcdc.cancel_snapshot(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION snowcdc.snapshot_chunk(bigint, text[], integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION snowcdc.snapshot_watermark(bigint, bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION snowcdc.snapshot_start(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION snowcdc.snapshot_advance(bigint, bigint, text[], bigint, boolean)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION snowcdc.snapshot_fail(bigint, text) FROM PUBLIC;
