-- upgrade: installing the oldest available version and updating it with ALTER EXTENSION ...
-- UPDATE gives exactly what a fresh install of the newest version gives: the same objects,
-- definitions and privileges. Every released version's install script stays installed
-- (extension/sql/snowcdc--<version>.sql, frozen), so this really installs 1.0 and runs its
-- upgrade scripts (1.0 -> 1.1: re-snapshot requests).
SET synchronous_commit = on;
\set VERBOSITY terse

-- Every member object of the installed extension with its definition and privileges.
CREATE FUNCTION pg_temp.snowcdc_objects()
RETURNS TABLE(object text, definition text)
LANGUAGE sql AS $$
    SELECT pg_describe_object(d.classid, d.objid, d.objsubid),
           CASE WHEN d.classid = 'pg_proc'::regclass THEN
                    pg_get_functiondef(d.objid) || coalesce(p.proacl::text, '')
                WHEN d.classid = 'pg_class'::regclass THEN
                    coalesce(pg_get_viewdef(d.objid), '') || coalesce(c.relacl::text, '')
           END
    FROM pg_depend d
    LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
    LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'snowcdc')
$$;

SELECT version AS oldest_version FROM pg_available_extension_versions
WHERE name = 'snowcdc' ORDER BY string_to_array(version, '.')::int[] LIMIT 1 \gset
SELECT :'oldest_version' AS oldest_version;

CREATE EXTENSION snowcdc;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.snowcdc_objects();
SELECT object FROM fresh ORDER BY object;
DROP EXTENSION snowcdc;

CREATE EXTENSION snowcdc VERSION :'oldest_version';
SELECT extversion AS installed_version FROM pg_extension WHERE extname = 'snowcdc';
ALTER EXTENSION snowcdc UPDATE;
SELECT e.extversion = a.default_version AS at_default_version
FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
WHERE e.extname = 'snowcdc';
CREATE TEMP TABLE updated AS SELECT * FROM pg_temp.snowcdc_objects();

SELECT 'only in a fresh install' AS difference, object, definition
FROM (TABLE fresh EXCEPT TABLE updated) f
UNION ALL
SELECT 'only after the update', object, definition
FROM (TABLE updated EXCEPT TABLE fresh) u;

-- Every version from the oldest has a path to the default version.
SELECT count(*) AS versions_without_path
FROM pg_available_extension_versions v, pg_available_extensions a
WHERE v.name = 'snowcdc' AND a.name = 'snowcdc' AND v.version <> a.default_version
  AND NOT EXISTS (SELECT 1 FROM pg_extension_update_paths('snowcdc') p
                  WHERE p.source = v.version AND p.target = a.default_version
                    AND p.path IS NOT NULL);

DROP TABLE fresh, updated;
DROP EXTENSION snowcdc;
