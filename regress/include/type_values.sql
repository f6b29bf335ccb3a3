-- Shared by the types_* tests: decode a table (id int, v <type>) and show each value's JSON
-- text next to Postgres's own text of it. Included with \i, so its lines echo into each .out.
-- The exact JSON text of column v of each c record of a table (id int, v <type>).
CREATE FUNCTION pg_temp.vals(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (id int, json text) LANGUAGE sql AS $$
    SELECT m[1]::int, m[2]
    FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL, VARIADIC options) c,
         regexp_match(c.data, '"after":\{"id":([0-9]+),"v":(.*)\}\}$') m
    WHERE c.data::json IS NOT NULL  -- every record must parse as JSON
$$;
-- Each decoded row of table tbl (id int, v <type>) next to Postgres's own text of v.
CREATE FUNCTION pg_temp.show(tbl regclass, VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (id int, postgres text, json text) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT j.id, t.v::text, j.json FROM pg_temp.vals(VARIADIC $1) j
         LEFT JOIN %s t USING (id) ORDER BY j.id', tbl) USING options;
END
$$;
