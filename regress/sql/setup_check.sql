-- setup_check: every prerequisite of snowcdc is reported, each problem with its fix.
SET synchronous_commit = on;
\set VERBOSITY terse
CREATE EXTENSION snowcdc;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');

-- The suite's instance is configured for snowcdc: every server check passes.
SELECT check_name, status, fix FROM snowcdc.setup_check()
WHERE check_name <> 'replica_identity' ORDER BY check_name;
SELECT detail FROM snowcdc.setup_check()
WHERE check_name IN ('wal_level', 'output_plugin_libraries') ORDER BY check_name;
SELECT detail ~ '^[0-9]+ of 10 replication slots in use, [1-9][0-9]* of them by snowcdc$'
       AS slots_counted
FROM snowcdc.setup_check() WHERE check_name = 'max_replication_slots';

-- Without snowcdc in output_plugin_libraries, the fix keeps the other plugins and adds it.
SET output_plugin_libraries = pgoutput, "test_decoding";
SELECT status, detail, fix FROM snowcdc.setup_check() WHERE check_name = 'output_plugin_libraries';
RESET output_plugin_libraries;

-- One table per kind of replica-identity problem, and tables that are fine or never decoded.
CREATE SCHEMA "Setup Check";
CREATE TABLE "Setup Check".no_key (a int, b text);
CREATE TABLE "Setup Check".unique_not_null (a int NOT NULL UNIQUE, b text);
CREATE TABLE "Setup Check".unique_nullable (a int UNIQUE, b text);
CREATE TABLE "Setup Check"."Identity Nothing" (a int PRIMARY KEY);
ALTER TABLE "Setup Check"."Identity Nothing" REPLICA IDENTITY NOTHING;
CREATE TABLE "Setup Check".full_no_key (a int);
ALTER TABLE "Setup Check".full_no_key REPLICA IDENTITY FULL;
CREATE TABLE "Setup Check".index_gone (a int NOT NULL, b int);
CREATE UNIQUE INDEX index_gone_a ON "Setup Check".index_gone (a);
ALTER TABLE "Setup Check".index_gone REPLICA IDENTITY USING INDEX index_gone_a;
DROP INDEX "Setup Check".index_gone_a;
CREATE TABLE "Setup Check".parted (a int) PARTITION BY RANGE (a);
CREATE TABLE "Setup Check".parted_1 PARTITION OF "Setup Check".parted FOR VALUES FROM (0) TO (10);
CREATE TABLE "Setup Check".with_pk (a int PRIMARY KEY);
CREATE TABLE "Setup Check".full_with_pk (a int PRIMARY KEY, b text);
ALTER TABLE "Setup Check".full_with_pk REPLICA IDENTITY FULL;
CREATE UNLOGGED TABLE "Setup Check".unlogged_no_key (a int);
CREATE TEMP TABLE temp_no_key (a int);

SELECT status, detail, fix FROM snowcdc.setup_check()
WHERE check_name = 'replica_identity' AND detail LIKE '%"Setup Check"%' ORDER BY detail;
SELECT snowcdc.setup_ok();

-- Apply every fix that needs no choice of columns, and add keys where one must be chosen.
SELECT fix FROM snowcdc.setup_check()
WHERE detail LIKE '%"Setup Check"%' AND fix NOT LIKE '%<key columns>%' ORDER BY detail \gexec
ALTER TABLE "Setup Check".no_key ADD PRIMARY KEY (a);
ALTER TABLE "Setup Check".unique_nullable ALTER a SET NOT NULL;
ALTER TABLE "Setup Check".full_no_key ADD PRIMARY KEY (a);
ALTER TABLE "Setup Check".parted_1 ADD PRIMARY KEY (a);
ALTER TABLE "Setup Check".index_gone ADD PRIMARY KEY (a);

-- index_gone got a primary key but still points at its dropped index: now the fix is exact.
SELECT status, detail, fix FROM snowcdc.setup_check()
WHERE detail LIKE '%"Setup Check"%' ORDER BY detail;
-- unique_nullable's column is NOT NULL now, so its unique index qualifies.
SELECT fix FROM snowcdc.setup_check() WHERE detail LIKE '%"Setup Check"%' ORDER BY detail \gexec
SELECT count(*) AS problems_left FROM snowcdc.setup_check()
WHERE detail LIKE '%"Setup Check"%';

DROP SCHEMA "Setup Check" CASCADE;
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
DROP EXTENSION snowcdc;
