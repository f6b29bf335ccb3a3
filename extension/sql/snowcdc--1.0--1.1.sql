-- snowcdc 1.0 -> 1.1: re-snapshot of one table while streaming (requests, chunks, watermarks).
\echo Use "ALTER EXTENSION snowcdc UPDATE" to load this file. \quit

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
