"""Workloads: what is written to the WAL that the contenders then decode.

Each workload has a setup (run before the replication slots exist, so its WAL is not
decoded) and a body (run after, so every contender decodes exactly its WAL), and knows how
many changes (insert, update, delete) the body produces, which the harness checks against
the count the floor plugin reports.
"""

import os

from . import cluster as cluster_mod

# Sizes per scale. "small" checks that the harness works in about a minute; "full" is the
# real measurement.
SIZES = {
    # For instruction counts under callgrind, which runs some 50 times slower.
    "tiny": {
        "pgbench_transactions": 250,
        "mixed_batches": 2,
        "wide_batches": 2,
        "big_rows": 10000,
        "toast_rows": 200,
        "toast_rounds": 2,
    },
    "small": {
        "pgbench_transactions": 1000,
        "mixed_batches": 10,
        "wide_batches": 10,
        "big_rows": 50000,
        "toast_rows": 500,
        "toast_rounds": 2,
    },
    "full": {
        "pgbench_transactions": 20000,
        "mixed_batches": 200,
        "wide_batches": 100,
        "big_rows": 1000000,
        "toast_rows": 5000,
        "toast_rounds": 4,
    },
}

MIXED_BATCH_ROWS = 500  # per batch: 500 inserts, 250 updates, 125 deletes, one transaction
WIDE_BATCH_ROWS = 1000  # per batch: 1000 inserts in one transaction, later 1000 updates
TOAST_TXN_ROWS = 100  # rows updated per transaction in the TOAST workload
TOAST_DOC_REPEAT = 256  # 32 hex characters x 256 = 8 kB, stored out of line, uncompressed


class Workload:
    name = ""
    description = ""

    def __init__(self, sizes):
        self.sizes = sizes

    def setup(self, cluster, dbname):
        """Creates tables and loads rows that are not part of the decoded WAL."""

    def run(self, cluster, dbname):
        """Writes the WAL to decode."""
        raise NotImplementedError

    def expected_changes(self):
        raise NotImplementedError


class Pgbench(Workload):
    name = "pgbench"
    description = "pgbench TPC-B-like, narrow rows: 3 updates + 1 insert per transaction"

    def setup(self, cluster, dbname):
        cluster_mod.run(
            [os.path.join(cluster.bindir, "pgbench"), "-i", "-q", "-s", "1"]
            + cluster.conn_args(dbname)
        )

    def run(self, cluster, dbname):
        cluster_mod.run(
            [os.path.join(cluster.bindir, "pgbench"), "-n", "-c", "1",
             "-t", str(self.sizes["pgbench_transactions"])]
            + cluster.conn_args(dbname)
        )

    def expected_changes(self):
        return 4 * self.sizes["pgbench_transactions"]


