-- shipper_role.sql: what a non-superuser role needs to run snowcdc-shipper, and nothing more.
--
--   CREATE ROLE snowcdc LOGIN REPLICATION;   -- once, by a superuser (or a CREATEROLE role)
--   psql -d <database> -v role=snowcdc -f sql/postgres/shipper_role.sql
--   psql -d <database> -v role=snowcdc -v schema=sales -f sql/postgres/shipper_role.sql
--
-- Run it as a superuser (or the owner of the extension and of the tables) in the database the
-- shipper streams, after CREATE EXTENSION snowcdc (version 1.1 for re-snapshots). Variables:
--   role    the shipper's role (required); it must have LOGIN and REPLICATION, and pg_hba.conf
--           must let it make a replication connection to the database ("host <db> ...").
--   schema  the schema whose tables the initial snapshot reads (default public). To snapshot
--           tables of more schemas, run the file once per schema (-v schema=<name>); running it
--           again is harmless. Tables the initial snapshot selects (snapshot_tables, or the
--           include/exclude settings) must all be readable, or the snapshot stops with
--           "permission denied for table ...".
-- It grants nothing on tables that do not exist yet: a table created later is streamed
-- without any grant (decoding needs none), but a new initial snapshot of it needs SELECT:
-- run this file again, or have the tables' owner run
--   ALTER DEFAULT PRIVILEGES IN SCHEMA <schema> GRANT SELECT ON TABLES TO <role>;
--
-- Not needed, and not granted: the REPLICATION attribute covers the slot (create, stream,
-- confirm) and reading pg_replication_slots; CONNECT on the database, snowcdc.snapshot_ranges,
-- snowcdc.snapshot_seq and snowcdc.setup_check are granted to PUBLIC by default. A re-snapshot
-- reads its table through snowcdc.snapshot_chunk with the shipper's own rights, so it needs the
-- same SELECT on the table as the initial snapshot: a request never widens what the shipper
-- may ship.

\set ON_ERROR_STOP on
\if :{?role}
\else
DO $$ BEGIN RAISE EXCEPTION 'shipper_role.sql: no role given'
    USING HINT = 'psql -v role=<shipper role> -f sql/postgres/shipper_role.sql'; END $$;
\endif
\if :{?schema}
\else
\set schema public
\endif

BEGIN;

-- Every snowcdc function and view below lives in schema snowcdc.
GRANT USAGE ON SCHEMA snowcdc TO :"role";

-- The idle heartbeat (heartbeat_interval): a logical message that lets an idle slot advance.
GRANT EXECUTE ON FUNCTION snowcdc.heartbeat() TO :"role";

-- The initial snapshot (snapshot = initial): encode_rows reads the tables in the exported
-- snapshot and checks SELECT on each; encode_row reads the rest of a block when a snapshot
-- resumes after a crash. (PUBLIC has USAGE on schema public by default; other schemas need it.)
GRANT USAGE ON SCHEMA :"schema" TO :"role";
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"role";
GRANT EXECUTE ON FUNCTION
    snowcdc.encode_rows(regclass, pg_lsn, timestamptz, bigint, bigint, boolean),
    snowcdc.encode_row(regclass, record, pg_lsn, bigint, timestamptz, boolean)
    TO :"role";

-- Re-snapshots (extension 1.1): the shipper finds pending requests and their status in the
-- snowcdc.snapshot_request table (read only; it changes them only through the functions), starts
-- one, writes the low and high watermarks around each chunk, reads the chunk, records each
-- durable chunk, and fails a request that cannot go on.
GRANT SELECT ON snowcdc.snapshot_request TO :"role";
GRANT EXECUTE ON FUNCTION
    snowcdc.snapshot_start(bigint),
    snowcdc.snapshot_watermark(bigint, bigint, text, text),
    snowcdc.snapshot_chunk(bigint, text[], integer, boolean),
    snowcdc.snapshot_advance(bigint, bigint, text[], bigint, boolean),
    snowcdc.snapshot_fail(bigint, text)
    TO :"role";

-- `snowcdc-shipper resnapshot --table T [--cancel]` run with the shipper's own settings: it
-- requests (or cancels) and then prints the table's requests from the view.
GRANT EXECUTE ON FUNCTION
    snowcdc.request_snapshot(regclass),
    snowcdc.cancel_snapshot(regclass)
    TO :"role";
GRANT SELECT ON snowcdc.snapshot_requests TO :"role";

COMMIT;

-- Optional, not needed to ship: `snowcdc-shipper check` runs snowcdc.setup_check(), which reads
-- output_plugin_libraries, a setting only superusers and pg_read_all_settings may see; without
-- it check warns and skips those checks. pg_read_all_settings shows every setting, so grant it
-- only if the role should run check:
--   GRANT pg_read_all_settings TO :"role";

-- Operators who only request and cancel re-snapshots (no replication, no table data): run these
-- by hand for such a role, e.g. with -v operator=<role> and psql's :"operator".
--   GRANT USAGE ON SCHEMA snowcdc TO :"operator";
--   GRANT EXECUTE ON FUNCTION snowcdc.request_snapshot(regclass),
--                             snowcdc.cancel_snapshot(regclass) TO :"operator";
--   GRANT SELECT ON snowcdc.snapshot_requests TO :"operator";   -- to watch the progress
-- (request_snapshot needs no privilege on the table itself: the shipper reads the table with
-- its own rights, so an operator can only have it ship tables the shipper's role may read.)
