"""GET|HEAD /objects/{objectId}: flow references of media objects, paging of
referenced_by_flows, ids containing '/', unknown and allocated-only objects."""
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest

from tams_helpers import (
    allocate, assert_head_twin, check, external_segment, link_next, make_flow, new_id,
    post_segments, stored_object, unique, upload,
)


def obj_path(object_id):
    return "/objects/" + quote(object_id, safe="")


def get_object(session, object_id, **params):
    return check(session.get(obj_path(object_id), params=params), 200, "object.json")


def test_object_referenced_by_one_flow(api, create_flow):
    flow = create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    got = get_object(api, oid)
    assert got["id"] == oid
    assert got["referenced_by_flows"] == [flow["id"]]
    assert got.get("first_referenced_by_flow") == flow["id"]


def test_object_reused_by_other_flows(api, create_flow):
    a, b, c = create_flow("video"), create_flow("video"), create_flow("video")
    oid, _ = stored_object(api, a["id"])
    post_segments(api, a["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    post_segments(api, b["id"], {"object_id": oid, "timerange": "[5:0_6:0)", "ts_offset": "5:0"})
    post_segments(api, b["id"], {"object_id": oid, "timerange": "[6:0_7:0)", "ts_offset": "6:0"})
    got = get_object(api, oid)
    assert sorted(got["referenced_by_flows"]) == sorted([a["id"], b["id"]]), \
        "each referencing flow exactly once"
    assert got.get("first_referenced_by_flow") == a["id"]
    assert c["id"] not in got["referenced_by_flows"]


def test_object_id_with_slashes(api, create_flow):
    flow = create_flow("video")
    oid = f"bucket/{unique('dir')}/{new_id()}.ts"
    [mo] = allocate(api, flow["id"], {"object_ids": [oid]})
    upload(api, mo, b"bytes of a slashy object", expect=201)
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    got = get_object(api, oid)
    assert got["id"] == oid and got["referenced_by_flows"] == [flow["id"]]
    # the last path part alone is another (unknown) object, not this one
    check(api.get(obj_path(oid.rsplit("/", 1)[1])), 404)


def test_object_id_with_reserved_characters(api, create_flow):
    flow = create_flow("video")
    oid = f"a b/{unique('c')}?x=1&y=#frag%2F+plus"
    [mo] = allocate(api, flow["id"], {"object_ids": [oid]})
    upload(api, mo, b"reserved", expect=201)
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    got = get_object(api, oid)
    assert got["id"] == oid


def test_allocated_never_registered(api, create_flow):
    flow = create_flow("video")
    [mo] = allocate(api, flow["id"], {"limit": 1})
    got = get_object(api, mo["object_id"])
    assert got["id"] == mo["object_id"]
    assert got["referenced_by_flows"] == []
    upload(api, mo, b"uploaded, still unregistered", expect=201)
    assert get_object(api, mo["object_id"])["referenced_by_flows"] == []


def test_unknown_object_404(api):
    for oid in (unique("nothing-"), f"no/such/{new_id()}"):
        check(api.get(obj_path(oid)), 404, error_type="not_found")
        check(api.head(obj_path(oid)), 404)


def test_head_twin(api, create_flow):
    flow = create_flow("video")
    oid, _ = stored_object(api, flow["id"])
    post_segments(api, flow["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    assert_head_twin(api, obj_path(oid), expect=200)
    assert_head_twin(api, obj_path(oid), params={"limit": 1}, expect=200)


def test_needs_credentials(anon, api, create_flow):
    flow = create_flow("video")
    [mo] = allocate(api, flow["id"], {"limit": 1})
    check(anon.get(obj_path(mo["object_id"])), 401)


def test_references_follow_segment_deletion(api, create_flow):
    a, b = create_flow("video"), create_flow("video")
    oid, _ = stored_object(api, a["id"])
    post_segments(api, a["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    post_segments(api, b["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    check(api.delete(f"/flows/{a['id']}/segments"), 204)
    got = get_object(api, oid)
    assert got["referenced_by_flows"] == [b["id"]]
    if "first_referenced_by_flow" in got:
        assert got["first_referenced_by_flow"] == a["id"], "the first flow never changes"


def test_external_object_references(api, create_flow):
    """An external object registered with client get_urls is known by its references."""
    flow = create_flow("video")
    seg = external_segment("[0:0_1:0)")
    post_segments(api, flow["id"], seg)
    r = api.get(obj_path(seg["object_id"]))
    if r.status_code == 200:
        got = check(r, 200, "object.json")
        assert got["referenced_by_flows"] == [flow["id"]]
    else:
        check(r, 404)


# ----------------------------------------------------------------------------- paging

@pytest.fixture(scope="module")
def shared_object(api):
    """One object referenced by seven flows."""
    flows = []
    for _ in range(7):
        f = make_flow("video")
        check(api.put(f"/flows/{f['id']}", json=f), 201, "flow.json")
        flows.append(f["id"])
    oid, _ = stored_object(api, flows[0])
    for fid in flows:
        post_segments(api, fid, {"object_id": oid, "timerange": "[0:0_1:0)"})
    return oid, flows


def test_references_paged(api, shared_object):
    oid, flows = shared_object
    seen, url, pages = [], obj_path(oid) + "?limit=3", []
    while url:
        r = api.get(url)
        got = check(r, 200, "object.json")
        assert got["id"] == oid
        assert r.headers["X-Paging-Limit"] == "3"
        pages.append(len(got["referenced_by_flows"]))
        seen += got["referenced_by_flows"]
        h = api.head(url)
        check(h, 200)
        for name in ("Link", "X-Paging-NextKey", "X-Paging-Limit"):
            assert h.headers.get(name) == r.headers.get(name), name
        nxt = link_next(r)
        key = r.headers.get("X-Paging-NextKey")
        if nxt:
            parts = urlsplit(nxt)
            assert parts.scheme in ("http", "https") and parts.netloc, nxt
            q = dict(parse_qsl(parts.query, keep_blank_values=True))
            assert q.get("page") == key and q.get("limit") == "3", nxt
            assert unquote(parts.path) == "/objects/" + oid, f"Link must name the object: {nxt}"
        else:
            assert key is None
        url = nxt
        assert len(pages) < 10
    assert pages == [3, 3, 1]
    assert sorted(seen) == sorted(flows) and len(seen) == len(set(seen))


def test_references_page_by_next_key(api, shared_object):
    oid, flows = shared_object
    seen, page = [], None
    for _ in range(10):
        params = {"limit": 4}
        if page:
            params["page"] = page
        r = api.get(obj_path(oid), params=params)
        seen += check(r, 200, "object.json")["referenced_by_flows"]
        page = r.headers.get("X-Paging-NextKey")
        if not page:
            break
    assert sorted(seen) == sorted(flows) and len(seen) == 7


def test_references_unpaged_default(api, shared_object):
    oid, flows = shared_object
    r = api.get(obj_path(oid))
    got = check(r, 200, "object.json")
    assert sorted(got["referenced_by_flows"]) == sorted(flows)
    assert "X-Paging-NextKey" not in r.headers
    assert r.headers.get("X-Paging-Limit")


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"limit": "-3"},
                                    {"page": "garbage"}], ids=["zero", "word", "negative", "page"])
def test_bad_paging_400(api, shared_object, params):
    oid, _ = shared_object
    check(api.get(obj_path(oid), params=params), 400, error_type="bad_request")
    check(api.head(obj_path(oid), params=params), 400)


def test_references_follow_flow_deletion(api, create_flow):
    a, b = create_flow("video"), create_flow("video")
    oid, _ = stored_object(api, a["id"])
    post_segments(api, a["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    post_segments(api, b["id"], {"object_id": oid, "timerange": "[0:0_1:0)"})
    check(api.delete(f"/flows/{a['id']}"), 204)
    got = get_object(api, oid)
    assert got["referenced_by_flows"] == [b["id"]]
