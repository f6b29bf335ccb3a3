"""Suite `e2e`: the shipper end to end, Postgres -> snowcdc-shipper -> Snowpipe test double.

Throughput: N inserts are written while nothing reads the slot, then the shipper (with the
double at --commit-delay-ms 0) catches up until the slot's confirmed_flush_lsn reaches the
end LSN; pg_recvlogical with the same plugin options decodes the same WAL from a copy of the
slot to /dev/null (the floor of tailing). The shipper's CPU (user + system) and peak RSS
(VmHWM) come from /proc/<pid> before it is stopped.

Latency: with the shipper caught up, pgbench -R writes a steady rate of small transactions
for a while; the test double keeps no commit time per row, so latency is read at the
shipper's side, from the difference of its snowcdc_commit_to_durable_seconds histogram
(/metrics) before and after: per transaction, commit on the server -> the double reported
the rows committed, percentiles interpolated linearly inside the histogram's buckets.
"""

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
from .decode import wait_flushed

DBNAME = "bench_e2e"
SLOT = "e2e"
RECV_SLOTS = ("e2e_recv_1", "e2e_recv_2")  # copies made before any reader, one per run
ROWS_PER_TXN = 1000  # catch-up workload: inserts per transaction
# scale -> (changes to catch up on, latency rate in transactions/s, rows per transaction,
# latency seconds)
SIZES = {"small": (50_000, 1000, 5, 10), "full": (500_000, 1000, 5, 60)}
PLUGIN_OPTIONS = (("transactions", "on"), ("messages", "on"))


def _proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / cluster_mod.CLOCK_TICKS


def _proc_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/%d/status" % pid)


def _wait_line(path, prefix, proc, timeout):
    """Waits until the file at path has a line starting with prefix; returns its rest."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited (code %s) before printing %r" %
                               (proc.args[0], proc.returncode, prefix))
        with open(path) as out:
            for line in out:
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
        time.sleep(0.05)
    raise RuntimeError("%s printed no %r within %.0f s" % (proc.args[0], prefix, timeout))


def _histogram(metrics_text, name):
    """Cumulative buckets {le: count} of one unlabelled histogram in Prometheus text."""
    buckets = {}
    for line in metrics_text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line[line.index('le="') + 4:line.index('"}')]
            buckets[float("inf") if le == "+Inf" else float(le)] = float(line.split()[-1])
    if not buckets:
        raise RuntimeError("no %s histogram in the shipper's /metrics" % name)
    return buckets


def histogram_quantile(before, after, q):
    """q-quantile of the observations between two scrapes, linear inside the bucket."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return None, 0
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts):
        if cumulative >= rank:
            if bound == float("inf"):
                return lower, int(total)  # beyond the last finite bound: report that bound
            inside = cumulative - below
            fraction = (rank - below) / inside if inside else 1.0
            return lower + (bound - lower) * fraction, int(total)
        lower, below = bound, cumulative
    return lower, int(total)


def _scrape(metrics_port):
    url = "http://127.0.0.1:%d/metrics" % metrics_port
    with urllib.request.urlopen(url, timeout=10) as response:
        return _histogram(response.read().decode(), "snowcdc_commit_to_durable_seconds")


class E2eResult:
    def __init__(self):
        self.changes = 0
        self.recv_wall = []
        self.recv_cpu = []
        self.shipper_durable_wall = None
        self.shipper_durable_cpu = None
        self.shipper_wall = None
        self.shipper_cpu = None
        self.shipper_hwm_kib = None
        self.shipper_hwm_end_kib = None
        self.committed_rows = None
        self.latency = {}  # rate, seconds, transactions, p50, p99


