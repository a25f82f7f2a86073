"""POST and GET|HEAD /flows/{id}/segments: registration (single and bulk), overlap and object
provenance rules, timerange queries, paging headers, get_urls and their filters, the flow's
computed timerange and the flows listing's timerange filter."""
import os
import threading

import pytest

from tams_helpers import (
    DROP, FLOW_LIST, MALFORMED_IDS, NS, SEGMENT_LIST, Api, allocate, assert_head_twin, check,
    check_error_names, describe, external_segment, get_segments, link_next, make_flow, new_id,
    parse_timerange, parse_ts, post_segments, raw_request, stored_object, tr_overlaps, unique,
    upload, walk_pages,
)


def flow_of(api, fid, **params):
    return check(api.get(f"/flows/{fid}", params=params), 200, "flow.json")


def ids_of(segments):
    return [s["object_id"] for s in segments]


@pytest.fixture(scope="module")
def backend(api):
    [b] = check(api.get("/service/storage-backends"), 200, "storage-backends-list.json")
    return b


# ----------------------------------------------------------------------------- POST: single

def test_register_single_and_read_back(api, create_flow):
    flow = create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    seg = {"object_id": oid, "timerange": "[10:0_12:0)", "ts_offset": "10:500000000",
           "last_duration": "0:40000000", "sample_offset": 0, "sample_count": 50,
           "key_frame_count": 1}
    post_segments(api, flow["id"], seg)
    [got] = get_segments(api, flow["id"])
    for k, v in seg.items():
        if k in ("ts_offset", "last_duration"):
            assert parse_ts(got[k]) == parse_ts(v), got
        else:
            assert got[k] == v, f"{k}: sent {v!r}, got {got.get(k)!r}"


def test_register_minimal_fields(api, create_flow):
    flow = create_flow("audio")
    oid, _ = stored_object(api, flow["id"])
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    [got] = get_segments(api, flow["id"])
    assert got["object_id"] == oid
    assert parse_timerange(got["timerange"]) == parse_timerange("[0:0_1:0)")


@pytest.mark.parametrize("timerange", ["[0:0_10:0)", "[0:0_10:0]", "[5:0]", "[5:0_5:0]",
                                       "[-10:0_-5:500000000)", "[1:5_1:6)", "0:0_1:0"])
def test_timerange_forms_accepted(api, create_flow, timerange):
    flow = create_flow("data")
    post_segments(api, flow["id"], external_segment(timerange))
    [got] = get_segments(api, flow["id"])
    assert parse_timerange(got["timerange"]) == parse_timerange(timerange), got


# ----------------------------------------------------------------------------- POST: bulk

def test_register_array(api, create_flow):
    flow = create_flow("video")
    objs = [stored_object(api, flow["id"])[0] for _ in range(3)]
    segs = [{"object_id": o, "timerange": f"[{i}:0_{i + 1}:0)"} for i, o in enumerate(objs)]
    post_segments(api, flow["id"], segs)
    assert ids_of(get_segments(api, flow["id"])) == objs


def test_register_array_of_one(api, create_flow):
    flow = create_flow("video")
    post_segments(api, flow["id"], [external_segment("[0:0_1:0)")])
    assert len(get_segments(api, flow["id"])) == 1


def test_bulk_partial_failure_continues(api, create_flow):
    flow = create_flow("video")
    good1, good2, good3 = (external_segment(f"[{i}:0_{i + 1}:0)") for i in (0, 1, 3))
    no_urls = {"object_id": unique("unknown-"), "timerange": "[2:0_3:0)"}       # unknown object
    overlap = external_segment("[0:500000000_1:500000000)")                    # overlaps good1/2
    bad_range = external_segment("()")
    segs = [good1, no_urls, good2, overlap, bad_range, good3]
    body = post_segments(api, flow["id"], segs, expect=200)
    failed = body["failed_segments"]
    assert sorted(f["object_id"] for f in failed) == sorted(
        [no_urls["object_id"], overlap["object_id"], bad_range["object_id"]]), body
    for f in failed:
        assert "error" in f, f"a failed segment should say why: {f}"
        assert f["error"]["type"] and f["error"]["summary"]
    by_oid = {f["object_id"]: f for f in failed}
    assert parse_timerange(by_oid[overlap["object_id"]]["timerange"]) == \
        parse_timerange(overlap["timerange"])
    got = get_segments(api, flow["id"])
    assert ids_of(got) == [good1["object_id"], good2["object_id"], good3["object_id"]], \
        "segments after a failure must still be stored"


def test_bulk_all_fail_is_200(api, create_flow):
    flow = create_flow("video")
    segs = [{"object_id": unique("unknown-"), "timerange": f"[{i}:0_{i + 1}:0)"} for i in range(2)]
    body = post_segments(api, flow["id"], segs, expect=200)
    assert len(body["failed_segments"]) == 2
    assert get_segments(api, flow["id"]) == []


def test_bulk_overlap_within_batch(api, create_flow):
    flow = create_flow("video")
    a = external_segment("[0:0_10:0)")
    b = external_segment("[5:0_15:0)")
    c = external_segment("[10:0_20:0)")
    body = post_segments(api, flow["id"], [a, b, c], expect=200)
    assert [f["object_id"] for f in body["failed_segments"]] == [b["object_id"]]
    assert ids_of(get_segments(api, flow["id"])) == [a["object_id"], c["object_id"]]


