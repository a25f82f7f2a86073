"""The benchmark's Markdown report: context, every run next to the floor, and the issue's targets.

Targets (issue 7) and how each is judged from the runs:
- segment timerange query: >= 25,000 requests/s and p99 < 5 ms at 32 connections; on PostgreSQL
  (context["database"] set) >= 7,000 requests/s at 32 connections, the database sharing the cores;
- flow GET by id: >= 90 % of the floor's requests/s (mean of its first and last runs), at 32
  connections;
- live-tail polling at 32 connections: the hit rate of the cache most looked up during the
  live-tail runs >= 99 %, and p99 < 2 ms;
- bulk registration: >= 100,000 segments/s with 1,000 segments per request (best connection
  count), committed durably (the server's synchronous=FULL default, unchanged by the benchmark;
  on PostgreSQL synchronous_commit, fsync and full_page_writes on);
- peak RSS (VmHWM) of the server after all runs < 150 MB;
- segment query cost independent of flow size: the largest flow's p50 latency within 1.2x of a
  1,000-segment flow's, and its throughput at least 0.8x.
"""

TARGET_CONNS = 32
PG_SEGMENT_RPS = 7_000


def _find(rows, scenario, variant=None, conns=None):
    return [r for r in rows if r["scenario"] == scenario
            and (variant is None or r["variant"] == variant)
            and (conns is None or r["conns"] == conns)]


def _floor(rows, conns):
    """The floor's requests/s at `conns`: the mean of its first and last runs."""
    f = _find(rows, "floor", conns=conns)
    return sum(r["rps"] for r in f) / len(f) if f else None


def _rates(caches):
    if not caches:
        return "–"
    return "; ".join(f"{name} {rate:.1%} of {n:,}" for name, (rate, n) in sorted(caches.items()))


def targets(rows, context):
    """[(target, measured, verdict)] where verdict is "pass", "miss" or "not measured"."""
    out = []

    def verdict(ok):
        return "pass" if ok else "miss"

    seg = _find(rows, "segments", "timerange window", TARGET_CONNS)
    if seg and context.get("database"):
        r = seg[0]
        out.append((f"segment timerange query on PostgreSQL: >= {PG_SEGMENT_RPS:,} req/s at 32 "
                    "connections, 2 cores shared with the database",
                    f"{r['rps']:,.0f} req/s, p99 {r['p99_ms']:.2f} ms",
                    verdict(r["rps"] >= PG_SEGMENT_RPS)))
    elif seg:
        r = seg[0]
        out.append(("segment timerange query: >= 25,000 req/s and p99 < 5 ms at 32 connections",
                    f"{r['rps']:,.0f} req/s, p99 {r['p99_ms']:.2f} ms",
                    verdict(r["rps"] >= 25_000 and r["p99_ms"] < 5)))
    else:
        out.append(("segment timerange query at 32 connections", "–", "not measured"))

    flow, floor = _find(rows, "flow", conns=TARGET_CONNS), _floor(rows, TARGET_CONNS)
    if flow and floor:
        ratio = flow[0]["rps"] / floor
        out.append(("flow GET by id: >= 90 % of the floor's throughput (32 connections)",
                    f"{flow[0]['rps']:,.0f} req/s = {ratio:.0%} of the floor's {floor:,.0f}",
                    verdict(ratio >= 0.9)))
    else:
        out.append(("flow GET by id vs floor at 32 connections", "–", "not measured"))

    live = _find(rows, "live-tail")
    live32 = _find(rows, "live-tail", conns=TARGET_CONNS)
    lookups = {}
    for r in live:
        for name, (rate, n) in r["caches"].items():
            hits, total = lookups.get(name, (0.0, 0))
            lookups[name] = (hits + rate * n, total + n)
    if live32:
        p99 = live32[0]["p99_ms"]
        if lookups:
            name, (hits, total) = max(lookups.items(), key=lambda kv: kv[1][1])
            rate = hits / total
            out.append(("live-tail polling: cache hit rate >= 99 %, p99 < 2 ms (32 connections)",
                        f"{name}: {rate:.1%} of {total:,} lookups; p99 {p99:.2f} ms",
                        verdict(rate >= 0.99 and p99 < 2)))
        else:
            out.append(("live-tail polling: cache hit rate >= 99 %, p99 < 2 ms (32 connections)",
                        f"cache hit rate not exported; p99 {p99:.2f} ms", "miss"))
    else:
        out.append(("live-tail polling at 32 connections", "–", "not measured"))

    bulk = _find(rows, "register", "1000 per request")
    if bulk:
        best = max(bulk, key=lambda r: r["items_per_s"])
        out.append(("bulk registration: >= 100,000 segments/s at 1,000 per request, durable",
                    f"{best['items_per_s']:,.0f} segments/s (at {best['conns']} of "
                    f"{', '.join(str(r['conns']) for r in bulk)} connections), "
                    + ("synchronous_commit=on, fsync=on" if context.get("database") else
                       "synchronous=FULL"), verdict(best["items_per_s"] >= 100_000)))
    else:
        out.append(("bulk registration at 1,000 per request", "–", "not measured"))

    peak = context["peak_rss_kib"]
    if peak:
        out.append(("peak RSS under all of the above < 150 MB", f"{peak / 1024:.1f} MiB",
                    verdict(peak * 1024 < 150e6)))
    else:
        out.append(("peak RSS < 150 MB", "–", "not measured"))

    scaling = _find(rows, "scaling")
    if len(scaling) >= 2:
        small, big = scaling[:2]
        p50 = big["p50_ms"] / small["p50_ms"]
        rps = big["rps"] / small["rps"]
        out.append((f"timerange query cost independent of flow size ({small['variant']} vs "
                    f"{big['variant']}, {big['conns']} connections)",
                    f"p50 ratio {p50:.2f}, throughput ratio {rps:.2f}",
                    verdict(p50 <= 1.2 and rps >= 0.8)))
    else:
        out.append(("timerange query cost independent of flow size", "–", "not measured"))
    return out


