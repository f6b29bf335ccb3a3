"""Part 1 of the benchmark: the same WAL decoded by every output plugin.

For each workload, one slot per contender is created before the workload runs, so all of
them decode exactly the same changes. Each contender is then timed, in interleaved rounds,
through the SQL interface (pg_logical_slot_peek[_binary]_changes, which does not advance
the slot, so the same slot serves every round) and through the walsender (pg_recvlogical,
which confirms what it received and so consumes the slot: every round gets a fresh copy of
the contender's slot, made with pg_copy_logical_replication_slot, which starts from the
original's position).
"""

import os
import resource
import time

from . import cluster as cluster_mod
from . import stats

DBNAME = "bench"
PUBLICATION = "bench_pub"
PATHS = ("peek", "walsender")


class Contender:
    def __init__(self, name, plugin, binary, options=(), note="", default=True):
        self.name = name
        self.default = default  # measured unless --contenders names others
        self.plugin = plugin
        self.binary = binary  # output through pg_logical_slot_peek_binary_changes
        self.options = list(options)  # (name, value) pairs, as given to every interface
        self.note = note
        self.unavailable = None  # reason, when the plugin cannot be loaded or refuses options

    def slot(self, workload):
        """The contender's slot for one workload's WAL."""
        return "bench_%s_%s" % (self.name, workload.name)


CONTENDERS = (
    Contender("snowcdc", "snowcdc", False, [("transactions", "on")],
              note="cdc-record-v1 JSON, transactions on, as the shipper runs it"),
    Contender("pgoutput", "pgoutput", True,
              [("proto_version", "1"), ("publication_names", PUBLICATION)],
              note="binary, proto_version 1, publication FOR ALL TABLES"),
    Contender("wal2json", "wal2json", False, [("format-version", "2")],
              note="format-version 2, one JSON object per change"),
    Contender("test_decoding", "test_decoding", False, note="text, default options"),
    Contender("decoderbufs", "decoderbufs", True, note="protobuf, binary"),
    Contender("floor", "snowcdc_floor", False, note="one constant byte per change"),
    Contender("floor_empty", "snowcdc_floor", False, [("emit", "none")],
              note="no output at all, shown to size the delivery cost"),
    Contender("snowcdc_bare", "snowcdc", False,
              note="snowcdc with default options: no begin and commit records", default=False),
)

PEEK_FUNCTION = """
CREATE FUNCTION bench_peek(slot name, upto pg_lsn, is_binary bool, options text[],
                           OUT messages bigint, OUT bytes bigint, OUT seconds float8)
LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz := clock_timestamp();
BEGIN
  IF is_binary THEN
    SELECT count(*), coalesce(sum(octet_length(data)), 0) INTO messages, bytes
      FROM pg_logical_slot_peek_binary_changes(slot, upto, NULL, VARIADIC options);
  ELSE
    SELECT count(*), coalesce(sum(octet_length(data)), 0) INTO messages, bytes
      FROM pg_logical_slot_peek_changes(slot, upto, NULL, VARIADIC options);
  END IF;
  seconds := extract(epoch FROM clock_timestamp() - started);
END $$;
"""


def sql_literal(text):
    return "'" + text.replace("'", "''") + "'"


def options_array(contender):
    flat = [item for pair in contender.options for item in pair]
    return "ARRAY[%s]::text[]" % ", ".join(sql_literal(item) for item in flat)


class Sample:
    def __init__(self, wall, server_cpu, client_cpu=0.0):
        self.wall = wall
        self.server_cpu = server_cpu
        self.client_cpu = client_cpu


class ContenderResult:
    def __init__(self):
        self.messages = None  # output messages (rows of the SQL interface)
        self.bytes = None  # output bytes
        self.samples = {path: [] for path in PATHS}


class WorkloadResult:
    def __init__(self, workload):
        self.workload = workload
        self.changes = None
        self.load_seconds = None
        self.wal_bytes = None
        self.by_contender = {}


class PreparedWal:
    """One workload's WAL, written after every contender's slot was created."""

    def __init__(self, workload, end_lsn, changes, load_seconds, wal_bytes):
        self.workload = workload
        self.end_lsn = end_lsn
        self.changes = changes
        self.load_seconds = load_seconds
        self.wal_bytes = wal_bytes


