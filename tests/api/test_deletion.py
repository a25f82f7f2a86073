"""DELETE /flows/{id}/segments, DELETE /flows/{id}, /flow-delete-requests (async deletion under a
zero time budget), and garbage collection of unreferenced media objects and expired allocations."""
import os
import time
from urllib.parse import quote, urlsplit

import pytest

from tams_helpers import (
    BASIC_USER, MALFORMED_IDS, SEGMENT_LIST, Api, allocate, assert_head_twin, check,
    check_error_names, describe, external_segment, get_segments, make_flow, new_id,
    parse_timerange, post_segments, stored_object, upload,
)

DONE_WITHIN = 10.0   # seconds an async deletion / a garbage collection may take


def wait_for(predicate, timeout=DONE_WITHIN, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def starts(segments):
    return [parse_timerange(s["timerange"])[0] // 1_000_000_000 for s in segments]


def new_flow(session, fmt="video", **fields):
    body = make_flow(fmt, **fields)
    check(session.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    return body


def seconds(fid, session, *spans, **fields):
    """Register external segments [a:0_b:0) for each (a, b)."""
    post_segments(session, fid, [external_segment(f"[{a}:0_{b}:0)", **fields) for a, b in spans])


# ----------------------------------------------------------------------------- segment deletion

def test_delete_only_covered_segments(api, create_flow):
    fid = create_flow("video")["id"]
    seconds(fid, api, (0, 10), (10, 20), (20, 30), (30, 40))
    r = api.delete(f"/flows/{fid}/segments", params={"timerange": "[5:0_35:0)"})
    check(r, 204)
    assert starts(get_segments(api, fid)) == [0, 30], "partially covered edge segments survive"


@pytest.mark.parametrize("segment,query,deleted", [
    ("[10:0_20:0)", "[10:0_20:0)", True),
    ("[10:0_20:0]", "[10:0_20:0)", False),
    ("[10:0_20:0]", "[10:0_20:0]", True),
    ("[10:0_20:0)", "(10:0_20:0)", False),
    ("[10:0_20:0)", "(9:999999999_20:0)", True),
    ("[10:0_20:0)", "[10:0_19:999999999]", True),
    ("[10:0_20:0)", "[10:0_19:999999998]", False),
    ("[10:0_20:0)", "[10:0_19:999999999)", False),
    ("[10:0_20:0)", "_", True),
    ("[10:0_20:0)", "()", False),
    ("[10:0_20:0)", "[9:999999999_", True),
    ("[10:0_20:0)", "_20:0)", True),
    ("[10:0_20:0)", "_19:0)", False),
    ("[10:0_20:0)", "[10:0]", False),
    ("[10:0_20:0)", "[15:0_25:0)", False),
    ("[10:0]", "[10:0]", True),
    ("[10:0]", "[10:0_10:0]", True),
    ("[10:0]", "(10:0_11:0)", False),
    ("[-2:0_-1:500000000)", "[-2:0_-1:0)", True),
])
def test_delete_containment(api, create_flow, segment, query, deleted):
    fid = create_flow("video")["id"]
    keep = external_segment("[100:0_101:0)")
    seg = external_segment(segment)
    post_segments(api, fid, [seg, keep])
    check(api.delete(f"/flows/{fid}/segments", params={"timerange": query}), 204)
    left = [s["object_id"] for s in get_segments(api, fid)]
    if query in ("_", "[9:999999999_"):
        assert left == [], "open-ended ranges delete the later segment too"
    else:
        assert left == ([keep["object_id"]] if deleted else [seg["object_id"], keep["object_id"]])


def test_delete_by_object_id(api, create_flow):
    fid = create_flow("video")["id"]
    x, y = f"x-{new_id()}", f"y/{new_id()}"
    post_segments(api, fid, [external_segment("[0:0_1:0)", object_id=x),
                             external_segment("[1:0_2:0)", object_id=y),
                             external_segment("[2:0_3:0)", object_id=x),
                             external_segment("[10:0_11:0)", object_id=x)])
    check(api.delete(f"/flows/{fid}/segments", params={"object_id": x, "timerange": "[0:0_5:0)"}),
          204)
    assert [(s["object_id"], starts([s])[0]) for s in get_segments(api, fid)] == [(y, 1), (x, 10)]
    check(api.delete(f"/flows/{fid}/segments", params={"object_id": y}), 204)
    assert [s["object_id"] for s in get_segments(api, fid)] == [x]
    check(api.delete(f"/flows/{fid}/segments", params={"object_id": "unknown-" + new_id()}), 204)
    assert len(get_segments(api, fid)) == 1


def test_delete_all_by_default(api, create_flow):
    fid = create_flow("video")["id"]
    seconds(fid, api, (0, 1), (1, 2), (5, 6))
    before = check(api.get(f"/flows/{fid}"), 200, "flow.json").get("segments_updated")
    r = api.delete(f"/flows/{fid}/segments")
    check(r, 204)
    assert get_segments(api, fid) == []
    flow = check(api.get(f"/flows/{fid}", params={"include_timerange": "true"}), 200, "flow.json")
    assert flow.get("timerange", "()") == "()"
    assert flow.get("segments_updated") and flow["segments_updated"] != before
    # the timeline is free again
    seconds(fid, api, (0, 1))


def test_delete_nothing_there(api, create_flow):
    fid = create_flow("video")["id"]
    check(api.delete(f"/flows/{fid}/segments"), 204)
    check(api.delete(f"/flows/{fid}/segments", params={"timerange": "[0:0_1:0)"}), 204)


def test_delete_segments_flow_missing(api):
    check(api.delete(f"/flows/{new_id()}/segments"), 404, error_type="not_found")


@pytest.mark.parametrize("bad_id", MALFORMED_IDS[:3])
def test_delete_segments_malformed_id(api, bad_id):
    check(api.delete(f"/flows/{bad_id}/segments"), 404)


def test_delete_segments_read_only(api, create_flow):
    fid = create_flow("video")["id"]
    seconds(fid, api, (0, 1))
    check(api.put(f"/flows/{fid}/read_only", json=True), 204)
    check(api.delete(f"/flows/{fid}/segments"), 403)
    check(api.delete(f"/flows/{fid}/segments", params={"timerange": "[0:0_1:0)"}), 403)
    assert len(get_segments(api, fid)) == 1
    check(api.put(f"/flows/{fid}/read_only", json=False), 204)
    check(api.delete(f"/flows/{fid}/segments"), 204)


@pytest.mark.parametrize("tr", ["garbage", "[1:040000000_2:0)", "[0:0_1:0_2:0)", "[+1:0_2:0)"])
def test_delete_segments_bad_timerange(api, create_flow, tr):
    fid = create_flow("video")["id"]
    seconds(fid, api, (0, 1))
    check_error_names(api.delete(f"/flows/{fid}/segments", params={"timerange": tr}), 400,
                      "timerange", error_type="bad_request")
    assert len(get_segments(api, fid)) == 1


def test_delete_segments_needs_credentials(anon, api, create_flow):
    fid = create_flow("video")["id"]
    seconds(fid, api, (0, 1))
    check(anon.delete(f"/flows/{fid}/segments"), 401)
    assert len(get_segments(api, fid)) == 1


# ----------------------------------------------------------------------------- flow deletion

def test_delete_flow_with_segments(api, create_flow):
    body = create_flow("video")
    fid = body["id"]
    seconds(fid, api, (0, 1), (1, 2))
    check(api.delete(f"/flows/{fid}"), 204)
    check(api.get(f"/flows/{fid}"), 404)
    assert check(api.get(f"/flows/{fid}/segments"), 200, SEGMENT_LIST) == []
    check(api.get(f"/sources/{body['source_id']}"), 404)
    check(api.delete(f"/flows/{fid}"), 404)


def test_delete_flow_keeps_shared_source(api, create_flow):
    a = create_flow("video")
    b = create_flow("video", source_id=a["source_id"])
    seconds(a["id"], api, (0, 1))
    check(api.delete(f"/flows/{a['id']}"), 204)
    check(api.get(f"/sources/{a['source_id']}"), 200, "source.json")
    check(api.get(f"/flows/{b['id']}"), 200, "flow.json")
    check(api.delete(f"/flows/{b['id']}"), 204)
    check(api.get(f"/sources/{a['source_id']}"), 404)


def test_delete_flow_read_only(api, create_flow):
    fid = create_flow("video")["id"]
    seconds(fid, api, (0, 1))
    check(api.put(f"/flows/{fid}/read_only", json=True), 204)
    check(api.delete(f"/flows/{fid}"), 403)
    check(api.get(f"/flows/{fid}"), 200, "flow.json")
    assert len(get_segments(api, fid)) == 1
    check(api.put(f"/flows/{fid}/read_only", json=False), 204)
    check(api.delete(f"/flows/{fid}"), 204)


def test_delete_flow_missing(api):
    check(api.delete(f"/flows/{new_id()}"), 404, error_type="not_found")


def test_deleted_flow_can_be_recreated_empty(api, create_flow):
    body = create_flow("video")
    seconds(body["id"], api, (0, 1))
    check(api.delete(f"/flows/{body['id']}"), 204)
    check(api.put(f"/flows/{body['id']}", json=body), 201, "flow.json")
    assert get_segments(api, body["id"]) == []


# ----------------------------------------------------------------------------- delete requests

def test_delete_request_unknown(api):
    for rid in (new_id(), "not-a-uuid"):
        check(api.get(f"/flow-delete-requests/{rid}"), 404, error_type="not_found")
        check(api.head(f"/flow-delete-requests/{rid}"), 404)


def test_delete_requests_listing(api):
    check(api.get("/flow-delete-requests"), 200, "deletion-requests-list.json")
    assert_head_twin(api, "/flow-delete-requests", expect=200)


def _big_flow(session, n=1100, fmt="video"):
    body = new_flow(session, fmt)
    segs = [external_segment(f"[{i}:0_{i + 1}:0)", object_id=f"big-{i}-{new_id()}")
            for i in range(n)]
    half = n // 2
    post_segments(session, body["id"], segs[:half])
    post_segments(session, body["id"], segs[half:])
    return body


def _accepted(srv, r, fid, delete_flow):
    body = check(r, 202, "deletion-request.json")
    assert body["flow_id"] == fid
    assert body["delete_flow"] is delete_flow
    assert body["status"] in ("created", "started", "done")
    loc = r.headers.get("Location")
    assert loc, f"202 needs a Location: {describe(r)}"
    parts = urlsplit(loc)
    assert parts.scheme in ("http", "https") and parts.netloc == urlsplit(srv.base_url).netloc, \
        f"Location must be absolute and on this server: {loc}"
    assert parts.path == f"/flow-delete-requests/{body['id']}", loc
    if "created_by" in body:
        assert body["created_by"] == BASIC_USER, "created_by defaults to the principal"
    return body, loc


def _wait_done(session, loc):
    def done():
        got = check(session.get(loc), 200, "deletion-request.json")
        assert got["status"] != "error", got
        return got if got["status"] == "done" else None
    return wait_for(done, what=f"status done at {loc}")


def test_async_segment_deletion(tams_server):
    srv = tams_server(env={"TAMS_DELETE_BUDGET_MS": "0"})
    with srv.api() as s:
        small = new_flow(s)
        seconds(small["id"], s, (0, 1), (1, 2))
        check(s.delete(f"/flows/{small['id']}/segments"), 204)   # one batch of 1000 always runs

        big = _big_flow(s)
        fid = big["id"]
        r = s.delete(f"/flows/{fid}/segments")
        body, loc = _accepted(srv, r, fid, delete_flow=False)
        assert parse_timerange(body["timerange_to_delete"]) == parse_timerange("_")
        listed = check(s.get("/flow-delete-requests"), 200, "deletion-requests-list.json")
        assert listed, "the listing returns at least one request while one exists"
        final = _wait_done(s, loc)
        # HEAD twin once the request has stopped changing (its body grows as it progresses).
        assert_head_twin(s, loc, expect=200)
        assert final["id"] == body["id"] and final["flow_id"] == fid
        assert final["delete_flow"] is False
        assert check(s.get(f"/flows/{fid}/segments", params={"limit": 10}), 200,
                     SEGMENT_LIST) == []
        check(s.get(f"/flows/{fid}"), 200, "flow.json")
        listed = check(s.get("/flow-delete-requests"), 200, "deletion-requests-list.json")
        if body["id"] in [x["id"] for x in listed]:
            assert [x for x in listed if x["id"] == body["id"]][0]["delete_flow"] is False
        check(s.get(f"/flow-delete-requests/{body['id']}"), 200, "deletion-request.json")


def test_deletion_request_resumes_after_a_crash(tams_server):
    """A deletion request interrupted by SIGKILL is finished by the next start (a new lease
    owner: it takes the request over once the killed instance's lease has ended)."""
    srv = tams_server(env={"TAMS_DELETE_BUDGET_MS": "0", "TAMS_JOB_LEASE_SECONDS": "2"})
    with srv.api() as s:
        big = _big_flow(s, n=6000)
        fid = big["id"]
        r = s.delete(f"/flows/{fid}/segments")
        body, loc = _accepted(srv, r, fid, delete_flow=False)
    srv.proc.kill()          # no chance to finish or clean up
    srv.proc.wait()
    srv.start()
    with srv.api() as s:
        final = _wait_done(s, loc)
        assert final["id"] == body["id"]
        assert check(s.get(f"/flows/{fid}/segments", params={"limit": 10}), 200,
                     SEGMENT_LIST) == []


def test_async_partial_segment_deletion(tams_server):
    srv = tams_server(env={"TAMS_DELETE_BUDGET_MS": "0"})
    with srv.api() as s:
        big = _big_flow(s, n=1100, fmt="audio")
        fid = big["id"]
        r = s.delete(f"/flows/{fid}/segments", params={"timerange": "[0:0_1050:0)"})
        body, loc = _accepted(srv, r, fid, delete_flow=False)
        assert parse_timerange(body["timerange_to_delete"]) == parse_timerange("[0:0_1050:0)")
        listed = check(s.get("/flow-delete-requests"), 200, "deletion-requests-list.json")
        assert listed
        _wait_done(s, loc)
        left = check(s.get(f"/flows/{fid}/segments", params={"limit": 1000}), 200, SEGMENT_LIST)
        assert starts(left) == list(range(1050, 1100))


def test_async_flow_deletion(tams_server):
    srv = tams_server(env={"TAMS_DELETE_BUDGET_MS": "0"})
    with srv.api() as s:
        big = _big_flow(s)
        fid = big["id"]
        r = s.delete(f"/flows/{fid}")
        body, loc = _accepted(srv, r, fid, delete_flow=True)
        _wait_done(s, loc)
        wait_for(lambda: s.get(f"/flows/{fid}").status_code == 404, what="flow gone")
        check(s.get(f"/flows/{fid}"), 404)
        check(s.get(f"/sources/{big['source_id']}"), 404)
        assert check(s.get(f"/flows/{fid}/segments"), 200, SEGMENT_LIST) == []
        # a small flow is still deleted synchronously
        small = new_flow(s)
        seconds(small["id"], s, (0, 1))
        check(s.delete(f"/flows/{small['id']}"), 204)


# ----------------------------------------------------------------------------- garbage collection

def _get_url(session, fid):
    [seg] = get_segments(session, fid, accept_get_urls="local")
    [u] = seg["get_urls"]
    return u["url"]


@pytest.mark.parametrize("last_removal", ["segments", "flow"])
def test_media_deleted_only_when_unreferenced(tams_server, last_removal):
    srv = tams_server(env={"TAMS_GC_INTERVAL_SECONDS": "1"})
    anon = Api(srv.base_url, auth=None)
    with srv.api() as s, anon:
        a, b = new_flow(s), new_flow(s)
        oid, data = stored_object(s, a["id"], os.urandom(40_000))
        post_segments(s, a["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
        post_segments(s, b["id"], {"object_id": oid, "timerange": "[7:0_8:0)", "ts_offset": "7:0"})
        # a pending allocation (uploaded, not yet registered) must survive collections too
        pending, pending_data = stored_object(s, b["id"], os.urandom(1000))

        check(s.delete(f"/flows/{a['id']}/segments"), 204)
        time.sleep(2.2)                                   # at least two collections
        url = _get_url(s, b["id"])
        r = anon.get(url)
        assert r.status_code == 200 and r.content == data, describe(r)
        obj = check(s.get("/objects/" + quote(oid, safe="")), 200, "object.json")
        assert obj["referenced_by_flows"] == [b["id"]]

        post_segments(s, b["id"], {"object_id": pending, "timerange": "[20:0_21:0)"})
        [seg] = get_segments(s, b["id"], timerange="[20:0_21:0)", accept_get_urls="local")
        r = anon.get(seg["get_urls"][0]["url"])
        assert r.status_code == 200 and r.content == pending_data, describe(r)

        if last_removal == "segments":
            check(s.delete(f"/flows/{b['id']}/segments", params={"object_id": oid}), 204)
        else:
            check(s.delete(f"/flows/{b['id']}"), 204)
        wait_for(lambda: s.get("/objects/" + quote(oid, safe="")).status_code == 404,
                 what="object 404 after its last reference went")
        check(s.get("/objects/" + quote(oid, safe="")), 404)
        wait_for(lambda: anon.get(url).status_code == 404, what="media URL 404")
        if last_removal == "segments":
            check(s.get("/objects/" + quote(pending, safe="")), 200, "object.json")


def _files_with(directory, data):
    found = []
    for root, _, files in os.walk(directory):
        for name in files:
            p = os.path.join(root, name)
            try:
                if os.path.getsize(p) == len(data):
                    with open(p, "rb") as f:
                        if f.read() == data:
                            found.append(p)
            except OSError:
                pass
    return found


def test_expired_allocations_collected(tams_server):
    srv = tams_server(env={"TAMS_ALLOCATION_EXPIRY_SECONDS": "1",
                           "TAMS_GC_INTERVAL_SECONDS": "1"})
    with srv.api() as s:
        flow = new_flow(s)
        fid = flow["id"]
        expired, kept, never = allocate(s, fid, {"limit": 3})
        data = os.urandom(64_000)
        upload(s, expired, data, expect=201)
        kept_data = os.urandom(1234)
        upload(s, kept, kept_data, expect=201)
        post_segments(s, fid, {"object_id": kept["object_id"], "timerange": "[0:0_1:0)"})
        assert _files_with(srv.data_dir, data), "the upload should be stored under the data dir"

        for mo in (expired, never):
            path = "/objects/" + quote(mo["object_id"], safe="")
            wait_for(lambda: s.get(path).status_code == 404, what=f"{path} collected")
            check(s.get(path), 404)
        wait_for(lambda: not _files_with(srv.data_dir, data), what="expired bytes deleted")

        for mo in (expired, never):
            check(s.post(f"/flows/{fid}/segments",
                         json={"object_id": mo["object_id"], "timerange": "[5:0_6:0)"}), 400)
        # a registered object outlives the expiry of its allocation
        check(s.get("/objects/" + quote(kept["object_id"], safe="")), 200, "object.json")
        [seg] = get_segments(s, fid, accept_get_urls="local")
        r = Api(srv.base_url, auth=None).get(seg["get_urls"][0]["url"])
        assert r.status_code == 200 and r.content == kept_data, describe(r)