def test_bulk_invalid_element(api, create_flow):
    flow = create_flow("video")
    good = external_segment("[0:0_1:0)")
    bad = {"object_id": unique("o-"), "timerange": "garbage",
           "get_urls": [{"url": "https://x.example/a", "label": "ext"}]}
    r = api.post(f"/flows/{flow['id']}/segments", json=[bad, good])
    if r.status_code == 200:
        body = check(r, 200, "flow-segment-bulk-failure.json")
        assert [f["object_id"] for f in body["failed_segments"]] == [bad["object_id"]]
        assert ids_of(get_segments(api, flow["id"])) == [good["object_id"]]
    else:   # rejecting a schema-invalid array as a whole is also acceptable
        check(r, 400, error_type="bad_request")
        assert get_segments(api, flow["id"]) == []


def test_empty_array(api, create_flow):
    flow = create_flow("video")
    r = api.post(f"/flows/{flow['id']}/segments", json=[])
    check(r, (201, 400))
    assert get_segments(api, flow["id"]) == []


# ----------------------------------------------------------------------------- POST: invalid

SINGLE_INVALID = [
    ("no-object-id", {"timerange": "[0:0_1:0)"}),
    ("no-timerange", {"object_id": "X"}),
    ("object-id-int", {"object_id": 5, "timerange": "[0:0_1:0)"}),
    ("timerange-garbage", {"object_id": "X", "timerange": "garbage"}),
    ("timerange-leading-zero", {"object_id": "X", "timerange": "[01:0_2:0)"}),
    ("timerange-int", {"object_id": "X", "timerange": 5}),
    ("timerange-empty", {"object_id": "X", "timerange": "()"}),
    ("timerange-empty-string", {"object_id": "X", "timerange": ""}),
    ("timerange-exclusive-instant", {"object_id": "X", "timerange": "[5:0_5:0)"}),
    ("timerange-reversed", {"object_id": "X", "timerange": "[10:0_5:0)"}),
    ("timerange-eternity", {"object_id": "X", "timerange": "_"}),
    ("timerange-no-end", {"object_id": "X", "timerange": "[0:0_"}),
    ("timerange-no-start", {"object_id": "X", "timerange": "_10:0)"}),
    ("ts-offset-bad", {"object_id": "X", "timerange": "[0:0_1:0)", "ts_offset": "1.5"}),
    ("last-duration-bad", {"object_id": "X", "timerange": "[0:0_1:0)", "last_duration": 3}),
    ("sample-offset-string", {"object_id": "X", "timerange": "[0:0_1:0)", "sample_offset": "1"}),
    ("sample-count-float", {"object_id": "X", "timerange": "[0:0_1:0)", "sample_count": 1.5}),
    ("key-frame-count-string", {"object_id": "X", "timerange": "[0:0_1:0)",
                                "key_frame_count": "2"}),
    ("get-urls-object", {"object_id": "X", "timerange": "[0:0_1:0)", "get_urls": {"url": "u"}}),
    ("get-urls-no-url", {"object_id": "X", "timerange": "[0:0_1:0)", "get_urls": [{"label": "a"}]}),
    ("get-urls-url-int", {"object_id": "X", "timerange": "[0:0_1:0)", "get_urls": [{"url": 1}]}),
    ("get-urls-extra-key", {"object_id": "X", "timerange": "[0:0_1:0)",
                            "get_urls": [{"url": "https://x.example/a", "label": "ext",
                                          "presigned": True}]}),
    ("get-urls-controlled-key", {"object_id": "X", "timerange": "[0:0_1:0)",
                                 "get_urls": [{"url": "https://x.example/a", "label": "ext",
                                               "controlled": False}]}),
    ("get-urls-storage-id", {"object_id": "X", "timerange": "[0:0_1:0)",
                             "get_urls": [{"url": "https://x.example/a", "storage_id": new_id()}]}),
    ("get-urls-backend-label", {"object_id": "X", "timerange": "[0:0_1:0)",
                                "get_urls": [{"url": "https://x.example/a", "label": "local"}]}),
]


@pytest.mark.parametrize("seg", [c[1] for c in SINGLE_INVALID], ids=[c[0] for c in SINGLE_INVALID])
def test_single_invalid_segment(api, create_flow, seg):
    flow = create_flow("video")
    seg = dict(seg)
    if seg.get("object_id") == "X":
        seg["object_id"] = unique("x-")
        seg.setdefault("get_urls", [{"url": f"https://x.example/{seg['object_id']}",
                                     "label": "ext"}])
    r = api.post(f"/flows/{flow['id']}/segments", json=seg)
    check(r, 400, error_type="bad_request")
    assert get_segments(api, flow["id"]) == []


@pytest.mark.parametrize("body", ["{", "not json", '"a string"', "5", "null", "true",
                                  "[1, 2]", '{"object_id": "a", "timerange": "[0:0_1:0)"} []', ""],
                         ids=["truncated", "not-json", "string", "number", "null", "bool",
                              "array-of-ints", "two-values", "empty"])
def test_malformed_body(api, create_flow, body):
    flow = create_flow("video")
    r = api.post(f"/flows/{flow['id']}/segments", data=body,
                 headers={"Content-Type": "application/json"})
    if body == "[1, 2]" and r.status_code == 200:   # per-element failures are acceptable too
        got = check(r, 200)
        assert "failed_segments" in got
    else:
        check(r, 400, error_type="bad_request")
    assert get_segments(api, flow["id"]) == []


