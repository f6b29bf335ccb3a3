"""Part 1, counted instead of timed: instructions each plugin executes to decode the same WAL.

Wall and CPU seconds on a shared machine are noisy; instruction counts are not. After the
workloads have written their WAL (one slot per contender and workload, created before the
workload, as in the decode suite), the server is stopped and every contender decodes its
slot in a single-user backend under valgrind's callgrind, collecting only inside
pg_logical_slot_peek[_binary]_changes (WAL reading, reassembly, the plugin, and the
tuplestore the SQL interface fills). Counts are per change and, like the times, compared
as the overhead over the floor relative to pgoutput's.
"""

import os
import re
import shutil

from . import cluster as cluster_mod
from . import decode

COLLECTED_FUNCTIONS = ("pg_logical_slot_peek_changes", "pg_logical_slot_peek_binary_changes")
# Contenders whose callgrind files are kept next to the results, for callgrind_annotate.
KEPT_PROFILES = ("snowcdc", "pgoutput")


class InstructionResult:
    def __init__(self, wal):
        self.workload = wal.workload
        self.changes = wal.changes
        self.instructions = {}  # contender name -> instructions collected
        self.messages = {}  # contender name -> output messages, to check the run decoded


class InstructionsSuite:
    name = "instructions"

    def __init__(self, cluster, contenders, workloads, keep_dir, log=print):
        self.cluster = cluster
        self.contenders = contenders
        self.workloads = workloads
        self.keep_dir = keep_dir  # where callgrind files of KEPT_PROFILES are copied
        self.log = lambda message: log("instructions: " + message)

    def run(self):
        if shutil.which("valgrind") is None:
            raise RuntimeError("valgrind is not installed; apt-get install valgrind, or run "
                               "bench/run --only decode")
        decode.prepare_database(self.cluster)
        decode.probe_contenders(self.cluster, self.contenders, self.log)
        contenders = [c for c in self.contenders if c.unavailable is None]
        wals = [decode.prepare_wal(self.cluster, workload, contenders, self.log)
                for workload in self.workloads]
        self.cluster.stop_server()
        results = []
        for wal in wals:
            result = InstructionResult(wal)
            for contender in contenders:
                result.instructions[contender.name], result.messages[contender.name] = (
                    self._count(contender, wal))
            if result.messages["floor"] != wal.changes:
                raise RuntimeError("%s: the floor decoded %d changes in the single-user "
                                   "backend, %d with the server running"
                                   % (wal.workload.name, result.messages["floor"], wal.changes))
            self.log("%s done" % wal.workload.name)
            results.append(result)
        return results

    def _count(self, contender, wal):
        """Decodes in a single-user backend under callgrind; returns (instructions, messages)."""
        out_file = os.path.join(self.cluster.dir, "callgrind.%s.%s" % (
            wal.workload.name, contender.name))
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file]
        argv += ["--toggle-collect=" + name for name in COLLECTED_FUNCTIONS]
        argv += [os.path.join(self.cluster.bindir, "postgres"), "--single", "-D",
                 self.cluster.data_dir, decode.DBNAME]
        query = decode.peek_sql(contender, contender.slot(wal.workload), wal.end_lsn)
        result = cluster_mod.run(argv, as_postgres=True, input=query + "\n")
        match = re.search(r'messages = "(\d+)"', result.stdout)
        if match is None:
            raise RuntimeError("single-user peek of %s on %s printed no result:\n%s\n%s"
                               % (contender.name, wal.workload.name, result.stdout,
                                  result.stderr[-2000:]))
        instructions = None
        with open(out_file) as profile:
            for line in profile:
                if line.startswith(("summary:", "totals:")):
                    instructions = int(line.split()[1])
                    break
        if instructions is None:
            raise RuntimeError("no instruction total in %s" % out_file)
        if contender.name in KEPT_PROFILES and self.keep_dir is not None:
            os.makedirs(self.keep_dir, exist_ok=True)
            shutil.copy(out_file, self.keep_dir)
        return instructions, int(match.group(1))
