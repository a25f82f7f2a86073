#!/usr/bin/env python3
"""The benchmark's data set: a store filled with a realistic shape through the API, cached.

Shape (parameters --flows, --segments, --segments-per-flow): `flows` flows, 2 in 5 video
(H.264), 2 in 5 audio (AAC), 1 in 5 data (TTML), grouped 10 at a time onto sources of their
format, each with tags `genre` (5 values), `channel` (20 values) and `bench` ("yes"). The first
flows carry adjacent 2 s segments: with --long-flow N, flow 0 carries N of them (so a query on a
flow of millions of segments can be compared with one on a small flow); the following
`(segments - N) / segments-per-flow` flows carry `segments-per-flow` each.

How segments get media objects (the cheapest faithful way): each batch of 1,000 segments first
allocates its 1,000 objects with `POST /flows/{id}/storage` (client-chosen `object_ids`), then
registers them with one bulk `POST /flows/{id}/segments`. The objects are the store's own
controlled objects, so every segment query signs a URL per segment as in production; their bytes
are never uploaded (10 million uploads would measure the disk, not the metadata server), so the
server runs with `check_uploads=false` for generation and benchmarks alike.

Generating 10 million segments takes minutes, so a finished data dir is kept under
bench/.data/<key>/ where the key names the parameters, this generator's version and the store's
schema (the migrations the source tree declares). Benchmarks run on a copy, so the cache never
sees their writes. A partial generation is never reused (it is built under <key>.partial).

Usage: bench/dataset.py [--flows 10000] [--segments 10000000] [--segments-per-flow 10000]
                        [--long-flow 0] [--binary build/tams] [--cache bench/.data]
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
import uuid

from tams_server import SEGMENT_NS, Client, Server, window

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR_VERSION = 1
BATCH = 1000  # segments per allocation and per bulk registration
BASE_NS = 1_700_000_000 * 1_000_000_000  # first segment of every flow: a recent TAI time
NAMESPACE = uuid.UUID("6a1c5e3e-2b7d-4a47-9b1e-6d0c7e5d2f10")
GENRES = ("news", "sport", "drama", "weather", "music")
CHANNELS = 20
# What the server runs with, for generation and for every benchmark (see the module text).
SERVER_ENV = {"TAMS_CHECK_UPLOADS": "false"}

VIDEO = {"format": "urn:x-nmos:format:video", "codec": "video/h264", "container": "video/mp2t",
         "essence_parameters": {
             "frame_width": 1920, "frame_height": 1080,
             "frame_rate": {"numerator": 25, "denominator": 1},
             "interlace_mode": "progressive", "colorspace": "BT709",
             "aspect_ratio": {"numerator": 16, "denominator": 9},
             "component_type": "YCbCr", "bit_depth": 8,
             "avc_parameters": {"profile": 100, "level": 40, "flags": 0}}}
AUDIO = {"format": "urn:x-nmos:format:audio", "codec": "audio/aac", "container": "video/mp2t",
         "essence_parameters": {"sample_rate": 48000, "channels": 2, "bit_depth": 24}}
DATA = {"format": "urn:x-nmos:format:data", "codec": "application/ttml+xml",
        "container": "application/ttml+xml",
        "essence_parameters": {"data_type": "urn:x-tams:data:subtitle"}}
KINDS = (VIDEO, VIDEO, AUDIO, AUDIO, DATA)


def schema_version():
    """The store's schema as the source tree declares it: the numbered migrations' names."""
    path = os.path.join(ROOT, "src", "tams", "store", "sqlite", "migrations.cc")
    with open(path) as f:
        names = re.findall(r'Migration\{(\d+), "([^"]+)"', f.read())
    return hashlib.sha1(repr(names).encode()).hexdigest()[:8] + f"-m{len(names)}"


class Shape:
    """The parameters of a data set; `key` names its cache directory."""

    def __init__(self, flows, segments, segments_per_flow, long_flow=0):
        rest = segments - long_flow
        if segments_per_flow < 20 or rest < 0 or rest % segments_per_flow:
            raise ValueError("--segments minus --long-flow must be a multiple of "
                             "--segments-per-flow (>= 20)")
        self.counts = ([long_flow] if long_flow else []) + [segments_per_flow] * (
            rest // segments_per_flow)
        if len(self.counts) > flows:
            raise ValueError("more flows would carry segments than --flows")
        self.flows, self.segments, self.segments_per_flow = flows, segments, segments_per_flow
        self.long_flow = long_flow
        self.segment_flows = len(self.counts)
        self.key = (f"f{flows}-s{segments}-p{segments_per_flow}-l{long_flow}"
                    f"-g{GENERATOR_VERSION}-schema{schema_version()}")

    def flow_id(self, i):
        return str(uuid.uuid5(NAMESPACE, f"flow-{i}"))

    def flow(self, i):
        """The flow.json body of flow `i`."""
        kind = KINDS[i % len(KINDS)]
        body = {"id": self.flow_id(i),
                "source_id": str(uuid.uuid5(NAMESPACE, f"source-{i // 10}-{kind['format']}")),
                "label": f"bench flow {i}",
                "tags": {"genre": GENRES[i % len(GENRES)], "channel": f"ch-{i % CHANNELS}",
                         "bench": "yes"}}
        body.update(kind)
        return body

    def object_id(self, i, n):
        return f"bench-{i:05d}-{n:08d}"

    def to_json(self):
        return {"flows": self.flows, "segments": self.segments,
                "segments_per_flow": self.segments_per_flow, "long_flow": self.long_flow,
                "segment_flows": self.segment_flows, "key": self.key}


def _put_flows(port, shape, indices):
    client = Client(port)
    for i in indices:
        client.expect("PUT", f"/flows/{shape.flow_id(i)}", shape.flow(i), status=(201, 204))


def _fill_flow(port, shape, i, progress):
    """Allocates and registers flow i's segments, BATCH at a time."""
    client = Client(port)
    flow = shape.flow_id(i)
    for first in range(0, shape.counts[i], BATCH):
        numbers = range(first, min(first + BATCH, shape.counts[i]))
        ids = [shape.object_id(i, n) for n in numbers]
        client.expect("POST", f"/flows/{flow}/storage", {"object_ids": ids}, status=(201,))
        segments = [{"object_id": oid,
                     "timerange": window(BASE_NS + n * SEGMENT_NS, BASE_NS + (n + 1) * SEGMENT_NS)}
                    for oid, n in zip(ids, numbers)]
        client.expect("POST", f"/flows/{flow}/segments", segments, status=(201,))
        progress(len(ids))