# ----------------------------------------------------------------------------- POST: overlaps

@pytest.mark.parametrize("first,second,ok", [
    ("[0:0_10:0)", "[10:0_20:0)", True),        # adjacent
    ("[10:0_20:0)", "[0:0_10:0)", True),        # adjacent, inserted before
    ("[0:0_10:0]", "[10:0_20:0)", False),       # inclusive end touches the next start
    ("[0:0_10:0)", "[9:999999999_20:0)", False),
    ("[0:0_10:0)", "[0:0_10:0)", False),        # identical
    ("[0:0_10:0)", "[2:0_3:0)", False),         # inside
    ("[2:0_3:0)", "[0:0_10:0)", False),         # around
    ("[0:0_10:0)", "[-5:0_0:1)", False),
    ("[0:0_10:0)", "[-5:0_0:0)", True),
    ("[5:0]", "[5:0_6:0)", False),              # instant at the start
    ("[5:0]", "[4:0_5:0)", True),
    ("[5:0]", "[4:0_5:0]", False),
    ("[0:0_10:0)", "[20:0_30:0)", True),         # gap
])
def test_overlap_with_existing(api, create_flow, first, second, ok):
    flow = create_flow("video")
    post_segments(api, flow["id"], external_segment(first))
    s2 = external_segment(second)
    r = api.post(f"/flows/{flow['id']}/segments", json=s2)
    if ok:
        check(r, 201)
        assert len(get_segments(api, flow["id"])) == 2
    else:
        check(r, 400, error_type="bad_request")
        assert len(get_segments(api, flow["id"])) == 1
        # in an array it is reported as a failed segment
        body = post_segments(api, flow["id"], [s2], expect=200)
        assert [f["object_id"] for f in body["failed_segments"]] == [s2["object_id"]]


def test_reregister_identical_segment_rejected(api, create_flow):
    flow = create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    seg = {"object_id": oid, "timerange": "[0:0_10:0)"}
    post_segments(api, flow["id"], seg)
    check(api.post(f"/flows/{flow['id']}/segments", json=seg), 400)
    assert len(get_segments(api, flow["id"])) == 1


# ----------------------------------------------------------------------------- POST: provenance

def test_object_allocated_for_other_flow_rejected(api, create_flow):
    a, b = create_flow("video"), create_flow("video")
    oid, _ = stored_object(api, a["id"])
    check(api.post(f"/flows/{b['id']}/segments",
                   json={"object_id": oid, "timerange": "[0:0_1:0)"}), 400)
    assert get_segments(api, b["id"]) == []
    post_segments(api, a["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})  # own flow: fine


def test_object_registered_elsewhere_may_be_reused(api, anon, create_flow):
    a, b = create_flow("video"), create_flow("video")
    oid, data = stored_object(api, a["id"])
    post_segments(api, a["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    post_segments(api, b["id"], {"object_id": oid, "timerange": "[100:0_101:0)",
                                 "ts_offset": "100:0"})
    [seg] = get_segments(api, b["id"])
    assert seg["object_id"] == oid
    r = anon.get(seg["get_urls"][0]["url"])
    assert r.status_code == 200 and r.content == data, describe(r)


def test_object_reused_twice_in_same_flow(api, create_flow):
    flow = create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    post_segments(api, flow["id"], [{"object_id": oid, "timerange": "[0:0_1:0)"},
                                    {"object_id": oid, "timerange": "[1:0_2:0)",
                                     "ts_offset": "1:0"}])
    assert ids_of(get_segments(api, flow["id"])) == [oid, oid]
    assert len(get_segments(api, flow["id"], object_id=oid)) == 2


def test_external_object_with_get_urls(api, create_flow):
    flow = create_flow("video")
    seg = external_segment("[0:0_1:0)", label="archive")
    post_segments(api, flow["id"], seg)
    [got] = get_segments(api, flow["id"])
    assert got["get_urls"] == [{"url": seg["get_urls"][0]["url"], "presigned": False,
                                "label": "archive"}]


def test_external_object_without_label(api, create_flow):
    flow = create_flow("video")
    oid = unique("ext-")
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)",
                                    "get_urls": [{"url": "https://x.example/nolabel"}]})
    [got] = get_segments(api, flow["id"])
    assert [u["url"] for u in got["get_urls"]] == ["https://x.example/nolabel"]
    assert got["get_urls"][0].get("presigned", False) is False


def test_unknown_object_without_get_urls_rejected(api, create_flow):
    flow = create_flow("video")
    for seg in ({"object_id": unique("nowhere-"), "timerange": "[0:0_1:0)"},
                {"object_id": unique("nowhere-"), "timerange": "[0:0_1:0)", "get_urls": []}):
        check(api.post(f"/flows/{flow['id']}/segments", json=seg), 400, error_type="bad_request")
    assert get_segments(api, flow["id"]) == []


def test_allocated_but_not_uploaded_rejected(api, create_flow):
    flow = create_flow("video")
    [mo] = allocate(api, flow["id"], {"limit": 1})
    seg = {"object_id": mo["object_id"], "timerange": "[0:0_1:0)"}
    check(api.post(f"/flows/{flow['id']}/segments", json=seg), 400, error_type="bad_request")
    upload(api, mo, b"now uploaded", expect=201)
    post_segments(api, flow["id"], seg)


