"""The benchmark's own PostgreSQL 15 server, and the data set loaded into it with `tams migrate`.

Started with tests/pg/pg_cluster.sh in its own directory on its own ports (defaults
/tmp/tams-bench-pg and 58432, or TAMS_BENCH_PG_DIR / TAMS_BENCH_PG_PORT; when the port or the
next one is taken, the next free pair above it), so it never meets the test clusters. Only the
primary runs: the replica pg_cluster.sh creates is stopped at once. fsync and full_page_writes,
which pg_cluster.sh turns off for tests, are turned back on, so commits are as durable as on a
real server. `stop()` (or leaving the context manager) removes the cluster, also after a failure.
"""
import os
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(ROOT, "tests", "pg", "pg_cluster.sh")
PSQL = "psql"
DATABASE = "tams_bench"
DURABLE = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}


def _port_free(port):
    """Whether a server could listen on `port` now (as PostgreSQL does, with SO_REUSEADDR, so
    connections of a previous run in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_pair(first):
    """The first port >= `first` that is free together with the next one."""
    for port in range(first, first + 200, 2):
        if _port_free(port) and _port_free(port + 1):
            return port
    raise RuntimeError(f"no free pair of ports in {first}..{first + 200}")


class Cluster:
    """A running PostgreSQL primary with an empty database DATABASE; `url` reaches it."""

    def __init__(self):
        self.dir = os.environ.get("TAMS_BENCH_PG_DIR", "/tmp/tams-bench-pg")
        self.env = dict(os.environ, TAMS_PG_DIR=self.dir)
        self._script("stop")  # what a killed run may have left behind in our directory
        self.port = _free_pair(int(os.environ.get("TAMS_BENCH_PG_PORT", "58432")))
        self.env["TAMS_PG_PORT"] = str(self.port)
        self.started = False
        try:
            self._script("start")
            self.started = True
            self._script("replica", "stop")
            for name, value in DURABLE.items():
                self.sql(f"ALTER SYSTEM SET {name} = '{value}'")
            self.sql("SELECT pg_reload_conf()")
            self.sql(f"CREATE DATABASE {DATABASE}")
            self.settings = {name: self.sql(f"SHOW {name}") for name in (
                *DURABLE, "shared_buffers", "max_connections")}
        except BaseException:
            self.stop()
            raise
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _script(self, *args):
        proc = subprocess.run([CLUSTER, *args], env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"pg_cluster.sh {' '.join(args)} failed: {proc.stderr[-2000:]}")
        return proc.stdout

    def sql(self, statement, database="postgres"):
        """Runs one statement as the superuser; returns its unaligned output."""
        proc = subprocess.run(
            [PSQL, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
             "-v", "ON_ERROR_STOP=1", "-tAc", statement],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"psql {statement!r} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def migrate(self, binary, data_dir):
        """Copies `data_dir`'s embedded store into the database with `tams migrate`; returns the
        seconds it took."""
        t0 = time.monotonic()
        proc = subprocess.run([binary, "migrate", "--from", f"sqlite:{data_dir}", "--to",
                               self.url], capture_output=True, text=True)
        seconds = time.monotonic() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"tams migrate failed ({proc.returncode}): "
                               f"{(proc.stdout + proc.stderr)[-2000:]}")
        return seconds

    def vacuum_analyze(self):
        """VACUUM (ANALYZE) of the whole database, as after any bulk load (planner statistics,
        visibility map), so autovacuum does not do it in the middle of the runs; returns the
        seconds it took."""
        t0 = time.monotonic()
        self.sql("VACUUM (ANALYZE)", database=DATABASE)
        return time.monotonic() - t0

    def size_bytes(self):
        return int(self.sql(f"SELECT pg_database_size('{DATABASE}')"))

    def _postmaster(self):
        with open(os.path.join(self.dir, "primary", "postmaster.pid")) as f:
            return int(f.readline())

    def cpu_seconds(self):
        """User + system CPU time of the postmaster and all its processes so far: the live ones'
        own (/proc/<pid>/stat utime + stime) plus what the postmaster has reaped (its cutime +
        cstime), so backends that ended still count."""
        postmaster = self._postmaster()
        ticks = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            pid, ppid = int(entry), int(fields[1])
            if pid == postmaster:
                ticks += sum(int(x) for x in fields[11:15])
            elif ppid == postmaster:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self):
        """Stops the server and removes its directory (idempotent)."""
        self._script("stop")
        self.started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
