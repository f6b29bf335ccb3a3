"""Suite `snapshot`: reading whole tables, the initial snapshot next to COPY.

The same tables for every contender, loaded and vacuumed (hint bits set, visibility map
built) before any timed run, then read once untimed (which also checks every contender's
output has one line per row and warms the OS cache). Contenders, each run once per round in
an order rotated by one each round:

- copy_devnull: `COPY t TO '/dev/null'`, server side (the issue's baseline);
- copy_stdout: `COPY t TO STDOUT` into psql writing to /dev/null (a client-side reader);
- encode_rows_devnull / encode_rows_stdout: the same two for
  `COPY (SELECT snowcdc.encode_rows(...)) TO ...`, with the COPY options the shipper uses
  (csv with delimiter and quote bytes that JSON never holds raw, so records pass unchanged):
  the encoder alone, without the shipper;
- shipper_p1 / shipper_p2: `snowcdc-shipper run` with snapshot = initial and sink ndjson-dir
  on a tmpfs, snapshot_parallelism 1 and 2, on a fresh slot per run, timed from its start to
  its log line "initial snapshot done" (slot creation and planning included); the stream
  files must hold one record per row, or the run stops;
- shipper_snowpipe_p2: the same with sink snowpipe against the test double, once the
  Snowpipe sink can hold a snapshot (otherwise reported as not measured, with the reason).

Seconds are wall seconds (psql's start-up included, some 10 ms); server CPU is user + system
of every process of the cluster over the run (as in the decode suite); client CPU is psql's
or the shipper's own.
"""

import datetime
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from . import cluster as cluster_mod
from . import stats

DBNAME = "bench_snapshot"
# The record envelope's lsn and ts: any fixed values do, every contender gets the same.
RECORD_LSN = "0/1000000"
RECORD_TS = "2026-01-01 00:00:00+00"
# The shipper's csv COPY of encode_rows (shipper/src/snapshot.cpp, CopyRecords), which it
# uses when the database encoding is not UTF8 (binary otherwise).
COPY_OPTIONS = "(FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
# Ranges the shipper's plan splits each table into (snapshot_range_blocks is set to match),
# so that two readers have ranges to share; the default (16384 blocks, 128 MB) would give
# these tables one to three ranges of unequal size.
SHIPPER_RANGES = 8
# Where the ndjson-dir sink writes: a tmpfs when there is one (fsync costs nothing there).
SCRATCH_PARENTS = ("/dev/shm", None)

SIZES = {
    "small": {"pgbench_scale": 2, "mixed_rows": 50_000, "wide_rows": 50_000,
              "toast_rows": 1_000},
    "full": {"pgbench_scale": 20, "mixed_rows": 1_000_000, "wide_rows": 1_000_000,
             "toast_rows": 20_000},
}
TOAST_DOC_REPEAT = 256  # 32 hex characters x 256 = 8 kB, out of line, uncompressed


class Table:
    """One table to read: how to create and fill it, and what it is."""

    def __init__(self, name, description, setup):
        self.name = name
        self.description = description
        self.setup = setup  # callable(cluster)
        self.rows = 0
        self.heap_bytes = 0   # main fork
        self.toast_bytes = 0  # TOAST table and its index
        self.copy_bytes = 0   # COPY text output
        self.record_bytes = 0  # encode_rows output, newlines included