def test_controlled_object_with_extra_external_url(api, create_flow, backend):
    flow = create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)",
                                    "get_urls": [{"url": "https://mirror.example/a",
                                                  "label": "mirror"}]})
    [got] = get_segments(api, flow["id"], verbose_storage="true")
    by_label = {u.get("label"): u for u in got["get_urls"]}
    assert set(by_label) == {"local", "mirror"}, got
    assert by_label["local"]["controlled"] is True
    assert by_label["local"]["storage_id"] == backend["id"]
    assert by_label["mirror"]["url"] == "https://mirror.example/a"
    assert by_label["mirror"]["controlled"] is False


# ----------------------------------------------------------------------------- POST: flow state

def test_post_flow_missing(api):
    check(api.post(f"/flows/{new_id()}/segments", json=external_segment("[0:0_1:0)")), 404,
          error_type="not_found")


@pytest.mark.parametrize("bad_id", MALFORMED_IDS[:3])
def test_post_flow_id_malformed(api, bad_id):
    check(api.post(f"/flows/{bad_id}/segments", json=external_segment("[0:0_1:0)")), 404)


def test_post_read_only(api, create_flow):
    flow = create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    check(api.put(f"/flows/{flow['id']}/read_only", json=True), 204)
    check(api.post(f"/flows/{flow['id']}/segments",
                   json={"object_id": oid, "timerange": "[0:0_1:0)"}), 403)
    check(api.post(f"/flows/{flow['id']}/segments", json=[external_segment("[2:0_3:0)")]), 403)
    assert get_segments(api, flow["id"]) == []
    check(api.put(f"/flows/{flow['id']}/read_only", json=False), 204)
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})


def test_post_flow_without_container(api):
    body = make_flow("video", container=DROP)
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    check_error_names(api.post(f"/flows/{body['id']}/segments",
                               json=external_segment("[0:0_1:0)")), 400, "container")
    check(api.post(f"/flows/{body['id']}/segments", json=[external_segment("[0:0_1:0)")]), 400)
    assert get_segments(api, body["id"]) == []


def test_post_needs_credentials(anon, create_flow):
    flow = create_flow("video")
    check(anon.post(f"/flows/{flow['id']}/segments", json=external_segment("[0:0_1:0)")), 401)


def test_segments_updated_changes(api, create_flow):
    flow = create_flow("video")
    before = flow_of(api, flow["id"]).get("segments_updated")
    post_segments(api, flow["id"], external_segment("[0:0_1:0)"))
    after1 = flow_of(api, flow["id"]).get("segments_updated")
    assert after1 and after1 != before
    post_segments(api, flow["id"], [external_segment("[1:0_2:0)")])
    after2 = flow_of(api, flow["id"]).get("segments_updated")
    assert after2 and after2 != after1
    # a failed registration changes nothing
    check(api.post(f"/flows/{flow['id']}/segments", json=external_segment("[0:0_1:0)")), 400)
    assert flow_of(api, flow["id"]).get("segments_updated") == after2


# ----------------------------------------------------------------------------- GET: timerange

QUERY_FLOW_SEGMENTS = ["[0:0_10:0)", "[10:0_20:0)", "[20:0_30:0]", "[40:0_50:0)"]
QUERY_CASES = [
    ("eternity", "_", [0, 1, 2, 3]),
    ("empty", "()", []),
    ("exact-second", "[10:0_20:0)", [1]),
    ("just-before-10", "[9:999999999_10:0)", [0]),
    ("exclusive-start", "(0:0_10:0)", [0]),
    ("inclusive-end-of-third", "[30:0]", [2]),
    ("after-third-inclusive-end", "(30:0_40:0)", []),
    ("gap-closed", "[30:0_40:0]", [2, 3]),
    ("instant-at-boundary", "[20:0_20:0]", [2]),
    ("instant-10", "[10:0]", [1]),
    ("bare-timestamp", "25:0", [2]),
    ("until-0-exclusive", "_0:0)", []),
    ("until-0-inclusive", "_0:0]", [0]),
    ("from-50", "[50:0_", []),
    ("exclusive-49-999999999", "(49:999999999_", []),
    ("just-before-50", "(49:999999998_", [3]),
    ("reversed", "[20:0_10:0)", []),
    ("exclusive-instant", "[10:0_10:0)", []),
    ("nanosecond", "[19:999999999_20:0)", [1]),
    ("negative", "[-5:0_0:0)", []),
    ("negative-to-zero-inclusive", "[-5:0_0:0]", [0]),
    ("spanning", "[5:0_45:0)", [0, 1, 2, 3]),
    ("unbounded-start", "_15:0)", [0, 1]),
    ("unbounded-end", "(20:0_", [2, 3]),
]


@pytest.fixture(scope="module")
def query_flow(api):
    flow = make_flow("video")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201, "flow.json")
    segs = [external_segment(tr, object_id=f"q{i}-{new_id()}")
            for i, tr in enumerate(QUERY_FLOW_SEGMENTS)]
    post_segments(api, flow["id"], segs)
    return flow["id"], [s["object_id"] for s in segs]


@pytest.mark.parametrize("query,expected", [c[1:] for c in QUERY_CASES],
                         ids=[c[0] for c in QUERY_CASES])