class E2eSuite:
    def __init__(self, cluster, scale, shipper, double, log):
        self.cluster = cluster
        self.changes, self.rate, self.rows_per_txn, self.latency_seconds = SIZES[scale]
        self.shipper = shipper
        self.double = double
        self.log = log
        self.work = tempfile.mkdtemp(prefix="snowcdc-bench-e2e-")
        self.procs = []

    def _bin(self, name):
        return os.path.join(self.cluster.bindir, name)

    def _slot_confirmed(self, slot):
        return self.cluster.psql(
            "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'" % slot,
            DBNAME)

    def _reached(self, slot, lsn):
        return self.cluster.psql(
            "SELECT confirmed_flush_lsn >= '%s' FROM pg_replication_slots WHERE slot_name = '%s'"
            % (lsn, slot), DBNAME) == "t"

    def _pgbench_script(self, name, sql):
        path = os.path.join(self.work, name)
        with open(path, "w") as script:
            script.write(sql + "\n")
        return path

    def _recvlogical(self, slot, end_lsn):
        """Times pg_recvlogical on a copy of the slot made before any reader; returns (wall,
        cpu, the end of the last commit it confirmed)."""
        argv = [self._bin("pg_recvlogical")] + self.cluster.conn_args(DBNAME) + [
            "-S", slot, "--start", "--endpos", end_lsn, "--no-loop", "-f", "/dev/null"]
        for key, value in PLUGIN_OPTIONS:
            argv += ["-o", "%s=%s" % (key, value)]
        started = time.monotonic()
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError("pg_recvlogical failed (%d): %s" % (proc.returncode, stderr))
        # pg_recvlogical confirms the end of the last commit record, which lies short of
        # the insert position when that sits past a page header or alignment padding.
        confirmed = self._slot_confirmed(slot)
        short = int(self.cluster.psql("SELECT pg_wal_lsn_diff('%s', '%s')"
                                      % (end_lsn, confirmed), DBNAME))
        if short < 0 or short >= 8192:
            raise RuntimeError("pg_recvlogical stopped at %s, %d bytes short of the end LSN %s"
                               % (confirmed, short, end_lsn))
        self.cluster.psql("SELECT pg_drop_replication_slot('%s')" % slot, DBNAME)
        return wall, usage.ru_utime + usage.ru_stime, confirmed

    def _start_double(self):
        key = os.path.join(self.work, "rsa_key.p8")
        cluster_mod.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                         "rsa_keygen_bits:2048", "-out", key])
        cluster_mod.run(["openssl", "pkey", "-in", key, "-pubout", "-out", key + ".pub"])
        out = os.path.join(self.work, "double.out")
        proc = subprocess.Popen(
            [self.double, "--public-key", key + ".pub", "--commit-delay-ms", "0"],
            stdout=open(out, "w"), stderr=open(os.path.join(self.work, "double.log"), "w"))
        self.procs.append(proc)
        return key, _wait_line(out, "listening on ", proc, 30)

    def _start_shipper(self, key, url, metrics_port):
        env = dict(os.environ)
        env.update({
            "SNOWCDC_CONNINFO": "host=127.0.0.1 port=%d user=postgres dbname=%s"
                                % (self.cluster.port, DBNAME),
            "SNOWCDC_SLOT": SLOT, "SNOWCDC_SINK": "snowpipe",
            # The slot exists before the shipper starts: there is nothing to snapshot.
            "SNOWCDC_SNAPSHOT": "never",
            "SNOWCDC_METRICS_PORT": str(metrics_port),
            "SNOWFLAKE_URL": url, "SNOWFLAKE_ACCOUNT": "TESTACCT", "SNOWFLAKE_USER": "SHIPPER",
            "SNOWFLAKE_PRIVATE_KEY_FILE": key, "SNOWFLAKE_DATABASE": "CDC_DB",
            "SNOWFLAKE_SCHEMA": "PUBLIC", "SNOWFLAKE_PIPE": "CDC_PIPE",
        })
        proc = subprocess.Popen([self.shipper, "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(self.work, "shipper.log"), "w"))
        self.procs.append(proc)
        return proc

    def _wait_reached(self, proc, lsn, timeout):
        deadline = time.monotonic() + timeout
        while not self._reached(SLOT, lsn):
            if proc.poll() is not None:
                raise RuntimeError("the shipper exited (code %d) before confirming %s; see %s"
                                   % (proc.returncode, lsn, os.path.join(self.work, "shipper.log")))
            if time.monotonic() > deadline:
                raise RuntimeError("the shipper did not confirm %s within %.0f s (at %s)"
                                   % (lsn, timeout, self._slot_confirmed(SLOT)))
            time.sleep(0.02)

    def _committed_inserts(self, url):
        count = 0
        with urllib.request.urlopen(url + "/_double/committed", timeout=120) as response:
            for line in response:
                record = json.loads(line)
                row = record.get("row", record) if isinstance(record, dict) else record
                if isinstance(row, str):
                    row = json.loads(row)
                if row.get("op") in ("I", "i", "insert", "c"):
                    count += 1
        return count

    def run(self):
        result = E2eResult()
        result.changes = self.changes
        self.cluster.psql("CREATE DATABASE %s" % DBNAME)
        self.cluster.psql(
            "CREATE EXTENSION snowcdc;"
            "CREATE TABLE e2e (id bigserial PRIMARY KEY, v int NOT NULL, pad text NOT NULL,"
            " stamp timestamptz NOT NULL DEFAULT clock_timestamp())", DBNAME)
        # A slot cannot be created in a transaction that wrote: a statement of its own.
        self.cluster.psql("SELECT pg_create_logical_replication_slot('%s', 'snowcdc')" % SLOT,
                          DBNAME)
        load = self._pgbench_script(
            "load.sql", "INSERT INTO e2e (v, pad) SELECT g, 'row ' || g "
            "FROM generate_series(1, %d) g;" % ROWS_PER_TXN)
        self.log("e2e: writing %d inserts in transactions of %d" % (self.changes, ROWS_PER_TXN))
        cluster_mod.run([self._bin("pgbench"), "-n", "-c", "1", "-t",
                         str(self.changes // ROWS_PER_TXN), "-f", load]
                        + self.cluster.conn_args(DBNAME))
        end_lsn = self.cluster.psql("SELECT pg_current_wal_lsn()", DBNAME)
        wait_flushed(self.cluster, end_lsn)
        for copy in RECV_SLOTS:
            self.cluster.psql("SELECT pg_copy_logical_replication_slot('%s', '%s')"
                              % (SLOT, copy), DBNAME)
        try:
            wall, cpu, last_commit_end = self._recvlogical(RECV_SLOTS[0], end_lsn)
            result.recv_wall.append(wall)
            result.recv_cpu.append(cpu)
            self.log("e2e: pg_recvlogical %.2f s wall, %.2f s CPU" % (wall, cpu))
            key, url = self._start_double()
            metrics_port = cluster_mod.free_loopback_port()
            started = time.monotonic()
            shipper = self._start_shipper(key, url, metrics_port)
            # Durable: the histogram has observed every transaction (the sink reported it
            # committed at the double). Confirmed: the slot says so, which the shipper
            # reports every status_interval (1 s by default).
            self._wait_durable(shipper, metrics_port, {}, self.changes // ROWS_PER_TXN, 1800)
            result.shipper_durable_wall = time.monotonic() - started
            result.shipper_durable_cpu = _proc_cpu_seconds(shipper.pid)
            self._wait_reached(shipper, last_commit_end, 1800)
            result.shipper_wall = time.monotonic() - started
            result.shipper_cpu = _proc_cpu_seconds(shipper.pid)
            result.shipper_hwm_kib = _proc_hwm_kib(shipper.pid)
            self.log("e2e: shipper: durable after %.2f s, confirmed in the slot after %.2f s "
                     "wall, %.2f s CPU, VmHWM %d kB"
                     % (result.shipper_durable_wall, result.shipper_wall, result.shipper_cpu,
                        result.shipper_hwm_kib))
            # pg_recvlogical once more, after the shipper, so neither is always first.
            wall, cpu, _ = self._recvlogical(RECV_SLOTS[1], end_lsn)
            result.recv_wall.append(wall)
            result.recv_cpu.append(cpu)
            self.log("e2e: pg_recvlogical %.2f s wall, %.2f s CPU" % (wall, cpu))
            result.committed_rows = self._committed_inserts(url)
            if result.committed_rows != self.changes:
                raise RuntimeError("the double committed %d inserts, the workload wrote %d"
                                   % (result.committed_rows, self.changes))
            result.latency = self._latency(shipper, metrics_port)
            result.shipper_hwm_end_kib = _proc_hwm_kib(shipper.pid)
            shipper.send_signal(signal.SIGTERM)
            if shipper.wait(timeout=60) != 0:
                raise RuntimeError("the shipper exited with %d on SIGTERM; see %s"
                                   % (shipper.returncode, os.path.join(self.work, "shipper.log")))
        finally:
            for proc in self.procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        # Only after success: on an error the logs stay in self.work, which the error names.
        shutil.rmtree(self.work, ignore_errors=True)
        return result

    def _wait_durable(self, shipper, metrics_port, before, transactions, timeout):
        """Waits until the shipper's commit -> durable histogram has observed `transactions`
        more transactions than in `before`; returns the last scrape."""
        deadline = time.monotonic() + timeout
        while True:
            if shipper.poll() is not None:
                raise RuntimeError("the shipper exited (code %d); see %s" % (
                    shipper.returncode, os.path.join(self.work, "shipper.log")))
            try:
                after = _scrape(metrics_port)
            except OSError:  # not listening yet
                after = {float("inf"): 0.0}
            done = after[float("inf")] - before.get(float("inf"), 0.0)
            if done >= transactions:
                return after
            if time.monotonic() > deadline:
                raise RuntimeError("the shipper made %d of %d transactions durable in %.0f s; "
                                   "see %s" % (done, transactions, timeout,
                                               os.path.join(self.work, "shipper.log")))
            time.sleep(0.02)

    def _latency(self, shipper, metrics_port):
        before = _scrape(metrics_port)
        steady = self._pgbench_script(
            "steady.sql", "INSERT INTO e2e (v, pad) SELECT g, 'steady ' || g "
            "FROM generate_series(1, %d) g;" % self.rows_per_txn)
        self.log("e2e: latency: pgbench -R %d, %d rows per transaction, %d s"
                 % (self.rate, self.rows_per_txn, self.latency_seconds))
        # The bench cluster runs synchronous_commit = off, so a commit would reach the
        # walsender only when the WAL writer flushes it (wal_writer_delay, 200 ms): these
        # sessions commit synchronously, as production does (fsync stays off).
        env = dict(os.environ, PGOPTIONS="-c synchronous_commit=on")
        out = cluster_mod.run([self._bin("pgbench"), "-n", "-c", "2", "-j", "2", "-R",
                               str(self.rate), "-T", str(self.latency_seconds), "-f", steady]
                              + self.cluster.conn_args(DBNAME), env=env).stdout
        transactions = next((int(line.split(":")[1]) for line in out.splitlines()
                             if line.startswith("number of transactions actually processed")), 0)
        # The histogram observes each transaction once the sink made it durable: wait until
        # it has seen every transaction pgbench committed.
        after = self._wait_durable(shipper, metrics_port, before, transactions, 300)
        p50, observed = histogram_quantile(before, after, 0.50)
        p99, _ = histogram_quantile(before, after, 0.99)
        return {"rate": self.rate, "rows": self.rows_per_txn, "seconds": self.latency_seconds,
                "transactions": transactions, "observed": observed, "p50": p50, "p99": p99,
                "bounds": sorted(b for b in after if b != float("inf"))}


def markdown(result, header_lines):
    recv_wall = stats.median(result.recv_wall)
    recv_cpu = stats.median(result.recv_cpu)
    per_100k = 100_000 / result.changes
    lat = result.latency
    lines = ["## Shipper end to end", ""] + header_lines + [
        "",
        "%d inserts (transactions of %d) written with nothing reading, then each reader catches "
        "up to the end LSN. pg_recvlogical: snowcdc plugin, `-o transactions=on -o "
        "messages=on`, to /dev/null, on a copy of the slot (median of %d runs, one before and "
        "one after the shipper). Shipper: `snowcdc-shipper run` with the Snowpipe test double "
        "at `--commit-delay-ms 0` on loopback, until the slot's confirmed_flush_lsn reaches "
        "the end (start-up included); \"durable\" is when its commit -> durable histogram "
        "(/metrics, polled every 20 ms) had seen every transaction, before the next status "
        "update (status_interval, 1 s) tells the slot." % (result.changes, ROWS_PER_TXN, len(result.recv_wall)),
        "",
        "| reader | seconds | changes/s | x floor | CPU s per 100k changes | peak RSS |",
        "|---|---|---|---|---|---|",
        "| pg_recvlogical (floor) | %.2f | %.0f | 1.00 | %.3f (client) | - |"
        % (recv_wall, result.changes / recv_wall, recv_cpu * per_100k),
        "| snowcdc-shipper, all durable at the double | %.2f | %.0f | %.2f | %.3f (shipper) | - |"
        % (result.shipper_durable_wall, result.changes / result.shipper_durable_wall,
           recv_wall / result.shipper_durable_wall, result.shipper_durable_cpu * per_100k),
        "| snowcdc-shipper, slot confirmed | %.2f | %.0f | %.2f | %.3f (shipper) | %.1f MB (VmHWM) |"
        % (result.shipper_wall, result.changes / result.shipper_wall,
           recv_wall / result.shipper_wall, result.shipper_cpu * per_100k,
           result.shipper_hwm_kib / 1024.0),
        "",
        "Latency at a steady rate: `pgbench -R %d -c 2` (synchronous_commit on) for %d s, %d "
        "inserts per transaction "
        "(%d changes/s asked; %d transactions done). Commit -> durable at the double, per "
        "transaction, from the shipper's `snowcdc_commit_to_durable_seconds` histogram (the "
        "double keeps no commit time per row); percentiles interpolated inside buckets %s s, "
        "over %d observations: **p50 %s s, p99 %s s**. Peak RSS after this phase: %.1f MB."
        % (lat["rate"], lat["seconds"], lat["rows"], lat["rate"] * lat["rows"],
           lat["transactions"], lat["bounds"], lat["observed"],
           "n/a" if lat["p50"] is None else "%.3f" % lat["p50"],
           "n/a" if lat["p99"] is None else "%.3f" % lat["p99"],
           result.shipper_hwm_end_kib / 1024.0),
        "",
        "Targets (reported, not asserted): end to end >= 0.9x the floor: %s; p99 <= 0.25 s: "
        "%s; RSS <= 64 MB: %s."
        % ("met" if recv_wall / result.shipper_durable_wall >= 0.9 else "MISSED",
           "n/a" if lat["p99"] is None else ("met" if lat["p99"] <= 0.25 else "MISSED"),
           "met" if max(result.shipper_hwm_kib, result.shipper_hwm_end_kib) <= 64 * 1024
           else "MISSED"),
        "",
    ]
    return "\n".join(lines)