def prepare_database(cluster):
    """The benchmark database, the publication pgoutput needs and the timed peek function."""
    cluster.psql("CREATE DATABASE %s;" % DBNAME)
    cluster.psql("CREATE PUBLICATION %s FOR ALL TABLES;%s" % (PUBLICATION, PEEK_FUNCTION), DBNAME)


def probe_contenders(cluster, contenders, log):
    """Marks contenders whose plugin cannot be loaded or rejects its options."""
    for contender in contenders:
        slot = "probe_" + contender.name
        try:
            cluster.psql("SELECT 'ok' FROM pg_create_logical_replication_slot(%s, %s);"
                         % (sql_literal(slot), sql_literal(contender.plugin)), DBNAME)
            try:
                cluster.psql("SELECT * FROM bench_peek(%s, NULL, %s, %s);"
                             % (sql_literal(slot), contender.binary, options_array(contender)),
                             DBNAME)
            finally:
                cluster.psql("SELECT pg_drop_replication_slot(%s);" % sql_literal(slot), DBNAME)
        except cluster_mod.CommandError as error:
            contender.unavailable = str(error).splitlines()[-1]
            log("%s unavailable: %s" % (contender.name, contender.unavailable))


def prepare_wal(cluster, workload, contenders, log):
    """Runs the workload's setup, creates one slot per contender, then writes the WAL to
    decode; waits until it is flushed and checks the change count with the floor."""
    log("%s: setup" % workload.name)
    workload.setup(cluster, DBNAME)
    for contender in contenders:
        cluster.psql("SELECT 'ok' FROM pg_create_logical_replication_slot(%s, %s);"
                     % (sql_literal(contender.slot(workload)), sql_literal(contender.plugin)),
                     DBNAME)
    start_lsn = cluster.psql("SELECT pg_current_wal_insert_lsn();")
    log("%s: writing the WAL" % workload.name)
    started = time.perf_counter()
    workload.run(cluster, DBNAME)
    load_seconds = time.perf_counter() - started
    end_lsn = cluster.psql("SELECT pg_current_wal_insert_lsn();")
    wait_flushed(cluster, end_lsn)
    wal_bytes = int(cluster.psql("SELECT pg_wal_lsn_diff('%s', '%s');" % (end_lsn, start_lsn)))
    floor = next((c for c in contenders if c.name == "floor"), None)
    if floor is None:
        raise RuntimeError("the floor plugin is unavailable; install it with "
                           "make -C bench/floor_plugin install")
    # The floor emits one byte per change, so it counts them; this also reads the WAL once
    # before any timed run.
    changes, _, _ = peek(cluster, floor, floor.slot(workload), end_lsn)
    if changes != workload.expected_changes():
        raise RuntimeError(
            "workload %s: the floor decoded %d changes, the workload should write %d; "
            "something else wrote to the database or the workload is wrong"
            % (workload.name, changes, workload.expected_changes()))
    return PreparedWal(workload, end_lsn, changes, load_seconds, wal_bytes)


def drop_slots(cluster, workload, contenders):
    for contender in contenders:
        cluster.psql("SELECT pg_drop_replication_slot(%s);"
                     % sql_literal(contender.slot(workload)), DBNAME)


def wait_flushed(cluster, lsn, timeout=60.0):
    """Decoding stops at the flushed end of the WAL, and with synchronous_commit = off the
    last commits reach the disk only when the WAL writer gets to them."""
    deadline = time.monotonic() + timeout
    query = "SELECT pg_current_wal_flush_lsn() >= %s;" % sql_literal(lsn)
    while cluster.psql(query) != "t":
        if time.monotonic() > deadline:
            raise RuntimeError("the WAL was not flushed up to %s within %.0f s; see %s"
                               % (lsn, timeout, cluster.dir))
        time.sleep(0.01)


def peek_sql(contender, slot, end_lsn):
    return "SELECT messages, bytes, seconds FROM bench_peek(%s, %s, %s, %s);" % (
        sql_literal(slot), sql_literal(end_lsn), contender.binary, options_array(contender))


def peek(cluster, contender, slot, end_lsn):
    """Peeks at the slot up to end_lsn; returns output messages, bytes and server seconds."""
    messages, output_bytes, seconds = cluster.psql(
        peek_sql(contender, slot, end_lsn), DBNAME).split("|")
    return int(messages), int(output_bytes), float(seconds)


