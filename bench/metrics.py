"""Cache counters read from the server's Prometheus `/metrics`, whatever the caches are called.

A cache counter is a counter sample (name ending in `_total`) whose metric name contains `cache`
and whose name or one of whose label values says `hit` or `miss` (`tams_flow_cache_hits_total`, or
`tams_cache_lookups_total{cache="segments",result="hit"}`). Samples that differ only in that
word belong to one cache, named by the rest of the name and labels.
"""
import re

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_WORD = re.compile(r'(hits?|miss(?:es)?)', re.IGNORECASE)


def parse(text):
    """[(name, {label: value}, float)] of every sample line of a Prometheus text exposition."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        samples.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), value))
    return samples


def cache_counters(text):
    """{cache name: {"hit": n, "miss": n}} from a /metrics text; {} when there is none."""
    caches = {}
    for name, labels, value in parse(text):
        if "cache" not in name.lower() or not name.endswith("_total"):
            continue
        kind, rest = None, dict(labels)
        m = _WORD.search(name)
        if m:
            kind = "hit" if m.group(1).lower().startswith("hit") else "miss"
            cache = _WORD.sub("", name, count=1).replace("__", "_")
        else:
            for key, v in labels.items():
                w = _WORD.fullmatch(v)
                if w:
                    kind = "hit" if w.group(1).lower().startswith("hit") else "miss"
                    del rest[key]
                    break
            cache = name
        if kind is None:
            continue
        if rest:
            cache += "{" + ",".join(f'{k}="{v}"' for k, v in sorted(rest.items())) + "}"
        counts = caches.setdefault(cache, {"hit": 0.0, "miss": 0.0})
        counts[kind] += value
    return caches


def hit_rates(before, after):
    """{cache: (hit rate 0..1, lookups)} over the interval between two cache_counters() results,
    for caches looked up in between."""
    out = {}
    for cache, counts in after.items():
        prev = before.get(cache, {"hit": 0.0, "miss": 0.0})
        hits = counts["hit"] - prev["hit"]
        lookups = hits + counts["miss"] - prev["miss"]
        if lookups > 0:
            out[cache] = (hits / lookups, int(lookups))
    return out