def test_timerange_query(api, query_flow, query, expected):
    fid, oids = query_flow
    q = parse_timerange(query)
    assert [i for i, s in enumerate(QUERY_FLOW_SEGMENTS)
            if tr_overlaps(q, parse_timerange(s))] == expected, "reference overlap disagrees"
    got = get_segments(api, fid, timerange=query)
    assert ids_of(got) == [oids[i] for i in expected]
    got = get_segments(api, fid, timerange=query, reverse_order="true")
    assert ids_of(got) == [oids[i] for i in reversed(expected)]


def test_timerange_query_raw_and_encoded(api, query_flow):
    fid, oids = query_flow
    for target in (f"/flows/{fid}/segments?timerange=[10:0_30:0]",
                   f"/flows/{fid}/segments?timerange=%5B10%3A0_30%3A0%5D",
                   f"/flows/{fid}/segments?timerange=(9:0_30:0%5D"):
        r = raw_request(api.base_url, "GET", target)
        expected = oids[:3] if target.endswith("%5D") and "(9" in target else oids[1:3]
        assert ids_of(check(r, 200, SEGMENT_LIST)) == expected, target


def test_segments_sorted_regardless_of_insert_order(api, create_flow):
    flow = create_flow("video")
    segs = [external_segment(f"[{i}:0_{i + 1}:0)") for i in (5, 1, 9, 3, -2)]
    post_segments(api, flow["id"], segs)
    starts = [parse_timerange(s["timerange"])[0] for s in get_segments(api, flow["id"])]
    assert starts == [s * NS for s in (-2, 1, 3, 5, 9)]
    starts = [parse_timerange(s["timerange"])[0]
              for s in get_segments(api, flow["id"], reverse_order="true")]
    assert starts == [s * NS for s in (9, 5, 3, 1, -2)]


def test_object_id_filter(api, create_flow):
    flow = create_flow("video")
    x, y = unique("x-"), unique("y-")
    segs = [external_segment("[0:0_1:0)", object_id=x), external_segment("[1:0_2:0)", object_id=y),
            external_segment("[2:0_3:0)", object_id=x)]
    post_segments(api, flow["id"], segs)
    assert [s["timerange"] for s in get_segments(api, flow["id"], object_id=x)] == \
        ["[0:0_1:0)", "[2:0_3:0)"]
    assert ids_of(get_segments(api, flow["id"], object_id=y)) == [y]
    assert get_segments(api, flow["id"], object_id="nothing-" + new_id()) == []
    assert ids_of(get_segments(api, flow["id"], object_id=x, timerange="[1:0_2:500000000)")) == [x]
    assert get_segments(api, flow["id"], object_id=y, timerange="[2:0_") == []


def test_object_id_filter_with_slash(api, create_flow):
    flow = create_flow("video")
    oid = f"a/b/{unique('c')}?&=#%"
    post_segments(api, flow["id"], external_segment("[0:0_1:0)", object_id=oid))
    post_segments(api, flow["id"], external_segment("[1:0_2:0)"))
    assert ids_of(get_segments(api, flow["id"], object_id=oid)) == [oid]


def test_unknown_flow_is_empty_list(api):
    fid = new_id()
    r = api.get(f"/flows/{fid}/segments")
    assert check(r, 200, SEGMENT_LIST) == []
    assert r.headers.get("X-Paging-Count") == "0"
    assert parse_timerange(r.headers.get("X-Paging-Timerange", "")) is None
    assert_head_twin(api, f"/flows/{fid}/segments", expect=200)


@pytest.mark.parametrize("bad_id", MALFORMED_IDS)
def test_malformed_flow_id_404(api, bad_id):
    check(api.get(f"/flows/{bad_id}/segments"), 404, error_type="not_found")
    check(api.head(f"/flows/{bad_id}/segments"), 404)


def test_flow_without_segments(api, create_flow):
    flow = create_flow("video")
    r = api.get(f"/flows/{flow['id']}/segments")
    assert check(r, 200, SEGMENT_LIST) == []
    assert r.headers["X-Paging-Count"] == "0"
    assert r.headers["X-Paging-Timerange"] == "()"
    assert r.headers["X-Paging-Reverse-Order"] == "false"
    assert "X-Paging-NextKey" not in r.headers


@pytest.mark.parametrize("params,name", [
    ({"timerange": "garbage"}, "timerange"),
    ({"timerange": "[1:040000000_2:0)"}, "timerange"),
    ({"timerange": "[0:0_1:0_2:0)"}, "timerange"),
    ({"limit": "0"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "1.5"}, "limit"),
    ({"page": "not-a-cursor"}, "page"),
    ({"reverse_order": "yes"}, "reverse_order"),
    ({"verbose_storage": "1x"}, "verbose_storage"),
    ({"presigned": "maybe"}, "presigned"),
    ({"accept_storage_ids": "not-a-uuid"}, "accept_storage_ids"),
    ({"accept_storage_ids": "5AD3C1E2-7B1F-4B6A-9C3D-2E1F0A9B8C7D"}, "accept_storage_ids"),
    ({"accept_storage_ids": "{id},,{id}"}, "accept_storage_ids"),
    ({"accept_storage_ids": "{id},"}, "accept_storage_ids"),
    ({"accept_get_urls": "a,,b"}, "accept_get_urls"),
    ({"accept_get_urls": ",a"}, "accept_get_urls"),
    ({"accept_get_urls": "a,"}, "accept_get_urls"),
], ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()))
def test_bad_query_400(api, query_flow, params, name):
    fid, _ = query_flow
    sid = new_id()
    params = {k: v.replace("{id}", sid) for k, v in params.items()}
    check_error_names(api.get(f"/flows/{fid}/segments", params=params), 400, name,
                      error_type="bad_request")
    check(api.head(f"/flows/{fid}/segments", params=params), 400)