def generate(binary, shape, directory, workers=2):
    """Fills a fresh store in `directory` through the API; returns the ingest figures."""
    os.makedirs(directory)
    with Server(binary, directory, env=SERVER_ENV,
                log_path=os.path.join(directory, "generate.log")) as server:
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(workers * 2) as pool:
            parts = [range(k, shape.flows, workers * 2) for k in range(workers * 2)]
            for f in [pool.submit(_put_flows, server.port, shape, p) for p in parts]:
                f.result()
        flows_s = time.perf_counter() - t0

        done, lock, last_print = [0], threading.Lock(), [time.monotonic()]

        def progress(n):
            with lock:
                done[0] += n
                if time.monotonic() - last_print[0] > 15 or done[0] == shape.segments:
                    last_print[0] = time.monotonic()
                    print(f"  {done[0]:,} / {shape.segments:,} segments "
                          f"({done[0] / (time.perf_counter() - t1):,.0f}/s)", flush=True)

        t1 = time.perf_counter()
        # Two connections keep the single writer busy while the client builds the next body.
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(_fill_flow, server.port, shape, i, progress)
                       for i in range(shape.segment_flows)]
            for f in futures:
                f.result()
        segments_s = time.perf_counter() - t1
        if not server.alive():
            raise RuntimeError("tams serve died during generation")
    return {"flows_per_s": shape.flows / flows_s,
            "segments_per_s": shape.segments / segments_s if shape.segments else 0,
            "flows_seconds": flows_s, "segments_seconds": segments_s}


def ensure(binary, shape, cache_root):
    """The cached data dir for `shape` (generated first when absent) and its manifest."""
    final = os.path.join(cache_root, shape.key)
    manifest_path = os.path.join(final, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        manifest["reused"] = True
        return final, manifest
    partial = final + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"generating data set {shape.key} (cached afterwards in {final})", flush=True)
    t0 = time.perf_counter()
    ingest = generate(binary, shape, partial)
    manifest = {"shape": shape.to_json(), "ingest": ingest,
                "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "generation_seconds": time.perf_counter() - t0, "server_env": SERVER_ENV}
    with open(os.path.join(partial, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    os.rename(partial, final)
    manifest["reused"] = False
    return final, manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--segments", type=int, default=10_000_000)
    ap.add_argument("--segments-per-flow", type=int, default=10_000)
    ap.add_argument("--long-flow", type=int, default=0)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "tams"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "bench", ".data"))
    args = ap.parse_args()
    shape = Shape(args.flows, args.segments, args.segments_per_flow, args.long_flow)
    path, manifest = ensure(args.binary, shape, args.cache)
    print(path)
    print(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    sys.exit(main())
