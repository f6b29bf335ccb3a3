-- Shared by the feature tests: the slot's records with LSNs, xids and commit times masked
-- (transactions.sql asserts them). Included with \i, so its lines echo into each .out.
CREATE FUNCTION pg_temp.changes(VARIADIC options text[] DEFAULT '{}') RETURNS SETOF text
LANGUAGE sql AS $$
    SELECT regexp_replace(data, '"(lsn|end_lsn|xid|ts)":[0-9]+', '"\1":N', 'g')
    FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, VARIADIC options)
    WHERE data::json IS NOT NULL  -- every record must parse as JSON
$$;
