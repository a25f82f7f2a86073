#!/usr/bin/env python3
"""Does a segment timerange query cost the same on a flow of 1,000 and of 1,000,000 segments?

Starts its own `tams serve` on 127.0.0.1 with a fresh data dir, registers two flows through the
API's bulk segment POST (1,000 segments per request, so ingest speed is measured too), then
queries random 10-segment windows of each flow over one keep-alive connection, alternating
between the flows so that both see the same machine state. Prints a Markdown report and writes it
to bench/results/. Bounded: a fixed number of requests, loopback only.

Usage: bench/segment_query_scaling.py [--binary build/tams] [--big 1000000] [--small 1000]
                                       [--queries 3000]
"""
import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from tams_server import SEGMENT_NS, Client, Server, ts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fill(client, flow_id, count):
    """Registers `count` adjacent 2 s segments of external objects; returns segments/s."""
    start = time.perf_counter()
    batch = 1000
    for first in range(0, count, batch):
        segs = []
        for i in range(first, min(first + batch, count)):
            s = i * SEGMENT_NS
            segs.append({
                "object_id": f"{flow_id}/{i}",
                "timerange": f"[{ts(s)}_{ts(s + SEGMENT_NS)})",
                "get_urls": [{"url": f"http://media.example/{flow_id}/{i}.ts", "label": "ext"}],
            })
        status, _, payload = client.request("POST", f"/flows/{flow_id}/segments", segs)
        if status != 201:
            sys.exit(f"segment POST failed: {status} {payload[:300]!r}")
    return count / (time.perf_counter() - start)


def percentile(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "tams"))
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()

    data_dir = tempfile.mkdtemp(prefix="tams-bench-")
    server = Server(args.binary, data_dir)
    try:
        client = Client(server.port)
        flows = {}
        ingest = {}
        for name, count in (("small", args.small), ("big", args.big)):
            flow_id = str(uuid.uuid4())
            body = {"id": flow_id, "source_id": str(uuid.uuid4()),
                    "format": "urn:x-nmos:format:data", "codec": "text/plain",
                    "container": "video/mp2t", "essence_parameters": {}}
            status, _, payload = client.request("PUT", f"/flows/{flow_id}", body)
            assert status == 201, payload
            ingest[name] = fill(client, flow_id, count)
            flows[name] = (flow_id, count)

        rng = random.Random(7)
        latencies = {"small": [], "big": []}
        # Warm up both flows, then alternate.
        for name in ("small", "big") * 50:
            flow_id, count = flows[name]
            first = rng.randrange(0, count - 10)
            client.request("GET", f"/flows/{flow_id}/segments?timerange="
                           f"[{ts(first * SEGMENT_NS)}_{ts((first + 10) * SEGMENT_NS)})")
        for _ in range(args.queries):
            for name in ("small", "big"):
                flow_id, count = flows[name]
                first = rng.randrange(0, count - 10)
                path = (f"/flows/{flow_id}/segments?timerange="
                        f"[{ts(first * SEGMENT_NS)}_{ts((first + 10) * SEGMENT_NS)})")
                t0 = time.perf_counter()
                status, _, payload = client.request("GET", path)
                latencies[name].append((time.perf_counter() - t0) * 1e6)
                if status != 200 or len(json.loads(payload)) != 10:
                    sys.exit(f"unexpected answer {status} for {path}")
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    lines = [
        f"# Segment timerange query: flow size scaling ({datetime.date.today()})",
        "",
        f"- machine: {os.cpu_count()} cores, {cpu}; commit {commit}",
        f"- command: `bench/segment_query_scaling.py --big {args.big} --small {args.small} "
        f"--queries {args.queries}`",
        "- one keep-alive connection from Python's http.client on the same machine, "
        "queries alternate between the flows; each query asks for a random window of 10 "
        "segments (2 s each) and gets exactly 10, with their get_urls",
        "",
        "| flow | segments | ingest (segments/s, bulk POST of 1,000) | p50 µs | p90 µs | p99 µs | mean µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("small", "big"):
        lat = latencies[name]
        lines.append(f"| {name} | {flows[name][1]:,} | {ingest[name]:,.0f} | "
                     f"{percentile(lat, 50):.0f} | {percentile(lat, 90):.0f} | "
                     f"{percentile(lat, 99):.0f} | {statistics.mean(lat):.0f} |")
    ratio = statistics.median(latencies["big"]) / statistics.median(latencies["small"])
    lines += ["", f"Median latency ratio big/small: **{ratio:.2f}** "
              "(1.00 = the query cost does not depend on the flow's size). Latencies include "
              "the Python client's own overhead, the same for both flows."]
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs(args.out, exist_ok=True)
    name = f"{datetime.date.today()}-segment-query-scaling.md"
    with open(os.path.join(args.out, name), "w") as f:
        f.write(report)


if __name__ == "__main__":
    main()