def test_page_cursor_of_other_listing_rejected(api, query_flow):
    fid, _ = query_flow
    r = api.get("/flows", params={"limit": 1})
    key = check(r, 200, FLOW_LIST) and r.headers.get("X-Paging-NextKey")
    if key:
        check(api.get(f"/flows/{fid}/segments", params={"page": key}), 400)


# ----------------------------------------------------------------------------- GET: paging

def test_paging_headers_and_link(api, query_flow):
    fid, oids = query_flow
    items, responses = walk_pages(api, f"/flows/{fid}/segments", {"limit": 3},
                                  schema=SEGMENT_LIST)
    assert ids_of(items) == oids
    first, last = responses
    assert first.headers["X-Paging-Count"] == "3"
    assert first.headers["X-Paging-Limit"] == "3"
    assert first.headers["X-Paging-Reverse-Order"] == "false"
    assert parse_timerange(first.headers["X-Paging-Timerange"]) == parse_timerange("[0:0_30:0]")
    assert last.headers["X-Paging-Count"] == "1"
    assert parse_timerange(last.headers["X-Paging-Timerange"]) == parse_timerange("[40:0_50:0)")


def test_paging_reverse(api, query_flow):
    fid, oids = query_flow
    items, responses = walk_pages(api, f"/flows/{fid}/segments",
                                  {"limit": 2, "reverse_order": "true"}, schema=SEGMENT_LIST)
    assert ids_of(items) == list(reversed(oids))
    assert [r.headers["X-Paging-Reverse-Order"] for r in responses] == ["true", "true"]
    assert parse_timerange(responses[0].headers["X-Paging-Timerange"]) == \
        parse_timerange("[20:0_50:0)")
    assert parse_timerange(responses[1].headers["X-Paging-Timerange"]) == \
        parse_timerange("[0:0_20:0)")


def test_paging_with_timerange_keeps_filter(api, query_flow):
    fid, oids = query_flow
    items, responses = walk_pages(api, f"/flows/{fid}/segments",
                                  {"limit": 1, "timerange": "[5:0_45:0)"}, schema=SEGMENT_LIST)
    assert ids_of(items) == oids
    assert len(responses) == 4
    assert all(r.headers["X-Paging-Count"] == "1" for r in responses)


def test_paging_exact_fit_has_no_next(api, query_flow):
    fid, oids = query_flow
    r = api.get(f"/flows/{fid}/segments", params={"limit": 4})
    assert ids_of(check(r, 200, SEGMENT_LIST)) == oids
    assert link_next(r) is None and "X-Paging-NextKey" not in r.headers
    assert r.headers["X-Paging-Count"] == "4"


def test_paging_limit_reduced_to_max(api, query_flow):
    fid, oids = query_flow
    r = api.get(f"/flows/{fid}/segments", params={"limit": 10**9})
    assert ids_of(check(r, 200, SEGMENT_LIST)) == oids
    assert 4 <= int(r.headers["X-Paging-Limit"]) < 10**9


def test_paging_default_headers(api, query_flow):
    fid, oids = query_flow
    r = api.get(f"/flows/{fid}/segments")
    assert ids_of(check(r, 200, SEGMENT_LIST)) == oids
    assert int(r.headers["X-Paging-Limit"]) >= 4
    assert r.headers["X-Paging-Count"] == "4"
    assert r.headers["X-Paging-Reverse-Order"] == "false"
    assert parse_timerange(r.headers["X-Paging-Timerange"]) == parse_timerange("[0:0_50:0)")


def test_query_with_no_match_headers(api, query_flow):
    fid, _ = query_flow
    r = api.get(f"/flows/{fid}/segments", params={"timerange": "[100:0_200:0)",
                                                  "reverse_order": "true"})
    assert check(r, 200, SEGMENT_LIST) == []
    assert r.headers["X-Paging-Count"] == "0"
    assert r.headers["X-Paging-Timerange"] == "()"
    assert r.headers["X-Paging-Reverse-Order"] == "true"


@pytest.mark.parametrize("params", [{}, {"limit": 2}, {"reverse_order": "true", "limit": 3},
                                    {"timerange": "[100:0_"}, {"verbose_storage": "true"}],
                         ids=["plain", "limit", "reverse", "empty", "verbose"])
def test_head_twin(api, query_flow, params):
    fid, _ = query_flow
    assert_head_twin(api, f"/flows/{fid}/segments", params=params, expect=200)


# ----------------------------------------------------------------------------- GET: get_urls

@pytest.fixture(scope="module")
def url_flow(api):
    """A flow with one controlled segment (object C in the local backend, bytes uploaded) and one
    external segment (label "ext")."""
    flow = make_flow("video")
    check(api.put(f"/flows/{flow['id']}", json=flow), 201, "flow.json")
    oid, data = stored_object(api, flow["id"], os.urandom(5000))
    ext = external_segment("[1:0_2:0)", label="ext")
    post_segments(api, flow["id"], [{"object_id": oid, "timerange": "[0:0_1:0)"}, ext])
    return {"flow": flow["id"], "controlled": oid, "data": data, "external": ext["object_id"],
            "external_url": ext["get_urls"][0]["url"]}