def markdown(rows, context):
    c = context
    model, cores, ram = c["machine"]
    shape, manifest = c["shape"], c["manifest"]
    ingest = manifest["ingest"]
    lb, la = c["load_before"], c["load_after"]
    db = c.get("database")
    if db:
        settings = ", ".join(f"{k}={v}" for k, v in db["settings"].items())
        store = (f"`TAMS_DB` on a PostgreSQL 15 primary of its own (no replica) on 127.0.0.1 on the "
                 f"same machine ({settings}; other settings the defaults), the data set loaded "
                 f"into a fresh database with `tams migrate` in {db['migrate_seconds']:.1f} s, "
                 f"then `VACUUM (ANALYZE)` in {db['vacuum_seconds']:.1f} s "
                 f"(database size {db['size_bytes'] / 2**20:,.0f} MiB), the data dir for the local "
                 "media store")
    else:
        store = "SQLite synchronous=FULL"
    lines = [
        f"# tams benchmark{' on PostgreSQL' if db else ''} ({c['date']:%Y-%m-%d %H:%M} UTC)",
        "",
        f"- machine: {model}, {cores} cores, {ram:.1f} GiB RAM; load average "
        f"{lb[0]:.2f} / {lb[1]:.2f} / {lb[2]:.2f} at the start, {la[0]:.2f} / {la[1]:.2f} / "
        f"{la[2]:.2f} at the end (1 / 5 / 15 min)",
        f"- commit {c['commit']}; command `{c['command']}`; wall time "
        f"{c['wall_seconds'] / 60:.1f} min",
        f"- data set `{shape.key}`: {shape.flows:,} flows (video, audio, data; tagged), "
        f"{shape.segments:,} segments of 2 s on {shape.segment_flows:,} flows"
        + (f" (one of {shape.long_flow:,})" if shape.long_flow else "")
        + f", objects allocated with POST /flows/{{id}}/storage; "
        + ("reused from the cache" if manifest["reused"] else "generated by this run")
        + f" (generated {manifest['generated']} in {manifest['generation_seconds'] / 60:.1f} min: "
        f"{ingest['flows_per_s']:,.0f} flow PUTs/s, {ingest['segments_per_s']:,.0f} segments/s "
        "allocated + registered in bulks of 1,000 over 2 connections); copied for this run in "
        f"{c['copy_seconds']:.1f} s",
        f"- server: `tams serve` on 127.0.0.1 with {manifest['server_env']} (object bytes are "
        "never uploaded), " + store + "; load: wrk, keep-alive, basic auth, "
        f"1 thread for 1 connection else 2, {c['args'].duration} s per run, on the same machine",
        f"- floor: `GET {c['floor_path']}`; cache counters in /metrics: "
        + ("exported" if c["metrics_exported"] else "not exported"),
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(rows, c)]
    lines += [
        "",
        "## Runs",
        "",
        "`x floor`: requests/s divided by the floor's at the same connection count (the mean of "
        "the floor's first and last runs; their difference shows how much other load on the "
        "machine moved during the benchmark). Latencies in "
        "ms as wrk measures them (the client shares the machine). Server CPU from "
        "/proc/<pid>/stat over the run; RSS after the run."
        + (" DB CPU: the PostgreSQL server's processes (the postmaster, its live children, and "
           "the children it reaped), utime + stime from /proc over the run; µs/req counts both."
           if db else ""),
        "",
        "| scenario | variant | conns | req/s | items/s | x floor | p50 | p90 | p99 | max | "
        "errors | server CPU s | " + ("DB CPU s | " if db else "") + "CPU µs/req | RSS MiB | "
        "cache hit rate |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        + ("---: | " if db else "") + "---: | ---: | --- |",
    ]
    for r in rows:
        floor = _floor(rows, r["conns"])
        ratio = f"{r['rps'] / floor:.2f}" if floor else "–"
        items = f"{r['items_per_s']:,.0f}" if r["unit"] != 1 else ""
        rss = f"{r['rss_kib'] / 1024:.0f}" if r["rss_kib"] else "–"
        cpu = f"{r['cpu_s']:.1f} | "
        per_req = r["cpu_us_per_req"]
        if db:
            cpu += f"{r['db_cpu_s']:.1f} | "
            per_req = (r["cpu_s"] + r["db_cpu_s"]) / max(r["requests"], 1) * 1e6
        lines.append(
            f"| {r['scenario']} | {r['variant']} | {r['conns']} | {r['rps']:,.0f} | {items} | "
            f"{ratio} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['max_ms']:.1f} | {r['errors']} | {cpu}{per_req:.0f} | "
            f"{rss} | {_rates(r['caches']) if c['metrics_exported'] else 'not exported'} |")
    w = c["live_writer"]
    if w:
        mean = w["latency_s"] / w["appended"] * 1e3 if w["appended"] else 0
        lines += ["", f"Live-tail writer: {w['appended']:,} segments appended (one per live flow "
                  f"per second), {w['failed']} failed, mean POST latency {mean:.2f} ms."]
    if c["peak_rss_kib"]:
        lines += ["", f"Peak RSS (VmHWM) of the server after all runs: "
                  f"{c['peak_rss_kib'] / 1024:.1f} MiB."]
    if c["failures"]:
        lines += ["", "## Failures", ""] + [f"- {f}" for f in c["failures"]]
    return "\n".join(lines) + "\n"