class Mixed(Workload):
    name = "mixed"
    description = (
        "13-column mixed-type table (int, bigint, numeric, float8, bool, text, varchar, "
        "timestamptz, date, uuid, jsonb, bytea); per transaction 500 inserts, 250 updates, "
        "125 deletes"
    )

    def setup(self, cluster, dbname):
        cluster.psql(
            """
            CREATE TABLE mixed (
                id bigint PRIMARY KEY, i4 int, i8 bigint, amount numeric(12,2), ratio float8,
                flag bool, name text, code varchar(40), created timestamptz, day date,
                uid uuid, doc jsonb, raw bytea);
            """,
            dbname,
        )

    def run(self, cluster, dbname):
        rows = MIXED_BATCH_ROWS
        cluster.psql(
            """
            DO $$
            BEGIN
              FOR b IN 0..%(batches)d - 1 LOOP
                INSERT INTO mixed
                  SELECT b * %(rows)d + g, g, g * 1000003::bigint, g * 1.25, g / 7.0, g %% 2 = 0,
                         'name ' || g, md5(g::text), timestamptz '2026-01-01 00:00:00+00'
                         + g * interval '1 second', date '2026-01-01' + g %% 365,
                         md5(g::text)::uuid, jsonb_build_object('k', g, 'tags',
                         jsonb_build_array('a', 'b')), decode(md5(g::text), 'hex')
                  FROM generate_series(1, %(rows)d) g;
                UPDATE mixed SET i4 = i4 + 1, name = name || '!', doc = doc || '{"u": 1}'
                  WHERE id BETWEEN b * %(rows)d + 1 AND b * %(rows)d + %(rows)d / 2;
                DELETE FROM mixed
                  WHERE id BETWEEN b * %(rows)d + 1 AND b * %(rows)d + %(rows)d / 4;
                COMMIT;
              END LOOP;
            END $$;
            """
            % {"batches": self.sizes["mixed_batches"], "rows": rows},
            dbname,
        )

    def expected_changes(self):
        rows = MIXED_BATCH_ROWS
        return self.sizes["mixed_batches"] * (rows + rows // 2 + rows // 4)


class Wide(Workload):
    name = "wide"
    description = "16-column table; 1000 inserts per transaction, then 1000 updates of 3 columns"

    def setup(self, cluster, dbname):
        cluster.psql(
            """
            CREATE TABLE wide (
                id bigint PRIMARY KEY, c1 int, c2 int, c3 bigint, c4 bigint, c5 float8,
                c6 float8, c7 text, c8 text, c9 text, c10 numeric, c11 timestamptz,
                c12 bool, c13 int, c14 text, c15 bigint);
            """,
            dbname,
        )

    def run(self, cluster, dbname):
        rows = WIDE_BATCH_ROWS
        cluster.psql(
            """
            DO $$
            BEGIN
              FOR b IN 0..%(batches)d - 1 LOOP
                INSERT INTO wide
                  SELECT b * %(rows)d + g, g, -g, g * 7, g * 11, g * 0.5, g / 3.0, 'a' || g,
                         'bb' || g, md5(g::text), g * 1.01, timestamptz '2026-01-01 00:00:00+00'
                         + g * interval '1 minute', g %% 3 = 0, g %% 100, 'status-' || g %% 5, g
                  FROM generate_series(1, %(rows)d) g;
                COMMIT;
              END LOOP;
              FOR b IN 0..%(batches)d - 1 LOOP
                UPDATE wide SET c1 = c1 + 1, c7 = c7 || 'x', c11 = c11 + interval '1 day'
                  WHERE id BETWEEN b * %(rows)d + 1 AND (b + 1) * %(rows)d;
                COMMIT;
              END LOOP;
            END $$;
            """
            % {"batches": self.sizes["wide_batches"], "rows": rows},
            dbname,
        )

    def expected_changes(self):
        return 2 * self.sizes["wide_batches"] * WIDE_BATCH_ROWS


class BigTransaction(Workload):
    name = "big_txn"
    description = "one transaction inserting many narrow rows (a million at full scale)"

    def setup(self, cluster, dbname):
        cluster.psql("CREATE TABLE big (id bigint PRIMARY KEY, v int, t text);", dbname)

    def run(self, cluster, dbname):
        cluster.psql(
            "INSERT INTO big SELECT g, g %% 1000, 'row ' || g FROM generate_series(1, %d) g;"
            % self.sizes["big_rows"],
            dbname,
        )

    def expected_changes(self):
        return self.sizes["big_rows"]


class ToastUpdates(Workload):
    name = "toast"
    description = (
        "updates of rows with an 8 kB out-of-line TOASTed text: rounds of updates leaving it "
        "unchanged, then rewriting it in every 10th row; 100 rows per transaction"
    )

    def setup(self, cluster, dbname):
        cluster.psql(
            """
            CREATE TABLE toasty (id int PRIMARY KEY, counter int, doc text);
            ALTER TABLE toasty ALTER COLUMN doc SET STORAGE EXTERNAL;
            INSERT INTO toasty SELECT g, 0, repeat(md5(g::text), %d)
              FROM generate_series(1, %d) g;
            """
            % (TOAST_DOC_REPEAT, self.sizes["toast_rows"]),
            dbname,
        )

    def run(self, cluster, dbname):
        cluster.psql(
            """
            DO $$
            BEGIN
              FOR r IN 1..%(rounds)d LOOP
                FOR b IN 0..(%(rows)d - 1) / %(txn)d LOOP
                  UPDATE toasty SET counter = counter + 1
                    WHERE id BETWEEN b * %(txn)d + 1 AND (b + 1) * %(txn)d;
                  COMMIT;
                END LOOP;
              END LOOP;
              FOR b IN 0..(%(rows)d - 1) / (%(txn)d * 10) LOOP
                UPDATE toasty SET doc = repeat(md5((id + 1)::text), %(repeat)d)
                  WHERE id %% 10 = 0 AND id BETWEEN b * %(txn)d * 10 + 1
                                          AND (b + 1) * %(txn)d * 10;
                COMMIT;
              END LOOP;
            END $$;
            """
            % {"rounds": self.sizes["toast_rounds"], "rows": self.sizes["toast_rows"],
               "txn": TOAST_TXN_ROWS, "repeat": TOAST_DOC_REPEAT},
            dbname,
        )

    def expected_changes(self):
        rows = self.sizes["toast_rows"]
        return self.sizes["toast_rounds"] * rows + rows // 10


ALL = (Pgbench, Mixed, Wide, BigTransaction, ToastUpdates)


def for_scale(scale):
    return [workload(SIZES[scale]) for workload in ALL]