def _urls(api, url_flow, params):
    segs = get_segments(api, url_flow["flow"], **params)
    assert len(segs) == 2
    by_oid = {s["object_id"]: s for s in segs}
    for s in segs:
        assert "get_urls" in s, f"get_urls must always be present: {s}"
    return by_oid[url_flow["controlled"]]["get_urls"], by_oid[url_flow["external"]]["get_urls"]


def test_get_urls_plain(api, anon, url_flow):
    controlled, external = _urls(api, url_flow, {})
    [c] = controlled
    assert set(c) == {"url", "presigned", "label"}, c
    assert c["presigned"] is True and c["label"] == "local"
    assert external == [{"url": url_flow["external_url"], "presigned": False, "label": "ext"}]
    r = anon.get(c["url"])
    assert r.status_code == 200 and r.content == url_flow["data"], describe(r)


def test_get_urls_verbose(api, url_flow, backend):
    controlled, external = _urls(api, url_flow, {"verbose_storage": "true"})
    [c] = controlled
    assert c["presigned"] is True and c["label"] == "local"
    assert c["storage_id"] == backend["id"]
    assert c["controlled"] is True
    for k in ("store_type", "provider", "store_product"):
        assert c[k] == backend[k], f"{k}: {c.get(k)!r} != backend {backend.get(k)!r}"
    assert set(c) <= {"url", "presigned", "label", "storage_id", "controlled", "store_type",
                      "provider", "store_product", "region", "availability_zone"}, c
    [e] = external
    assert e["url"] == url_flow["external_url"] and e["label"] == "ext"
    assert e["presigned"] is False and e["controlled"] is False
    assert "storage_id" not in e
    _, ext_false = _urls(api, url_flow, {"verbose_storage": "false"})
    assert set(ext_false[0]) == {"url", "presigned", "label"}


# (id, params, controlled kept, external kept); "{B}" is the backend id, "{R}" a random uuid
FILTER_CASES = [
    ("none", {}, True, True),
    ("labels-empty", {"accept_get_urls": ""}, False, False),
    ("labels-local", {"accept_get_urls": "local"}, True, False),
    ("labels-ext", {"accept_get_urls": "ext"}, False, True),
    ("labels-both", {"accept_get_urls": "ext,local"}, True, True),
    ("labels-unknown", {"accept_get_urls": "nothere"}, False, False),
    ("labels-unknown-and-local", {"accept_get_urls": "nothere,local"}, True, False),
    ("storage-empty", {"accept_storage_ids": ""}, True, True),
    ("storage-backend", {"accept_storage_ids": "{B}"}, True, False),
    ("storage-random", {"accept_storage_ids": "{R}"}, False, False),
    ("storage-random-and-backend", {"accept_storage_ids": "{R},{B}"}, True, False),
    ("presigned-true", {"presigned": "true"}, True, False),
    ("presigned-false", {"presigned": "false"}, False, True),
    ("local-and-unsigned", {"accept_get_urls": "local", "presigned": "false"}, False, False),
    ("ext-and-storage", {"accept_get_urls": "ext", "accept_storage_ids": "{B}"}, False, False),
    ("both-labels-and-storage", {"accept_get_urls": "local,ext", "accept_storage_ids": "{B}"},
     True, False),
    ("storage-and-presigned", {"accept_storage_ids": "{B}", "presigned": "true"}, True, False),
    ("storage-and-unsigned", {"accept_storage_ids": "{B}", "presigned": "false"}, False, False),
    ("empty-labels-and-storage", {"accept_get_urls": "", "accept_storage_ids": "{B}"},
     False, False),
    ("storage-empty-and-unsigned", {"accept_storage_ids": "", "presigned": "false"}, False, True),
    ("labels-both-verbose", {"accept_get_urls": "local,ext", "verbose_storage": "true"},
     True, True),
]


@pytest.mark.parametrize("params,keep_c,keep_e", [c[1:] for c in FILTER_CASES],
                         ids=[c[0] for c in FILTER_CASES])
def test_get_urls_filters(api, url_flow, backend, params, keep_c, keep_e):
    rid = new_id()
    params = {k: v.replace("{B}", backend["id"]).replace("{R}", rid) for k, v in params.items()}
    controlled, external = _urls(api, url_flow, params)
    assert [u["label"] for u in controlled] == (["local"] if keep_c else []), controlled
    assert [u["label"] for u in external] == (["ext"] if keep_e else []), external


def test_get_urls_filters_head_twin(api, url_flow, backend):
    assert_head_twin(api, f"/flows/{url_flow['flow']}/segments",
                     params={"accept_get_urls": "", "presigned": "true",
                             "accept_storage_ids": backend["id"]}, expect=200)


