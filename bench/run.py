#!/usr/bin/env python3
"""The benchmark: load scenarios against a real `tams serve`, with a dated Markdown report.

Generates (or reuses, see bench/dataset.py) the data set, starts `tams serve` on 127.0.0.1 on a
free port over a copy of it, and drives it with wrk (keep-alive, basic auth, random targets per
request, drawn in Lua or from files written here) at several connection counts, each for a fixed duration:

  floor          the cheapest endpoint of the same server (GET /health/live, else GET /service),
                 first and again last
  segments       GET /flows/{id}/segments?timerange=<random 10-segment window of a random flow>
                 (drawn per request), as is and with presigned=false
  flow           GET /flows/{random id}
  flows-list     GET /flows with tag filters, first and later pages (limit=50)
  live-tail      GET /flows/{live}/segments?reverse_order=true&limit=10 on a few live flows while
                 one writer appends one segment per live flow per second
  register       bulk POST /flows/{id}/segments of 1, 10, 100, 1,000 segments per request
  mixed          60 % segment queries, 30 % flow GETs and listings (3 to 1), 10 % single-segment
                 POSTs
  scaling        the segment query on a flow of 1,000 segments vs the data set's largest flow, and
                 on random ordinary flows (a control: as scattered pages as the largest flow)

Around every run it reads the server's CPU time (/proc/<pid>/stat), RSS (/proc/<pid>/status)
and the cache counters of /metrics ("not exported" when there are none).

--db postgres runs the same scenarios with the metadata in PostgreSQL: it starts its own
PostgreSQL server (bench/postgres.py), loads the same cached data set into a fresh database with
`tams migrate` (timed; then VACUUM (ANALYZE), as after any bulk load), serves it with TAMS_DB plus the data dir (for the local media store), and
also reads the PostgreSQL processes' CPU time around every run. Exits non-zero when a
request failed (non-2xx, socket errors, timeouts) or the server died; never because of speed.

Usage: bench/run.py [--smoke] [--db sqlite|postgres] [--duration 10] [--connections 1,8,32,128] [--flows ...]
       (see --help)
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import dataset
import metrics
import postgres
import report
from tams_server import AUTH, SEGMENT_NS, Client, Server, window

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_DIR = os.path.join(ROOT, "bench", "wrk")
TARGET_LINES = 20_000
LIVE_PAGE = "reverse_order=true&limit=10"


def ints(text):
    return [int(x) for x in text.split(",") if x]


class Bench:
    """One benchmark session against one running server; collects result rows."""

    def __init__(self, args, server, shape, work, database=None):
        """`database`: the PostgreSQL cluster the server uses, None for the embedded store."""
        self.args, self.server, self.shape, self.work = args, server, shape, work
        self.database = database
        self.client = Client(server.port)
        self.rows = []
        self.failures = []
        self.metrics_exported = None
        self.rng = random.Random(7)

    # -- helpers ---------------------------------------------------------------------------------

    def write_lines(self, name, lines):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def caches(self):
        status, _, payload = self.client.request("GET", "/metrics")
        if status != 200:
            self.metrics_exported = False
            return {}
        counters = metrics.cache_counters(payload.decode())
        self.metrics_exported = bool(counters)
        return counters

    def new_flow(self, kind_index=0, prefill=0):
        """A fresh flow shaped like data-set flow `kind_index`, with `prefill` allocated and
        registered segments; returns its id."""
        body = self.shape.flow(kind_index)
        body.update(id=str(uuid.uuid4()), source_id=str(uuid.uuid4()), tags={"bench": "run"})
        self.client.expect("PUT", f"/flows/{body['id']}", body)
        if prefill:
            objects = [f"{body['id']}-{n}" for n in range(prefill)]
            self.client.expect("POST", f"/flows/{body['id']}/storage", {"object_ids": objects})
            self.client.expect("POST", f"/flows/{body['id']}/segments", [
                {"object_id": o, "timerange": window(dataset.BASE_NS + n * SEGMENT_NS,
                                                     dataset.BASE_NS + (n + 1) * SEGMENT_NS)}
                for n, o in enumerate(objects)], status=(201,))
        return body["id"]

    def flow_counts(self, name, flows, counts):
        """A file of "flow_id count" lines for windows.lua / mixed.lua, which draw a random
        10-segment window of a random one of the flows per request."""
        return self.write_lines(name, [f"{f} {n}" for f, n in zip(flows, counts)])

    def listing_targets(self):
        """First and following pages of tag-filtered flow listings (cursors from Link)."""
        filters = [f"tag.genre={g}" for g in dataset.GENRES] + [
            f"tag.channel=ch-{c}&format=urn:x-nmos:format:video" for c in range(3)]
        lines = []
        for f in filters:
            path = f"/flows?{f}&limit=50"
            for _ in range(10):
                lines.append(path)
                headers, _ = self.client.expect("GET", path, status=(200,))
                link = headers.get("Link", "")
                if 'rel="next"' not in link:
                    break
                url = urllib.parse.urlsplit(link.split("<", 1)[1].split(">", 1)[0])
                path = url.path + "?" + url.query
        return lines

    # -- one wrk run -----------------------------------------------------------------------------

    def run(self, scenario, variant, conns, script, script_args, unit=1, floor_key=None):
        threads = 1 if conns == 1 else 2
        caches_before = self.caches()
        cpu_before = self.server.cpu_seconds()
        db_before = self.database.cpu_seconds() if self.database else None
        cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{self.args.duration}s",
               "--timeout", "10s", "-H", f"Authorization: {AUTH}", "-s", script, self.server.url,
               "--", *[str(a) for a in script_args]]
        proc = subprocess.run(cmd, cwd=WRK_DIR, capture_output=True, text=True)
        cpu = self.server.cpu_seconds() - cpu_before if self.server.alive() else float("nan")
        db_cpu = self.database.cpu_seconds() - db_before if self.database else None
        line = next((l for l in proc.stdout.splitlines() if l.startswith("BENCH ")), None)
        if proc.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}")
        r = json.loads(line[len("BENCH "):])
        seconds = r["duration_us"] / 1e6
        errors = (r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
                  + r["non_2xx_3xx"] + r["unexpected"])
        row = {"scenario": scenario, "variant": variant, "conns": conns,
               "requests": r["requests"], "rps": r["requests"] / seconds,
               "items_per_s": r["requests"] * unit / seconds, "unit": unit,
               "p50_ms": r["p50_us"] / 1e3, "p90_ms": r["p90_us"] / 1e3,
               "p99_ms": r["p99_us"] / 1e3, "max_ms": r["max_us"] / 1e3,
               "errors": errors, "error_detail": {k: r[k] for k in (
                   "connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx_3xx",
                   "unexpected") if r[k]},
               "cpu_s": cpu, "cpu_us_per_req": cpu / max(r["requests"], 1) * 1e6,
               "db_cpu_s": db_cpu,
               "rss_kib": self.server.memory_kib().get("VmRSS") if self.server.alive() else None,
               "caches": metrics.hit_rates(caches_before, self.caches()),
               "floor_key": floor_key or conns}
        self.rows.append(row)
        print(f"  {scenario:<10} {variant:<22} c={conns:<4} {row['rps']:>10,.0f} req/s  "
              f"p50 {row['p50_ms']:.2f} p99 {row['p99_ms']:.2f} max {row['max_ms']:.1f} ms  "
              f"errors {errors}", flush=True)
        if errors:
            self.failures.append(f"{scenario} {variant} c={conns}: {row['error_detail']} "
                                 f"{proc.stderr.strip()[:500]}")
        if not self.server.alive():
            raise RuntimeError(f"tams serve died during {scenario} {variant} c={conns}")
        return row

    # -- scenarios -------------------------------------------------------------------------------

    def floor(self):
        """Run first and again last: other load on the machine shows as the difference."""
        if not hasattr(self, "floor_path"):
            status, _, _ = self.client.request("GET", "/health/live")
            self.floor_path = "/health/live" if status == 200 else "/service"
            variant = f"GET {self.floor_path}"
        else:
            variant = f"GET {self.floor_path} (again, last)"
        targets = self.write_lines("floor.txt", [self.floor_path])
        for c in self.args.connections:
            self.run("floor", variant, c, "paths.lua", [targets])

    def segments(self):
        s = self.shape
        first = 1 if s.long_flow else 0
        self.ordinary = self.flow_counts(
            "ordinary-flows.txt", [s.flow_id(i) for i in range(first, s.segment_flows)],
            s.counts[first:])
        for c in self.args.connections:
            self.run("segments", "timerange window", c, "windows.lua", [self.ordinary])
        for c in self.args.connections:
            self.run("segments", "+ presigned=false", c, "windows.lua",
                     [self.ordinary, "&presigned=false"])

    def flows(self):
        self.flow_lines = [f"/flows/{self.shape.flow_id(self.rng.randrange(self.shape.flows))}"
                           for _ in range(TARGET_LINES)]
        by_id = self.write_lines("flow.txt", self.flow_lines)
        for c in self.args.connections:
            self.run("flow", "GET /flows/{id}", c, "paths.lua", [by_id])
        self.list_lines = self.listing_targets()
        listing = self.write_lines("flows-list.txt", self.list_lines)
        for c in self.args.connections:
            self.run("flows-list", "tag filter, paged", c, "paths.lua", [listing])

    def live_tail(self):
        live = [self.new_flow(i % len(dataset.KINDS), prefill=30)
                for i in range(self.args.live_flows)]
        targets = self.write_lines("live.txt", [f"/flows/{f}/segments?{LIVE_PAGE}" for f in live])
        stop = threading.Event()
        stats = {"appended": 0, "failed": 0, "latency_s": 0.0}

        def writer():
            # Its own connection; one segment per live flow per second, objects allocated in
            # blocks of 100 as a live encoder would.
            client, n, pool = Client(self.server.port), 30, {f: [] for f in live}
            while not stop.is_set():
                tick = time.monotonic()
                for f in live:
                    try:
                        if not pool[f]:
                            pool[f] = [f"{f}-{k}" for k in range(n, n + 100)]
                            client.expect("POST", f"/flows/{f}/storage",
                                          {"object_ids": pool[f]})
                        t0 = time.perf_counter()
                        client.expect("POST", f"/flows/{f}/segments", {
                            "object_id": pool[f].pop(0),
                            "timerange": window(dataset.BASE_NS + n * SEGMENT_NS,
                                                dataset.BASE_NS + (n + 1) * SEGMENT_NS)},
                            status=(201,))
                        stats["latency_s"] += time.perf_counter() - t0
                        stats["appended"] += 1
                    except (RuntimeError, OSError) as e:
                        stats["failed"] += 1
                        self.failures.append(f"live-tail writer: {e}")
                        client = Client(self.server.port)
                n += 1
                stop.wait(max(0.0, 1.0 - (time.monotonic() - tick)))

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            for c in self.args.connections:
                self.run("live-tail", f"{len(live)} live flows", c, "paths.lua", [targets])
        finally:
            stop.set()
            thread.join()
        self.live_writer = stats

    def register(self):
        for size in self.args.bulk_sizes:
            for c in self.args.bulk_connections:
                flows = [self.new_flow() for _ in range(1 if c == 1 else 2)]
                path = self.write_lines(f"register-{size}-{c}.txt", flows)
                self.run("register", f"{size} per request", c, "register.lua", [size, path],
                         unit=size)

    def mixed(self):
        reads = self.flow_lines[: TARGET_LINES * 3 // 4] + (
            self.list_lines * (TARGET_LINES // 4 // len(self.list_lines) + 1))[: TARGET_LINES // 4]
        targets = self.write_lines("mixed.txt", reads)
        for c in self.args.connections:
            flows = [self.new_flow() for _ in range(1 if c == 1 else 2)]
            path = self.write_lines(f"mixed-{c}.txt", flows)
            self.run("mixed", "90 % reads, 10 % writes", c, "mixed.lua",
                     [targets, path, self.ordinary])

    def scaling(self):
        """A 1,000-segment flow, the largest flow, and (as a control for where the pages are)
        random windows of the data set's ordinary flows, which touch as scattered pages as the
        largest flow does."""
        s = self.shape
        small = self.new_flow(prefill=1000)
        big = max(range(s.segment_flows), key=lambda i: s.counts[i])
        c = self.args.scaling_connections
        runs = [("flow of 1,000 segments", self.flow_counts("small.txt", [small], [1000])),
                (f"flow of {s.counts[big]:,} segments",
                 self.flow_counts("big.txt", [s.flow_id(big)], [s.counts[big]]))]
        if s.long_flow:
            runs.append((f"random flows of {s.segments_per_flow:,}", self.ordinary))
        for name, path in runs:
            self.run("scaling", name, c, "windows.lua", [path])


def machine():
    """(cpu model, cores, RAM GiB)."""
    model = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(l.split(":", 1)[1].strip() for l in out.splitlines()
                     if l.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
    return model, os.cpu_count(), kib / 2**20


def commit():
    out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return out + (" (with uncommitted changes)" if dirty else "")


def main():
    ap = argparse.ArgumentParser(description="tams benchmark (see bench/run.py's docstring)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny data set, 1 s per run, 1 and 8 connections; report not kept")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "tams"))
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                    help="metadata store: the embedded SQLite store, or PostgreSQL (its own "
                         "server, loaded with tams migrate)")
    ap.add_argument("--flows", type=int)
    ap.add_argument("--segments", type=int)
    ap.add_argument("--segments-per-flow", type=int)
    ap.add_argument("--long-flow", type=int)
    ap.add_argument("--duration", type=int, help="seconds per run (10; smoke 1)")
    ap.add_argument("--connections", type=ints, help="connection counts (1,8,32,128; smoke 1,8)")
    ap.add_argument("--bulk-sizes", type=ints, default=[1, 10, 100, 1000])
    ap.add_argument("--bulk-connections", type=ints, help="(1,8; smoke 1)")
    ap.add_argument("--scaling-connections", type=int, default=8)
    ap.add_argument("--live-flows", type=int, default=4)
    ap.add_argument("--cache", default=os.path.join(ROOT, "bench", ".data"))
    ap.add_argument("--out", help="report directory (bench/results; smoke: none)")
    args = ap.parse_args()
    full = dict(flows=10_000, segments=10_000_000, segments_per_flow=5_000, long_flow=5_000_000,
                duration=10, connections=[1, 8, 32, 128], bulk_connections=[1, 8],
                out=os.path.join(ROOT, "bench", "results"))
    smoke = dict(flows=40, segments=3_000, segments_per_flow=100, long_flow=2_000, duration=1,
                 connections=[1, 8], bulk_connections=[1], out=None)
    for k, v in (smoke if args.smoke else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)

    # A terminated run (make interrupted, a timeout) still stops its server and database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    load_before = os.getloadavg()
    shape = dataset.Shape(args.flows, args.segments, args.segments_per_flow, args.long_flow)
    os.makedirs(args.cache, exist_ok=True)
    cached, manifest = dataset.ensure(args.binary, shape, args.cache)
    work = tempfile.mkdtemp(prefix="run-", dir=args.cache)
    data_dir = os.path.join(work, "data")
    t0 = time.monotonic()
    subprocess.run(["cp", "-a", "--reflink=auto", cached, data_dir], check=True)
    copy_seconds = time.monotonic() - t0
    failures = []
    bench, peak, cluster, database = None, None, None, None
    env = dict(dataset.SERVER_ENV)
    try:
        if args.db == "postgres":
            cluster = postgres.Cluster()
            database = {"migrate_seconds": cluster.migrate(args.binary, data_dir),
                        "settings": cluster.settings, "port": cluster.port}
            database["vacuum_seconds"] = cluster.vacuum_analyze()
            database["size_bytes"] = cluster.size_bytes()
            print(f"PostgreSQL on port {cluster.port}: data set migrated in "
                  f"{database['migrate_seconds']:.1f} s, VACUUM (ANALYZE) "
                  f"{database['vacuum_seconds']:.1f} s", flush=True)
            env["TAMS_DB"] = cluster.url
        with Server(args.binary, data_dir, env=env,
                    log_path=os.path.join(work, "server.log")) as server:
            bench = Bench(args, server, shape, work, cluster)
            print(f"tams serve pid {server.pid} on {server.url}, data set {shape.key} "
                  f"({'reused' if manifest['reused'] else 'generated'})", flush=True)
            try:
                for scenario in (bench.floor, bench.segments, bench.flows, bench.live_tail,
                                 bench.register, bench.mixed, bench.scaling, bench.floor):
                    scenario()
            except RuntimeError as e:
                failures.append(str(e))
            peak = server.memory_kib().get("VmHWM") if server.alive() else None
            exit_code = server.stop()
            if exit_code not in (0, -15):
                failures.append(f"tams serve exited with {exit_code}")
        failures = bench.failures + failures
    except RuntimeError as e:  # the database or the server did not start
        failures.append(str(e))
    finally:
        if cluster:
            cluster.stop()
        if failures:
            log = os.path.join(work, "server.log")
            if os.path.exists(log):
                print("server log tail:\n" + open(log, errors="replace").read()[-3000:])
        shutil.rmtree(work, ignore_errors=True)

    context = {
        "date": datetime.datetime.now(datetime.timezone.utc),
        "machine": machine(), "commit": commit(),
        "command": "bench/run.py " + " ".join(sys.argv[1:]),
        "load_before": load_before, "load_after": os.getloadavg(),
        "wall_seconds": time.monotonic() - started, "copy_seconds": copy_seconds,
        "shape": shape, "manifest": manifest, "args": args, "peak_rss_kib": peak,
        "floor_path": getattr(bench, "floor_path", "?"),
        "metrics_exported": getattr(bench, "metrics_exported", None),
        "live_writer": getattr(bench, "live_writer", None), "database": database,
        "failures": failures,
    }
    text = report.markdown(bench.rows if bench else [], context)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        suffix = "-pg" if database else ""
        path = os.path.join(args.out, f"{context['date']:%Y-%m-%d-%H%M}-bench{suffix}.md")
        with open(path, "w") as f:
            f.write(text)
        print(f"report: {path}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