class DecodeSuite:
    name = "decode"

    def __init__(self, cluster, rounds, contenders, workloads, log=print):
        self.cluster = cluster
        self.rounds = rounds
        self.contenders = contenders
        self.workloads = workloads
        self.log = lambda message: log("decode: " + message)

    def run(self):
        prepare_database(self.cluster)
        probe_contenders(self.cluster, self.contenders, self.log)
        return [self._run_workload(workload) for workload in self.workloads]

    def _run_workload(self, workload):
        contenders = [c for c in self.contenders if c.unavailable is None]
        wal = prepare_wal(self.cluster, workload, contenders, self.log)
        result = WorkloadResult(workload)
        result.changes, result.load_seconds, result.wal_bytes = (
            wal.changes, wal.load_seconds, wal.wal_bytes)
        for contender in contenders:
            result.by_contender[contender.name] = ContenderResult()
        for path in PATHS:
            for round_index in range(self.rounds):
                # Rotate the order so no contender always runs first or last in a round.
                shift = round_index % len(contenders)
                for contender in contenders[shift:] + contenders[:shift]:
                    self._measure(path, contender, workload, wal.end_lsn, result)
            self.log("%s: %s done" % (workload.name, path))
        drop_slots(self.cluster, workload, contenders)
        return result

    def _measure(self, path, contender, workload, end_lsn, result):
        """One timed decode. Server CPU is the cluster's CPU over the run, taken with no other
        session alive, so it is the decoding session's (its start-up included)."""
        slot = contender.slot(workload)
        copy = self._copy_slot(slot) if path == "walsender" else None
        self.cluster.wait_sessions_gone()
        cpu_before = self.cluster.cpu_seconds()
        if path == "peek":
            messages, output_bytes, wall = peek(self.cluster, contender, slot, end_lsn)
            client_cpu = 0.0
        else:
            wall, client_cpu = self._stream(contender, copy, end_lsn)
        self.cluster.wait_sessions_gone()
        ticks = round((self.cluster.cpu_seconds() - cpu_before) * cluster_mod.CLOCK_TICKS)
        sample = Sample(wall, ticks / cluster_mod.CLOCK_TICKS, client_cpu)
        if copy is not None:
            self._drop_copy(copy, end_lsn)
        outcome = result.by_contender[contender.name]
        if path == "peek":
            if outcome.messages is not None and (outcome.messages, outcome.bytes) != (
                    messages, output_bytes):
                raise RuntimeError(
                    "%s produced %d messages / %d bytes, earlier %d / %d, from the same WAL"
                    % (contender.name, messages, output_bytes, outcome.messages, outcome.bytes))
            outcome.messages, outcome.bytes = messages, output_bytes
        outcome.samples[path].append(sample)

    def _copy_slot(self, slot):
        """The walsender consumes its slot; it gets a copy that starts where the original does."""
        copy = slot + "_stream"
        self.cluster.psql("SELECT 'ok' FROM pg_copy_logical_replication_slot(%s, %s);"
                          % (sql_literal(slot), sql_literal(copy)), DBNAME)
        return copy

    def _drop_copy(self, copy, end_lsn):
        """Checks that the walsender confirmed everything up to end_lsn, then drops the copy."""
        confirmed = self.cluster.psql(
            "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, %s) >= 0 FROM pg_replication_slots "
            "WHERE slot_name = %s;" % (sql_literal(end_lsn), sql_literal(copy)))
        self.cluster.psql("SELECT pg_drop_replication_slot(%s);" % sql_literal(copy), DBNAME)
        if confirmed != "t":
            raise RuntimeError("pg_recvlogical on %s stopped before %s" % (copy, end_lsn))

    def _stream(self, contender, copy, end_lsn):
        """Decodes through the walsender into /dev/null; returns wall seconds and
        pg_recvlogical's CPU seconds."""
        argv = [os.path.join(self.cluster.bindir, "pg_recvlogical"), "--slot", copy, "--start",
                "--endpos", end_lsn, "--no-loop", "-f", "/dev/null"]
        argv += self.cluster.conn_args(DBNAME)
        for name, value in contender.options:
            argv += ["-o", "%s=%s" % (name, value)]
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        cluster_mod.run(argv)
        wall = time.perf_counter() - started
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (usage_after.ru_utime - usage_before.ru_utime
                      + usage_after.ru_stime - usage_before.ru_stime)
        return wall, client_cpu


def summarize(result, path, contender_name, measure):
    samples = result.by_contender[contender_name].samples[path]
    return stats.median([getattr(sample, measure) for sample in samples])
