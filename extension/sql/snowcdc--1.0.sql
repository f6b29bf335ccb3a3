/*
 * snowcdc.sql: the SQL side of the snowcdc extension (CREATE EXTENSION snowcdc).
 *
 * What it installs, all in schema snowcdc:
 *   setup_check(), setup_ok()    is this server ready for snowcdc, and how to fix it if not
 *   slot_health                  one row per snowcdc replication slot: lag, retained WAL
 *   heartbeat()                  a logical message that lets an idle database's slot advance
 *   encode_rows(), encode_row()  `r` (snapshot read) records, made by the plugin's own encoder
 *   snapshot_seq(), snapshot_ranges()   helpers for parallel initial snapshots
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