def test_unlabelled_external_url_filtered(api, create_flow, backend):
    """URLs with neither label nor storage_id survive only without accept_get_urls and with
    accept_storage_ids omitted or empty."""
    flow = create_flow("video")
    post_segments(api, flow["id"], {"object_id": unique("nl-"), "timerange": "[0:0_1:0)",
                                    "get_urls": [{"url": "https://x.example/nolabel"}]})
    for params, kept in [({}, 1), ({"accept_storage_ids": ""}, 1), ({"presigned": "false"}, 1),
                         ({"accept_get_urls": "ext"}, 0), ({"accept_get_urls": ""}, 0),
                         ({"accept_storage_ids": backend["id"]}, 0)]:
        [seg] = get_segments(api, flow["id"], **params)
        assert len(seg["get_urls"]) == kept, (params, seg)


# ----------------------------------------------------------------------------- flow timerange

def test_flow_timerange_extent(api, create_flow):
    flow = create_flow("video")
    fid = flow["id"]
    assert flow_of(api, fid, include_timerange="true").get("timerange", "()") == "()"
    post_segments(api, fid, [external_segment("[0:0_10:0)"), external_segment("[10:0_20:0)"),
                             external_segment("[20:0_30:0]"), external_segment("[40:0_50:0)")])

    def extent(**q):
        got = flow_of(api, fid, include_timerange="true", **q)
        return parse_timerange(got["timerange"]) if "timerange" in got else None

    assert extent() == parse_timerange("[0:0_50:0)")
    assert extent(timerange="_") == parse_timerange("[0:0_50:0)")
    assert extent(timerange="[15:0_25:0)") == parse_timerange("[10:0_30:0]")
    assert extent(timerange="[30:0]") == parse_timerange("[20:0_30:0]")
    assert extent(timerange="(30:0_40:0)") is None
    assert extent(timerange="[5:0_45:0)") == parse_timerange("[0:0_50:0)")
    assert extent(timerange="[100:0_200:0)") is None
    got = flow_of(api, fid, include_timerange="true", timerange="[100:0_200:0)")
    assert got.get("timerange", "()") == "()"
    assert "timerange" not in flow_of(api, fid)


def test_flows_listing_timerange_filter(api, tag):
    name, value = tag
    with_segs = make_flow("video", tags={name: value})
    without = make_flow("audio", tags={name: value})
    for b in (with_segs, without):
        check(api.put(f"/flows/{b['id']}", json=b), 201, "flow.json")
    post_segments(api, with_segs["id"], external_segment("[10:0_20:0)"))

    def listed(tr):
        r = api.get("/flows", params={f"tag.{name}": value, "timerange": tr})
        return sorted(f["id"] for f in check(r, 200, FLOW_LIST))

    assert listed("()") == [without["id"]]
    assert listed("[0:0_10:0)") == []
    assert listed("[0:0_10:0]") == [with_segs["id"]]
    assert listed("[15:0]") == [with_segs["id"]]
    assert listed("[20:0_30:0)") == []
    assert listed("[100:0_") == []


# ----------------------------------------------------------------------------- concurrency

def _parallel(base_url, jobs):
    """Run each job(session) on its own thread with its own session; returns their results."""
    results = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(i, job):
        with Api(base_url) as s:
            start.wait()
            results[i] = job(s)

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_overlapping_posts_one_wins(api, base_url, create_flow):
    flow = create_flow("video")
    segs = [external_segment("[0:0_10:0)") for _ in range(8)]
    results = _parallel(base_url, [
        (lambda s, seg=seg: s.post(f"/flows/{flow['id']}/segments", json=seg)) for seg in segs])
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [400] * 7, [describe(r) for r in results]
    [stored] = get_segments(api, flow["id"])
    winner = [seg for seg, r in zip(segs, results) if r.status_code == 201][0]
    assert stored["object_id"] == winner["object_id"]


def test_concurrent_adjacent_posts_all_win(api, base_url, create_flow):
    flow = create_flow("video")
    segs = [external_segment(f"[{i}:0_{i + 1}:0)") for i in range(8)]
    results = _parallel(base_url, [
        (lambda s, seg=seg: s.post(f"/flows/{flow['id']}/segments", json=[seg])) for seg in segs])
    assert [r.status_code for r in results] == [201] * 8, [describe(r) for r in results]
    assert ids_of(get_segments(api, flow["id"])) == [s["object_id"] for s in segs]


def test_concurrent_allocation_of_same_object_id(api, base_url, create_flow):
    flow = create_flow("video")
    oid = unique("race-")
    results = _parallel(base_url, [
        (lambda s: s.post(f"/flows/{flow['id']}/storage", json={"object_ids": [oid]}))
        for _ in range(6)])
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [400] * 5, [describe(r) for r in results]


# ----------------------------------------------------------------------------- paging stability

def test_paging_stable_under_inserts(api, create_flow):
    """Segments added before the cursor never repeat; segments added after it are picked up."""
    fid = create_flow("video")["id"]
    old = [external_segment(f"[{i}:0_{i + 1}:0)") for i in range(10, 40)]
    post_segments(api, fid, old)
    r = api.get(f"/flows/{fid}/segments", params={"limit": 10})
    seen = ids_of(check(r, 200, SEGMENT_LIST))
    nxt = link_next(r)
    before = [external_segment(f"[{i}:0_{i + 1}:0)") for i in range(0, 10)]
    after = [external_segment(f"[{i}:0_{i + 1}:0)") for i in range(40, 45)]
    post_segments(api, fid, before + after)
    while nxt:
        r = api.get(nxt)
        seen += ids_of(check(r, 200, SEGMENT_LIST))
        nxt = link_next(r)
    assert seen == ids_of(old) + ids_of(after)
