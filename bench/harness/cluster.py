"""A throwaway Postgres cluster for benchmarks.

initdb into a temporary directory (as the postgres user when we are root), start on a
free 127.0.0.1 port with logical decoding and every benchmarked output plugin allowed,
and account for the CPU time the cluster's processes use, so that measurements can be
taken in CPU seconds as well as wall seconds.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

# Plugins must be listed by name since 15.19, or Postgres refuses to load them.
OUTPUT_PLUGINS = "pgoutput, test_decoding, snowcdc, wal2json, decoderbufs, snowcdc_floor"

# Long-lived server processes; anything else under the postmaster is a session.
AUX_PROCESS_NAMES = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "logical replication launcher",
    "archiver",
    "startup",
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CommandError(RuntimeError):
    """A command failed; the message carries its stderr."""


def run(argv, *, as_postgres=False, check=True, **kwargs):
    """Runs argv, capturing text output; raises CommandError with stderr on failure."""
    if as_postgres and os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--"] + list(argv)
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise CommandError(
            "command failed (exit %d): %s\n%s"
            % (result.returncode, " ".join(argv), result.stderr.strip())
        )
    return result


def pg_bindir():
    return run(["pg_config", "--bindir"]).stdout.strip()


def free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat_fields(pid):
    """Fields of /proc/<pid>/stat after the command name, or None if the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return text[text.rindex(")") + 2 :].split()


def _children(parent_pid):
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[1]) == parent_pid:
                children.append(int(entry))
    return children


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


class Cluster:
    """One temporary cluster. Use as a context manager; it is stopped and removed on exit."""

    def __init__(self, extra_conf=(), keep=False, log=print):
        self.bindir = pg_bindir()
        self.extra_conf = list(extra_conf)
        self.keep = keep
        self.log = log
        self.dir = None
        self.port = None
        self.postmaster_pid = None
        self.aux_pids = set()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="snowcdc-bench-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        run(
            [os.path.join(self.bindir, "initdb"), "-D", self.data_dir, "-A", "trust",
             "-U", "postgres", "--no-sync", "--encoding=UTF8", "--locale=C"],
            as_postgres=True,
        )
        self.port = free_loopback_port()
        conf = [
            "listen_addresses = '127.0.0.1'",
            "port = %d" % self.port,
            "unix_socket_directories = '%s'" % self.dir,
            "wal_level = logical",
            "output_plugin_libraries = '%s'" % OUTPUT_PLUGINS,
            "max_replication_slots = 64",
            "max_wal_senders = 16",
            # Throwaway data: durability only slows down loading the workloads.
            "fsync = off",
            "synchronous_commit = off",
            # No background work between or during timed runs.
            "autovacuum = off",
            "checkpoint_timeout = 1h",
            "max_wal_size = 8GB",
            "shared_buffers = 256MB",
        ] + self.extra_conf
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as conf_file:
            conf_file.write("\n# snowcdc bench\n" + "\n".join(conf) + "\n")
        run(
            [os.path.join(self.bindir, "pg_ctl"), "-D", self.data_dir, "-l",
             os.path.join(self.dir, "server.log"), "-w", "start"],
            as_postgres=True,
        )
        with open(os.path.join(self.data_dir, "postmaster.pid")) as pid_file:
            self.postmaster_pid = int(pid_file.readline())
        self.aux_pids = {
            pid for pid in _children(self.postmaster_pid)
            if any(name in _cmdline(pid) for name in AUX_PROCESS_NAMES)
        }
        self.log("cluster: %s on 127.0.0.1:%d" % (self.data_dir, self.port))

    def stop_server(self):
        """Stops the server and keeps the data directory (for single-user sessions)."""
        if self.postmaster_pid is not None:
            run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w",
                 "stop"], as_postgres=True)
            self.postmaster_pid = None

    def stop(self):
        if self.dir is None:
            return
        if self.postmaster_pid is not None:
            run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w",
                 "stop"], as_postgres=True, check=False)
            self.postmaster_pid = None
        if self.keep:
            self.log("cluster kept in %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def conn_args(self, dbname):
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", dbname]

    def psql(self, sql, dbname="postgres"):
        """Runs SQL (may hold several statements); returns unaligned rows, '|' between columns."""
        result = run(
            [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
            + self.conn_args(dbname) + ["-c", sql]
        )
        return result.stdout.strip()

    def server_log_tail(self, lines=20):
        with open(os.path.join(self.dir, "server.log"), errors="replace") as log_file:
            return "".join(log_file.readlines()[-lines:])

    def wait_sessions_gone(self, timeout=60.0):
        """Waits until every session process has exited and been reaped by the postmaster,
        so that its CPU time has been added to the postmaster's children's total."""
        deadline = time.monotonic() + timeout
        while True:
            sessions = set(_children(self.postmaster_pid)) - self.aux_pids
            if not sessions:
                return
            # Watch only the pids found; rescanning /proc costs CPU on a shared machine.
            while any(os.path.exists("/proc/%d" % pid) for pid in sessions):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "sessions %s did not exit within %.0f s; see %s/server.log"
                        % (sorted(sessions), timeout, self.dir))
                time.sleep(0.001)

    def cpu_seconds(self):
        """User + system CPU of the whole cluster: the postmaster, its long-lived children,
        and every child it has reaped. Call wait_sessions_gone() first, so that no session
        is alive and uncounted."""
        fields = _stat_fields(self.postmaster_pid)
        # utime, stime, cutime, cstime are fields 14-17 of stat; index 11-14 here.
        ticks = sum(int(value) for value in fields[11:15])
        for pid in self.aux_pids:
            child = _stat_fields(pid)
            if child is not None:
                ticks += int(child[11]) + int(child[12])
        return ticks / CLOCK_TICKS
