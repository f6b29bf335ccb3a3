-- slot_health: one row per snowcdc slot, with lag and retained WAL; NULLs for a lost slot.
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
SELECT 'init' FROM pg_create_logical_replication_slot('regression_other', 'test_decoding');

-- Only slots of the snowcdc plugin are listed.
SELECT slot_name, database = current_database() AS this_database, active, active_pid,
       restart_lsn IS NOT NULL AS has_restart_lsn,
       confirmed_flush_lsn IS NOT NULL AS has_confirmed_flush_lsn,
       wal_status, safe_wal_size, safe_wal
FROM snowcdc.slot_health WHERE slot_name LIKE 'regression%';

-- Unconsumed changes show as lag; the retained WAL covers at least the lag.
CREATE TABLE slot_health_rows (id int PRIMARY KEY, v text);
INSERT INTO slot_health_rows SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g;
SELECT lag_bytes > 200000 AS lagging,
       retained_wal_bytes >= lag_bytes AS retained_covers_lag,
       lag = pg_size_pretty(lag_bytes) AND retained_wal = pg_size_pretty(retained_wal_bytes)
           AS pretty_sizes_match
FROM snowcdc.slot_health WHERE slot_name = 'regression_slot';

-- Once the changes are consumed, the lag is gone.
SELECT count(*) AS decoded FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);
SELECT lag_bytes < 200000 AS caught_up, lag_bytes >= 0 AS not_negative
FROM snowcdc.slot_health WHERE slot_name = 'regression_slot';

-- A slot that lost its WAL to max_slot_wal_keep_size has no restart_lsn; the view shows NULL
-- sizes rather than failing. The checkpointer applies the setting after a reload, so repeat the
-- checkpoint until it has invalidated the slot.
ALTER SYSTEM SET max_slot_wal_keep_size = '1MB';
SELECT pg_reload_conf();
DO $$
BEGIN
    FOR attempt IN 1..50 LOOP
        INSERT INTO slot_health_rows VALUES (-attempt, 'x');
        PERFORM pg_switch_wal();
        INSERT INTO slot_health_rows VALUES (-attempt - 1000, 'x');
        PERFORM pg_switch_wal();
        CHECKPOINT;
        EXIT WHEN (SELECT wal_status = 'lost' FROM snowcdc.slot_health
                   WHERE slot_name = 'regression_slot');
    END LOOP;
END
$$;
SELECT slot_name, wal_status, restart_lsn, retained_wal_bytes, retained_wal,
       safe_wal_size IS NULL AS no_safe_size
FROM snowcdc.slot_health WHERE slot_name = 'regression_slot';
ALTER SYSTEM RESET max_slot_wal_keep_size;
SELECT pg_reload_conf();

DROP TABLE slot_health_rows;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
SELECT 'stop' FROM pg_drop_replication_slot('regression_other');
DROP EXTENSION snowcdc;
