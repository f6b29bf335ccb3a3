-- ddl: the relation cache follows schema changes between changes of one slot.
SET synchronous_commit = on;
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'snowcdc');
\i include/changes.sql

CREATE TABLE evolve (id int PRIMARY KEY, a int);
INSERT INTO evolve VALUES (1, 10);
ALTER TABLE evolve ADD COLUMN b text;
INSERT INTO evolve VALUES (2, 20, 'two');
ALTER TABLE evolve ADD COLUMN c int DEFAULT 7;
INSERT INTO evolve (id, a) VALUES (3, 30);
-- An old row updated after the column was added carries the default.
UPDATE evolve SET a = 11 WHERE id = 1;
SELECT * FROM pg_temp.changes();

-- Drop, rename, type change, all decoded in one call after the fact.
ALTER TABLE evolve DROP COLUMN b;
INSERT INTO evolve VALUES (4, 40, 8);
ALTER TABLE evolve RENAME COLUMN a TO alpha;
INSERT INTO evolve VALUES (5, 50, 9);
ALTER TABLE evolve ALTER COLUMN alpha TYPE numeric(10,2);
INSERT INTO evolve VALUES (6, 60.5, 10);
ALTER TABLE evolve ALTER COLUMN alpha TYPE text;
INSERT INTO evolve VALUES (7, 'seventy', 11);
SELECT * FROM pg_temp.changes();

-- DDL and DML in one transaction: each change uses the schema it was made with.
BEGIN;
INSERT INTO evolve VALUES (8, 'before', 1);
ALTER TABLE evolve ADD COLUMN d bool;
INSERT INTO evolve VALUES (9, 'after', 2, true);
ALTER TABLE evolve DROP COLUMN c;
INSERT INTO evolve VALUES (10, 'after drop', false);
COMMIT;
SELECT * FROM pg_temp.changes('transactions', 'on');

-- A renamed table and a changed primary key.
ALTER TABLE evolve RENAME TO evolved;
ALTER TABLE evolved DROP CONSTRAINT evolve_pkey;
ALTER TABLE evolved ADD PRIMARY KEY (id, alpha);
UPDATE evolved SET d = NULL WHERE id = 10;
SELECT * FROM pg_temp.changes();

DROP TABLE evolved;
SELECT * FROM pg_temp.changes();
SELECT 'stop' FROM pg_drop_replication_slot('regression_slot');
