"""Segments at scale: paging through 1,000+ segments in both directions, and random timerange
queries compared against a reference overlap function (tams_helpers.parse_timerange)."""
import random

import pytest

from tams_helpers import (
    NS, SEGMENT_LIST, check, describe, external_segment, link_next, make_flow, new_id,
    parse_timerange, post_segments, tr_extent, tr_overlaps, ts, walk_pages,
)

BIG = 1050


@pytest.fixture(scope="module")
def big_flow(api):
    """A flow with BIG adjacent 1 s segments [i:0_i+1:0), registered in three array POSTs."""
    flow = make_flow("video")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201, "flow.json")
    tag = new_id()[:8]
    segs = [external_segment(f"[{i}:0_{i + 1}:0)", object_id=f"big-{tag}-{i:05d}")
            for i in range(BIG)]
    for chunk in (segs[:400], segs[400:800], segs[800:]):
        post_segments(api, flow["id"], chunk)
    return flow["id"], [s["object_id"] for s in segs]


def _check_pages(responses, reverse):
    for r in responses:
        page = r.json()
        assert r.headers["X-Paging-Count"] == str(len(page)), describe(r)
        assert r.headers["X-Paging-Reverse-Order"] == ("true" if reverse else "false")
        assert parse_timerange(r.headers["X-Paging-Timerange"]) == \
            tr_extent(parse_timerange(s["timerange"]) for s in page), describe(r)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_page_through_all(api, big_flow, reverse):
    fid, oids = big_flow
    params = {"limit": 97}
    if reverse:
        params["reverse_order"] = "true"
    items, responses = walk_pages(api, f"/flows/{fid}/segments", params, max_pages=20,
                                  schema=SEGMENT_LIST)
    got = [s["object_id"] for s in items]
    assert len(got) == len(set(got)) == BIG, "every segment exactly once"
    assert got == (list(reversed(oids)) if reverse else oids)
    assert len(responses) == -(-BIG // 97)
    assert all(r.headers["X-Paging-Limit"] == "97" for r in responses)
    _check_pages(responses, reverse)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_page_through_window(api, big_flow, reverse):
    """Paging inside a timerange: from 100.5 s to 700 s inclusive."""
    fid, oids = big_flow
    params = {"limit": 97, "timerange": "[100:500000000_700:0]"}
    if reverse:
        params["reverse_order"] = "true"
    items, responses = walk_pages(api, f"/flows/{fid}/segments", params, max_pages=20,
                                  schema=SEGMENT_LIST)
    expected = oids[100:701]
    assert [s["object_id"] for s in items] == (expected[::-1] if reverse else expected)
    _check_pages(responses, reverse)


def test_limit_above_max_is_reduced(api, big_flow):
    fid, oids = big_flow
    r = api.get(f"/flows/{fid}/segments", params={"limit": 5000})
    page = check(r, 200, SEGMENT_LIST)
    limit = int(r.headers["X-Paging-Limit"])
    assert limit < 5000 and len(page) == min(limit, BIG)
    assert [s["object_id"] for s in page] == oids[:len(page)]
    if len(page) < BIG:
        assert link_next(r) and r.headers.get("X-Paging-NextKey")


# ----------------------------------------------------------------------------- property test

def _random_segments(rng, n):
    """Non-overlapping segments with random gaps (often none) and random exclusive/inclusive ends.
    Returns [(timerange string, (lo, hi))] in timeline order."""
    out = []
    t = rng.randint(-100 * NS, 0)
    for _ in range(n):
        t += rng.choice([0, 0, 1, rng.randint(1, 2 * NS)])
        dur = rng.choice([2, rng.randint(2, NS), rng.randint(NS, 3 * NS), 40_000_000])
        lo, hi = t, t + dur
        if rng.random() < 0.35:
            text = f"[{ts(lo)}_{ts(hi - 1)}]"
        else:
            text = f"[{ts(lo)}_{ts(hi)})"
        assert parse_timerange(text) == (lo, hi)
        out.append((text, (lo, hi)))
        t = hi
    return out


def _random_query(rng, bounds):
    def point():
        r = rng.random()
        if r < 0.6:
            return rng.choice(bounds) + rng.choice([-1, 0, 0, 1])
        return rng.randint(min(bounds) - 5 * NS, max(bounds) + 5 * NS)

    r = rng.random()
    if r < 0.03:
        return "()"
    if r < 0.06:
        return "_"
    if r < 0.15:                                        # instants
        p = point()
        return rng.choice([f"[{ts(p)}]", ts(p), f"[{ts(p)}_{ts(p)}]"])
    if rng.random() < 0.6:                              # short: a few boundaries apart
        k = rng.randrange(len(bounds))
        a = bounds[k] + rng.choice([-1, 0, 0, 1])
        b = bounds[min(k + rng.randint(0, 6), len(bounds) - 1)] + rng.choice([-1, 0, 0, 1])
        a, b = sorted((a, b))
    else:
        a, b = sorted((point(), point()))
    if rng.random() < 0.05:
        a, b = b, a                                     # reversed: empty
    start = "" if rng.random() < 0.1 else ts(a)
    end = "" if rng.random() < 0.1 else ts(b)
    open_ = rng.choice(["[", "(", ""]) if start else rng.choice(["", "["])
    close = rng.choice(["]", ")", ""]) if end else rng.choice(["", ")"])
    return f"{open_}{start}_{end}{close}"


@pytest.mark.parametrize("seed", [20240607, 7])
def test_random_queries_match_reference(api, seed):
    rng = random.Random(seed)
    flow = make_flow("data")
    fid = flow["id"]
    check(api.put(f"/flows/{fid}", json=flow), 201, "flow.json")
    segs = _random_segments(rng, 250)
    bodies = [external_segment(text, object_id=f"p{seed}-{i:04d}") for i, (text, _) in
              enumerate(segs)]
    rng.shuffle(bodies)
    post_segments(api, fid, bodies[:125])
    post_segments(api, fid, bodies[125:])
    oids = [f"p{seed}-{i:04d}" for i in range(len(segs))]
    ranges = [r for _, r in segs]
    stored = check(api.get(f"/flows/{fid}/segments", params={"limit": 1000}), 200, SEGMENT_LIST)
    assert [s["object_id"] for s in stored] == oids
    assert [parse_timerange(s["timerange"]) for s in stored] == ranges

    range_of = dict(zip(oids, ranges))
    bounds = [b for r in ranges for b in r]
    for n in range(200):
        query = _random_query(rng, bounds)
        q = parse_timerange(query)
        expected = [oids[i] for i, r in enumerate(ranges) if tr_overlaps(q, r)]
        reverse = n % 4 == 3
        params = {"timerange": query, "limit": 1000}
        if reverse:
            params["reverse_order"] = "true"
            expected.reverse()
        r = api.get(f"/flows/{fid}/segments", params=params)
        page = check(r, 200, SEGMENT_LIST)
        got = [s["object_id"] for s in page]
        assert got == expected, (f"seed {seed} query #{n} {query!r} -> {q}: "
                                 f"missing {sorted(set(expected) - set(got))[:5]}, "
                                 f"extra {sorted(set(got) - set(expected))[:5]}")
        assert link_next(r) is None
        assert r.headers["X-Paging-Count"] == str(len(got))
        assert parse_timerange(r.headers["X-Paging-Timerange"]) == \
            tr_extent(range_of[o] for o in got), f"{query!r}: {describe(r)}"