def tables(scale):
    sizes = SIZES[scale]

    def pgbench(cluster):
        cluster_mod.run([os.path.join(cluster.bindir, "pgbench"), "-i", "-q", "-s",
                         str(sizes["pgbench_scale"])] + cluster.conn_args(DBNAME))

    def mixed(cluster):
        cluster.psql(
            """
            CREATE TABLE mixed (
                id bigint PRIMARY KEY, i4 int, i8 bigint, amount numeric(12,2), ratio float8,
                flag bool, name text, code varchar(40), created timestamptz, day date,
                uid uuid, doc jsonb, raw bytea);
            INSERT INTO mixed
              SELECT g, g, g * 1000003::bigint, g * 1.25, g / 7.0, g %% 2 = 0, 'name ' || g,
                     md5(g::text), timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second',
                     date '2026-01-01' + g %% 365, md5(g::text)::uuid,
                     jsonb_build_object('k', g, 'tags', jsonb_build_array('a', 'b')),
                     decode(md5(g::text), 'hex')
              FROM generate_series(1, %d) g;
            """ % sizes["mixed_rows"], DBNAME)

    def wide(cluster):
        cluster.psql(
            """
            CREATE TABLE wide (
                id bigint PRIMARY KEY, c1 int, c2 int, c3 bigint, c4 bigint, c5 float8,
                c6 float8, c7 text, c8 text, c9 text, c10 numeric, c11 timestamptz,
                c12 bool, c13 int, c14 text, c15 bigint);
            INSERT INTO wide
              SELECT g, g, -g, g * 7, g * 11, g * 0.5, g / 3.0, 'a' || g, 'bb' || g,
                     md5(g::text), g * 1.01,
                     timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute',
                     g %% 3 = 0, g %% 100, 'status-' || g %% 5, g
              FROM generate_series(1, %d) g;
            """ % sizes["wide_rows"], DBNAME)

    def toasty(cluster):
        cluster.psql(
            """
            CREATE TABLE toasty (id int PRIMARY KEY, counter int, doc text);
            ALTER TABLE toasty ALTER COLUMN doc SET STORAGE EXTERNAL;
            INSERT INTO toasty SELECT g, 0, repeat(md5(g::text), %d)
              FROM generate_series(1, %d) g;
            """ % (TOAST_DOC_REPEAT, sizes["toast_rows"]), DBNAME)

    return [
        Table("pgbench_accounts", "`pgbench -i -s %d`: 4 narrow columns (int, int, int, "
              "char(84))" % sizes["pgbench_scale"], pgbench),
        Table("mixed", "the decode suite's 13-column mixed-type table", mixed),
        Table("wide", "the decode suite's 16-column table", wide),
        Table("toasty", "an 8 kB uncompressed out-of-line TOASTed text per row", toasty),
    ]


class Sample:
    def __init__(self, wall, server_cpu, client_cpu, read_wall=None):
        self.wall = wall
        self.server_cpu = server_cpu
        self.client_cpu = client_cpu
        self.read_wall = read_wall  # shipper: from "initial snapshot started" to "done"
        self.double_cpu = None  # Snowpipe runs: the test double's CPU, in no other column


class Contender:
    def __init__(self, name, note, kind, parallelism=0):
        self.name = name
        self.note = note
        self.kind = kind  # sql | shipper | snowpipe
        self.parallelism = parallelism
        self.unavailable = None


def contenders():
    return [
        Contender("copy_devnull", "`COPY t TO '/dev/null'`, server side", "sql"),
        Contender("copy_stdout", "`COPY t TO STDOUT`, psql writing to /dev/null", "sql"),
        Contender("encode_rows_devnull", "`COPY (SELECT snowcdc.encode_rows(...)) TO "
                  "'/dev/null'`, the encoder alone, server side", "sql"),
        Contender("encode_rows_stdout", "`COPY (SELECT snowcdc.encode_rows(...)) TO STDOUT` "
                  "in csv, psql writing to /dev/null: how the shipper reads in a database "
                  "whose encoding is not UTF8", "sql"),
        Contender("encode_rows_binary", "`COPY (SELECT snowcdc.encode_rows(...)) TO STDOUT "
                  "(FORMAT binary)`, psql writing to /dev/null: how the shipper reads in a "
                  "UTF8 database", "sql"),
        Contender("shipper_p1", "`snowcdc-shipper run`, snapshot = initial, sink ndjson-dir "
                  "on tmpfs, snapshot_parallelism 1", "shipper", 1),
        Contender("shipper_p2", "the same, snapshot_parallelism 2", "shipper", 2),
        Contender("shipper_snowpipe_p2", "`snowcdc-shipper run`, snapshot = initial, sink "
                  "snowpipe against the test double (--commit-delay-ms 0), "
                  "snapshot_parallelism 2", "snowpipe", 2),
    ]


def _encode_rows_query(table):
    return "SELECT snowcdc.encode_rows('public.%s'::regclass, '%s', '%s')" % (
        table.name, RECORD_LSN, RECORD_TS)


def _copy_sql(contender, table):
    if contender.name == "copy_devnull":
        return "COPY public.%s TO '/dev/null'" % table.name
    if contender.name == "copy_stdout":
        return "COPY public.%s TO STDOUT" % table.name
    if contender.name == "encode_rows_binary":
        return "COPY (%s) TO STDOUT (FORMAT binary)" % _encode_rows_query(table)
    target = "'/dev/null'" if contender.name == "encode_rows_devnull" else "STDOUT"
    return "COPY (%s) TO %s %s" % (_encode_rows_query(table), target, COPY_OPTIONS)


def _log_time(line):
    """The ts of a shipper log line, as seconds since the epoch."""
    stamp = json.loads(line)["ts"]
    parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return parsed.replace(tzinfo=datetime.timezone.utc).timestamp()


def _proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / cluster_mod.CLOCK_TICKS


class SnapshotResult:
    def __init__(self, table):
        self.table = table
        self.samples = {}  # contender name -> [Sample]


class SnapshotSuite:
    def __init__(self, cluster, scale, rounds, shipper, double, log):
        self.cluster = cluster
        self.scale = scale
        self.rounds = rounds
        self.shipper = shipper
        self.double = double
        self.log = log
        self.contenders = contenders()
        self.work = tempfile.mkdtemp(prefix="snowcdc-bench-snapshot-")
        self.key = None
        self.runs = 0

    def _bin(self, name):
        return os.path.join(self.cluster.bindir, name)

    def _psql_argv(self, sql):
        return [self._bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"] + \
            self.cluster.conn_args(DBNAME) + ["-c", sql]

    # ---- setup ----

    def _load(self, table):
        started = time.monotonic()
        table.setup(self.cluster)
        self.cluster.psql("VACUUM (FREEZE, ANALYZE) public.%s" % table.name, DBNAME)
        self.cluster.psql("CHECKPOINT")
        row = self.cluster.psql(
            "SELECT count(*), pg_relation_size(c.oid), "
            "coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) "
            "FROM public.%s, pg_class c WHERE c.oid = 'public.%s'::regclass GROUP BY c.oid"
            % (table.name, table.name), DBNAME)
        rows, heap, toast = (int(value) for value in row.split("|"))
        table.rows, table.heap_bytes, table.toast_bytes = rows, heap, toast
        self.log("snapshot: %s: %d rows, %.1f MB heap, %.1f MB TOAST, loaded in %.1f s"
                 % (table.name, rows, heap / 1e6, toast / 1e6, time.monotonic() - started))

    def _count_output(self, sql):
        """Bytes and lines of what a COPY ... TO STDOUT sends (untimed)."""
        proc = subprocess.Popen(self._psql_argv(sql), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        size, lines = 0, 0
        while True:
            chunk = proc.stdout.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            lines += chunk.count(b"\n")
        stderr = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise RuntimeError("%s failed: %s" % (sql, stderr.strip()))
        return size, lines

    def _check_outputs(self, table):
        """One untimed read per output kind: one line per row, and the output sizes."""
        for name, attr in (("copy_stdout", "copy_bytes"), ("encode_rows_stdout", "record_bytes")):
            contender = next(c for c in self.contenders if c.name == name)
            size, lines = self._count_output(_copy_sql(contender, table))
            if lines != table.rows:
                raise RuntimeError("%s of %s gave %d lines for %d rows"
                                   % (name, table.name, lines, table.rows))
            setattr(table, attr, size)

    # ---- timed runs ----

    def prepare(self, tables):
        """Creates the database and loads and checks `tables`."""
        self.cluster.psql("CREATE DATABASE %s" % DBNAME)
        self.cluster.psql("CREATE EXTENSION snowcdc", DBNAME)
        for table in tables:
            self._load(table)
            self._check_outputs(table)

    def run_sql(self, contender, table):
        self.cluster.wait_sessions_gone()
        cpu_before = self.cluster.cpu_seconds()
        started = time.monotonic()
        proc = subprocess.Popen(self._psql_argv(_copy_sql(contender, table)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("%s failed: %s" % (contender.name,
                                                  proc.stderr.read().decode(errors="replace")))
        self.cluster.wait_sessions_gone()
        return Sample(wall, self.cluster.cpu_seconds() - cpu_before,
                      usage.ru_utime + usage.ru_stime)

    def _scratch_dir(self):
        for parent in SCRATCH_PARENTS:
            if parent is None or os.path.isdir(parent):
                return tempfile.mkdtemp(prefix="snowcdc-bench-snap-", dir=parent)
        raise AssertionError("unreachable")

    def _start_double(self):
        if self.key is None:
            self.key = os.path.join(self.work, "rsa_key.p8")
            cluster_mod.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                             "rsa_keygen_bits:2048", "-out", self.key])
            cluster_mod.run(["openssl", "pkey", "-in", self.key, "-pubout", "-out",
                             self.key + ".pub"])
        out = os.path.join(self.work, "double.out")
        proc = subprocess.Popen(
            [self.double, "--public-key", self.key + ".pub", "--commit-delay-ms", "0"],
            stdout=open(out, "w"), stderr=open(os.path.join(self.work, "double.log"), "w"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the test double exited (%d); see %s"
                                   % (proc.returncode, self.work))
            with open(out) as text:
                for line in text:
                    if line.startswith("listening on "):
                        return proc, line[len("listening on "):].strip()
            time.sleep(0.02)
        proc.kill()
        raise RuntimeError("the test double did not start within 30 s; see %s" % self.work)

    def _committed_snapshot_rows(self, url):
        """`r` rows the double has committed."""
        with urllib.request.urlopen(url + "/_double/committed", timeout=300) as response:
            body = response.read()
        # Fast path: the double embeds each row's JSON as the shipper sent it, which is the
        # record as the extension wrote it (no spaces); parse every line only otherwise.
        count = body.count(b'"op":"r"')
        if count == body.count(b"\n"):
            return count
        count = 0
        for line in body.splitlines():
            record = json.loads(line)
            row = record.get("row", record) if isinstance(record, dict) else record
            if isinstance(row, str):
                row = json.loads(row)
            if row.get("op") == "r":
                count += 1
        return count

    def _run_shipper(self, contender, table):
        """One initial snapshot of `table` by the shipper; returns a Sample, or None when the
        contender turned out to be unavailable (contender.unavailable says why)."""
        self.runs += 1
        slot = "snap_%d" % self.runs
        out_dir = self._scratch_dir()
        log_path = os.path.join(self.work, "shipper-%s.log" % slot)
        blocks = max(1, -(-table.heap_bytes // 8192 // SHIPPER_RANGES))
        env = dict(os.environ)
        env.update({
            "SNOWCDC_CONNINFO": "host=127.0.0.1 port=%d user=postgres dbname=%s"
                                % (self.cluster.port, DBNAME),
            "SNOWCDC_SLOT": slot,
            "SNOWCDC_SNAPSHOT": "initial",
            "SNOWCDC_SNAPSHOT_TABLES": "public." + table.name,
            "SNOWCDC_SNAPSHOT_PARALLELISM": str(contender.parallelism),
            "SNOWCDC_SNAPSHOT_RANGE_BLOCKS": str(blocks),
            "SNOWCDC_SINK": "ndjson-dir",
            "SNOWCDC_OUTPUT_DIR": out_dir,
        })
        double = None
        if contender.kind == "snowpipe":
            double, url = self._start_double()
            env.update({
                "SNOWCDC_SINK": "snowpipe",
                "SNOWCDC_STATE_DIR": out_dir,  # where the Snowpipe sink keeps the plan
                "SNOWFLAKE_URL": url, "SNOWFLAKE_ACCOUNT": "TESTACCT",
                "SNOWFLAKE_USER": "SHIPPER", "SNOWFLAKE_PRIVATE_KEY_FILE": self.key,
                "SNOWFLAKE_DATABASE": "CDC_DB", "SNOWFLAKE_SCHEMA": "PUBLIC",
                "SNOWFLAKE_PIPE": "CDC_PIPE",
            })
        self.cluster.wait_sessions_gone()
        cpu_before = self.cluster.cpu_seconds()
        started_epoch = time.time()
        done_line = None
        proc = subprocess.Popen([self.shipper, "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=open(log_path, "w"))
        try:
            done_line, read_started = self._wait_done(proc, log_path, contender)
            if done_line is not None:
                client_cpu = _proc_cpu_seconds(proc.pid)
                proc.send_signal(signal.SIGTERM)
                if proc.wait(timeout=120) != 0:
                    raise RuntimeError("the shipper exited with %d on SIGTERM; see %s"
                                       % (proc.returncode, log_path))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if done_line is None or contender.unavailable is not None:
                if double is not None:
                    double.kill()
                    double.wait()
                shutil.rmtree(out_dir, ignore_errors=True)
        if contender.unavailable is not None:
            self.cluster.psql("SELECT pg_drop_replication_slot(slot_name) FROM "
                              "pg_replication_slots WHERE slot_name = '%s'" % slot, DBNAME)
            return None
        self.cluster.wait_sessions_gone()
        server_cpu = self.cluster.cpu_seconds() - cpu_before
        done = _log_time(done_line)
        sample = Sample(done - started_epoch, server_cpu, client_cpu,
                        done - _log_time(read_started))
        if double is not None:
            sample.double_cpu = _proc_cpu_seconds(double.pid)
        try:
            if contender.kind == "snowpipe":
                # "done" should mean committed; allow the double a moment all the same
                deadline = time.monotonic() + 60
                written = self._committed_snapshot_rows(url)
                while written != table.rows and time.monotonic() < deadline:
                    time.sleep(0.5)
                    written = self._committed_snapshot_rows(url)
            else:
                written = 0
                for path in glob.glob(os.path.join(out_dir, "snap_*.ndjson")):
                    with open(path, "rb") as stream:
                        for chunk in iter(lambda: stream.read(1 << 20), b""):
                            written += chunk.count(b"\n")
            if written != table.rows:
                raise RuntimeError("%s wrote %d snapshot records for the %d rows of %s; "
                                   "see %s" % (contender.name, written, table.rows,
                                               table.name, log_path))
        finally:
            if double is not None:
                double.kill()
                double.wait()
            shutil.rmtree(out_dir, ignore_errors=True)
        self.cluster.psql("SELECT pg_drop_replication_slot('%s')" % slot, DBNAME)
        os.unlink(log_path)
        return sample

    def _wait_done(self, proc, log_path, contender, timeout=1800):
        """The shipper's "initial snapshot done" and "initial snapshot started" log lines;
        (None, None) when it refused the snapshot for this sink (contender unavailable)."""
        deadline = time.monotonic() + timeout
        started_line = None
        seen = 0
        while True:
            with open(log_path) as log_file:
                log_file.seek(seen)
                text = log_file.read()
            # Only whole lines: the rest is read again next time.
            complete = text[:text.rfind("\n") + 1]
            seen += len(complete.encode())
            for line in complete.splitlines():
                if '"initial snapshot started"' in line:
                    started_line = line
                elif '"initial snapshot done"' in line:
                    return line, started_line
                elif "needs a sink that can hold a snapshot" in line:
                    contender.unavailable = json.loads(line)["msg"]
                    proc.wait(timeout=60)
                    return None, None
            if proc.poll() is not None:
                raise RuntimeError("the shipper exited (%d) before its snapshot was done; "
                                   "see %s" % (proc.returncode, log_path))
            if time.monotonic() > deadline:
                raise RuntimeError("the shipper's snapshot was not done within %d s; see %s"
                                   % (timeout, log_path))
            time.sleep(0.01)

    def _run(self, contender, table):
        if contender.kind == "sql":
            return self.run_sql(contender, table)
        return self._run_shipper(contender, table)

    def run(self):
        results = []
        to_read = tables(self.scale)
        self.prepare(to_read)
        for table in to_read:
            result = SnapshotResult(table)
            for round_index in range(self.rounds):
                offset = round_index % len(self.contenders)
                order = self.contenders[offset:] + self.contenders[:offset]
                for contender in order:
                    if contender.unavailable is not None:
                        continue
                    if contender.kind == "snowpipe" and not os.access(self.double, os.X_OK):
                        contender.unavailable = "no test double at %s" % self.double
                        continue
                    if contender.kind == "snowpipe" and result.samples.get(contender.name):
                        continue  # slow (the double parses every row): one run per table
                    sample = self._run(contender, table)
                    if sample is None:
                        continue
                    result.samples.setdefault(contender.name, []).append(sample)
                    self.log("snapshot: %s %s round %d: %.2f s wall, %.2f s server CPU, "
                             "%.2f s client CPU" % (table.name, contender.name,
                                                    round_index + 1, sample.wall,
                                                    sample.server_cpu, sample.client_cpu))
            results.append(result)
        shutil.rmtree(self.work, ignore_errors=True)
        return results


def _median(samples, attr):
    return stats.median([getattr(s, attr) for s in samples])


def markdown(results, contenders_used, header_lines):
    lines = ["## Snapshot: reading whole tables", ""] + header_lines + [
        "",
        "Each table is loaded, vacuumed (`VACUUM (FREEZE, ANALYZE)`) and read once untimed "
        "(which checks that COPY and encode_rows give one line per row, and warms the OS "
        "cache); then every contender reads it once per round. Medians. rows/s and table "
        "MB/s count the table's heap plus its TOAST table; output MB/s counts what the "
        "contender writes (COPY text, or records and newlines). **x COPY** is the "
        "contender's rows/s over `COPY t TO '/dev/null'`'s (the issue's baseline; target for "
        "the shipper's snapshot: at least 0.7), **x STDOUT** over `COPY t TO STDOUT`'s; "
        "**CPU x COPY** is COPY's CPU seconds (server and client) over the contender's, the "
        "work ratio, which other engineers' load on the machine disturbs less than wall time. "
        "Shipper seconds run from its start to the log line \"initial snapshot done\" "
        "(connecting, creating the slot and planning included; \"read s\" is from "
        "\"initial snapshot started\" to done), with snapshot_range_blocks set so that the "
        "table splits into %d ranges; each run's stream files must hold exactly one record "
        "per row (the Snowpipe run, once per table: the double must have committed one `r` "
        "row per row). Server CPU: every process of the cluster over the run; client CPU: psql's "
        "or the shipper's." % SHIPPER_RANGES,
        "",
    ]
    unavailable = ["- %s: not measured, %s" % (c.name, c.unavailable)
                   for c in contenders_used if c.unavailable is not None]
    lines += unavailable + ([""] if unavailable else []) + ["Contenders: " + "; ".join(
        "%s (%s)" % (c.name, c.note) for c in contenders_used if c.unavailable is None) + ".",
        ""]
    summary = ["| contender | " + " | ".join(r.table.name for r in results) + " |",
               "|---" * (1 + len(results)) + "|"]
    for contender in contenders_used:
        if contender.unavailable is not None:
            continue
        cells = []
        for result in results:
            base = result.samples.get("copy_devnull")
            mine = result.samples.get(contender.name)
            if not base or not mine:
                cells.append("n/a")
                continue
            cells.append("%.2f (%.2f)" % (
                _median(base, "wall") / _median(mine, "wall"),
                stats.median([b.server_cpu + b.client_cpu for b in base])
                / stats.median([m.server_cpu + m.client_cpu for m in mine])))
        summary.append("| %s | %s |" % (contender.name, " | ".join(cells)))
    lines += ["Throughput as a multiple of `COPY t TO '/dev/null'`'s (its wall seconds over "
              "the contender's), and in parentheses the work ratio (its CPU seconds over the "
              "contender's, server and client):", ""] + summary + [""]
    targets = []
    for result in results:
        base, mine = result.samples.get("copy_devnull"), result.samples.get("shipper_p2")
        if base and mine:
            ratio = _median(base, "wall") / _median(mine, "wall")
            targets.append("%s %.2f (%s)" % (result.table.name, ratio,
                                             "met" if ratio >= 0.7 else "MISSED"))
    if targets:
        lines += ["Target (reported, not asserted): the shipper's snapshot (shipper_p2, sink "
                  "ndjson-dir) at least 0.7x COPY: " + ", ".join(targets) + ".", ""]
    for result in results:
        table = result.table
        table_mb = (table.heap_bytes + table.toast_bytes) / 1e6
        lines += [
            "### %s" % table.name,
            "",
            "%s. %d rows, %.1f MB heap + %.1f MB TOAST; COPY text %.1f MB, records %.1f MB "
            "(%.0f bytes per row)." % (
                table.description, table.rows, table.heap_bytes / 1e6, table.toast_bytes / 1e6,
                table.copy_bytes / 1e6, table.record_bytes / 1e6,
                table.record_bytes / max(1, table.rows)),
            "",
            "| contender | seconds | read s | server CPU s | client CPU s | rows/s "
            "| table MB/s | output MB/s | x COPY | x STDOUT | CPU x COPY |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        base = stats.median([s.wall for s in result.samples.get("copy_devnull", [])])
        stdout = stats.median([s.wall for s in result.samples.get("copy_stdout", [])])
        base_cpu = stats.median([s.server_cpu + s.client_cpu
                                 for s in result.samples.get("copy_devnull", [])])
        for contender in contenders_used:
            samples = result.samples.get(contender.name)
            if not samples:
                continue
            wall = _median(samples, "wall")
            reads = [s.read_wall for s in samples if s.read_wall is not None]
            output = table.copy_bytes if contender.name.startswith("copy") else \
                table.record_bytes
            if contender.name == "encode_rows_binary":
                # no newline, a field count and a length per row; header and trailer
                output = table.record_bytes + 5 * table.rows + 21
            cpu = stats.median([s.server_cpu + s.client_cpu for s in samples])
            lines.append("| %s | %.2f | %s | %.2f | %.2f | %.0f | %.1f | %.1f | %.2f | %.2f | %.2f |"
                         % (contender.name, wall, "%.2f" % stats.median(reads) if reads else "-",
                            _median(samples, "server_cpu"), _median(samples, "client_cpu"),
                            table.rows / wall, table_mb / wall, output / 1e6 / wall, base / wall,
                            stdout / wall, base_cpu / cpu))
        doubles = [s.double_cpu for s in result.samples.get("shipper_snowpipe_p2", [])
                   if s.double_cpu is not None]
        if doubles:
            lines += ["", "shipper_snowpipe_p2: the test double used %.2f s of CPU besides "
                      "(parsing and keeping every row), on the same cores."
                      % stats.median(doubles)]
        lines.append("")
    return "\n".join(lines)


def raw_samples(results):
    lines = ["### Snapshot raw samples (wall s / server CPU s / client CPU s, in round order)",
             ""]
    for result in results:
        for name, samples in result.samples.items():
            lines.append("- %s, %s: %s" % (result.table.name, name, ", ".join(
                "%.3f/%.2f/%.2f" % (s.wall, s.server_cpu, s.client_cpu) for s in samples)))
    return "\n".join(lines) + "\n"
